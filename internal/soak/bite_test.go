package soak

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"basestation/provisioning"
)

// The soak's own checks must be able to fail: a panic in a goroutine of
// the child is reported with the seed, the replay command and the steps up
// to it, and a reported state that does not match the walk is a violation.

func TestSoakReportsAPanicWithSeedAndSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated office")
	}
	res := runSeedArgs(7, []string{"-steps", "5", "-inject", "panic"})
	msg := res.report(t)
	for _, want := range []string{"soak seed 7 failed", "the base panicked", "-seed 7", "STEP 1 ", "STEP 3 ", "injected", "panic: soak: injected panic"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report does not say %q:\n%s", want, msg)
		}
	}
}

func TestInvariantsBite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated office")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &run{seed: 1, m: newModel(), journal: func(string, ...any) {}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), dir: t.TempDir()}
	w, err := newWorld(ctx, r.dir, r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	r.w = w
	for _, d := range w.devs {
		r.m.powered[d.name], r.m.inRange[d.name] = true, true
	}
	if err := r.push(r.m.config(1, w.pbxAddr)); err != nil {
		t.Fatal(err)
	}
	if err := r.waitRegistered("101"); err != nil {
		t.Fatal(err)
	}
	if v := r.check(); len(v) > 0 {
		t.Fatalf("a healthy base violates: %v", v)
	}
	st, err := w.reportedState()
	if err != nil {
		t.Fatal(err)
	}
	forge := func(name string, change func(s *provisioning.State), want string) {
		t.Helper()
		f := *st
		f.Devices = append([]provisioning.Device(nil), st.Devices...)
		f.Lines = append([]provisioning.Line(nil), st.Lines...)
		f.Registrations = append([]provisioning.Registration(nil), st.Registrations...)
		change(&f)
		b, _ := json.Marshal(&f)
		w.brokerMu.Lock()
		err := w.broker.Publish(provisioning.TopicsFor(baseID).State, b, true, 1)
		w.brokerMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		v := strings.Join(r.invariants(), "; ")
		if !strings.Contains(v, want) {
			t.Errorf("%s: violations %q, want one naming %q", name, v, want)
		}
	}
	forge("an older applied version", func(s *provisioning.State) { s.Config.AppliedVersion = 0 }, "applied_version 0")
	forge("the port on another extension", func(s *provisioning.State) {
		for i := range s.Devices {
			s.Devices[i].Extension = "103"
		}
	}, `device port1 reported on extension "103"`)
	forge("two ports on 101", func(s *provisioning.State) {
		s.Devices = append(s.Devices, provisioning.Device{ID: "port2", Type: provisioning.DevicePort, Extension: "101"})
	}, "101/port has 2 devices")
	forge("a registration without a device", func(s *provisioning.State) {
		s.Registrations = append(s.Registrations, provisioning.Registration{Extension: "104", State: provisioning.RegRegistered})
	}, "registration of extension 104 reported registered")
	forge("a ringing line with no dialog", func(s *provisioning.State) {
		for i := range s.Lines {
			s.Lines[i].State = provisioning.LineRinging
		}
	}, "with no dialog at the PBX")
}
