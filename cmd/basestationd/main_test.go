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
		{[]string{"--bord", "sim"}, "flag provided but not defined: -bord"},
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
	cfg, err := parse([]string{"--config", p, "--board", "sim"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseID != "from-file" || cfg.Board != "sim" {
		t.Fatalf("cfg = %+v", cfg)
	}
}

// The daemon as a process on the simulated board: it starts with no cloud
// reachable, and SIGTERM stops it cleanly within a few seconds.
func TestSIGTERMStopsTheDaemon(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "basestationd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--board", "sim", "--state-dir", t.TempDir(), "--broker", "tcp://127.0.0.1:1", "--sip-listen", "127.0.0.1:0")
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
