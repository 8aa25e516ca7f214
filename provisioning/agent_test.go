package provisioning_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

func TestDeferredWhileCallIsUp(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	b.applier.SetBusy("101")
	// A caller-ID change does not drop the call: applied at once.
	v2 := provisioningtest.SampleConfig(b.id, 1)
	v2.Version = 2
	v2.Extensions[0].CallerID = "+15551239999"
	if _, err := push(t, c, v2); err != nil {
		t.Fatal(err)
	}
	// A new password for 101 would re-register and drop the call: pending.
	v3 := provisioningtest.SampleConfig(b.id, 3)
	pendingSeen := make(chan provisioning.Pending, 1)
	done := make(chan error, 1)
	go func() {
		_, err := c.Push(tctx(t, 15*time.Second), v3, func(p provisioning.Pending) { pendingSeen <- p })
		done <- err
	}()
	select {
	case p := <-pendingSeen:
		if p.Version != 3 || strings.Join(p.WaitingFor, ",") != "101" {
			t.Fatalf("pending: %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pending report")
	}
	if v := b.applier.Current().Version; v != 2 {
		t.Fatalf("applied %d while the call is up", v)
	}
	b.applier.SetBusy()
	b.agent.StateChanged()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := b.applier.Current().Version; v != 3 {
		t.Fatalf("applied %d after the call", v)
	}
	st := waitState(t, c, b.id, "no pending", func(s *provisioning.State) bool { return s.Config.Pending == nil })
	if st.Config.AppliedVersion != 3 {
		t.Fatalf("%+v", st.Config)
	}
}

func TestRegistrationOutcomes(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	b.radio.SetTimeScale(0.01)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	ctx := tctx(t, 20*time.Second)
	events := watchEvents(t, c, b.id)

	// Nobody pairs: timed-out.
	var closes *time.Time
	r, err := c.RegisterDevice(ctx, b.id, 10*time.Second, "", func(r provisioning.Result) {
		if r.Status == provisioning.StatusAccepted {
			closes = r.ClosesAt
		}
	})
	if err != nil || r.Status != provisioning.StatusTimedOut {
		t.Fatalf("%+v %v", r, err)
	}
	if closes == nil {
		t.Fatal("accepted result without closes_at")
	}
	if o := b.radio.Opens(); o[0].PIN != "0000" || o[0].Window != 10*time.Second {
		t.Fatalf("opens %+v", o)
	}

	// Closed by close-registration while open: failed, with the reason.
	b.radio.SetTimeScale(1)
	res := make(chan *provisioning.Result, 1)
	go func() {
		r, _ := c.RegisterDevice(ctx, b.id, 0, "4321", nil)
		res <- r
	}()
	<-b.radio.Opened()
	waitState(t, c, b.id, "registration mode open", func(s *provisioning.State) bool { return s.RegistrationMode.Open })
	// A second register-device while open is rejected.
	r2, err := c.RegisterDevice(ctx, b.id, 0, "", nil)
	if err != nil || r2.Status != provisioning.StatusRejected || !strings.Contains(r2.Reason, "already open") {
		t.Fatalf("second register: %+v %v", r2, err)
	}
	rc, err := c.Command(ctx, b.id, provisioning.CmdCloseRegistration, nil, nil)
	if err != nil || rc.Status != provisioning.StatusSucceeded {
		t.Fatalf("close: %+v %v", rc, err)
	}
	r = <-res
	if r == nil || r.Status != provisioning.StatusFailed || !strings.Contains(r.Reason, "closed before a device paired") {
		t.Fatalf("closed registration: %+v", r)
	}
	if w := b.radio.Opens()[1].Window; w != 120*time.Second {
		t.Fatalf("default window %v", w)
	}
	events.wait(t, "registration-mode closed", func(ev provisioning.Event) bool {
		return ev.Type == provisioning.EvRegistrationMode && ev.State == "closed"
	})

	// A radio failure: failed with the radio's reason.
	b.radio.SetFailOpen(errors.New("module not responding"))
	r, err = c.RegisterDevice(ctx, b.id, 0, "", nil)
	if err != nil || r.Status != provisioning.StatusFailed || !strings.Contains(r.Reason, "module not responding") {
		t.Fatalf("%+v %v", r, err)
	}
	// Bad arguments: rejected with the field.
	r, err = c.Command(ctx, b.id, provisioning.CmdRegisterDevice, map[string]any{"window_s": 500}, nil)
	if err != nil || r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, "args.window_s") {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = c.Command(ctx, b.id, "self-destruct", nil, nil)
	if err != nil || r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, `unknown command "self-destruct"`) {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestPortalFlows drives what the portal does: register a Linx, assign it,
// list the extension's devices, refuse a second Linx, change the caller
// ID, remove the device.
func TestPortalFlows(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), provisioningtest.NewRadio(provisioningtest.Linx()))
	c := dialCloud(t, e)
	ctx := tctx(t, 20*time.Second)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	events := watchEvents(t, c, b.id)
	second := provisioning.Device{ID: "dect-77777777", Type: provisioning.DeviceLinx, Name: "Linx"}
	go func() {
		<-b.radio.Opened()
		b.radio.Pair(second)
	}()
	r, err := c.RegisterDevice(ctx, b.id, 0, "", nil)
	if err != nil || r.Status != provisioning.StatusSucceeded || *r.Device != second {
		t.Fatalf("register: %+v %v", r, err)
	}
	events.wait(t, "device-paired", func(ev provisioning.Event) bool {
		return ev.Type == provisioning.EvDevicePaired && ev.Device != nil && ev.Device.ID == second.ID
	})
	if _, err := c.AssignDevice(ctx, b.id, "101", provisioningtest.Linx().ID); err != nil {
		t.Fatal(err)
	}
	if got := b.applier.Current().Extension("101").Devices.Linx; got != provisioningtest.Linx().ID {
		t.Fatalf("applied linx %q", got)
	}
	// One of each type: a second Linx for 101 is refused.
	if _, err := c.AssignDevice(ctx, b.id, "101", second.ID); err == nil || !strings.Contains(err.Error(), "already has a linx") {
		t.Fatalf("second linx: %v", err)
	}
	// A device belongs to one extension.
	if _, err := c.AssignDevice(ctx, b.id, "102", provisioningtest.Linx().ID); err == nil || !strings.Contains(err.Error(), "assigned to extension 101") {
		t.Fatalf("shared device: %v", err)
	}
	devs, err := c.ExtensionDevices(ctx, b.id, "101")
	if err != nil || len(devs) != 2 || devs[0].ID != "port1" || devs[1].ID != provisioningtest.Linx().ID || devs[1].Type != provisioning.DeviceLinx {
		t.Fatalf("devices of 101: %+v %v", devs, err)
	}
	if _, err := c.SetExtension(ctx, b.id, "101", func(e *provisioning.Extension) error { e.CallerID = "+15557654321"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := b.applier.Current().Extension("101").CallerID; got != "+15557654321" {
		t.Fatalf("caller id %q", got)
	}
	_, err = c.SetExtension(ctx, b.id, "101", func(e *provisioning.Extension) error { e.CallerID = "12"; return nil })
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) || ve.Errors[0].Path != "extensions[0].caller_id" {
		t.Fatalf("bad caller id: %v", err)
	}
	// Remove the Linx: off the radio, out of the applied and the desired
	// configuration.
	rr, err := c.RemoveDevice(ctx, b.id, provisioningtest.Linx().ID)
	if err != nil || rr.Status != provisioning.StatusSucceeded || strings.Join(rr.Unassigned, ",") != "101" {
		t.Fatalf("remove: %+v %v", rr, err)
	}
	if got := b.radio.Removed(); len(got) != 1 || got[0] != provisioningtest.Linx().ID {
		t.Fatalf("radio removed %v", got)
	}
	if got := b.applier.Current().Extension("101").Devices.Linx; got != "" {
		t.Fatalf("still assigned: %q", got)
	}
	desired, err := c.Desired(ctx, b.id)
	if err != nil || desired.Extension("101").Devices.Linx != "" {
		t.Fatalf("desired still assigns it: %v", err)
	}
	events.wait(t, "device-removed", func(ev provisioning.Event) bool {
		return ev.Type == provisioning.EvDeviceRemoved && ev.Device.ID == provisioningtest.Linx().ID
	})
	// The phone port cannot be removed; an unknown device fails.
	if r, _ := c.RemoveDevice(ctx, b.id, "port1"); r == nil || r.Status != provisioning.StatusRejected {
		t.Fatalf("remove port: %+v", r)
	}
	if r, _ := c.RemoveDevice(ctx, b.id, "dect-404"); r == nil || r.Status != provisioning.StatusFailed || !strings.Contains(r.Reason, "unknown device") {
		t.Fatalf("remove unknown: %+v", r)
	}
}

func TestRebootRecordedBeforeRebooting(t *testing.T) {
	e := mochiEnv(t, false)
	dir := t.TempDir()
	b := startBase(t, e, dir, nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	ctx := tctx(t, 10*time.Second)
	r, err := c.CommandID(ctx, b.id, "reboot-1", provisioning.CmdReboot, nil, nil)
	if err != nil || r.Status != provisioning.StatusSucceeded {
		t.Fatalf("%+v %v", r, err)
	}
	select {
	case <-b.reboots:
	case <-time.After(5 * time.Second):
		t.Fatal("reboot not called")
	}
	b.stop()
	b2 := startBase(t, e, dir, nil)
	waitStatus(t, c, b2.id, true, b2.agent.Session())
	r, err = c.CommandID(ctx, b2.id, "reboot-1", provisioning.CmdReboot, nil, nil)
	if err != nil || !r.Duplicate {
		t.Fatalf("replay: %+v %v", r, err)
	}
	select {
	case <-b2.reboots:
		t.Fatal("replayed reboot rebooted again")
	case <-time.After(700 * time.Millisecond):
	}
}

func TestDaemonEventsAndLiveState(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	events := watchEvents(t, c, b.id)
	b.state.Set([]provisioning.Registration{{Extension: "101", State: provisioning.RegRegistered, Registrar: "sip:pbx1.example.net"}},
		[]provisioning.Line{{Device: "port1", Extension: "101", State: provisioning.LineTalking}})
	b.agent.Post(provisioning.Event{Type: provisioning.EvCallQuality, Extension: "101", Quality: &provisioning.CallQuality{DurationS: 62, PacketsRx: 3100, PacketsLost: 3, LossPct: 0.1, JitterMs: 4.5, MOS: 4.3}})
	b.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: "port1", Type: provisioning.DevicePort}, Fault: "foreign voltage"})
	q := events.wait(t, "call-quality", func(ev provisioning.Event) bool { return ev.Type == provisioning.EvCallQuality })
	f := events.wait(t, "line-fault", func(ev provisioning.Event) bool { return ev.Type == provisioning.EvLineFault })
	if q.Quality.MOS != 4.3 || q.Base != b.id || f.Seq <= q.Seq || f.Fault != "foreign voltage" {
		t.Fatalf("events: %+v %+v", q, f)
	}
	st := waitState(t, c, b.id, "registration and line", func(s *provisioning.State) bool {
		return len(s.Registrations) == 1 && len(s.Lines) == 1
	})
	if st.Lines[0].State != provisioning.LineTalking || st.Registrations[0].State != provisioning.RegRegistered {
		t.Fatalf("%+v", st)
	}
}

