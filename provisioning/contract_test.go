package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/provisioning/provisioningtest"
)

// The acceptance scenarios of the contract, each run against the
// in-process broker and against mosquitto, plain and with mutual TLS.
var scenarios = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"PushAppliedAndReported", scenarioPushApplied},
	{"InvalidRejectedOldStays", scenarioInvalidRejected},
	{"BrokerRestartRepublishes", scenarioBrokerRestart},
	{"BootFromStoreWithoutBroker", scenarioBootNoBroker},
	{"ReplayedCommandRunsOnce", scenarioReplay},
	{"ForeignAndMalformedRefused", scenarioForeignMalformed},
}

func TestContractMochi(t *testing.T) {
	t.Parallel()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, mochiEnv(t, false)) })
	}
}

func TestContractMochiMutualTLS(t *testing.T) {
	t.Parallel()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, mochiEnv(t, true)) })
	}
}

func TestContractMosquitto(t *testing.T) {
	t.Parallel()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, mosquittoEnv(t, false)) })
	}
}

func TestContractMosquittoMutualTLS(t *testing.T) {
	t.Parallel()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, mosquittoEnv(t, true)) })
	}
}

func push(t *testing.T, c *cloud.Client, cfg *provisioning.Config) (*provisioning.State, error) {
	t.Helper()
	return c.Push(tctx(t, 10*time.Second), cfg, nil)
}

func scenarioPushApplied(t *testing.T, e *env) {
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online state", func(*provisioning.State) bool { return true })
	st, err := push(t, c, provisioningtest.SampleConfig(b.id, 1))
	if err != nil {
		t.Fatal(err)
	}
	if st.Config.AppliedVersion != 1 || st.Config.AppliedAt == nil || st.Firmware != "test-1.0" {
		t.Fatalf("state: %+v", st.Config)
	}
	got := b.applier.Current()
	if got == nil || got.Version != 1 || got.Extensions[0].SIP.Password != "secret-v1" {
		t.Fatalf("applier got %+v", got)
	}
	if len(st.Devices) != 1 || st.Devices[0].ID != "port1" || st.Devices[0].Extension != "101" {
		t.Fatalf("devices: %+v", st.Devices)
	}
	raw, _ := json.Marshal(st)
	if strings.Contains(string(raw), "secret-v1") {
		t.Fatal("reported state leaks a SIP password")
	}
	stat, err := c.Status(tctx(t, 5*time.Second), b.id)
	if err != nil || !stat.Online {
		t.Fatalf("status: %+v %v", stat, err)
	}
	// Re-publishing the applied version is harmless: no second apply.
	n := b.applier.Count()
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 2)); err != nil {
		t.Fatal(err)
	}
	if b.applier.Count() != n+1 {
		t.Fatalf("applies: %d, want %d", b.applier.Count(), n+1)
	}
	// An older version is ignored.
	if err := c.Publish(tctx(t, 5*time.Second), provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Command(tctx(t, 5*time.Second), b.id, provisioning.CmdPage, nil, nil); err != nil { // barrier
		t.Fatal(err)
	}
	if v := b.agent.AppliedVersion(); v != 2 || b.applier.Current().Version != 2 {
		t.Fatalf("older version applied: agent %d applier %d", v, b.applier.Current().Version)
	}
	// The base goes offline through its will when the connection dies.
	b.stop()
	waitStatus(t, c, b.id, false)
}

