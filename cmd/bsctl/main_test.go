package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/buildinfo"
	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

// fakeBase is the provisioning agent with fake daemon parts, behind an
// in-process broker.
type fakeBase struct {
	url     string
	applier *provisioningtest.Applier
	radio   *provisioningtest.Radio
	agent   *provisioning.Agent
}

func startFakeBase(t *testing.T, opts broker.Options, agentTLS func(*provisioning.Options)) *fakeBase {
	t.Helper()
	br, err := broker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	fb := &fakeBase{url: br.URL(), applier: provisioningtest.NewApplier(), radio: provisioningtest.NewRadio(provisioningtest.Linx())}
	o := provisioning.Options{BaseID: "bs-1", Brokers: []string{br.URL()}, StateDir: t.TempDir(),
		Applier: fb.applier, Radio: fb.radio, State: &provisioningtest.State{}, Firmware: "1.2.3",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxReconnectInterval: time.Second}
	if agentTLS != nil {
		agentTLS(&o)
	}
	a, err := provisioning.NewAgent(o)
	if err != nil {
		t.Fatal(err)
	}
	fb.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// The cloud's first configuration, as the portal would have published.
	cfg := provisioningtest.SampleConfig("bs-1", 1)
	b, _ := json.Marshal(cfg)
	root := o.TopicRoot
	if root == "" {
		root = provisioning.TopicPrefix
	}
	br.Publish(provisioning.TopicsUnder(root, "bs-1").Desired, b, true, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if raw, ok := br.Retained(provisioning.TopicsUnder(root, "bs-1").State); ok {
			if st, err := provisioning.DecodeState(raw); err == nil && st.Config.AppliedVersion == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("fake base did not report its first configuration applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fb
}

type result struct {
	code        int
	out, errOut string
}

func (fb *fakeBase) bsctl(t *testing.T, args ...string) result {
	t.Helper()
	return bsctlRaw(t, append([]string{"--broker", fb.url, "--timeout", "10s"}, args...)...)
}

func bsctlRaw(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut syncBuf
	code := run(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func expect(t *testing.T, r result, code int, frags ...string) {
	t.Helper()
	all := r.out + r.errOut
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.errOut)
	}
	for _, f := range frags {
		if !strings.Contains(all, f) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", f, r.out, r.errOut)
		}
	}
}

// TestPortalFlowsEndToEnd walks the administrator's flows of the portal's
// help pages with bsctl against a base.
func TestPortalFlowsEndToEnd(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)

	expect(t, fb.bsctl(t, "bases"), 0, "BASE", "bs-1", "yes", "1.2.3", "v1")
	r := fb.bsctl(t, "--json", "bases")
	var bases []struct {
		ID    string
		State provisioning.State
	}
	if err := json.Unmarshal([]byte(r.out), &bases); err != nil || len(bases) != 1 || bases[0].State.Config.AppliedVersion != 1 {
		t.Fatalf("bases --json: %v %s", err, r.out)
	}

	// Register New Device: a Headset pairs while bsctl waits.
	go func() {
		<-fb.radio.Opened()
		time.Sleep(50 * time.Millisecond)
		fb.radio.Pair(provisioningtest.Headset())
	}()
	expect(t, fb.bsctl(t, "register", "--base", "bs-1", "--pin", "2468"), 0,
		"Registration mode is open on bs-1", "Paired headset dect-0e0f1011")
	if o := fb.radio.Opens(); o[len(o)-1].PIN != "2468" {
		t.Fatalf("pin %+v", o)
	}

	// The base's devices; assign the Linx and the Headset to 101.
	expect(t, fb.bsctl(t, "--base", "bs-1", "devices"), 0, "port1", "dect-0a1b2c3d", "linx", "dect-0e0f1011", "headset")
	expect(t, fb.bsctl(t, "--base", "bs-1", "assign", "--ext", "101", "--device", "dect-0a1b2c3d"), 0, "assigned to extension 101", "v2")
	expect(t, fb.bsctl(t, "--base", "bs-1", "assign", "--ext", "101", "--device", "dect-0e0f1011"), 0, "v3")
	// One device of each type: a second Linx for 101 is refused.
	go func() {
		<-fb.radio.Opened()
		fb.radio.Pair(provisioning.Device{ID: "dect-55555555", Type: provisioning.DeviceLinx})
	}()
	expect(t, fb.bsctl(t, "--base", "bs-1", "register"), 0, "Paired linx dect-55555555")
	expect(t, fb.bsctl(t, "--base", "bs-1", "assign", "--ext", "101", "--device", "dect-55555555"), 1, "already has a linx")
	// A user's devices.
	r = fb.bsctl(t, "--base", "bs-1", "--json", "devices", "--ext", "101")
	var devs []provisioning.Device
	if err := json.Unmarshal([]byte(r.out), &devs); err != nil || len(devs) != 3 {
		t.Fatalf("devices of 101: %v %s", err, r.out)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "extensions"), 0, "101", "Front desk", "dect-0a1b2c3d", "dect-0e0f1011")
	if cur := fb.applier.Current().Extension("101").Devices; cur.Linx != "dect-0a1b2c3d" || cur.Headset != "dect-0e0f1011" {
		t.Fatalf("base runs %+v", cur)
	}

	// Outbound caller ID.
	expect(t, fb.bsctl(t, "--base", "bs-1", "set", "--ext", "101", "--caller-id", "+15559876543"), 0, "Extension 101 updated")
	if got := fb.applier.Current().Extension("101").CallerID; got != "+15559876543" {
		t.Fatalf("caller id on the base: %q", got)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "set", "--ext", "101", "--caller-id", "555"), 1, "extensions[0].caller_id", "not an E.164 number")

	// Remove a device from a user (unassign), then from the base.
	expect(t, fb.bsctl(t, "--base", "bs-1", "unassign", "--ext", "101", "--device", "dect-0e0f1011"), 0, "taken away")
	expect(t, fb.bsctl(t, "--base", "bs-1", "remove-device", "--device", "dect-0a1b2c3d"), 0, "removed from base bs-1 and from extension 101")
	if cur := fb.applier.Current().Extension("101").Devices; cur.Linx != "" || cur.Headset != "" {
		t.Fatalf("base still runs %+v", cur)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "remove-device", "--device", "dect-0a1b2c3d"), 1, "unknown device")

	// Create a user, then delete it; a call in progress defers the delete.
	expect(t, fb.bsctl(t, "--base", "bs-1", "add-extension", "--ext", "103", "--name", "Warehouse", "--sip-user", "acct103",
		"--sip-password", "pw103", "--sip-domain", "pbx.example.net", "--caller-id", "+15551230103"), 0, "Extension 103 added")
	expect(t, fb.bsctl(t, "--base", "bs-1", "add-extension", "--ext", "103", "--name", "Dup", "--sip-user", "x",
		"--sip-password", "y", "--sip-domain", "pbx.example.net"), 1, "already has extension 103")
	if fb.applier.Current().Extension("103") == nil {
		t.Fatal("extension 103 not on the base")
	}
	fb.applier.SetBusy("103")
	delDone := make(chan result, 1)
	// --wait: wait until the base applies it (without: pending, exit 4,
	// TestPendingChangeIsAResult).
	go func() { delDone <- fb.bsctl(t, "--base", "bs-1", "delete-extension", "--ext", "103", "--wait") }()
	time.Sleep(500 * time.Millisecond)
	if fb.applier.Current().Extension("103") == nil {
		t.Fatal("extension deleted during its call")
	}
	fb.applier.SetBusy()
	fb.agent.StateChanged()
	expect(t, <-delDone, 0, "pending on the base: waiting for calls to end on extension 103", "Extension 103 deleted")
	if fb.applier.Current().Extension("103") != nil {
		t.Fatal("extension 103 still on the base")
	}

	// State, configuration document, page.
	expect(t, fb.bsctl(t, "--base", "bs-1", "state"), 0, "Base bs-1", "online: yes", "Registration mode: closed", "port1")
	r = fb.bsctl(t, "--base", "bs-1", "config-get")
	if r.code != 0 || strings.Contains(r.out, "secret-v1") || !strings.Contains(r.out, "********") {
		t.Fatalf("config-get: %+v", r)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "page", "--duration", "5s"), 0, "page: succeeded")
	if fb.radio.Pages() != 1 {
		t.Fatal("radio not paged")
	}
}

