package fxs

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/phone"
)

// The simulated phone's own ear (sim/phone, independent signal code) names
// the tones the port plays and puts dial tone within 100 ms of off-hook.
func TestEarHearsTones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		ph := phone.New(r.m, phone.Config{Logger: quietLog()})
		t0 := time.Now()
		ph.OffHook()
		time.Sleep(time.Second)
		var dialAt time.Time
		for _, s := range ph.Segments() {
			if s.Label == phone.ToneDial {
				dialAt = s.Start
				break
			}
		}
		if dialAt.IsZero() || dialAt.Sub(t0) > 100*time.Millisecond {
			t.Fatalf("ear: dial tone %v after off-hook (segments %+v)", dialAt.Sub(t0), ph.Segments())
		}
		if err := ph.DialDTMF(context.Background(), "911"); err != nil {
			t.Fatal(err)
		}
		r.mustEvent(EvDialed, time.Second)
		for _, c := range []struct {
			tone, ear string
			listen    time.Duration
		}{
			{"ringback", phone.ToneRingback, 7 * time.Second},
			{"busy", phone.ToneBusy, 3 * time.Second},
			{"reorder", phone.ToneReorder, 3 * time.Second},
			{"howler", phone.ToneHowler, 2 * time.Second},
		} {
			if err := r.p.PlayTone(endpoint.Tone(c.tone)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(c.listen)
			if h := ph.Hearing(); h != c.ear {
				t.Errorf("playing %s, the ear hears %q", c.tone, h)
			}
		}
		if err := r.p.PlayTone("sit-intercept"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond) // inside the SIT (played once, 928 ms)
		if st := ph.State(); st.Hearing != phone.ToneSIT || st.SIT == "" {
			t.Errorf("ear during SIT: %+v", st)
		} else {
			t.Logf("SIT heard as %q", st.SIT)
		}
	})
}
