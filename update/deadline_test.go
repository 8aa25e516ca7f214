package update

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The two deadlines with their production defaults (1 h for idle lines,
// 5 min for the trial boot's health), in virtual time.

type fakeInstaller struct {
	mu                       sync.Mutex
	booted, primary          string
	installs, marks, actives int
}

func (f *fakeInstaller) Info(context.Context, string) (BundleInfo, error) {
	return BundleInfo{Compatible: "c", Version: "1.2.0"}, nil
}
func (f *fakeInstaller) Install(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installs++
	return nil
}
func (f *fakeInstaller) Status(context.Context) (SlotStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return SlotStatus{Compatible: "c", Booted: f.booted, Primary: f.primary}, nil
}
func (f *fakeInstaller) MarkGood(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks++
	return nil
}
func (f *fakeInstaller) MarkActiveBooted(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actives++
	return nil
}

func (f *fakeInstaller) counts() (installs, marks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.installs, f.marks
}

type flagLines struct {
	mu   sync.Mutex
	busy bool
}

func (l *flagLines) Idle() bool { l.mu.Lock(); defer l.mu.Unlock(); return !l.busy }

type flagHealth struct {
	mu   sync.Mutex
	good bool
}

func (h *flagHealth) Healthy(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.good {
		return errors.New("extension 101 not registered")
	}
	return nil
}

// deadlineRig is an updater with default deadlines and poll whose job was
// persisted in state (as after a restart), its reports and its reboots.
type deadlineRig struct {
	u       *Updater
	inst    *fakeInstaller
	lines   *flagLines
	health  *flagHealth
	mu      sync.Mutex
	reports []Job
	reboots int
}

func newDeadlineRig(t *testing.T, state string) *deadlineRig {
	dir := t.TempDir()
	j := Job{Request: Request{ID: "fw-1", URL: "https://fw.example/b.raucb", Version: "1.2.0", Size: 10, SHA256: "00"},
		State: state, FromSlot: "A", TargetSlot: "B", Updated: time.Now().UTC()}
	if err := (store{dir}).save(&jobsFile{Current: &j}); err != nil {
		t.Fatal(err)
	}
	r := &deadlineRig{inst: &fakeInstaller{booted: "A", primary: "A"}, lines: &flagLines{}, health: &flagHealth{}}
	if state == CheckingHealth {
		r.inst.booted, r.inst.primary = "B", "B"
	}
	u, err := New(Config{Dir: dir, Installer: r.inst, Lines: r.lines, Health: r.health, HTTP: &http.Client{},
		Running: "1.1.0",
		Reboot: func(context.Context) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reboots++
			return nil
		},
		Report: func(j Job) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reports = append(r.reports, j)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if u.cfg.IdleDeadline != time.Hour || u.cfg.HealthDeadline != 5*time.Minute {
		t.Fatalf("defaults: idle %v, health %v", u.cfg.IdleDeadline, u.cfg.HealthDeadline)
	}
	r.u = u
	return r
}

func (r *deadlineRig) last() Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return Job{}
	}
	return r.reports[len(r.reports)-1]
}

func (r *deadlineRig) rebooted() int { r.mu.Lock(); defer r.mu.Unlock(); return r.reboots }

// run runs the updater until the returned stop is called.
func (r *deadlineRig) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.u.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// A call that outlasts the default idle deadline (1 h): still
// waiting-for-idle, nothing installed, a second before the hour; rejected
// busy at the hour.
func TestIdleDeadlineDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t, WaitingForIdle)
		r.lines.busy = true
		stop := r.run(t)
		defer stop()
		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if c, _ := r.u.Jobs(); c == nil || c.State != WaitingForIdle || installs(r) != 0 {
			t.Fatalf("at 59:59 the job is %+v, %d installs; want still waiting-for-idle", c, installs(r))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if j := r.last(); j.State != Rejected || j.Reason != ReasonBusy || j.Detail != "lines not idle within 1h0m0s" {
			t.Fatalf("at 1:00:00 the last report is %s/%s %q, want rejected/busy", j.State, j.Reason, j.Detail)
		}
		if installs(r) != 0 || r.rebooted() != 0 {
			t.Fatalf("%d installs, %d reboots after a busy rejection", installs(r), r.rebooted())
		}
	})
}

// The call ends within the hour: the update installs then.
func TestIdleBeforeDeadlineInstalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t, WaitingForIdle)
		r.lines.busy = true
		// Install makes B the primary, as RAUC does.
		stop := r.run(t)
		defer stop()
		time.Sleep(59 * time.Minute)
		r.lines.mu.Lock()
		r.lines.busy = false
		r.lines.mu.Unlock()
		r.inst.mu.Lock()
		r.inst.primary = "B"
		r.inst.mu.Unlock()
		time.Sleep(2 * time.Second) // one poll
		synctest.Wait()
		if j := r.last(); j.State != Rebooting || installs(r) != 1 || r.rebooted() != 1 {
			t.Fatalf("after the call: %s, %d installs, %d reboots; want rebooting after one install", j.State, installs(r), r.rebooted())
		}
	})
}

// A trial boot that never proves healthy: not marked good and no reboot
// before the default 5 minutes; at 5 minutes the failure is reported and
// the base reboots (so the bootloader spends the trial's attempts).
func TestHealthDeadlineDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t, CheckingHealth)
		stop := r.run(t)
		defer stop()
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		if r.rebooted() != 0 || marks(r) != 0 || r.last().State != CheckingHealth || r.last().Detail != "" {
			t.Fatalf("at 4:59: %d reboots, %d marks, last %+v", r.rebooted(), marks(r), r.last())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		j := r.last()
		if r.rebooted() != 1 || marks(r) != 0 || j.State != CheckingHealth ||
			j.Detail != "not healthy within 5m0s: extension 101 not registered" {
			t.Fatalf("at 5:01: %d reboots, %d marks, last %s %q", r.rebooted(), marks(r), j.State, j.Detail)
		}
	})
}

// Healthy at 4:50: marked good, succeeded, no reboot.
func TestHealthyBeforeDeadlineMarksGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t, CheckingHealth)
		stop := r.run(t)
		defer stop()
		time.Sleep(4*time.Minute + 50*time.Second)
		r.health.mu.Lock()
		r.health.good = true
		r.health.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if j := r.last(); j.State != Succeeded || marks(r) != 1 || r.rebooted() != 0 {
			t.Fatalf("healthy at 4:50: %s, %d marks, %d reboots", j.State, marks(r), r.rebooted())
		}
	})
}

func installs(r *deadlineRig) int { n, _ := r.inst.counts(); return n }
func marks(r *deadlineRig) int    { _, n := r.inst.counts(); return n }
