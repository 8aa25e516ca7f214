package fxs

import (
	"basestation/endpoint"
	"testing"
	"testing/synctest"
	"time"
)

// inCall takes the rig's phone off-hook and dials 911 so the port is in a
// call (StateCall).
func (r *rig) inCall() {
	r.t.Helper()
	r.ph.offHook()
	time.Sleep(200 * time.Millisecond)
	for _, d := range []byte("911") {
		r.ph.say(testDTMF(d, 80*time.Millisecond, 80*time.Millisecond))
	}
	r.mustEvent(EvDialed, time.Second)
	time.Sleep(100 * time.Millisecond)
}

// checkCadence verifies alternating on/off durations of segs (starting
// with the first full on-segment) against want within 2 %.
func checkCadence(t *testing.T, name string, segs []segment, want []time.Duration, cycles int) {
	t.Helper()
	var got []time.Duration
	for i := 0; i+1 < len(segs); i++ {
		got = append(got, samplesDur(segs[i].end-segs[i].start), samplesDur(segs[i+1].start-segs[i].end))
	}
	if len(got) < cycles*len(want) {
		t.Fatalf("%s: only %d steps measured: %v", name, len(got), got)
	}
	for i := 0; i < cycles*len(want); i++ {
		w := want[i%len(want)]
		if !within(got[i], w, 0.02) {
			t.Errorf("%s: step %d lasts %v, want %v ±2%% (all %v)", name, i, got[i], w, got)
			return
		}
	}
}

func TestCallProgressCadences(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		tone   string
		freqs  []float64
		cad    []time.Duration
		cycles int
		listen time.Duration
	}{
		{"ringback", []float64{440, 480}, []time.Duration{2000 * ms, 4000 * ms}, 2, 13 * time.Second},
		{"busy", []float64{480, 620}, []time.Duration{500 * ms, 500 * ms}, 4, 5 * time.Second},
		{"reorder", []float64{480, 620}, []time.Duration{250 * ms, 250 * ms}, 6, 4 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.tone, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, DefaultConfig())
				defer r.stop()
				r.inCall()
				t0 := time.Now()
				if err := r.p.PlayTone(endpoint.Tone(c.tone)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(c.listen)
				if err := r.p.StopTone(); err != nil {
					t.Fatal(err)
				}
				rec, _ := r.ph.recording(t0)
				segs := segments(rec, 150, 160)
				checkCadence(t, c.tone, segs, c.cad, c.cycles)
				on := rec[segs[0].start : segs[0].start+1600]
				if s := toneShare(on, c.freqs...); s < 0.9 {
					t.Errorf("%s: %v carry %.2f of the power", c.tone, c.freqs, s)
				}
			})
		})
	}
	if err := func() error {
		var err error
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, DefaultConfig())
			defer r.stop()
			r.inCall()
			err = r.p.PlayTone("no-such-tone")
		})
		return err
	}(); err == nil {
		t.Error("unknown tone accepted")
	}
}

func TestStutterDialWithMessageWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.VMWI = false // only the stutter here
		r := newRig(t, cfg)
		defer r.stop()
		if err := r.p.SetMessageWaiting(true); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		r.ph.offHook()
		time.Sleep(4 * time.Second)
		rec, _ := r.ph.recording(t0)
		segs := segments(rec, 300, 80)
		if len(segs) != 11 {
			t.Fatalf("stutter: %d segments, want 10 bursts + steady tone", len(segs))
		}
		checkCadence(t, "stutter", segs[:11], []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}, 10)
		steady := segs[10]
		if d := samplesDur(steady.end - steady.start); d < time.Second {
			t.Fatalf("steady dial tone after the stutter lasts only %v", d)
		}
		if s := toneShare(rec[steady.start:steady.start+3200], 350, 440); s < 0.9 {
			t.Fatalf("after stutter: 350+440 share %.2f", s)
		}
	})
}

func TestHowlerAfterOffHookTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.OffHookTimeout = 10 * time.Second
		r := newRig(t, cfg)
		defer r.stop()
		t0 := time.Now()
		r.ph.offHook()
		time.Sleep(9 * time.Second)
		if r.p.State() != StateDialing {
			t.Fatalf("state %v before the timeout", r.p.State())
		}
		time.Sleep(3 * time.Second)
		if r.p.State() != StateLockout {
			t.Fatalf("state %v after the timeout", r.p.State())
		}
		// From 9.5 s: dial tone runs straight into the first howler burst.
		rec, start := r.ph.recording(t0.Add(9500 * time.Millisecond))
		segs := segments(rec, 300, 40)
		checkCadence(t, "howler", segs[1:], []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}, 8)
		if s := toneShare(rec[segs[1].start:segs[1].start+640], 1400, 2060, 2450, 2600); s < 0.9 {
			t.Fatalf("howler frequencies share %.2f", s)
		}
		if s := toneShare(rec[segs[0].start:segs[0].start+1600], 350, 440); s < 0.9 {
			t.Fatalf("before the howler: dial tone share %.2f", s)
		}
		howlAt := start.Add(samplesDur(segs[0].end) - 100*time.Millisecond).Sub(t0)
		if howlAt < 10*time.Second || howlAt > 10200*time.Millisecond {
			t.Fatalf("howler starts %v after off-hook", howlAt)
		}
	})
}

func TestSITIntercept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.inCall()
		t0 := time.Now()
		if err := r.p.PlayTone("out-of-service"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		rec, _ := r.ph.recording(t0)
		segs := segments(rec, 300, 40)
		if len(segs) == 0 {
			t.Fatal("no SIT")
		}
		x := rec[segs[0].start:]
		parts := []struct {
			f float64
			d time.Duration
		}{{913.8, 274 * time.Millisecond}, {1370.6, 274 * time.Millisecond}, {1776.7, 380 * time.Millisecond}}
		off := 0
		for _, p := range parts {
			n := int(p.d * 8000 / time.Second)
			seg := x[off+40 : off+n-40]
			if s := toneShare(seg, p.f); s < 0.85 {
				t.Errorf("SIT %.1f Hz share %.2f", p.f, s)
			}
			off += n
		}
	})
}
