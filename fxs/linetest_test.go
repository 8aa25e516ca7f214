package fxs

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/slic"
)

func lineCase(r LineTestResult, name string) LineTestCase {
	for _, c := range r.Tests {
		if c.Name == name {
			return c
		}
	}
	return LineTestCase{}
}

// Every verdict of the line test both ways: a healthy simulated line
// passes them all, and each fault injected fails the test it belongs to.
func TestLineTestVerdicts(t *testing.T) {
	healthy := slic.LineConditions{REN: 1}
	cases := []struct {
		name     string
		cond     slic.LineConditions
		lifted   bool     // the phone goes off-hook once the test has begun
		failing  []string // tests that fail; the rest before them pass
		skipped  []string
		measured string // a failing measurement's name
	}{
		{name: "healthy", cond: healthy},
		{name: "hazardous AC on ring", cond: slic.LineConditions{REN: 1, RingACVrms: 60},
			failing: []string{TestHazardPotential}, measured: "ring_ground_ac",
			skipped: []string{TestForeignVoltage, TestResistiveFaults, TestOffHook, TestREN}},
		{name: "hazardous DC on tip (over range)", cond: slic.LineConditions{REN: 1, TipDCVolts: -140},
			failing: []string{TestHazardPotential}, measured: "tip_ground_dc",
			skipped: []string{TestForeignVoltage, TestResistiveFaults, TestOffHook, TestREN}},
		{name: "foreign DC on tip", cond: slic.LineConditions{REN: 1, TipDCVolts: -20},
			failing: []string{TestForeignVoltage}, measured: "tip_ground_dc",
			skipped: []string{TestResistiveFaults, TestOffHook, TestREN}},
		{name: "foreign AC on ring", cond: slic.LineConditions{REN: 1, RingACVrms: 15},
			failing: []string{TestForeignVoltage}, measured: "ring_ground_ac",
			skipped: []string{TestResistiveFaults, TestOffHook, TestREN}},
		{name: "tip-ring leakage", cond: slic.LineConditions{REN: 1, TipRingOhms: 60e3},
			failing: []string{TestResistiveFaults}, measured: "tip_ring"},
		{name: "tip-ground leakage", cond: slic.LineConditions{REN: 1, TipGroundOhms: 90e3},
			failing: []string{TestResistiveFaults}, measured: "tip_ground"},
		{name: "ring-ground leakage", cond: slic.LineConditions{REN: 1, RingGroundOhms: 120e3},
			failing: []string{TestResistiveFaults}, measured: "ring_ground"},
		{name: "receiver off-hook", cond: healthy, lifted: true,
			failing: []string{TestResistiveFaults, TestOffHook, TestREN}, measured: "loop_nonlinearity"},
		{name: "too many ringers", cond: slic.LineConditions{REN: 7}, failing: []string{TestREN}, measured: "ren"},
		{name: "no ringer", cond: slic.LineConditions{REN: 0}, failing: []string{TestREN}, measured: "ringer_present"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, DefaultConfig())
				defer r.stop()
				if err := r.m.SetLineConditions(tc.cond); err != nil {
					t.Fatal(err)
				}
				if tc.lifted {
					// Lifted as the test begins: the port ignores the hook
					// while the test holds the line.
					go func() { time.Sleep(20 * time.Millisecond); r.ph.offHook() }()
				}
				lfBefore := r.m.Reg(64) & 7
				res, err := r.p.LineTest(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := json.Marshal(res); err != nil {
					t.Fatalf("result not JSON: %v", err)
				}
				if res.Pass != (len(tc.failing) == 0) {
					t.Fatalf("pass = %v; result %+v", res.Pass, res)
				}
				if len(res.Tests) != 5 {
					t.Fatalf("%d tests, want 5: %+v", len(res.Tests), res.Tests)
				}
				for _, c := range res.Tests {
					wantFail := contains(tc.failing, c.Name)
					wantSkip := contains(tc.skipped, c.Name)
					switch {
					case wantSkip && c.Skipped == "":
						t.Errorf("%s ran, want skipped: %+v", c.Name, c)
					case !wantSkip && c.Skipped != "":
						t.Errorf("%s skipped (%s)", c.Name, c.Skipped)
					case !wantSkip && c.Pass == wantFail:
						t.Errorf("%s pass = %v, want %v: %+v", c.Name, c.Pass, !wantFail, c.Measurements)
					}
				}
				if tc.measured != "" {
					found := false
					for _, c := range res.Tests {
						for _, m := range c.Measurements {
							if m.Name == tc.measured && !m.Pass && contains(tc.failing, c.Name) {
								found = true
							}
						}
					}
					if !found {
						t.Errorf("no failing %q measurement: %+v", tc.measured, res.Tests)
					}
				}
				if got := r.m.Reg(64) & 7; got != lfBefore && !tc.lifted {
					t.Errorf("linefeed %d after the test, was %d", got, lfBefore)
				}
				if tc.lifted {
					r.mustEvent(EvOffHook, time.Second) // the hook read again after the test
				} else if st := r.p.State(); st != StateIdle {
					t.Errorf("state %v after the test", st)
				}
			})
		})
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// The figures of a healthy line: no foreign voltage, no leakage, one ringer.
func TestLineTestHealthyFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		res, err := r.p.LineTest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("healthy line, %d ms: %+v", res.DurationMS, res.Tests)
		ren := lineCase(res, TestREN).Measurements[0]
		if ren.Value < 0.8 || ren.Value > 1.2 || ren.Unit != "REN" {
			t.Errorf("REN %+v, want about 1", ren)
		}
		for _, m := range lineCase(res, TestResistiveFaults).Measurements {
			if m.Value < 5e6 {
				t.Errorf("leakage %+v on a healthy line", m)
			}
		}
		for _, m := range lineCase(res, TestForeignVoltage).Measurements {
			if m.Value > 0.5 || m.Value < -0.5 {
				t.Errorf("foreign voltage %+v on a healthy line", m)
			}
		}
	})
}

