package fxs

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestDialToneWithin100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		t0 := time.Now()
		r.ph.offHook()
		time.Sleep(500 * time.Millisecond)
		e := r.mustEvent(EvOffHook, 0)
		if e.Answer {
			t.Fatal("off-hook reported as answer")
		}
		rec, start := r.ph.recording(t0)
		segs := segments(rec, 300, 80)
		if len(segs) == 0 {
			t.Fatal("no dial tone")
		}
		lat := start.Add(samplesDur(segs[0].start)).Sub(t0)
		if lat > 100*time.Millisecond {
			t.Fatalf("dial tone %v after off-hook", lat)
		}
		tone := rec[segs[0].start : segs[0].start+3200]
		if s := toneShare(tone, 350, 440); s < 0.9 {
			t.Fatalf("dial tone: 350+440 Hz carry %.2f of the power", s)
		}
		if s := toneShare(tone, 480, 620); s > 0.05 {
			t.Fatalf("dial tone: 480+620 carry %.2f", s)
		}
		if r.p.State() != StateDialing {
			t.Fatalf("state %v", r.p.State())
		}
		t.Logf("dial tone after %v", lat)
	})
}
