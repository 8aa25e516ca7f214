package fxs

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/phone"
)

// firstSeg returns the first segment from index i on whose label
// satisfies match, and its index (-1 when none).
func firstSeg(segs []phone.Segment, i int, match func(string) bool) (phone.Segment, int) {
	for ; i < len(segs); i++ {
		if match(segs[i].Label) {
			return segs[i], i
		}
	}
	return phone.Segment{}, -1
}

func is(label string) func(string) bool { return func(l string) bool { return l == label } }

func isSITSeg(l string) bool { return strings.HasPrefix(l, "sit:") }

// segEnd is when a segment ended.
func segEnd(s phone.Segment) time.Time { return s.Start.Add(s.Dur) }

// After a failed call the call layer plays the intercept (SIT, as for a
// SIP 404); the line then goes on to reorder and, after the production
// OffHookTimeout (30 s), to the receiver off-hook howler, as after
// abandoned dialing. Judged by the simulated phone's ear (sim/phone's own
// signal code), in virtual time.
func TestSITThenReorderThenHowler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		r := newRig(t, cfg)
		defer r.stop()
		ph := phone.New(r.m, phone.Config{Logger: quietLog()})
		ph.OffHook()
		time.Sleep(300 * time.Millisecond)
		if err := ph.DialDTMF(context.Background(), "6135550100"); err != nil {
			t.Fatal(err)
		}
		r.mustEvent(EvDialed, time.Second)
		time.Sleep(500 * time.Millisecond)
		t0 := time.Now()
		if err := r.p.PlayTone("sit-intercept"); err != nil { // the call failed (404)
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		if st := ph.State(); st.Hearing != phone.ToneSIT || st.SIT != "IC" {
			t.Fatalf("during the intercept the ear hears %q (SIT %q)", st.Hearing, st.SIT)
		}
		time.Sleep(4 * time.Second)
		if h := ph.Hearing(); h != phone.ToneReorder {
			t.Fatalf("after the intercept the ear hears %q, want reorder", h)
		}
		// SIT 0.93 s, then reorder for OffHookTimeout.
		time.Sleep(time.Until(t0.Add(cfg.OffHookTimeout)))
		if h := ph.Hearing(); h != phone.ToneReorder {
			t.Fatalf("%v after the intercept the ear hears %q, want reorder still", time.Since(t0), h)
		}
		time.Sleep(2 * time.Second)
		if h := ph.Hearing(); h != phone.ToneHowler {
			t.Fatalf("%v after the intercept the ear hears %q, want the howler", time.Since(t0), h)
		}

		segs := ph.Segments()
		sit, i := firstSeg(segs, 0, isSITSeg)
		if i < 0 || !sit.Start.After(t0) {
			t.Fatalf("no SIT in %v", labels(segs))
		}
		var sitEnd time.Time
		for ; i < len(segs) && isSITSeg(segs[i].Label); i++ {
			sitEnd = segEnd(segs[i])
		}
		if d := sitEnd.Sub(sit.Start); !within(d, 928*time.Millisecond, 0.05) {
			t.Errorf("SIT lasted %v, want 274+274+380 ms", d)
		}
		reo, j := firstSeg(segs, i, is(phone.LabelBusyTone))
		if j < 0 {
			t.Fatalf("no reorder after the SIT: %v", labels(segs))
		}
		if gap := reo.Start.Sub(sitEnd); gap < 0 || gap > 100*time.Millisecond {
			t.Errorf("reorder starts %v after the SIT ends", gap)
		}
		if !within(reo.Dur, 250*time.Millisecond, 0.1) {
			t.Errorf("first reorder burst %v, want 250 ms", reo.Dur)
		}
		howl, k := firstSeg(segs, j, is(phone.ToneHowler))
		if k < 0 {
			t.Fatalf("no howler: %v", labels(segs[j:]))
		}
		if d := howl.Start.Sub(reo.Start); !within(d, cfg.OffHookTimeout, 0.01) {
			t.Errorf("howler starts %v after reorder, want OffHookTimeout %v", d, cfg.OffHookTimeout)
		}
		for _, s := range segs[j:k] {
			if s.Label != phone.LabelBusyTone && s.Label != phone.ToneSilence {
				t.Fatalf("between reorder and howler the ear heard %q", s.Label)
			}
		}
		if r.p.State() != StateCall {
			t.Errorf("state %v; the call layer still owns the line", r.p.State())
		}
	})
}

// Busy after the far end hung up, or reorder for a refused call, gives the
// howler after OffHookTimeout too; a later action of the call layer (here
// ringback for a new attempt) disarms it, and so does connected audio.
func TestFailureToneThenHowler(t *testing.T) {
	for _, c := range []struct {
		tone  string
		then  string // a second call-layer action, "" for none
		howls bool
	}{
		{"busy", "", true},
		{"reorder", "", true},
		{"reorder", "ringback", false},
		{"busy", "connect", false},
	} {
		t.Run(c.tone+"+"+c.then, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				r := newRig(t, cfg)
				defer r.stop()
				ph := phone.New(r.m, phone.Config{Logger: quietLog()})
				ph.OffHook()
				time.Sleep(300 * time.Millisecond)
				if err := ph.DialDTMF(context.Background(), "911"); err != nil {
					t.Fatal(err)
				}
				r.mustEvent(EvDialed, time.Second)
				if err := r.p.PlayTone(endpoint.Tone(c.tone)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				switch c.then {
				case "ringback":
					if err := r.p.PlayTone("ringback"); err != nil {
						t.Fatal(err)
					}
				case "connect":
					a, err := r.p.ConnectAudio()
					if err != nil {
						t.Fatal(err)
					}
					defer a.(io.Closer).Close()
				}
				time.Sleep(cfg.OffHookTimeout - 6*time.Second)
				if h := ph.Hearing(); h == phone.ToneHowler {
					t.Fatal("howler before OffHookTimeout")
				}
				time.Sleep(3 * time.Second)
				h := ph.Hearing()
				if c.howls && h != phone.ToneHowler {
					t.Fatalf("OffHookTimeout after %s the ear hears %q, want the howler", c.tone, h)
				}
				if !c.howls && h == phone.ToneHowler {
					t.Fatalf("howler although the call layer acted (%s)", c.then)
				}
			})
		})
	}
}

// The out-of-service intercept at off-hook (no extension, or not
// registered) is followed by reorder; the off-hook timeout, counted from
// off-hook as for dial tone, then gives the howler.
func TestOutOfServiceSITAtOffHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		r := newRig(t, cfg)
		defer r.stop()
		ph := phone.New(r.m, phone.Config{Logger: quietLog()})
		t0 := time.Now()
		ph.OffHook()
		r.mustEvent(EvOffHook, 200*time.Millisecond)
		if err := r.p.PlayTone("out-of-service"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if h := ph.Hearing(); h != phone.ToneReorder {
			t.Fatalf("after the intercept the ear hears %q, want reorder", h)
		}
		time.Sleep(time.Until(t0.Add(cfg.OffHookTimeout + time.Second)))
		if h := ph.Hearing(); h != phone.ToneHowler {
			t.Fatalf("OffHookTimeout after off-hook the ear hears %q, want the howler", h)
		}
		if r.p.State() != StateLockout {
			t.Fatalf("state %v", r.p.State())
		}
	})
}

func labels(segs []phone.Segment) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = s.Label
	}
	return out
}