func TestRegisterTimesOut(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	fb.radio.SetTimeScale(0.01)
	expect(t, fb.bsctl(t, "--base", "bs-1", "register", "--window", "10s"), 1, "no device paired before registration mode closed")
	r := fb.bsctl(t, "--base", "bs-1", "--json", "register", "--window", "10s")
	if r.code != 1 || !strings.Contains(r.out, `"status": "timed-out"`) {
		t.Fatalf("%+v", r)
	}
}

func TestConfigPush(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	dir := t.TempDir()
	cfg := provisioningtest.SampleConfig("bs-1", 0)
	cfg.Extensions[1].Devices.Port = "port1" // port assigned twice
	cfg.System.TimeZone = "Nowhere/Special"
	b, _ := json.Marshal(cfg)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, b, 0o600)
	expect(t, fb.bsctl(t, "--base", "bs-1", "config-push", bad), 1, "invalid and was not published", "system.time_zone:", "extensions[1].devices.port: device port1 is already assigned")
	cfg = provisioningtest.SampleConfig("bs-1", 0)
	cfg.Extensions[0].DisplayName = "Reception"
	b, _ = json.Marshal(cfg)
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, b, 0o600)
	expect(t, fb.bsctl(t, "--base", "bs-1", "config-push", good), 0, "v2 applied")
	if got := fb.applier.Current(); got.Version != 2 || got.Extensions[0].DisplayName != "Reception" {
		t.Fatalf("%+v", got)
	}
	// A refusal by the daemon's live-state check comes back from the base.
	fb.applier.SetCheck(func(*provisioning.Config) []provisioning.FieldError {
		return []provisioning.FieldError{{Path: "extensions[1].sip.transport", Message: "TLS transport unavailable: no CA bundle"}}
	})
	expect(t, fb.bsctl(t, "--base", "bs-1", "config-push", good), 1, "v3 rejected by the base", "extensions[1].sip.transport: TLS transport unavailable")
	fb.applier.SetCheck(nil)
	os.WriteFile(bad, []byte(`{"schema":1,"version":"x"}`), 0o600)
	expect(t, fb.bsctl(t, "--base", "bs-1", "config-push", bad), 1, "version: expected uint64")
}