// waitStatus waits for the birth (online) or will of a base; session, if
// given, must match.
func waitStatus(t *testing.T, c *cloud.Client, base string, online bool, session ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := c.Status(tctx(t, 5*time.Second), base); err == nil && s.Online == online && (len(session) == 0 || s.Session == session[0]) {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("status never became online=%v", online)
}

func scenarioInvalidRejected(t *testing.T, e *env) {
	b := startBase(t, e, t.TempDir(), provisioningtest.NewRadio(provisioningtest.Linx()))
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	bad := provisioningtest.SampleConfig(b.id, 2)
	bad.Extensions[0].Devices.Linx = "dect-99999999"                                      // unknown
	bad.Extensions[1].Devices.Port = provisioning.PortDeviceID                            // port twice
	bad.Extensions[1].CallerID = "555-1234"                                               // malformed number
	bad.System.Registrars[1] = "sip:pbx2.example.net:99999"                               // malformed URI
	bad.System.RegistrationWindowS = 600                                                  // out of range
	bad.Extensions = append(bad.Extensions, bad.Extensions[0])                            // duplicate number
	bad.Extensions[2].Devices = provisioning.Devices{Headset: provisioningtest.Linx().ID} // wrong type
	_, err := push(t, c, bad)
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	want := "system.registrars[1],system.registration_window_s,extensions[0].devices.linx,extensions[1].caller_id,extensions[1].devices.port,extensions[2].number,extensions[2].devices.headset"
	if got := paths(ve.Errors); got != want {
		t.Fatalf("paths %s\nwant  %s\n%v", got, want, ve)
	}
	if v := b.applier.Current().Version; v != 1 || b.applier.Count() != 1 {
		t.Fatalf("applier at version %d after %d applies", v, b.applier.Count())
	}
	st := waitState(t, c, b.id, "rejected v2", func(s *provisioning.State) bool { return s.Config.Rejected != nil })
	if st.Config.AppliedVersion != 1 || st.Config.Rejected.Version != 2 {
		t.Fatalf("config state: %+v", st.Config)
	}
	// A live-state check of the daemon is reported the same way.
	b.applier.SetCheck(func(cfg *provisioning.Config) []provisioning.FieldError {
		return []provisioning.FieldError{{Path: "extensions[0].sip.transport", Message: "tls not available"}}
	})
	_, err = push(t, c, provisioningtest.SampleConfig(b.id, 3))
	if !errors.As(err, &ve) || paths(ve.Errors) != "extensions[0].sip.transport" {
		t.Fatalf("err = %v", err)
	}
	b.applier.SetCheck(nil)
	// The next valid version clears the rejection.
	st, err = push(t, c, provisioningtest.SampleConfig(b.id, 4))
	if err != nil || st.Config.Rejected != nil {
		t.Fatalf("v4: %+v %v", st, err)
	}
	// After a restart the stored version is the last applied one.
	b.stop()
	b2 := startBase(t, e, b.dir, provisioningtest.NewRadio(provisioningtest.Linx()))
	if got := <-b2.applier.Applied(); got != 4 {
		t.Fatalf("booted version %d", got)
	}
}

func scenarioBrokerRestart(t *testing.T, e *env) {
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.start() // a fresh broker: no retained messages
	c2 := dialCloud(t, e)
	st := waitState(t, c2, b.id, "republished state", func(s *provisioning.State) bool { return s.Config.AppliedVersion == 1 })
	if st.Devices[0].Extension != "101" {
		t.Fatalf("state after restart: %+v", st)
	}
	waitStatus(t, c2, b.id, true)
	// Subscriptions are back: the next version is applied.
	if _, err := push(t, c2, provisioningtest.SampleConfig(b.id, 2)); err != nil {
		t.Fatal(err)
	}
	if r, err := c2.Command(tctx(t, 5*time.Second), b.id, provisioning.CmdPage, nil, nil); err != nil || r.Status != provisioning.StatusSucceeded {
		t.Fatalf("command after restart: %+v %v", r, err)
	}
}

func scenarioBootNoBroker(t *testing.T, e *env) {
	dir := t.TempDir()
	b := startBase(t, e, dir, nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 3)); err != nil {
		t.Fatal(err)
	}
	b.stop()
	e.stop()
	// No broker: the base boots and applies its stored configuration.
	b2 := startBase(t, e, dir, nil)
	select {
	case v := <-b2.applier.Applied():
		if v != 3 || b2.applier.Current().Extensions[0].SIP.Password != "secret-v3" {
			t.Fatalf("booted with %+v", b2.applier.Current())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stored configuration not applied without a broker")
	}
	// When the broker comes back the base reports what it runs.
	e.start()
	c2 := dialCloud(t, e)
	waitState(t, c2, b2.id, "applied version 3", func(s *provisioning.State) bool { return s.Config.AppliedVersion == 3 })
}

func scenarioReplay(t *testing.T, e *env) {
	dir := t.TempDir()
	b := startBase(t, e, dir, nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	// Generous: the whole scenario includes a restart, and CI runs every
	// package (and four broker suites in parallel) on 2 cores.
	ctx := tctx(t, 45*time.Second)
	go func() {
		<-b.radio.Opened()
		b.radio.Pair(provisioningtest.Headset())
	}()
	var seen []string
	r, err := c.CommandID(ctx, b.id, "cmd-replay-1", provisioning.CmdRegisterDevice, provisioning.RegisterDeviceArgs{WindowS: 30, PIN: "1234"},
		func(r provisioning.Result) { seen = append(seen, r.Status) })
	if err != nil || r.Status != provisioning.StatusSucceeded || r.Device == nil || r.Device.ID != provisioningtest.Headset().ID {
		t.Fatalf("register: %+v %v", r, err)
	}
	if strings.Join(seen, ",") != "accepted,succeeded" {
		t.Fatalf("result sequence %v", seen)
	}
	if o := b.radio.Opens(); len(o) != 1 || o[0].Window != 30*time.Second || o[0].PIN != "1234" {
		t.Fatalf("radio opens: %+v", o)
	}
	r2, err := c.CommandID(ctx, b.id, "cmd-replay-1", provisioning.CmdRegisterDevice, provisioning.RegisterDeviceArgs{WindowS: 30}, nil)
	if err != nil || !r2.Duplicate || r2.Status != provisioning.StatusSucceeded || r2.Device.ID != provisioningtest.Headset().ID {
		t.Fatalf("replay: %+v %v", r2, err)
	}
	// The window is persisted: a replay after a restart does not run either.
	b.stop()
	b2 := startBase(t, e, dir, b.radio)
	waitStatus(t, c, b2.id, true, b2.agent.Session())
	r3, err := c.CommandID(ctx, b2.id, "cmd-replay-1", provisioning.CmdRegisterDevice, nil, nil)
	if err != nil || !r3.Duplicate {
		t.Fatalf("replay after restart: %+v %v", r3, err)
	}
	if n := len(b.radio.Opens()); n != 1 {
		t.Fatalf("radio opened %d times", n)
	}
}

func scenarioForeignMalformed(t *testing.T, e *env) {
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	events := watchEvents(t, c, b.id)
	ctx := tctx(t, 10*time.Second)
	pub := func(topic, payload string) {
		t.Helper()
		if err := c.PublishRaw(ctx, topic, []byte(payload), false); err != nil {
			t.Fatal(err)
		}
	}
	other := provisioning.TopicsFor("bs-2")
	own := provisioning.TopicsFor(b.id)
	// Another base's topics: nothing happens here.
	pub(other.Commands, `{"schema":1,"id":"x1","base":"bs-2","name":"page"}`)
	cfg2 := provisioningtest.SampleConfig("bs-2", 9)
	raw2, _ := json.Marshal(cfg2)
	pub(other.Desired, string(raw2))
	// A command for another base on this base's topic: rejected.
	r, err := c.CommandID(ctx, "bs-1", "x2", provisioning.CmdPage, nil, nil)
	if err != nil || r.Status != provisioning.StatusSucceeded {
		t.Fatalf("own page: %+v %v", r, err)
	}
	wr, err := c.Send(ctx, b.id, provisioning.Command{Schema: 1, ID: "x3", Base: "bs-2", Name: "page"}, nil)
	if err != nil || wr.Status != provisioning.StatusRejected || !strings.Contains(wr.Reason, `addressed to base "bs-2"`) {
		t.Fatalf("command for another base: %+v %v", wr, err)
	}
	// Malformed payloads: an error event naming the problem.
	pub(own.Commands, `{"schema":1,"id":`)
	pub(own.Commands, `{"schema":1,"id":"x4","base":"bs-1","name":"remove-device","args":{"device":"port1","force":true}}`)
	pub(own.Desired, `{"schema":1,"base":"bs-1","version":7,"extensions":"none"}`)
	events.wait(t, "malformed command error", func(ev provisioning.Event) bool {
		return ev.Type == provisioning.EvError && strings.Contains(ev.Reason, "malformed command refused") && strings.Contains(ev.Reason, "unexpected end")
	})
	rej := events.wait(t, "config-rejected v7", func(ev provisioning.Event) bool {
		return ev.Type == provisioning.EvConfigRejected && ev.Version == 7
	})
	if len(rej.Errors) != 1 || !strings.Contains(rej.Errors[0].Message, "extensions: expected []provisioning.Extension") {
		t.Fatalf("rejection: %+v", rej.Errors)
	}
	// x4 was rejected and is remembered as such: its replay is not run.
	r4, err := c.CommandID(ctx, b.id, "x4", provisioning.CmdRemoveDevice, provisioning.RemoveDeviceArgs{Device: "port1"}, nil)
	if err != nil || r4.Status != provisioning.StatusRejected || !strings.Contains(r4.Reason, `unknown field "force"`) {
		t.Fatalf("x4: %+v %v", r4, err)
	}
	r3, err := c.CommandID(ctx, b.id, "x3", provisioning.CmdPage, nil, nil) // now for the right base: runs
	if err != nil || r3.Status != provisioning.StatusSucceeded || r3.Duplicate {
		t.Fatalf("x3 for the right base: %+v %v", r3, err)
	}
	if p := b.radio.Pages(); p != 2 {
		t.Fatalf("radio paged %d times, want 2 (x2 and x3)", p)
	}
	if v := b.applier.Current().Version; v != 1 || b.agent.AppliedVersion() != 1 {
		t.Fatalf("applied version %d", v)
	}
}

// TestMosquittoACLConfinesBase checks the ACL of docs/mqtt-api.md §2 on
// mosquitto: a base's certificate cannot write into another base's
// subtree, nor read another base's configuration.
func TestMosquittoACLConfinesBase(t *testing.T) {
	t.Parallel()
	e := mosquittoEnv(t, true)
	admin := dialCloud(t, e)
	asBase := dialCloud(t, &env{url: e.url, cloudTLS: e.baseTLS}) // CN bs-1
	ctx := tctx(t, 10*time.Second)
	// Allowed: its own state.
	own, _ := json.Marshal(provisioning.State{Schema: 1, Base: "bs-1"})
	if err := asBase.PublishRaw(ctx, provisioning.TopicsFor("bs-1").State, own, true); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.State(ctx, "bs-1"); err != nil {
		t.Fatalf("own state not stored: %v", err)
	}
	// Denied: another base's state (mosquitto acknowledges and drops).
	fake, _ := json.Marshal(provisioning.State{Schema: 1, Base: "bs-2"})
	_ = asBase.PublishRaw(ctx, provisioning.TopicsFor("bs-2").State, fake, true)
	if _, err := admin.State(ctx, "bs-2"); !errors.Is(err, cloud.ErrNoState) {
		t.Fatalf("base wrote another base's state: %v", err)
	}
	// Denied: reading another base's desired configuration (secrets).
	cfg := provisioningtest.SampleConfig("bs-2", 1)
	if err := admin.Publish(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// The base's account may not write the cloud client's sync topic
	// either, so its read ends at the deadline, with nothing read.
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Second)
	defer bcancel()
	if got, err := asBase.Desired(bctx, "bs-2"); err == nil {
		t.Fatalf("base read another base's configuration: version %d", got.Version)
	} else if !errors.Is(err, cloud.ErrNoDesired) && !errors.Is(err, cloud.ErrRefused) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("base reading another base's configuration: %v", err)
	}
	if _, err := admin.Desired(ctx, "bs-2"); err != nil {
		t.Fatalf("admin cannot read it: %v", err)
	}
}
