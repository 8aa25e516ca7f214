package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basestation/internal/buildinfo"
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
		{[]string{"--bord", "bs1"}, "flag provided but not defined: -bord"},
		// No silent defaults: the board and the base id are required.
		{[]string{"--base-id", "b1"}, "setting board: required"},
		{[]string{"--board", "virtual:/run/b.sock"}, "setting base_id: required"},
		{[]string{"--board", "sim", "--base-id", "b1"}, `setting board: "sim" is not a known board`},
		{[]string{"--base-id", "b1"}, "setting board: required"},
		// One base-id rule (provisioning.CheckBaseID), named setting.
		{[]string{"--board", "bs1", "--base-id", "Base_1"}, `setting base_id: base id "Base_1" is not 1-64 characters of a-z, 0-9 and '-'`},
		{[]string{"--board", "bs1", "--base-id", "-b"}, "setting base_id"},
		{[]string{"--board", "bs1", "--base-id", "b1", "--sip-listen", "127.0.0.1:99999"}, `setting sip.listen: "127.0.0.1:99999": port "99999" is not a number 0-65535`},
		{[]string{"--board", "bs9"}, "setting board"},
		{[]string{"--broker", "http://x"}, "setting mqtt.broker"},
		{[]string{"--log-level", "chatty"}, "setting log.level"},
		{[]string{"--sip-listen", "nowhere"}, "setting sip.listen"},
		{[]string{"--config", bad}, "setting dect.max_devices"},
		{[]string{"--config", unknown}, `settings: sip: unknown field "listn"`},
		{[]string{"--config", filepath.Join(dir, "none.json")}, "config file"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		_, err := parse(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestFlagsOverrideConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"base_id": "from-file", "board": "bs1"}`), 0o600)
	cfg, err := parse([]string{"--config", p, "--board", "virtual:/run/b.sock"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseID != "from-file" || cfg.Board != "virtual:/run/b.sock" {
		t.Fatalf("cfg = %+v", cfg)
	}
}

// The daemon as a process on the simulated board (served by this test on
// a socket): it starts with no cloud reachable, and SIGTERM stops it
// cleanly within a few seconds.
func TestSIGTERMStopsTheDaemon(t *testing.T) {
	_, vb := servedBoard(t)
	bin := filepath.Join(t.TempDir(), "basestationd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--board", vb, "--base-id", "base-1", "--state-dir", t.TempDir(), "--broker", "tcp://127.0.0.1:1", "--sip-listen", "127.0.0.1:0")
	cmd.Stderr = &syncWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(cmd.Stderr.(*syncWriter).String(), "basestationd started") {
		if time.Now().After(deadline) {
			t.Fatalf("not started:\n%s", cmd.Stderr.(*syncWriter).String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, cmd.Stderr.(*syncWriter).String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM:\n%s", cmd.Stderr.(*syncWriter).String())
	}
	if out := cmd.Stderr.(*syncWriter).String(); !strings.Contains(out, "line left safe") {
		t.Fatalf("no safe-line message:\n%s", out)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// --version prints one line naming the program and the release version,
// on standard output, and exits 0 without starting anything.
func TestVersionFlag(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"--version"}, &out, io.Discard)
	if !errors.Is(err, errVersion) {
		t.Fatalf("run --version: %v", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "basestationd "+buildinfo.Version+" (commit ") || strings.Count(got, "\n") != 1 {
		t.Fatalf("--version printed %q", got)
	}
}

// -h shows every flag's default and every configuration key's default.
func TestHelpShowsEveryDefault(t *testing.T) {
	var errOut strings.Builder
	if _, err := parse([]string{"-h"}, io.Discard, &errOut); !errors.Is(err, errVersion) {
		t.Fatalf("-h: %v", err)
	}
	help := errOut.String()
	for _, want := range []string{
		"--board", "required: no default", "--base-id", "1-64 characters of a-z",
		"(default /var/lib/basestationd)", "(default tcp://127.0.0.1:1883)", "(default 0.0.0.0:5060)",
		"(default info)", "(default text)", "basestationd probe",
		`"rtp_port_min": 16384`, `"max_devices": 8`, `"topic_root": "bs/v1"`, `"user_agent": "basestationd"`,
	} {
		if !strings.Contains(help, want) {
			t.Errorf("-h output lacks %q:\n%s", want, help)
		}
	}
}

// The state directory, SIP listen address and broker are printed at start
// (they have defaults); the board and base id are not defaulted.
func TestStartPrintsTheSettingsInForce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	_, vb := servedBoard(t)
	cfg, err := parse([]string{"--board", vb, "--base-id", "b1", "--state-dir", dir, "--sip-listen", "127.0.0.1:0", "--broker", "tcp://127.0.0.1:1"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var log syncWriter
	log.w = new(bytes.Buffer)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &log, hooks{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "basestationd started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := log.String()
	for _, want := range []string{"basestationd starting", "board=" + vb, "base_id=b1", "state_dir=" + dir, "state_dir_exists=false", "sip_listen=127.0.0.1:0", "mqtt_broker=tcp://127.0.0.1:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, out)
		}
	}
}

// --board bs1 on a host without the board names the missing SPI bus, its
// device node and the overlay to enable, not periph's "no port found".
func TestBoardWithoutSPINamesTheBusAndTheOverlay(t *testing.T) {
	if _, err := os.Stat("/dev/spidev0.0"); err == nil {
		t.Skip("this host has /dev/spidev0.0")
	}
	err := run(context.Background(), []string{"--board", "bs1", "--base-id", "b1", "--state-dir", t.TempDir(), "--log-level", "error"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("bs1 started without its SPI bus")
	}
	for _, want := range []string{"board bs1: SPI bus SPI0.0", "/dev/spidev0.0 not found", "dtparam=spi=on", "basestationd probe --board bs1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Init()") {
		t.Errorf("error still reads like a code bug: %q", err)
	}
}
