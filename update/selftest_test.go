package update

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// After an update that succeeded, the self-test runs once; while the line
// is busy it is tried again every 30 s (the default), and its verdict goes
// to SelfTested with the new version. Virtual time.
func TestSelfTestAfterUpdate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result error
		want   string
	}{
		{"pass", nil, "1.2.0: <nil>"},
		{"fail", errors.New("caller-ID self-test failed: fsk"), "1.2.0: caller-ID self-test failed: fsk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newDeadlineRig(t, CheckingHealth)
				r.health.good = true
				var mu sync.Mutex
				var calls []time.Duration
				var verdicts []string
				start := time.Now()
				r.u.cfg.SelfTest = func(context.Context) error {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, time.Since(start))
					if len(calls) <= 2 {
						return fmt.Errorf("%w: the phone is off-hook", ErrLineBusy)
					}
					return tc.result
				}
				r.u.cfg.SelfTested = func(v string, err error) {
					mu.Lock()
					defer mu.Unlock()
					verdicts = append(verdicts, fmt.Sprintf("%s: %v", v, err))
				}
				if r.u.cfg.SelfTestRetry != 30*time.Second {
					t.Fatalf("default retry %v, want 30s", r.u.cfg.SelfTestRetry)
				}
				stop := r.run(t)
				defer stop()
				synctest.Wait()
				if j := r.last(); j.State != Succeeded {
					t.Fatalf("last report %s, want succeeded", j.State)
				}
				time.Sleep(59 * time.Second)
				synctest.Wait()
				mu.Lock()
				if len(calls) != 2 || len(verdicts) != 0 {
					t.Fatalf("at 59 s: self-test ran at %v, verdicts %v; want 2 busy tries, no verdict", calls, verdicts)
				}
				mu.Unlock()
				time.Sleep(2 * time.Second)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				if len(calls) != 3 || calls[1] != 30*time.Second || calls[2] != time.Minute {
					t.Fatalf("self-test ran at %v, want 0s, 30s, 1m0s", calls)
				}
				if len(verdicts) != 1 || verdicts[0] != tc.want {
					t.Fatalf("verdicts %q, want [%q]", verdicts, tc.want)
				}
			})
		})
	}
}

// No update succeeded: no self-test.
func TestNoSelfTestWithoutSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t, WaitingForIdle)
		r.lines.busy = true
		ran := make(chan struct{}, 1)
		r.u.cfg.SelfTest = func(context.Context) error { ran <- struct{}{}; return nil }
		stop := r.run(t)
		defer stop()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if j := r.last(); j.State != Rejected {
			t.Fatalf("last report %s, want rejected", j.State)
		}
		select {
		case <-ran:
			t.Fatal("self-test ran after a rejected update")
		default:
		}
	})
}