func TestUntrustedClientCertificateRefused(t *testing.T) {
	pki, _ := broker.NewPKI("real CA")
	rogue, _ := broker.NewPKI("rogue CA")
	srv, _ := pki.Issue("localhost", true)
	bad, _ := rogue.Issue("bs-1", false)
	br, err := broker.Start(broker.Options{TLS: pki.ServerTLS(srv)})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	tlsCfg := pki.ClientTLS(bad)
	if _, err := cloud.Dial(tctx(t, 3*time.Second), cloud.Options{Brokers: []string{br.URL()}, TLS: tlsCfg}); err == nil {
		t.Fatal("client with a rogue certificate connected")
	}
	if _, err := cloud.Dial(tctx(t, 3*time.Second), cloud.Options{Brokers: []string{br.URL()}, TLS: pki.ClientTLS(nil)}); err == nil {
		t.Fatal("client without a certificate connected")
	}
}

// TestRejectedForUnknownDeviceAppliedOncePaired: a configuration that
// assigns a device before it paired is rejected, and applied as soon as
// the device pairs.
func TestRejectedForUnknownDeviceAppliedOncePaired(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	early := provisioningtest.SampleConfig(b.id, 2)
	early.Extensions[1].Devices.Headset = provisioningtest.Headset().ID
	_, err := push(t, c, early)
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) || ve.Errors[0].Path != "extensions[1].devices.headset" {
		t.Fatalf("err = %v", err)
	}
	go func() {
		<-b.radio.Opened()
		b.radio.Pair(provisioningtest.Headset())
	}()
	if r, err := c.RegisterDevice(tctx(t, 10*time.Second), b.id, 0, "", nil); err != nil || r.Status != provisioning.StatusSucceeded {
		t.Fatalf("%+v %v", r, err)
	}
	st := waitState(t, c, b.id, "v2 applied", func(s *provisioning.State) bool { return s.Config.AppliedVersion == 2 })
	if st.Config.Rejected != nil || b.applier.Current().Extension("102").Devices.Headset != provisioningtest.Headset().ID {
		t.Fatalf("%+v", st.Config)
	}
}

