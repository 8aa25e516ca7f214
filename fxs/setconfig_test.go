package fxs

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"basestation/sim/slic"
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

// SetConfig racing with Run's start: the configuration written "before
// Run" must not be read by a loop that started meanwhile (the race
// detector saw that when the daemon applied its configuration at boot).
func TestSetConfigAsRunStarts(t *testing.T) {
	for range 20 {
		synctest.Test(t, func(t *testing.T) {
			m := slic.New(slic.Config{Logger: quietLog()})
			ctx, cancel := context.WithCancel(context.Background())
			mDone := make(chan struct{})
			go func() { defer close(mDone); _ = m.Run(ctx) }()
			p, err := New(m.HAL(), DefaultConfig(), quietLog())
			if err != nil {
				t.Fatal(err)
			}
			runDone := make(chan error, 1)
			go func() { runDone <- p.Run(ctx) }()
			cfg := DefaultConfig()
			cfg.Region = "CA"
			cfg.FlashMin = 400 * time.Millisecond
			if err := p.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if p.Config().Region != "CA" {
				t.Fatal("configuration lost")
			}
			cancel()
			if err := <-runDone; err != nil {
				t.Fatal(err)
			}
			<-mDone
		})
	}
}
