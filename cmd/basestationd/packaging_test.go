package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"basestation/board"
	"basestation/internal/settings"
)

const pkgDir = "../../packaging"

// jsonKeys lists the dotted keys of a struct type's JSON fields.
func jsonKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, jsonKeys(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

func docKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, docKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// The example configuration is read by the daemon's strict loader (an
// unknown key fails), holds every key the daemon knows, gives each its
// default where it has one, and names the mutual-TLS files.
func TestExampleConfigHasEveryKeyAndDecodesStrictly(t *testing.T) {
	path := filepath.Join(pkgDir, "basestationd.json")
	cfg, err := settings.LoadConfig(path)
	if err != nil {
		t.Fatalf("strict loader: %v", err)
	}
	b, _ := os.ReadFile(path)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := jsonKeys(reflect.TypeOf(settings.Config{}), "")
	got := docKeys(doc, "")
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("example keys %v\nwant every key %v", got, want)
	}
	def := settings.Defaults()
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"state_dir", cfg.StateDir, def.StateDir},
		{"mqtt.topic_root", cfg.MQTT.TopicRoot, def.MQTT.TopicRoot},
		{"sip.listen", cfg.SIP.Listen, def.SIP.Listen},
		{"sip.rtp_port_min", cfg.SIP.RTPPortMin, def.SIP.RTPPortMin},
		{"sip.rtp_port_max", cfg.SIP.RTPPortMax, def.SIP.RTPPortMax},
		{"sip.user_agent", cfg.SIP.UserAgent, def.SIP.UserAgent},
		{"dect.max_devices", cfg.DECT.MaxDevices, def.DECT.MaxDevices},
		{"log.level", cfg.Log.Level, def.Log.Level},
		{"log.format", cfg.Log.Format, def.Log.Format},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v in the example, default %v", c.key, c.got, c.want)
		}
	}
	if cfg.MQTT.CAFile == "" || cfg.MQTT.CertFile == "" || cfg.MQTT.KeyFile == "" || !strings.HasPrefix(cfg.MQTT.Broker, "ssl://") {
		t.Errorf("the example does not show mutual TLS: %+v", cfg.MQTT)
	}
	// Valid once the TLS files exist (Validate checks they do).
	dir := t.TempDir()
	for _, p := range []*string{&cfg.MQTT.CAFile, &cfg.MQTT.CertFile, &cfg.MQTT.KeyFile} {
		*p = filepath.Join(dir, filepath.Base(*p))
		os.WriteFile(*p, nil, 0o600)
	}
	if err := cfg.Validate(board.Names()); err != nil {
		t.Errorf("example invalid: %v", err)
	}
}

// unitDirectives reads a unit file into directive -> values.
func unitDirectives(t *testing.T, path string) map[string][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("unit line %q", l)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// The unit runs the binary this package builds with flags it defines, is
// supervised (notify, watchdog, restart limits), keeps state where the
// daemon's default says, and allows exactly bs1's device nodes.
func TestUnitMatchesTheDaemonAndTheBoard(t *testing.T) {
	u := unitDirectives(t, filepath.Join(pkgDir, "basestationd.service"))
	one := func(k string) string {
		if len(u[k]) != 1 {
			t.Fatalf("%s given %d times", k, len(u[k]))
		}
		return u[k][0]
	}
	cmdline := strings.Fields(one("ExecStart"))
	if filepath.Base(cmdline[0]) != "basestationd" {
		t.Errorf("ExecStart runs %s", cmdline[0])
	}
	for _, a := range cmdline[1:] {
		if strings.HasPrefix(a, "-") {
			_, err := parse([]string{a, "x"}, io.Discard, io.Discard)
			if err != nil && strings.Contains(err.Error(), "not defined") {
				t.Errorf("ExecStart flag %s: %v", a, err)
			}
		}
	}
	if !slices.Contains(cmdline, "/etc/basestationd.json") {
		t.Errorf("ExecStart %v does not read /etc/basestationd.json", cmdline)
	}
	for k, v := range map[string]string{"Type": "notify", "Restart": "on-failure", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "PrivateTmp": "yes", "DevicePolicy": "closed", "StateDirectory": "basestationd"} {
		if got := one(k); got != v {
			t.Errorf("%s=%s, want %s", k, got, v)
		}
	}
	if one("WatchdogSec") == "" || one("StartLimitBurst") == "" || one("StartLimitIntervalSec") == "" {
		t.Error("no watchdog or restart limit")
	}
	if "/var/lib/"+one("StateDirectory") != settings.Defaults().StateDir {
		t.Errorf("StateDirectory %s is not the daemon's default %s", one("StateDirectory"), settings.Defaults().StateDir)
	}
	if env := one("Environment"); !strings.Contains(env, "GOMEMLIMIT=") || !strings.Contains(env, "GOGC=") {
		t.Errorf("Environment=%s", env)
	}
	pm, _ := board.Lookup("bs1")
	need := []string{spiDevice(pm.SLICSPI), gpioChip, pm.RadioUART, pm.SLICPCM}
	allowed := map[string]bool{"/dev/gpiomem": true}
	for _, n := range need {
		allowed[n] = true
	}
	for slot := 0; slot < 4; slot++ {
		allowed[fmt.Sprintf(pm.RadioPCMFmt, slot+1)] = true
	}
	var devs []string
	for _, d := range u["DeviceAllow"] {
		p, _, _ := strings.Cut(d, " ")
		devs = append(devs, p)
		if !allowed[p] {
			t.Errorf("DeviceAllow=%s: not a device of board bs1", d)
		}
	}
	for _, n := range need {
		if !slices.Contains(devs, n) {
			t.Errorf("DeviceAllow lacks %s (board bs1 needs it)", n)
		}
	}
}

// systemd-analyze verify accepts the unit (the binary path swapped for one
// that exists here). systemd itself cannot run in this container.
func TestUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze missing (Debian package systemd)")
		}
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	b, err := os.ReadFile(filepath.Join(pkgDir, "basestationd.service"))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	unit := filepath.Join(t.TempDir(), "basestationd.service")
	os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/bin/basestationd", self)), 0o644)
	out, err := exec.Command(sa, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
