package daemon

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"basestation/dect"
	"basestation/fxs"
	"basestation/provisioning"
	"basestation/sim"
	"basestation/sipua"
)

// The portal's "remove a device" while the state is being reported: the
// radio-event goroutine deletes the device's endpoint while the agent's
// goroutine builds the state's lines. Lines must never touch an endpoint
// that is gone (it used to re-read d.dectEP[id] after unlocking and
// dereference nil; now a device removed after the radio's snapshot has a
// nil Device), and under -race no field is read outside its lock.
func TestLinesWhileDevicesAreRemoved(t *testing.T) {
	ua, err := sipua.New(sipua.Config{Listen: "127.0.0.1:0"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	table := &fakeTable{devs: map[int]*dect.Device{}}
	d := &lines{port: &fxs.Port{}, radio: table, ua: ua} // zero port: an idle line, all Lines reads of it
	const rounds, reporters = 20000, 2
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range reporters {
		wg.Add(1)
		go report(t, d, stop, &wg)
	}
	for r := range rounds { // the radio pairing and removing devices
		h := 1 + r%8
		table.mu.Lock()
		if table.devs[h] == nil {
			table.devs[h] = &dect.Device{} // zero: an idle device, all Lines reads of it
		} else {
			delete(table.devs, h)
		}
		table.mu.Unlock()
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
}

// fakeTable is the radio's table of paired devices, changed by the test.
type fakeTable struct {
	mu   sync.Mutex
	devs map[int]*dect.Device
}

func (f *fakeTable) Devices() []dect.DeviceInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dect.DeviceInfo
	for h := range f.devs {
		out = append(out, dect.DeviceInfo{Handset: h, IPEI: dect.IPEI{PSN: uint32(h)}})
	}
	return out
}

func (f *fakeTable) Device(h int) *dect.Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.devs[h]
}

func (f *fakeTable) SetLocation(*time.Location) {}

// report builds the state's lines until stop, as the agent does.
func report(t *testing.T, d *lines, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		lines := d.Lines()
		if len(lines) == 0 || lines[0].Device != PortID {
			t.Errorf("lines %+v: the port is not first", lines)
			return
		}
		for i := 2; i < len(lines); i++ {
			if lines[i-1].Device >= lines[i].Device {
				t.Errorf("lines not sorted by device: %+v", lines)
				return
			}
		}
	}
}

// The reported registrations are those of the configuration in force: an
// extension removed from the configuration loses its registration in the
// state (it used to stay listed forever), and an extension with no device
// on this base never has one.
func TestRegistrationsFollowTheConfiguration(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, bcancel := context.WithCancel(context.Background())
	bdone := make(chan error, 1)
	go func() { bdone <- b.Run(bctx) }()
	defer func() { bcancel(); <-bdone }()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = "tcp://127.0.0.1:1" // no cloud
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet(), SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ext := func(num string, devs provisioning.Devices) provisioning.Extension {
		return provisioning.Extension{Number: num, SIP: provisioning.SIPAccount{User: num, Password: "x", Domain: "127.0.0.1"}, Devices: devs}
	}
	c := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		// Nothing answers there: the account stays registering/failed,
		// which is a registration the state reports all the same.
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1:5999"}, ToneRegion: "US"},
		Extensions: []provisioning.Extension{
			ext("101", provisioning.Devices{Port: PortID}),
			ext("102", provisioning.Devices{Linx: "dect-000000001"}), // not paired with this base
		},
	}
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := d.applier.Apply(actx, c); err != nil {
		t.Fatal(err)
	}
	regsOf := func() map[string]bool {
		m := map[string]bool{}
		for _, r := range d.reports.Registrations() {
			m[r.Extension] = true
		}
		return m
	}
	waitFor(t, "a registration for 101", func() bool { return regsOf()["101"] })
	if regsOf()["102"] {
		t.Fatal("extension 102 has no device on this base but is reported registering")
	}

	c2 := c.Clone()
	c2.Version = 2
	c2.Extensions = c2.Extensions[1:] // 101 removed
	if err := d.applier.Apply(actx, c2); err != nil {
		t.Fatal(err)
	}
	if regs := d.reports.Registrations(); len(regs) != 0 {
		t.Fatalf("after 101 was removed the state still lists %+v", regs)
	}
	// The user agent's late events for the removed account (its
	// un-REGISTER) must not bring it back.
	time.Sleep(500 * time.Millisecond)
	if regs := d.reports.Registrations(); len(regs) != 0 {
		t.Fatalf("a removed extension came back in the state: %+v", regs)
	}
}

// The user agent's registration states are reported as they are: they are
// the contract's words (docs/mqtt-api.md).
func TestRegistrationStatesAreTheContracts(t *testing.T) {
	for s, want := range map[sipua.RegState]string{sipua.RegRegistered: provisioning.RegRegistered,
		sipua.RegRegistering: provisioning.RegRegistering, sipua.RegFailed: provisioning.RegFailed,
		sipua.RegUnregistered: provisioning.RegUnregistered} {
		if string(s) != want {
			t.Errorf("sipua %q is reported as %q, the contract says %q", s, string(s), want)
		}
	}
}
