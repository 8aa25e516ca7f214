package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/provisioning"
	"basestation/sim/broker"
)

// runAsMain makes the test binary run bsctl's main instead of the tests,
// so tests can signal a real bsctl process.
const runAsMain = "BSCTL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// commandWatch records the names of the commands published to a base.
type commandWatch struct {
	mu    sync.Mutex
	names []string
}

func watchCommands(t *testing.T, url, base string) *commandWatch {
	t.Helper()
	w := &commandWatch{}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("test-watch-commands")
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	tok := c.Subscribe(provisioning.TopicsFor(base).Commands, 1, func(_ mqtt.Client, m mqtt.Message) {
		var cmd provisioning.Command
		if json.Unmarshal(m.Payload(), &cmd) == nil {
			w.mu.Lock()
			w.names = append(w.names, cmd.Name)
			w.mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher subscribe: %v", tok.Error())
	}
	return w
}

func (w *commandWatch) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.names...)
}

// Ctrl-C during register closes the registration window it opened: the
// real bsctl process, signalled, sends close-registration before it
// exits with exitInterrupted; before, the window stayed open for its
// whole 120 s.
func TestRegisterInterruptClosesTheWindow(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	watch := watchCommands(t, fb.url, "bs-1")
	cmd := exec.Command(os.Args[0], "--broker", fb.url, "--base", "bs-1", "register")
	cmd.Env = append(os.Environ(), runAsMain+"=1")
	var out, errOut syncBuf
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false
	defer func() {
		if !reaped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	select {
	case o := <-fb.radio.Opened():
		if o.Window != 120*time.Second {
			t.Fatalf("window %v", o.Window)
		}
	case err := <-exited:
		reaped = true
		t.Fatalf("bsctl exited: %v\n%s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("registration mode never opened\n%s", errOut.String())
	}
	waitFor(t, "the countdown", func() bool { return strings.Contains(errOut.String(), "Registration mode is open on bs-1") })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
		reaped = true
	case <-time.After(20 * time.Second):
		t.Fatalf("bsctl still running 20 s after SIGINT\n%s", errOut.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v\n%s", err, errOut.String())
	}
	if fb.radio.IsOpen() {
		t.Fatal("registration mode still open on the base")
	}
	waitFor(t, "close-registration on the command topic", func() bool {
		s := watch.seen()
		return len(s) == 2 && s[0] == provisioning.CmdRegisterDevice && s[1] == provisioning.CmdCloseRegistration
	})
	for _, f := range []string{"interrupted: closing registration mode on bs-1", "registration mode on bs-1 closed"} {
		if !strings.Contains(errOut.String(), f) {
			t.Errorf("stderr lacks %q:\n%s", f, errOut.String())
		}
	}
	if out.String() != "" {
		t.Errorf("stdout %q", out.String())
	}
}
