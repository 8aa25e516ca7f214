package slic

import (
	"context"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"
)

// The monitor registers follow Ohm's law on the line model.
func TestLineModelOhm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		h.powerUp()
		h.wr(71, 7)    // ILIM 41 mA
		h.wr(72, 0x20) // VOC 48 V
		h.wr(73, 0x02) // VCM 3 V
		h.wr(64, 1)    // forward active
		volts := func(r byte) float64 { return -float64(h.rd(r)) * 0.376 }
		if vt, vr := volts(80), volts(81); math.Abs(vt+3) > 0.4 || math.Abs(vr+51) > 0.4 {
			t.Fatalf("forward active: tip %.2f ring %.2f, want −3/−51", vt, vr)
		}
		if h.rd(79) != 0 || h.rd(78)&0x3F != 32 {
			t.Fatalf("on-hook: loop current %#x, loop voltage %#x", h.rd(79), h.rd(78))
		}
		// 4 kΩ tip-ring: 48 V / 4 kΩ = 12 mA = 9.6 LSB.
		if err := m.SetLineConditions(LineConditions{REN: 1, TipRingOhms: 4000}); err != nil {
			t.Fatal(err)
		}
		if got := h.rd(79); got != 10 {
			t.Fatalf("12 mA loop: reg 79 = %d, want 10", got)
		}
		// 500 Ω would draw 96 mA: limited to 41 mA, the voltage collapses to 20.5 V.
		_ = m.SetLineConditions(LineConditions{REN: 1, TipRingOhms: 500})
		if got, v := h.rd(79), volts(80)-volts(81); got != 33 || math.Abs(v-20.5) > 0.8 {
			t.Fatalf("current limit: reg 79 = %d, loop %.1f V; want 33 (41 mA), 20.5 V", got, v)
		}
		// Reverse: the sign bit.
		h.wr(64, 5)
		if got := h.rd(79); got != 0x40|33 {
			t.Fatalf("reverse: reg 79 = %#x", got)
		}
		// Tip open: tip floats between ring (−51 V through 100 kΩ) and the
		// sense network (800 kΩ to −3 V).
		_ = m.SetLineConditions(LineConditions{REN: 1, TipRingOhms: 100e3})
		h.wr(64, 3)
		want := (-3.0/800e3 + -51.0/100e3) / (1/800e3 + 1/100e3)
		if vt := volts(80); math.Abs(vt-want) > 0.4 {
			t.Fatalf("tip open: tip %.2f V, want %.2f", vt, want)
		}
		// Open, a foreign DC voltage on ring: the wire shows it; a positive
		// one reads 0.
		_ = m.SetLineConditions(LineConditions{REN: 1, RingDCVolts: -30, TipDCVolts: 20})
		h.wr(64, 0)
		if vr, vt := volts(81), h.rd(80); math.Abs(vr+30) > 0.4 || vt != 0 {
			t.Fatalf("foreign: ring %.2f V, tip reg %d", vr, vt)
		}
		_ = m.SetLineConditions(LineConditions{REN: 1, TipDCVolts: -200})
		if got := h.rd(80); got != 255 {
			t.Fatalf("−200 V reads %d, want 255 (full scale)", got)
		}
	})
}

func TestLineConditionsValidate(t *testing.T) {
	m := New(Config{Logger: quiet()})
	for _, c := range []LineConditions{
		{TipDCVolts: math.NaN()}, {RingACVrms: -1}, {TipACVrms: 2000}, {ACHz: -5},
		{TipRingOhms: -1}, {TipGroundOhms: 0.5}, {REN: -1}, {REN: 100},
	} {
		if err := m.SetLineConditions(c); err == nil || !strings.HasPrefix(err.Error(), "slic: ") {
			t.Errorf("%+v accepted (%v)", c, err)
		}
	}
	if err := m.SetRingTimerError(0); err == nil {
		t.Error("ring timer scale 0 accepted")
	}
	if m.LineConditions().REN != 1 {
		t.Error("a refused condition changed the line")
	}
}

// Digital loopback: what the daemon sends comes back on the TX slot (after
// the µ-law codec), the phone hears none of it; the faults corrupt it.
func TestDigitalLoopback(t *testing.T) {
	for _, tc := range []struct {
		fault LoopbackFault
		check func(sent, got []int16) bool
	}{
		{LoopbackClean, func(s, g []int16) bool { return close16(s, g) }},
		{LoopbackSilent, func(s, g []int16) bool { return allZero(g) }},
		{LoopbackDropout, nil},    // every 50 ms: some frame differs
		{LoopbackSpaceBurst, nil}, // likewise
	} {
		synctest.Test(t, func(t *testing.T) {
			m := New(Config{Logger: quiet()})
			tm := &term{}
			m.Attach(tm)
			h := connect(t, m)
			h.powerUp()
			h.wr(1, 0x28) // PCM on, µ-law
			h.wr(64, 1)
			h.wr(8, 0x01)
			m.SetLoopbackFault(tc.fault)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = m.Run(ctx) }()
			pcm := m.PCM()
			sent := make([]int16, 80)
			for i := range sent {
				sent[i] = int16(8000 * math.Sin(2*math.Pi*1200*float64(i)/8000))
			}
			var got []int16
			frame := make([]int16, hal.FrameSamples(8000))
			for range 12 {
				if err := pcm.WriteFrame(ctx, sent); err != nil {
					t.Fatal(err)
				}
				if err := pcm.ReadFrame(ctx, frame); err != nil {
					t.Fatal(err)
				}
				got = append(got, frame...)
			}
			cancel()
			<-done
			tail := got[len(got)-6*80:]
			ok := !allClose(sent, tail) && !allZero(tail)
			if tc.check != nil {
				ok = true
				for off := 0; off < len(tail); off += 80 {
					ok = ok && tc.check(sent, tail[off:off+80])
				}
			}
			if !ok {
				t.Errorf("fault %d: loopback %v", tc.fault, tail[:16])
			}
			tm.mu.Lock()
			heard := tm.heard
			tm.mu.Unlock()
			if len(heard) == 0 || !allZero(heard) {
				t.Errorf("fault %d: the phone heard the PCM slot in digital loopback", tc.fault)
			}
		})
	}
}

func close16(a, b []int16) bool {
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > 300 {
			return false
		}
	}
	return true
}

func allClose(sent, x []int16) bool {
	for off := 0; off+80 <= len(x); off += 80 {
		if !close16(sent, x[off:off+80]) {
			return false
		}
	}
	return true
}

func allZero(x []int16) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// The ring timer error stretches the ring burst.
func TestRingTimerError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		h.powerUp()
		if err := m.SetRingTimerError(1.5); err != nil {
			t.Fatal(err)
		}
		h.wr(48, 0x80) // 2 s = 0x3E80
		h.wr(49, 0x3E)
		h.wr(50, 0x00)
		h.wr(51, 0x7D)
		h.wr(34, 0x18)
		h.wr(64, 4)
		time.Sleep(2900 * time.Millisecond)
		if h.rd(64)>>4 != 4 {
			t.Fatal("ring burst ended before 3 s")
		}
		time.Sleep(200 * time.Millisecond)
		if h.rd(64)>>4 != 2 {
			t.Fatal("ring burst still on after 3.1 s")
		}
	})
}
