package settings

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"basestation/provisioning"
)

// Config is the daemon's local configuration: what the base needs before
// it can reach the cloud. Everything about extensions, accounts and devices
// comes from the cloud over MQTT (package provisioning) and is persisted in
// the state directory.
type Config struct {
	// Board is a board name (see board.Names) or "virtual:" and the
	// socket of the simulator's board (board/virtual). Required: there is
	// no default board.
	Board string `json:"board"`
	// StateDir holds the applied configuration, secrets, the DECT device
	// table. Created 0700 if missing.
	StateDir string `json:"state_dir"`
	// BaseID identifies this base in the MQTT topic tree. Required; the
	// rule is provisioning.CheckBaseID.
	BaseID string `json:"base_id"`

	MQTT MQTTConfig `json:"mqtt"`
	SIP  SIPConfig  `json:"sip"`
	DECT DECTConfig `json:"dect"`
	Log  LogConfig  `json:"log"`
}

// MQTTConfig is how the base reaches the cloud.
type MQTTConfig struct {
	Broker    string `json:"broker"` // tcp://host:port, ssl://host:port or mqtts://host:port
	CAFile    string `json:"ca_file,omitempty"`
	CertFile  string `json:"cert_file,omitempty"`
	KeyFile   string `json:"key_file,omitempty"`
	TopicRoot string `json:"topic_root,omitempty"` // the topic tree's root; default bs/v1
	// ServerName overrides the broker's host name for TLS verification.
	ServerName string `json:"server_name,omitempty"`
}

// SIPConfig is where the user agent listens.
type SIPConfig struct {
	Listen     string `json:"listen"`              // host:port for UDP and TCP
	Advertise  string `json:"advertise,omitempty"` // address put in Via/Contact/SDP; default: the address used
	RTPPortMin int    `json:"rtp_port_min,omitempty"`
	RTPPortMax int    `json:"rtp_port_max,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
}

// DECTConfig tunes the radio.
type DECTConfig struct {
	MaxDevices int `json:"max_devices"`
}

// LogConfig selects log/slog's output.
type LogConfig struct {
	Level  string `json:"level"`  // debug, info, warn, error
	Format string `json:"format"` // text or json
}

// Defaults returns a configuration with every optional field filled. The
// board and the base id have no default: they are required.
func Defaults() Config {
	return Config{
		StateDir: "/var/lib/basestationd",
		MQTT:     MQTTConfig{Broker: "tcp://127.0.0.1:1883", TopicRoot: "bs/v1"},
		SIP:      SIPConfig{Listen: "0.0.0.0:5060", RTPPortMin: 16384, RTPPortMax: 16482, UserAgent: "basestationd"},
		DECT:     DECTConfig{MaxDevices: 8},
		Log:      LogConfig{Level: "info", Format: "text"},
	}
}

// LoadConfig reads a JSON configuration file over the defaults. Unknown
// keys are errors (a misspelt setting must not be silently ignored).
func LoadConfig(path string) (Config, error) {
	c := Defaults()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config file: %w", err)
	}
	if err := DecodeConfig(b, &c); err != nil {
		return c, fmt.Errorf("config file %s: %w", path, err)
	}
	return c, nil
}

// DecodeConfig decodes a JSON document into c, keeping c's values for keys
// the document does not set. It uses provisioning.DecodeStrict, the one
// decoder of outside JSON: unknown settings, a key given twice and
// trailing data are errors naming the setting's path.
func DecodeConfig(b []byte, c *Config) error {
	if err := provisioning.DecodeStrict(b, c); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// Validate checks every setting and reports all problems, each naming its
// setting.
func (c *Config) Validate(knownBoards []string) error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("setting %s: %s", field, fmt.Sprintf(format, a...)))
	}
	vpath, virtual := strings.CutPrefix(c.Board, "virtual:")
	okBoard := virtual && vpath != ""
	for _, b := range knownBoards {
		okBoard = okBoard || c.Board == b
	}
	switch {
	case c.Board == "":
		bad("board", "required (--board or \"board\" in the config file): one of %v or virtual:SOCKET", knownBoards)
	case !okBoard:
		bad("board", "%q is not a known board %v nor virtual:SOCKET (the simulator's board; the simulator itself is basesim)", c.Board, knownBoards)
	}
	if c.StateDir == "" {
		bad("state_dir", "must not be empty")
	}
	if c.BaseID == "" {
		bad("base_id", "required (--base-id or \"base_id\" in the config file): %s", provisioning.BaseIDRule)
	} else if err := provisioning.CheckBaseID(c.BaseID); err != nil {
		bad("base_id", "%v", err)
	}
	if c.MQTT.Broker != "" {
		u, err := url.Parse(c.MQTT.Broker)
		switch {
		case err != nil:
			bad("mqtt.broker", "%v", err)
		case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "mqtts" && u.Scheme != "tls":
			bad("mqtt.broker", "scheme %q is not tcp, ssl, tls or mqtts", u.Scheme)
		case u.Port() == "" || u.Hostname() == "":
			bad("mqtt.broker", "%q needs host:port", c.MQTT.Broker)
		}
	}
	if (c.MQTT.CertFile == "") != (c.MQTT.KeyFile == "") {
		bad("mqtt.cert_file", "cert_file and key_file go together")
	}
	for field, p := range map[string]string{"mqtt.ca_file": c.MQTT.CAFile, "mqtt.cert_file": c.MQTT.CertFile, "mqtt.key_file": c.MQTT.KeyFile} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				bad(field, "%v", err)
			}
		}
	}
	if err := provisioning.CheckTopicRoot(c.MQTT.TopicRoot); err != nil {
		bad("mqtt.topic_root", "%v", err)
	}
	if err := checkListen(c.SIP.Listen); err != nil {
		bad("sip.listen", "%v", err)
	}
	if c.SIP.Advertise != "" && net.ParseIP(c.SIP.Advertise) == nil {
		bad("sip.advertise", "%q is not an IP address", c.SIP.Advertise)
	}
	if c.SIP.RTPPortMin < 1024 || c.SIP.RTPPortMax > 65534 || c.SIP.RTPPortMin+2 > c.SIP.RTPPortMax {
		bad("sip.rtp_port_min", "RTP port range %d-%d must lie in 1024-65534 and hold at least one pair", c.SIP.RTPPortMin, c.SIP.RTPPortMax)
	}
	if c.DECT.MaxDevices < 1 || c.DECT.MaxDevices > 32 {
		bad("dect.max_devices", "%d is outside 1..32", c.DECT.MaxDevices)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// checkListen checks a host:port listen address: the host empty, an IP
// address or a name, the port a number 0-65535 (0: any free port).
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number 0-65535", addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q: host %q is not an address", addr, host)
	}
	return nil
}

// TLS is the broker connection's TLS configuration from the CA, the
// device certificate and the server name; nil when none is set.
func (m MQTTConfig) TLS() (*tls.Config, error) {
	if m.CAFile == "" && m.CertFile == "" {
		return nil, nil
	}
	tc, err := provisioning.LoadTLS(m.CAFile, m.CertFile, m.KeyFile)
	if err != nil {
		return nil, err
	}
	if m.ServerName != "" {
		tc.ServerName = m.ServerName
	}
	return tc, nil
}