// The tests are refused while the line is in use, and the call layer's
// actions are refused while a test holds the line.
func TestLineTestRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.ph.offHook()
		r.mustEvent(EvOffHook, time.Second)
		if _, err := r.p.LineTest(context.Background()); !errors.Is(err, ErrLineBusy) {
			t.Fatalf("line test off-hook: %v, want ErrLineBusy", err)
		}
		if _, err := r.p.CallerIDSelfTest(context.Background()); !errors.Is(err, ErrLineBusy) {
			t.Fatalf("self-test off-hook: %v, want ErrLineBusy", err)
		}
		r.ph.onHook()
		time.Sleep(2 * time.Second)
		// Ringing (an incoming call) is refused too.
		if err := r.p.Ring(endpoint.CallerID{Number: "6135550100"}, endpoint.Normal); err != nil {
			t.Fatal(err)
		}
		if _, err := r.p.LineTest(context.Background()); !errors.Is(err, ErrLineBusy) || !strings.Contains(err.Error(), "ringing") {
			t.Fatalf("line test while ringing: %v", err)
		}
		if err := r.p.StopRinging(); err != nil {
			t.Fatal(err)
		}
		// While a test runs, a call is refused.
		done := make(chan error)
		go func() { _, err := r.p.LineTest(context.Background()); done <- err }()
		time.Sleep(10 * time.Millisecond)
		if err := r.p.Ring(endpoint.CallerID{}, endpoint.Normal); !errors.Is(err, ErrTesting) {
			t.Errorf("ring during the line test: %v, want ErrTesting", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := r.p.Ring(endpoint.CallerID{}, endpoint.Normal); err != nil {
			t.Errorf("ring after the line test: %v", err)
		}
	})
}

func TestCallerIDSelfTest(t *testing.T) {
	cases := []struct {
		name   string
		rig    func(m *slic.Model)
		pass   bool
		stage  string
		detail string
	}{
		{name: "healthy", pass: true},
		{name: "dead FSK path", rig: func(m *slic.Model) { m.SetLoopbackFault(slic.LoopbackSilent) },
			stage: StageFSK, detail: "FSK: no carrier"},
		{name: "FSK path with dropouts", rig: func(m *slic.Model) { m.SetLoopbackFault(slic.LoopbackDropout) },
			stage: StageFSK, detail: "FSK: truncated"},
		{name: "bit errors on the FSK path", rig: func(m *slic.Model) { m.SetLoopbackFault(slic.LoopbackSpaceBurst) },
			stage: StageFSK, detail: "FSK: checksum"},
		{name: "slow ring timer", rig: func(m *slic.Model) { _ = m.SetRingTimerError(1.2) },
			stage: StageCadence, detail: "cadence: ring on 2.4 s want 2.0 s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, DefaultConfig())
				defer r.stop()
				if tc.rig != nil {
					tc.rig(r.m)
				}
				res, err := r.p.CallerIDSelfTest(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("pass %v failure %q stages %+v", res.Pass, res.Failure, res.Stages)
				if _, err := json.Marshal(res); err != nil {
					t.Fatal(err)
				}
				if res.Pass != tc.pass {
					t.Fatalf("pass = %v: %+v", res.Pass, res)
				}
				for _, st := range res.Stages {
					switch {
					case st.Name == StageDTMFCID:
						if st.Skipped == "" {
							t.Errorf("DTMF stage not skipped: %+v", st)
						}
					case st.Name == tc.stage:
						if st.Pass || !strings.HasPrefix(st.Detail, tc.detail) || !strings.HasPrefix(res.Failure, tc.detail) {
							t.Errorf("stage %s: %+v (failure %q), want %q", st.Name, st, res.Failure, tc.detail)
						}
					case !st.Pass:
						t.Errorf("stage %s failed: %+v", st.Name, st)
					}
				}
				if r.m.Reg(8) != 0 {
					t.Errorf("loopback left on: reg 8 = %#x", r.m.Reg(8))
				}
				if st := r.p.State(); st != StateIdle {
					t.Errorf("state %v after the self-test", st)
				}
			})
		})
	}
}

// A test cancelled half-way still puts the chip and the line back, and the
// port works on.
func TestLineTestCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		regs := [...]int{64, 71, 72, 73, 34, 8, 21, 22}
		var before [len(regs)]byte
		for i, a := range regs {
			before[i] = r.m.Reg(a)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		if _, err := r.p.LineTest(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled line test: %v", err)
		}
		for i, a := range regs {
			if got := r.m.Reg(a); got != before[i] {
				t.Errorf("reg %d = %#02x after the cancelled test, was %#02x", a, got, before[i])
			}
		}
		if err := r.p.Ring(endpoint.CallerID{}, endpoint.Normal); err != nil {
			t.Fatalf("ring after the cancelled test: %v", err)
		}
	})
}

func TestLineTestUnsupportedSLIC(t *testing.T) {
	p, err := NewWithSLIC(nopSLIC{}, nopPCM{}, DefaultConfig(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LineTest(context.Background()); !errors.Is(err, ErrTestUnsupported) {
		t.Errorf("line test on a SLIC without measurement: %v", err)
	}
	if _, err := p.CallerIDSelfTest(context.Background()); !errors.Is(err, ErrTestUnsupported) {
		t.Errorf("self-test on a SLIC without measurement: %v", err)
	}
}
