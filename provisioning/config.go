package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SchemaVersion is the version of every JSON payload of the contract. A
// payload with another schema version is refused.
const SchemaVersion = 1

// MaxPayload is the largest payload the agent accepts on any topic.
const MaxPayload = 256 << 10

// DeviceType is the kind of a device that can be assigned to an extension.
type DeviceType string

// The device types that live on the base station. The portal's other types
// (IP phone, mobile app, remote number) never reach the base.
const (
	DevicePort    DeviceType = "port"    // the base's analog phone port
	DeviceLinx    DeviceType = "linx"    // a DECT adapter with an analog phone
	DeviceHeadset DeviceType = "headset" // a DECT headset
)

// PortDeviceID is the device id of the base's analog phone port.
const PortDeviceID = "port1"

// Config is the desired configuration document (docs/mqtt-api.md §3).
type Config struct {
	Schema     int         `json:"schema"`
	Base       string      `json:"base"`
	Version    uint64      `json:"version"`
	System     System      `json:"system"`
	Extensions []Extension `json:"extensions"`
}

// System holds the settings that apply to the whole base.
type System struct {
	// Registrars are SIP URIs tried in order (failover).
	Registrars []string `json:"registrars"`
	// FailoverRetryS is how long to stay on a fallback registrar before
	// trying the primary again, in seconds (10..3600, default 300).
	FailoverRetryS int `json:"failover_retry_s,omitempty"`
	// RegisterExpiresS is the requested SIP registration lifetime in
	// seconds (60..3600, default 600).
	RegisterExpiresS int `json:"register_expires_s,omitempty"`
	// ToneRegion selects the call-progress tone plan: "US" or "CA".
	ToneRegion string `json:"tone_region"`
	// TimeZone is an IANA zone name (caller-ID date/time).
	TimeZone string `json:"time_zone"`
	// DialPlan is a list of digit patterns (docs/mqtt-api.md §3.3); empty
	// means the default North American plan.
	DialPlan []string `json:"dial_plan,omitempty"`
	// InterDigitTimeoutS ends dialing when no pattern is complete (1..30,
	// default 4).
	InterDigitTimeoutS int `json:"inter_digit_timeout_s,omitempty"`
	// RegistrationWindowS is the default registration-mode window in
	// seconds (10..120, default 120); commands may ask for up to 120.
	RegistrationWindowS int `json:"registration_window_s,omitempty"`
	// SIPDSCP is the DiffServ class of the SIP packets (0..63; absent:
	// 24, CS3). RTP is always EF (46).
	SIPDSCP *int `json:"sip_dscp,omitempty"`
	// CallQuality sets the call-quality reports and alerts (quality.go).
	CallQuality *CallQualitySettings `json:"call_quality,omitempty"`
}

// Extension is one user of the office with the devices of this base that
// ring for it.
type Extension struct {
	Number          string     `json:"number"`
	DisplayName     string     `json:"display_name"`
	SIP             SIPAccount `json:"sip"`
	CallerID        string     `json:"caller_id,omitempty"`
	VoicemailNumber string     `json:"voicemail_number,omitempty"`
	Devices         Devices    `json:"devices"`
}

// SIPAccount is the extension's account at the cloud PBX.
type SIPAccount struct {
	User     string `json:"user"`
	AuthUser string `json:"auth_user,omitempty"`
	// Password is a secret: it is stored in the secrets file, never in
	// the reported state or logs.
	Password string `json:"password"`
	Domain   string `json:"domain"`
	// Registrars overrides System.Registrars for this account when set.
	Registrars    []string `json:"registrars,omitempty"`
	OutboundProxy string   `json:"outbound_proxy,omitempty"`
	// Transport is "udp" (default), "tcp" or "tls".
	Transport    string `json:"transport,omitempty"`
	SRTPRequired bool   `json:"srtp_required,omitempty"`
}

// Devices are the base's devices assigned to an extension, at most one of
// each type, by device id. Empty means none.
type Devices struct {
	Port    string `json:"port,omitempty"`
	Linx    string `json:"linx,omitempty"`
	Headset string `json:"headset,omitempty"`
}

// Get returns the device id assigned for type t.
func (d Devices) Get(t DeviceType) string {
	switch t {
	case DevicePort:
		return d.Port
	case DeviceLinx:
		return d.Linx
	case DeviceHeadset:
		return d.Headset
	}
	return ""
}

// Set assigns id (empty: none) for type t.
func (d *Devices) Set(t DeviceType, id string) error {
	switch t {
	case DevicePort:
		d.Port = id
	case DeviceLinx:
		d.Linx = id
	case DeviceHeadset:
		d.Headset = id
	default:
		return fmt.Errorf("unknown device type %q", t)
	}
	return nil
}

