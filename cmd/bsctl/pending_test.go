package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

// A change the base defers because it would drop a call is a result:
// bsctl says so and exits at once with exitPending, where it used to wait
// for --timeout and exit 1. The base applies it by itself when the call
// ends.
func TestPendingChangeIsAResult(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	fb.applier.SetBusy("101")

	start := time.Now()
	// A new SIP password re-registers the account: the call would drop.
	r := fb.bsctl(t, "--base", "bs-1", "set", "--ext", "101", "--sip-password", "new-pw")
	expect(t, r, exitPending, "Pending: base bs-1 applies configuration v2 (extension 101 updated) when the call on extension 101 ends")
	// --timeout is 10 s in fb.bsctl: well before it.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("pending took %v to report", d)
	}
	if fb.applier.Current().Version != 1 {
		t.Fatal("applied during the call")
	}
	fb.applier.SetBusy()
	fb.agent.StateChanged()
	waitFor(t, "v2 applied after the call", func() bool { return fb.applier.Current().Extension("101").SIP.Password == "new-pw" })

	// JSON says the same.
	fb.applier.SetBusy("102")
	r = fb.bsctl(t, "--base", "bs-1", "--json", "delete-extension", "--ext", "102")
	if r.code != exitPending {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	var v struct {
		Status     string   `json:"status"`
		Version    uint64   `json:"version"`
		WaitingFor []string `json:"waiting_for"`
	}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || v.Status != "pending" || v.Version != 3 || len(v.WaitingFor) != 1 || v.WaitingFor[0] != "102" {
		t.Fatalf("%v %+v\n%s", err, v, r.out)
	}

	fb.applier.SetBusy()
	fb.agent.StateChanged()
	waitFor(t, "v3 applied after the call", func() bool { return fb.applier.Current().Version == 3 })

	// config-push too; the version it published is the one pending.
	fb.applier.SetBusy("101")
	b, _ := json.Marshal(provisioningtest.SampleConfig("bs-1", 0))
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, b, 0o600)
	expect(t, fb.bsctl(t, "--base", "bs-1", "config-push", file), exitPending, "configuration v4 (configuration pushed) when the call on extension 101 ends")
	fb.applier.SetBusy()
	fb.agent.StateChanged()
	waitFor(t, "v4 applied after the call", func() bool { return fb.applier.Current().Version == 4 })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