func TestEventsFollow(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	done := make(chan result, 1)
	go func() { done <- fb.bsctl(t, "--base", "bs-1", "events", "--count", "2") }()
	// Keep posting until bsctl has seen two (its subscription starts at
	// some point after launch).
	for i := 0; ; i++ {
		fb.agent.Post(provisioning.Event{Type: provisioning.EvRegistrationState, Extension: "101", State: provisioning.RegFailed, Reason: fmt.Sprintf("403 Forbidden #%d", i)})
		select {
		case r := <-done:
			expect(t, r, 0, "registration-state", "ext 101; failed; 403 Forbidden")
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 100 {
			t.Fatal("bsctl events did not finish")
		}
	}
}

func TestUsageAndConnectionErrors(t *testing.T) {
	expect(t, bsctlRaw(t, "frobnicate"), exitUsage, `unknown command "frobnicate"`)
	expect(t, bsctlRaw(t, "state"), exitUsage, "--base is required")
	expect(t, bsctlRaw(t, "--base", "BS 1", "state"), exitUsage, "not a base id")
	expect(t, bsctlRaw(t, "--base", "bs-1", "register", "--window", "5m"), exitUsage, "outside 10s..120s")
	expect(t, bsctlRaw(t, "--base", "bs-1", "register", "--pin", "12a4"), exitUsage, "not 4 digits")
	expect(t, bsctlRaw(t, "--base", "bs-1", "assign", "--ext", "101"), exitUsage, "--ext and --device are required")
	expect(t, bsctlRaw(t, "--base", "bs-1", "state", "extra"), exitUsage, "unexpected arguments")
	expect(t, bsctlRaw(t, "--broker", "tcp://127.0.0.1:1", "--timeout", "2s", "bases"), exitConnect, "cannot reach the broker")
	expect(t, bsctlRaw(t, "--cert", "x.crt", "bases"), exitUsage, "must be given together")
	expect(t, bsctlRaw(t, "help"), exitOK, "register", "remove-device", "-broker")
}

func TestMutualTLSFlags(t *testing.T) {
	pki, err := broker.NewPKI("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := pki.Issue("localhost", true)
	dev, _ := pki.Issue("bs-1", false)
	adm, _ := pki.Issue("admin", false)
	fb := startFakeBase(t, broker.Options{TLS: pki.ServerTLS(srv)}, func(o *provisioning.Options) { o.TLS = pki.ClientTLS(dev) })
	dir := t.TempDir()
	ca, _ := pki.WriteCA(dir, "ca")
	crt, key, _ := adm.WriteFiles(dir, "admin")
	expect(t, fb.bsctl(t, "--cafile", ca, "--cert", crt, "--key", key, "bases"), 0, "bs-1", "v1")
	expect(t, fb.bsctl(t, "--cafile", ca, "--timeout", "2s", "bases"), exitConnect, "cannot reach the broker")
}

// --version prints one line naming bsctl and the release version on
// standard output, exits 0 and contacts no broker.
func TestVersionFlag(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"--version"}, &out, &errOut); code != exitOK {
		t.Fatalf("bsctl --version: exit %d, stderr %q", code, errOut.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "bsctl "+buildinfo.Version+" (commit ") || strings.Count(got, "\n") != 1 {
		t.Fatalf("--version printed %q", got)
	}
}
