package fxs

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A dial plan pushed while the port runs takes effect for the next call;
// an invalid one is refused whole and the old plan stays.
func TestSetConfigWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		dial := func(s string) {
			r.ph.offHook()
			time.Sleep(200 * time.Millisecond)
			for i := 0; i < len(s); i++ {
				r.ph.say(testDTMF(s[i], 70*time.Millisecond, 70*time.Millisecond))
			}
		}
		hang := func() {
			r.ph.onHook()
			r.mustEvent(EvOnHook, 1500*time.Millisecond)
			r.clearEvents()
		}
		// "5550" is not in the default plan.
		dial("5550")
		r.mustEvent(EvDialFailed, time.Second)
		hang()

		bad := DefaultConfig()
		bad.DialPlan = "5xx["
		if err := r.p.SetConfig(bad); err == nil || !errors.Is(err, ErrConfig) {
			t.Fatalf("bad plan accepted: %v", err)
		}
		if r.p.Config().DialPlan != DefaultDialPlan {
			t.Fatal("refused plan changed the configuration")
		}

		cfg := DefaultConfig()
		cfg.DialPlan = "5xxx|" + DefaultDialPlan
		cfg.Region = "CA"
		if err := r.p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		dial("5550")
		e := r.mustEvent(EvDialed, 2*time.Second)
		if e.Number != "5550" {
			t.Fatalf("%+v", e)
		}
		hang()
		if got := r.p.Config(); got.DialPlan != cfg.DialPlan || got.Region != "CA" {
			t.Fatalf("config now %q %q", got.DialPlan, got.Region)
		}
	})
}