func TestExpiredCommandNotRun(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	past := time.Now().Add(-time.Minute)
	r, err := c.Send(tctx(t, 5*time.Second), b.id, provisioning.Command{Schema: 1, ID: "late-1", Base: b.id, Name: provisioning.CmdPage, ExpiresAt: &past}, nil)
	if err != nil || r.Status != provisioning.StatusTimedOut || !strings.Contains(r.Reason, "expired at") {
		t.Fatalf("%+v %v", r, err)
	}
	if b.radio.Pages() != 0 {
		t.Fatal("expired command ran")
	}
}

// TestLastWillOnConnectionLoss: when the connection dies without a
// DISCONNECT the broker publishes the will (offline, same session); the
// agent reconnects and is born again.
func TestLastWillOnConnectionLoss(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after the agent and the observer
	// have disconnected (mochi's Close waits for its clients' goroutines,
	// and closing it under connected clients hung here once).
	t.Cleanup(func() { br.Close() })
	e := &env{name: "mochi", url: br.URL()}
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	waitStatus(t, c, b.id, true, b.agent.Session())
	// Watch the status topic live: the will and the next birth.
	seen := make(chan provisioning.Status, 8)
	ctx := tctx(t, 30*time.Second) // generous: CI runs every package at once on 2 cores
	mqttObserver(t, br.URL(), provisioning.TopicsFor(b.id).Status, seen)
	if !br.Kick(b.id) {
		t.Fatal("agent not connected")
	}
	var gotWill, reborn bool
	for !(gotWill && reborn) {
		select {
		case s := <-seen:
			if !s.Online && s.Session == b.agent.Session() {
				gotWill = true
			}
			if gotWill && s.Online && s.Session == b.agent.Session() {
				reborn = true
			}
		case <-ctx.Done():
			t.Fatalf("will seen %v, reborn %v", gotWill, reborn)
		}
	}
}

