package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// startFirmwareSim is the simulated office with the firmware platform:
// real RAUC on a private D-Bus, two file slots, the boot-counter
// bootloader; the trial boot's health deadline is 3 s.
func startFirmwareSim(t *testing.T) *simEnv {
	t.Helper()
	testpeer.Require(t, fwPeers...)
	return startSimWith(t, func(o *options) {
		o.Firmware = true
		o.FirmwareDir = t.TempDir()
		o.FirmwareServe = "127.0.0.1:0"
		o.HealthDeadline = 3 * time.Second
	})
}

func (e *simEnv) firmware() fwView {
	e.t.Helper()
	var v fwView
	e.mustOK("GET", "/v1/firmware", "", &v)
	return v
}

func (e *simEnv) build(name string) fwBuild {
	e.t.Helper()
	for _, b := range e.firmware().Builds {
		if b.Name == name {
			return b
		}
	}
	e.t.Fatalf("no build %q", name)
	return fwBuild{}
}

func (e *simEnv) bsctlUpdate(b fwBuild, extra ...string) (string, error) {
	e.t.Helper()
	args := append([]string{"update", "--fw-version", b.Version, "--size", fmt.Sprint(b.Size), "--sha256", b.SHA256}, extra...)
	return e.bsctl(append(args, b.URL)...)
}

// bsctl update against basesim with real RAUC (issue 13's first
// acceptance): the good build downloads (progress bar), installs into the
// inactive slot B, the base reboots into it, proves healthy and is marked
// good: succeeded, and the cloud sees the new firmware. Then a build that
// never registers installs into slot A, fails its health check on every
// trial boot, the bootloader falls back to B after its attempts, and the
// job ends rolled-back. The configuration (extension 101 on the port) and
// a Linx's pairing survive every reboot.
func TestBsctlUpdateGoodThenNeverRegisters(t *testing.T) {
	e := startFirmwareSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	if v := e.firmware(); v.Booted != "A" || v.Version != "0.1.0" || v.Slots["B"] != "empty" {
		t.Fatalf("before the update: %+v", v)
	}
	if out := consoleDo(e.w.handler(), "firmware", true); !strings.Contains(out, `"booted":"A"`) || !strings.Contains(out, `"never-registers"`) {
		t.Fatalf("console firmware: %s", out)
	}
	// A paired Linx on 101: the pairing lives in the state directory,
	// outside the slots, and must survive the update and the rollback.
	linx, devID := e.registerDevice("linx", "1357")
	if out, err := e.bsctl("assign", "--ext", "101", "--device", devID); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("the Linx attached", 10*time.Second, func() bool { return e.device(linx).Attached })
	paired := func() bool {
		for _, d := range e.w.daemon().Status().Devices {
			if d.ID == devID {
				return e.device(linx).Attached
			}
		}
		return false
	}
	good := e.build("good")
	out, err := e.bsctlUpdate(good, "--id", "fw-good")
	if err != nil {
		t.Fatalf("bsctl update (good): %v\n%s", err, out)
	}
	for _, want := range []string{"downloading [", fmt.Sprintf("100%% %d/%d bytes", good.Size, good.Size), "verifying", "waiting-for-idle",
		"installing", "rebooting", "checking-health", good.Version + ": succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("bsctl update output lacks %q:\n%s", want, out)
		}
	}
	v := e.firmware()
	bl := v.Bootloader
	if v.Booted != "B" || v.Version != good.Version || v.Boots != 2 || bl["primary"] != "B" || bl["B_attempts"] != "3" || bl["B_trial"] != "0" {
		t.Fatalf("after the good update: %+v", v)
	}
	e.eventually("101 registered on the new build", 10*time.Second, func() bool { return e.registered("101") })
	e.eventually("the Linx still paired and attached on the new build", 15*time.Second, paired)
	if out, err := e.bsctl("state"); err != nil || !strings.Contains(out, "firmware: basestationd "+good.Version) {
		t.Fatalf("bsctl state after the update: %v\n%s", err, out)
	}
	// The new build tests its caller-ID path once it is marked good.
	e.eventually("the caller-ID self-test after the update", 30*time.Second, func() bool {
		out, err := e.bsctl("diag", "--types", "callerid-self-test", "--log", "5")
		return err == nil && strings.Contains(out, "after the update to "+good.Version+": pass")
	})

	bad := e.build("never-registers")
	out, err = e.bsctlUpdate(bad)
	if err == nil {
		t.Fatalf("bsctl update (never-registers) succeeded:\n%s", out)
	}
	for _, want := range []string{"checking-health: not healthy within 3s: extension 101 not registered", bad.Version + ": rolled-back", "ended rolled-back"} {
		if !strings.Contains(out, want) {
			t.Errorf("bsctl update output lacks %q:\n%s", want, out)
		}
	}
	v = e.firmware()
	bl = v.Bootloader
	// Boots: 2 so far, 3 trial boots of A, then B again.
	if v.Booted != "B" || v.Version != good.Version || v.Boots != 2+3+1 || bl["primary"] != "B" || bl["A_attempts"] != "0" || v.Slots["A"] != bad.Version+" (never-registers)" {
		t.Fatalf("after the bad update: %+v", v)
	}
	e.eventually("101 registered again on the good build", 10*time.Second, func() bool { return e.registered("101") })
	e.eventually("the Linx still paired and attached after the rollback", 15*time.Second, paired)

	// The good job's id again is answered with its result, not run again.
	out, err = e.bsctlUpdate(good, "--id", "fw-good")
	if err != nil || !strings.Contains(out, "succeeded [job seen before; not run again]") {
		t.Fatalf("re-sent job: %v\n%s", err, out)
	}
	if n := e.firmware().Boots; n != 6 {
		t.Fatalf("the re-sent job rebooted the base: %d boots", n)
	}
}

