package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testConfig is the defaults with the two settings that have none.
func testConfig() Config {
	c := Defaults()
	c.Board, c.BaseID = "virtual:/run/basesim/board.sock", "base-1"
	return c
}

// The defaults are valid once the board and the base id, which have no
// default, are given; without them each is refused by name.
func TestDefaultsNeedBoardAndBaseID(t *testing.T) {
	c := testConfig()
	if err := c.Validate([]string{"bs1"}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"sim", "virtual:", "bs2"} {
		c.Board = b
		if err := c.Validate([]string{"bs1"}); err == nil || !strings.Contains(err.Error(), "setting board: ") {
			t.Errorf("board %q: %v, want it refused", b, err)
		}
	}
	d := Defaults()
	err := d.Validate([]string{"bs1"})
	for _, want := range []string{"setting board: required", "setting base_id: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Defaults().Validate() = %v, want %q", err, want)
		}
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		doc, want string
	}{
		{`{"board": "bs9"}`, "setting board"},
		{`{"base_id": "a/b"}`, "setting base_id"},
		// The base-id rule is provisioning's (one rule): upper case and
		// '_' used to pass here and fail later in the agent.
		{`{"base_id": "Office_7"}`, `setting base_id: base id "Office_7" is not 1-64 characters of a-z`},
		{`{"base_id": "-x"}`, "setting base_id"},
		{`{"sip": {"listen": "127.0.0.1:99999"}}`, `setting sip.listen: "127.0.0.1:99999": port "99999" is not a number 0-65535`},
		{`{"sip": {"listen": "127.0.0.1:sip"}}`, "setting sip.listen"},
		{`{"mqtt": {"broker": "http://x:1"}}`, "setting mqtt.broker"},
		{`{"mqtt": {"broker": "tcp://nohost"}}`, "setting mqtt.broker"},
		{`{"mqtt": {"cert_file": "/etc/hosts"}}`, "setting mqtt.cert_file"},
		{`{"mqtt": {"ca_file": "/nonexistent/ca.pem"}}`, "setting mqtt.ca_file"},
		{`{"mqtt": {"topic_root": "bs/#"}}`, "setting mqtt.topic_root"},
		{`{"sip": {"listen": "5060"}}`, "setting sip.listen"},
		{`{"sip": {"advertise": "example.com"}}`, "setting sip.advertise"},
		{`{"sip": {"rtp_port_min": 100}}`, "setting sip.rtp_port_min"},
		{`{"dect": {"max_devices": 0}}`, "setting dect.max_devices"},
		{`{"log": {"level": "loud"}}`, "setting log.level"},
		{`{"log": {"format": "xml"}}`, "setting log.format"},
	}
	for _, tc := range cases {
		c := testConfig()
		if err := DecodeConfig([]byte(tc.doc), &c); err != nil {
			t.Fatalf("%s: decode: %v", tc.doc, err)
		}
		err := c.Validate([]string{"bs1"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestConfigDecodeErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"bord": "sim"}`, `settings: (document): unknown field "bord"`},
		{`{"mqtt": {"brokr": "tcp://h:1"}}`, `settings: mqtt: unknown field "brokr"`},
		{`{"dect": {"max_devices": "eight"}}`, `dect.max_devices: expected int`},
		{`{"board": "sim"`, "malformed JSON"},
		{`{"board": "sim"} {}`, "trailing data"},
		// A setting given twice is refused, not "last one wins".
		{`{"mqtt": {"broker": "tcp://a:1", "broker": "tcp://b:1"}}`, `settings: mqtt: duplicate key "broker"`},
		{`{"base_id": "a", "sip": {}, "base_id": "b"}`, `settings: (document): duplicate key "base_id"`},
	}
	for _, tc := range cases {
		c := Defaults()
		err := DecodeConfig([]byte(tc.doc), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bs.json")
	os.WriteFile(p, []byte(`{"base_id": "office-7", "dect": {"max_devices": 4}}`), 0o600)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseID != "office-7" || c.DECT.MaxDevices != 4 || c.SIP.Listen != Defaults().SIP.Listen {
		t.Fatalf("loaded %+v", c)
	}
	if _, err := LoadConfig(p + ".missing"); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(`{"board":"sim","sip":{"listen":"127.0.0.1:5060"}}`))
	f.Add([]byte(`{"mqtt":{"broker":"ssl://h:8883"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Defaults()
		if err := DecodeConfig(b, &c); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		_ = c.Validate([]string{"bs1"})
	})
}
