package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadFlagsAndConfigNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"dect": {"max_devices": 99}}`), 0o600)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"sip": {"listn": ":5060"}}`), 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bord", "sim"}, "flag provided but not defined: -bord"},
		{[]string{"--board", "bs9"}, "setting board"},
		{[]string{"--broker", "http://x"}, "setting mqtt.broker"},
		{[]string{"--log-level", "chatty"}, "setting log.level"},
		{[]string{"--sip-listen", "nowhere"}, "setting sip.listen"},
		{[]string{"--config", bad}, "setting dect.max_devices"},
		{[]string{"--config", unknown}, `unknown setting "listn"`},
		{[]string{"--config", filepath.Join(dir, "none.json")}, "config file"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		_, err := parse(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestFlagsOverrideConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"base_id": "from-file", "board": "bs1"}`), 0o600)
	cfg, err := parse([]string{"--config", p, "--board", "sim"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseID != "from-file" || cfg.Board != "sim" {
		t.Fatalf("cfg = %+v", cfg)
	}
}