// silentRadio opens registration mode but never reports an outcome (a
// broken radio driver).
type silentRadio struct {
	*provisioningtest.Radio
	closed chan struct{}
}

func (r *silentRadio) OpenRegistration(ctx context.Context, d time.Duration, pin string) (<-chan provisioning.Pairing, error) {
	return make(chan provisioning.Pairing), nil
}

func (r *silentRadio) CloseRegistration(ctx context.Context) error {
	select {
	case r.closed <- struct{}{}:
	default:
	}
	return nil
}

// TestRegistrationGuard: a radio that never reports the outcome of its
// window does not leave the command (and registration mode) open forever:
// the agent closes it and reports timed-out shortly after the window.
func TestRegistrationGuard(t *testing.T) {
	t.Parallel()
	e := mochiEnv(t, false)
	radio := &silentRadio{Radio: provisioningtest.NewRadio(), closed: make(chan struct{}, 1)}
	b := &base{id: "bs-1", applier: provisioningtest.NewApplier()}
	a, err := provisioning.NewAgent(provisioning.Options{BaseID: b.id, Brokers: []string{e.url}, StateDir: t.TempDir(),
		Applier: b.applier, Radio: radio, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c := dialCloud(t, e)
	waitStatus(t, c, b.id, true, a.Session())
	start := time.Now()
	r, err := c.RegisterDevice(tctx(t, 30*time.Second), b.id, 10*time.Second, "", nil)
	if err != nil || r.Status != provisioning.StatusTimedOut {
		t.Fatalf("%+v %v", r, err)
	}
	if el := time.Since(start); el < 10*time.Second || el > 20*time.Second {
		t.Fatalf("guard fired after %v", el)
	}
	select {
	case <-radio.closed:
	default:
		t.Fatal("registration mode not closed on the radio")
	}
}