// jobState is the daemon's current firmware job state from its jobs file
// ("" when no job runs).
func (e *simEnv) jobState() string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.w.opt.StateDir, "update", "update-jobs.json"))
	if err != nil {
		return ""
	}
	var f struct {
		Current *struct {
			State string `json:"state"`
		} `json:"current"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Current == nil {
		return ""
	}
	return f.Current.State
}

// An update pushed during a call waits (issue 13, acceptance 4): the job
// stays in waiting-for-idle, nothing is written to a slot, the call's
// audio flows both ways; once the phone hangs up the update installs,
// reboots and succeeds.
func TestBsctlUpdateWaitsForTheCall(t *testing.T) {
	e := startFirmwareSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.eventually("Bob's phone rings", 5*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	e.mustOK("POST", "/v1/softphones/102/answer", "", nil)
	e.eventually("connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })

	type result struct {
		out string
		err error
	}
	// bsctl is built (and the base seen at its first firmware) before
	// the update runs in its own goroutine.
	if out, err := e.bsctl("state"); err != nil || !strings.Contains(out, "firmware: basestationd 0.1.0") {
		t.Fatalf("bsctl state: %v\n%s", err, out)
	}
	done := make(chan result, 1)
	good := e.build("good")
	go func() {
		out, err := e.bsctlUpdate(good)
		done <- result{out, err}
	}()
	e.eventually("the job waits for the call", 20*time.Second, func() bool { return e.jobState() == "waiting-for-idle" })
	e.w.board.Phone.Speak(toneSamples(700, 6*time.Second))
	for range 3 {
		before := e.softphone("102").ReceivedAudio
		time.Sleep(time.Second)
		sp := e.softphone("102")
		if sp.State != "connected" || sp.ReceivedAudio <= before {
			t.Fatalf("the call during the wait: %s, %d packets (was %d)", sp.State, sp.ReceivedAudio, before)
		}
		if hz := sp.HeardHz; hz < 690 || hz > 710 {
			t.Fatalf("Bob hears %.0f Hz during the wait, want the phone's 700", hz)
		}
		if f := dominantHz(e.w.board.Phone.EarAudio(), 4000); f < 985 || f > 1015 {
			t.Fatalf("the analog phone hears %.0f Hz during the wait, want Bob's 1000", f)
		}
		if st, v := e.jobState(), e.firmware(); st != "waiting-for-idle" || v.Slots["B"] != "empty" || v.Boots != 1 {
			t.Fatalf("during the call: job %s, slots %v, %d boots", st, v.Slots, v.Boots)
		}
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually("Bob's call ends", 5*time.Second, func() bool { return e.softphone("102").State == "idle" })
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("bsctl update did not end after the call")
	}
	if r.err != nil || !strings.Contains(r.out, good.Version+": succeeded") {
		t.Fatalf("bsctl update: %v\n%s", r.err, r.out)
	}
	if v := e.firmware(); v.Booted != "B" || v.Boots != 2 {
		t.Fatalf("after the call: %+v", v)
	}
}
