package fxs

import (
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/slic"
)

// ringEdges returns the ring voltage on/off times seen on the line.
func ringEdges(m *slic.Model, from time.Time) (on, off []time.Time) {
	for _, e := range m.Timeline() {
		if e.At.Before(from) {
			continue
		}
		switch e.Kind {
		case slic.RingOn:
			on = append(on, e.At)
		case slic.RingOff:
			off = append(off, e.At)
		}
	}
	return on, off
}

func TestRingingCadenceAndTypeICallerID(t *testing.T) {
	bin := spandspCID(t)
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		t0 := time.Now()
		cid := &endpoint.CallerID{Number: "6135550199", Name: "ACME WIDGETS", Time: time.Date(2026, 3, 4, 17, 45, 0, 0, time.UTC)}
		if err := r.p.Ring(*cid, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(13 * time.Second)
		on, off := ringEdges(r.m, t0)
		if len(on) < 3 || len(off) < 2 {
			t.Fatalf("ring edges on=%v off=%v", on, off)
		}
		for i := 0; i < 2; i++ {
			if d := off[i].Sub(on[i]); !within(d, 2*time.Second, 0.02) {
				t.Errorf("ring %d on for %v", i+1, d)
			}
			if d := on[i+1].Sub(off[i]); !within(d, 4*time.Second, 0.02) {
				t.Errorf("silence %d lasts %v", i+1, d)
			}
		}
		// The caller-ID burst on the line, between the first and second ring.
		rec, start := r.ph.recording(t0)
		segs := segments(rec, 200, 80)
		if len(segs) != 1 {
			t.Fatalf("%d sound segments while ringing: %v", len(segs), segs)
		}
		bStart := start.Add(samplesDur(segs[0].start))
		bEnd := start.Add(samplesDur(segs[0].end))
		if d := bStart.Sub(off[0]); d < 500*time.Millisecond {
			t.Errorf("burst starts %v after the first ring ends (want ≥ 500 ms)", d)
		}
		if d := on[1].Sub(bEnd); d < 200*time.Millisecond {
			t.Errorf("burst ends %v before the second ring (want ≥ 200 ms)", d)
		}
		t.Logf("burst %v after ring 1, ends %v before ring 2", bStart.Sub(off[0]), on[1].Sub(bEnd))
		msgs := decodeCID(t, bin, rec)
		if len(msgs) != 1 || msgs[0].fields["01"] != "03041745" || msgs[0].fields["02"] != "6135550199" || msgs[0].fields["07"] != "ACME WIDGETS" {
			t.Fatalf("decoded from the line: %+v", msgs)
		}
		// Answer during the ring: ringing stops, the call is reported.
		time.Sleep(time.Until(on[2].Add(6*time.Second + 500*time.Millisecond)))
		r.ph.offHook()
		e := r.mustEvent(EvOffHook, 500*time.Millisecond)
		if !e.Answer || r.p.State() != StateCall {
			t.Fatalf("answer: %+v state %v", e, r.p.State())
		}
		tAns := time.Now()
		time.Sleep(7 * time.Second)
		on2, _ := ringEdges(r.m, tAns)
		if len(on2) != 0 {
			t.Fatalf("rang after answer: %v", on2)
		}
		if programmed, _ := r.m.Linefeed(); programmed != 1 {
			t.Fatalf("linefeed after answer %v", programmed)
		}
	})
}

func TestDistinctiveRingAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		t0 := time.Now()
		if err := r.p.Ring(endpoint.CallerID{Number: "5551234"}, "Bellcore-dr2"); err != nil {
			t.Fatal(err)
		}
		if err := r.p.ring(ringRequest{Cadence: "nope"}); err == nil {
			t.Fatal("unknown cadence accepted")
		}
		time.Sleep(7 * time.Second)
		if err := r.p.StopRinging(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		on, off := ringEdges(r.m, t0)
		want := []time.Duration{800, 400, 800, 4000, 800}
		var got []time.Duration
		for i := 0; i < len(on) && i < len(off); i++ {
			got = append(got, off[i].Sub(on[i]))
			if i+1 < len(on) {
				got = append(got, on[i+1].Sub(off[i]))
			}
		}
		if len(got) < len(want) {
			t.Fatalf("pattern %v", got)
		}
		for i, w := range want {
			if !within(got[i], w*time.Millisecond, 0.02) {
				t.Errorf("step %d: %v, want %v ms", i, got[i], w)
			}
		}
		if r.p.State() != StateIdle {
			t.Fatalf("state %v after StopRinging", r.p.State())
		}
		if _, actual := r.m.Linefeed(); actual != 1 {
			t.Fatalf("linefeed %v after StopRinging", actual)
		}
	})
}
