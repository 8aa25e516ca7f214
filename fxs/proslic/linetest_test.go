package proslic

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"basestation/sim/slic"
)

// The measurement primitives against the simulated line: each measures the
// injected condition within the monitor's resolution, and End puts the
// chip back as it was.
func TestLineMeasurementsOnSim(t *testing.T) {
	cases := []struct {
		name  string
		cond  slic.LineConditions
		check func(t *testing.T, s *TestSession)
	}{
		{"foreign DC on tip", slic.LineConditions{REN: 1, TipDCVolts: -48}, func(t *testing.T, s *TestSession) {
			tip, ring, err := s.ForeignVoltages(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(tip.DCVolts+48) > 0.5 || tip.ACVrms > 0.5 || math.Abs(ring.DCVolts) > 0.5 {
				t.Fatalf("tip %+v ring %+v, want tip −48 V DC", tip, ring)
			}
		}},
		{"foreign AC on ring", slic.LineConditions{REN: 1, RingACVrms: 30}, func(t *testing.T, s *TestSession) {
			tip, ring, err := s.ForeignVoltages(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ring.ACVrms-30) > 2 || math.Abs(ring.DCVolts) > 2 || tip.ACVrms > 0.5 {
				t.Fatalf("tip %+v ring %+v, want ring 30 Vrms", tip, ring)
			}
		}},
		{"leakage", slic.LineConditions{REN: 1, TipRingOhms: 100e3, TipGroundOhms: 50e3, RingGroundOhms: 200e3}, func(t *testing.T, s *TestSession) {
			l, err := s.Leakage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ got, want float64 }{{l.TipRingOhms, 100e3}, {l.TipGroundOhms, 50e3}, {l.RingGroundOhms, 200e3}} {
				if math.Abs(c.got-c.want)/c.want > 0.1 {
					t.Fatalf("leakage %+v, want 100k/50k/200k ±10%%", l)
				}
			}
		}},
		{"healthy leakage", slic.LineConditions{REN: 1}, func(t *testing.T, s *TestSession) {
			l, err := s.Leakage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if l.TipRingOhms < 2e6 || l.TipGroundOhms < 2e6 || l.RingGroundOhms < 2e6 {
				t.Fatalf("healthy line leaks: %+v", l)
			}
		}},
		{"REN 3", slic.LineConditions{REN: 3}, func(t *testing.T, s *TestSession) {
			ren, err := s.REN(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ren-3) > 0.3 {
				t.Fatalf("REN %.2f, want 3", ren)
			}
		}},
		{"resistive loop is linear", slic.LineConditions{REN: 1, TipRingOhms: 300}, func(t *testing.T, s *TestSession) {
			r, err := s.ReceiverOffHook(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.NonlinearPct > 15 || math.Abs(r.HighOhms-300) > 40 {
				t.Fatalf("ROH %+v, want a linear 300 Ω", r)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := slic.New(slic.Config{Logger: discardLogger()})
				d, err := New(m.HAL(), quiet())
				if err != nil {
					t.Fatal(err)
				}
				if err := d.SetLinefeed(LFForward); err != nil {
					t.Fatal(err)
				}
				if err := m.SetLineConditions(tc.cond); err != nil {
					t.Fatal(err)
				}
				before := [...]uint8{64, 71, 72, 73, 34, 8, 21, 22}
				var regs [len(before)]uint8
				for i, r := range before {
					regs[i] = m.Reg(int(r))
				}
				s, err := d.BeginLineTest()
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, s)
				if err := s.End(); err != nil {
					t.Fatal(err)
				}
				for i, r := range before {
					if got := m.Reg(int(r)); got != regs[i] {
						t.Errorf("reg %d = %#02x after the test, was %#02x", r, got, regs[i])
					}
				}
			})
		})
	}
}

func TestReceiverOffHookOnSim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: discardLogger()})
		d, err := New(m.HAL(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.BeginLineTest()
		if err != nil {
			t.Fatal(err)
		}
		defer s.End()
		r, err := s.ReceiverOffHook(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if r.NonlinearPct != 0 || !math.IsInf(r.LowOhms, 1) {
			t.Fatalf("on-hook: %+v, want no loop", r)
		}
		m.SetLoop(true)
		time.Sleep(50 * time.Millisecond)
		if r, err = s.ReceiverOffHook(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r.NonlinearPct < 25 {
			t.Fatalf("off-hook phone: %+v, want a nonlinear loop (diode bridge)", r)
		}
	})
}

func TestRingCadenceOnSim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: discardLogger()})
		d, err := New(m.HAL(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.BeginLineTest()
		if err != nil {
			t.Fatal(err)
		}
		on, off, err := s.RingCadence(context.Background(), 2*time.Second, 4*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if (on-2*time.Second).Abs() > 20*time.Millisecond || (off-4*time.Second).Abs() > 20*time.Millisecond {
			t.Fatalf("cadence %v/%v, want 2s/4s", on, off)
		}
		if err := s.End(); err != nil {
			t.Fatal(err)
		}
		if m.Indirect(21) == 0 {
			t.Fatal("ring amplitude not restored")
		}
	})
}

func TestEstimateWireVoltage(t *testing.T) {
	for _, tc := range []struct{ dc, ac float64 }{{0, 0}, {-48, 0}, {0, 20}, {-10, 20}, {-60, 10}, {-5, 50}} {
		raw := make([]uint8, 400)
		for k := range raw {
			v := tc.dc + tc.ac*math.Sqrt2*math.Sin(2*math.Pi*float64(k)*0.0173)
			raw[k] = uint8(math.Min(255, math.Max(0, math.Round(-v/WireVoltLSB))))
		}
		w := EstimateWireVoltage(raw)
		if tol := 1.5 + 0.05*tc.ac; math.Abs(w.DCVolts-tc.dc) > tol || math.Abs(w.ACVrms-tc.ac) > tol {
			t.Errorf("dc %v ac %v: estimated %+v", tc.dc, tc.ac, w)
		}
	}
}