// IDs lists the assigned device ids in type order (port, linx, headset).
func (d Devices) IDs() []string {
	var ids []string
	for _, id := range []string{d.Port, d.Linx, d.Headset} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// DeviceTypes lists the device types in their fixed order.
var deviceTypes = [...]DeviceType{DevicePort, DeviceLinx, DeviceHeadset}

// Defaults of the optional system settings.
const (
	DefaultFailoverRetryS      = 300
	DefaultRegisterExpiresS    = 600
	DefaultInterDigitTimeoutS  = 4
	DefaultRegistrationWindowS = 120
	MaxRegistrationWindowS     = 120
)

// DefaultDialPlan is used when System.DialPlan is empty: N11 services,
// 3-digit extensions, 10- and 11-digit NANP numbers, international calls and
// star codes.
var defaultDialPlan = []string{"[2-9]11", "[1-8]xx", "[2-9]xx[2-9]xxxxxx", "1[2-9]xx[2-9]xxxxxx", "011x.", "*xx"}

// DefaultDialPlan returns a copy of the plan used when none is configured.
func DefaultDialPlan() []string { return append([]string(nil), defaultDialPlan...) }

// WithDefaults returns a deep copy with the optional settings filled in.
func (c *Config) WithDefaults() *Config {
	n := c.Clone()
	s := &n.System
	if s.FailoverRetryS == 0 {
		s.FailoverRetryS = DefaultFailoverRetryS
	}
	if s.RegisterExpiresS == 0 {
		s.RegisterExpiresS = DefaultRegisterExpiresS
	}
	if s.InterDigitTimeoutS == 0 {
		s.InterDigitTimeoutS = DefaultInterDigitTimeoutS
	}
	if s.RegistrationWindowS == 0 {
		s.RegistrationWindowS = DefaultRegistrationWindowS
	}
	if len(s.DialPlan) == 0 {
		s.DialPlan = DefaultDialPlan()
	}
	for i := range n.Extensions {
		a := &n.Extensions[i].SIP
		if a.Transport == "" {
			a.Transport = "udp"
		}
		if a.AuthUser == "" {
			a.AuthUser = a.User
		}
		if len(a.Registrars) == 0 {
			a.Registrars = append([]string(nil), s.Registrars...)
		}
	}
	return n
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	n := *c
	n.System.Registrars = append([]string(nil), c.System.Registrars...)
	n.System.DialPlan = append([]string(nil), c.System.DialPlan...)
	if c.System.SIPDSCP != nil {
		v := *c.System.SIPDSCP
		n.System.SIPDSCP = &v
	}
	if q := c.System.CallQuality; q != nil {
		cq := *q
		if q.IntervalS != nil {
			v := *q.IntervalS
			cq.IntervalS = &v
		}
		n.System.CallQuality = &cq
	}
	n.Extensions = append([]Extension(nil), c.Extensions...)
	for i := range n.Extensions {
		n.Extensions[i].SIP.Registrars = append([]string(nil), c.Extensions[i].SIP.Registrars...)
	}
	return &n
}

// Extension returns the extension with the given number, or nil.
func (c *Config) Extension(number string) *Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Number == number {
			return &c.Extensions[i]
		}
	}
	return nil
}

// ExtensionOf returns the extension a device is assigned to, or nil.
func (c *Config) ExtensionOf(deviceID string) *Extension {
	for i := range c.Extensions {
		for _, id := range c.Extensions[i].Devices.IDs() {
			if id == deviceID {
				return &c.Extensions[i]
			}
		}
	}
	return nil
}

// Unassign removes deviceID from every extension and returns the numbers of
// the extensions it was taken from.
func (c *Config) Unassign(deviceID string) []string {
	var from []string
	for i := range c.Extensions {
		d := &c.Extensions[i].Devices
		for _, t := range deviceTypes {
			if d.Get(t) == deviceID {
				_ = d.Set(t, "")
				from = append(from, c.Extensions[i].Number)
			}
		}
	}
	return from
}

// Redacted returns a copy without SIP passwords, for logs and reports.
func (c *Config) Redacted() *Config {
	n := c.Clone()
	for i := range n.Extensions {
		if n.Extensions[i].SIP.Password != "" {
			n.Extensions[i].SIP.Password = "********"
		}
	}
	return n
}

// DecodeConfig parses a desired-configuration payload. Unknown fields, a
// wrong schema version, trailing data and oversized payloads are refused;
// the error names the field where it can. It does not validate the content:
// call Validate.
func DecodeConfig(b []byte) (*Config, error) {
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if c.Schema != SchemaVersion {
		return nil, fmt.Errorf("configuration: schema: unsupported schema version %d (want %d)", c.Schema, SchemaVersion)
	}
	return &c, nil
}

// decodeStrict decodes one payload the base receives into v with
// DecodeStrict (duplicate keys, unknown fields and trailing data refused,
// with the field path), within the payload size limit.
func decodeStrict(b []byte, v any) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("payload of %d bytes exceeds the %d-byte limit", len(b), MaxPayload)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty payload")
	}
	return DecodeStrict(b, v)
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		path := te.Field
		if path == "" {
			path = "(document)"
		}
		return fmt.Errorf("%s: expected %s, got JSON %s", path, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return errors.New("malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("malformed JSON: %v", err)
}
