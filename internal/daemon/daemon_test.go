package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/provisioning"
	"basestation/sim"
	"basestation/sim/slic"
	"basestation/sipua"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The daemon on the simulated board with no cloud reachable: the port
// still works, and stopping the daemon (SIGINT/SIGTERM cancel its context)
// leaves the line safe: ringing off, no tone.
func TestStopLeavesTheLineSafe(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	go func() { _ = b.Run(bctx) }()

	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = "tcp://127.0.0.1:1" // nothing listens: the base runs without its cloud
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet(), SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		err := d.port.Ring(endpoint.CallerID{Number: "6135550199", Name: "Test"}, "normal")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ring: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "ringing on the line", func() bool {
		_, actual := b.SLIC.Linefeed()
		return actual == slic.LFRinging
	})
	if st := d.Status(); st.CloudConnected {
		t.Fatal("cloud connected with no broker")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon did not stop within 5 s")
	}
	if prog, actual := b.SLIC.Linefeed(); prog == slic.LFRinging || actual == slic.LFRinging {
		t.Fatalf("line left %v/%v after stop", prog, actual)
	}
	if b.Phone.State().Ringing {
		t.Fatal("the phone still rings after stop")
	}
}

// A configuration naming a device that is not on this base gives that
// extension no registration; one whose account is malformed is refused by
// Check with the field path.
func TestCheckNamesTheField(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		System:     provisioning.System{Registrars: []string{"sip:127.0.0.1:5999"}, ToneRegion: "US", TimeZone: "Nowhere/Atlantis"},
		Extensions: []provisioning.Extension{{Number: "101", SIP: provisioning.SIPAccount{User: "101", Password: "x", Domain: "127.0.0.1"}, Devices: provisioning.Devices{Port: PortID}}},
	}
	errs := d.applier.Check(c)
	if len(errs) != 1 || errs[0].Path != "system.time_zone" {
		t.Fatalf("errors %+v, want one for system.time_zone", errs)
	}
	c.System.TimeZone = "America/Toronto"
	if errs := d.applier.Check(c); len(errs) != 0 {
		t.Fatalf("valid configuration refused: %+v", errs)
	}
	tr, _ := d.applier.PlanFor(c)
	if len(tr.Accounts) != 1 || tr.Attach[PortID] != "101" {
		t.Fatalf("translation %+v", tr)
	}
	c.Extensions[0].Devices.Port = ""
	c.Extensions[0].Devices.Linx = "dect-000000001"
	tr, _ = d.applier.PlanFor(c)
	if len(tr.Accounts) != 0 {
		t.Fatalf("an extension with no device on this base is registered: %+v", tr.Accounts)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Register New Device straight after start-up succeeds: the daemon waits
// for the DECT module to finish booting instead of refusing.
func TestRegisterRightAfterStart(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = "tcp://127.0.0.1:1"
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet(), SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	defer ocancel()
	ch, err := d.pairing.OpenRegistration(octx, 30*time.Second, "1234")
	if err != nil {
		t.Fatalf("OpenRegistration right after start: %v", err)
	}
	if !b.Radio.RegistrationOpen() {
		t.Fatal("the module's window is not open")
	}
	if err := d.pairing.CloseRegistration(octx); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-ch:
		if p.Err == nil {
			t.Fatalf("closed window reported a pairing: %+v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no outcome after closing the window")
	}
}

// The port shows caller-ID times in the configured zone: the daemon gives
// the zone to the port in its configuration (it used to convert each
// caller ID in an adapter).
func TestPortGetsTheConfiguredZone(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if loc := d.port.Config().Location; loc != time.Local {
		t.Fatalf("port zone %v before any configuration, want the machine's", loc)
	}
	c := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1:5999"}, ToneRegion: "US", TimeZone: "America/Toronto"},
	}
	if err := d.applier.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if loc := d.port.Config().Location; loc == nil || loc.String() != "America/Toronto" {
		t.Fatalf("port zone %v after configuring America/Toronto", loc)
	}
}
