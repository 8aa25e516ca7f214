package dect_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"basestation/dect"
	"basestation/hal"
	"basestation/sim/radio"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childWriter()
		return
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}

type rig struct {
	t    *testing.T
	emu  *radio.Emulator
	drv  *dect.Driver
	dir  string
	led  *fakeLED
	stop func()
}

type rigOpts struct {
	emu  *radio.Options
	drv  *dect.Options
	dir  string
	emuX *radio.Emulator // reuse an emulator
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	emu := o.emuX
	if emu == nil {
		var err error
		emu, err = radio.New(o.emu)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { emu.Close() })
	}
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	var opts dect.Options
	if o.drv != nil {
		opts = *o.drv
	}
	opts.StateDir = dir
	if opts.Location == nil { // caller-ID times as given, whatever the machine's zone
		opts.Location = func() *time.Location { return time.UTC }
	}
	led := &fakeLED{}
	if opts.LED == nil {
		opts.LED = led
	}
	drv, err := dect.New(emu.Radio(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	r := &rig{t: t, emu: emu, drv: drv, dir: dir, led: led}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not stop within 5 s")
		}
	}
	t.Cleanup(r.stop)
	r.waitEvent(dect.EventModuleReady, 5*time.Second)
	return r
}

// waitEvent waits for the next event of kind, failing the test on timeout.
func (r *rig) waitEvent(kind dect.EventKind, d time.Duration) dect.Event {
	r.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e := <-r.drv.Events():
			if e.Kind == kind {
				return e
			}
		case <-t.C:
			r.t.Fatalf("no %v event within %v", kind, d)
			return dect.Event{}
		}
	}
}

// noEvent checks that no event of kind arrives within d.
func (r *rig) noEvent(kind dect.EventKind, d time.Duration) {
	r.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e := <-r.drv.Events():
			if e.Kind == kind {
				r.t.Fatalf("unexpected %v", e)
			}
		case <-t.C:
			return
		}
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitDev(t *testing.T, d *radio.Device, what string, cond func(radio.DeviceState) bool) radio.DeviceState {
	t.Helper()
	s, err := d.Wait(ctxT(t, 5*time.Second), cond)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return s
}

func devEvent(t *testing.T, dev *dect.Device, kind dect.DeviceEventKind) dect.DeviceEvent {
	t.Helper()
	tm := time.NewTimer(5 * time.Second)
	defer tm.Stop()
	for {
		select {
		case e := <-dev.Events():
			if e.Kind == kind {
				return e
			}
		case <-tm.C:
			t.Fatalf("device %d: no %v event", dev.Handset(), kind)
			return dect.DeviceEvent{}
		}
	}
}

// pair opens the window and pairs d with pin, returning the device.
func (r *rig) pair(d *radio.Device, pin string) *dect.Device {
	r.t.Helper()
	if err := r.drv.OpenRegistration(ctxT(r.t, 5*time.Second), 30*time.Second, pin); err != nil {
		r.t.Fatal(err)
	}
	d.PowerOn()
	if err := d.Pair(ctxT(r.t, 5*time.Second), pin); err != nil {
		r.t.Fatal(err)
	}
	e := r.waitEvent(dect.EventPaired, 5*time.Second)
	dev := r.drv.Device(e.Device.Handset)
	if dev == nil {
		r.t.Fatalf("paired device %d not found", e.Device.Handset)
	}
	waitDev(r.t, d, "attached after pairing", func(s radio.DeviceState) bool { return s.Attached })
	waitAttached(r.t, dev)
	return dev
}

func waitAttached(t *testing.T, dev *dect.Device) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !dev.Attached() {
		if time.Now().After(deadline) {
			t.Fatalf("device %d not attached on the host side", dev.Handset())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type fakeLED struct {
	mu  sync.Mutex
	log []hal.LEDState
}

func (l *fakeLED) Set(s hal.LEDState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, s)
	return nil
}

func (l *fakeLED) last() hal.LEDState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.log) == 0 {
		return hal.LEDOff
	}
	return l.log[len(l.log)-1]
}

func halRadioForTable() hal.Radio { return hal.Radio{Device: "/dev/null"} }

// newBenchRig starts an emulator and a driver for a benchmark.
func newBenchRig(b *testing.B) *dect.Driver {
	emu, err := radio.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { emu.Close() })
	drv, err := dect.New(emu.Radio(), &dect.Options{StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	deadline := time.After(5 * time.Second)
	for !drv.Ready() {
		select {
		case <-deadline:
			b.Fatal("module not ready")
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Drain events so the channel never fills.
	go func() {
		for {
			select {
			case <-drv.Events():
			case <-ctx.Done():
				return
			}
		}
	}()
	return drv
}
