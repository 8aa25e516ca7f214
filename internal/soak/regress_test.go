package soak

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"basestation/provisioning"
)

// Findings of the walk replayed as short fixed scripts of its own steps,
// each checked with the walk's invariants: a regression shows here in
// seconds, without the random walk that first found it.

// scripted builds the office with the walk's first configuration and
// returns the run the steps act on.
func scripted(t *testing.T) *run {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a whole simulated office")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &run{seed: 1, m: newModel(), rng: rand.New(rand.NewPCG(1, 2)), journal: func(string, ...any) {},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), dir: t.TempDir()}
	if p := os.Getenv("SOAK_SCRIPT_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		r.log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w, err := newWorld(ctx, r.dir, r.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
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
	if err := r.waitFor("the radio ready", settle, func() string {
		if !w.d.Status().RadioReady {
			return "not ready"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// step plans a step until its description contains want (the plan draws
// its choices from the run's generator), runs it and checks the
// invariants after it.
func (r *run) scriptStep(t *testing.T, plan func() (string, func() error), want string) {
	t.Helper()
	for range 1000 {
		desc, act := plan()
		if !strings.Contains(desc, want) {
			continue
		}
		if err := act(); err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if v := r.check(); len(v) > 0 {
			t.Fatalf("after %s: %s", desc, strings.Join(v, "; "))
		}
		return
	}
	t.Fatalf("no plan says %q", want)
}

// F1: a DECT device paired but assigned to no extension goes off-hook
// (out-of-service tone) and back on-hook: its reported line goes back to
// idle (it stayed "dialing": the daemon reported no state change for a
// device of no extension).
func TestUnassignedDeviceLineIdleAgain(t *testing.T) {
	r := scripted(t)
	d := r.w.devs[0]
	// No extension at all: no registration refresh re-reports the state
	// meanwhile (as at seed 13 steps 617 and 3708 of the long run).
	r.scriptStep(t, func() (string, func() error) {
		return "delete every extension", func() error {
			for _, e := range baseExts {
				r.m.deleted[e] = true
				r.m.assign[e] = provisioning.Devices{}
			}
			return r.pushModel()
		}
	}, "")
	r.scriptStep(t, r.stepRegister, "(open)")
	r.scriptStep(t, func() (string, func() error) { return r.stepPair(d) }, "right true")
	r.scriptStep(t, func() (string, func() error) { return r.stepCallOutUnassigned(d.id) }, "")
	// Off-hook while something else makes the base report its state
	// (a configuration push): the report says "dialing"; then on-hook.
	r.scriptStep(t, func() (string, func() error) {
		return "off-hook, a push, on-hook", func() error {
			if err := d.dev.OffHook(); err != nil {
				return err
			}
			if err := r.waitFor("dialing reported", settle, func() string {
				if err := r.pushModel(); err != nil {
					return err.Error()
				}
				st, err := r.w.reportedState()
				if err != nil {
					return err.Error()
				}
				for _, l := range st.Lines {
					if l.Device == d.id && l.State == provisioning.LineDialing {
						return ""
					}
				}
				return "not dialing"
			}); err != nil {
				return err
			}
			d.dev.HangUp()
			return nil
		}
	}, "")
}

// Message waiting through an account change: 101 has a message (the port's
// lamp is on), its caller ID changes (a new registration and
// subscription), and the mailbox is emptied at once: the lamp goes off
// (seed 12 step 4477 of the long run: a device kept showing the message).
func TestMessageWaitingAcrossAccountChange(t *testing.T) {
	r := scripted(t)
	r.scriptStep(t, r.stepMWI, "voicemail 101: 1 new")
	if err := r.checkMWI(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r.scriptStep(t, r.stepPushValid, ": 101's caller ID")
		r.scriptStep(t, r.stepMWI, "voicemail 101: 0 new")
		if err := r.checkMWI(); err != nil {
			t.Fatal(err)
		}
		r.scriptStep(t, r.stepPushValid, ": 101's caller ID")
		r.scriptStep(t, r.stepMWI, "voicemail 101: 3 new")
		if err := r.checkMWI(); err != nil {
			t.Fatal(err)
		}
	}
}
