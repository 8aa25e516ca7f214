package update

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Lines tells whether every line (analog port, DECT devices) is idle.
type Lines interface {
	Idle() bool
}

// Health checks the running image: nil when MQTT is connected, every
// configured extension registered and the SLIC and radio pass their
// checks; otherwise an error naming what is not yet so.
type Health interface {
	Healthy(ctx context.Context) error
}

// Config is the updater's configuration.
type Config struct {
	// Dir holds the jobs file and the download, outside the slots.
	Dir       string
	Installer Installer
	Lines     Lines
	Health    Health
	// HTTP downloads bundles (NewHTTPClient: the firmware CA only).
	HTTP *http.Client
	// Reboot restarts the base (into the bootloader's primary slot).
	Reboot func(ctx context.Context) error
	// Report publishes a job report; an error means "not delivered" (a
	// final report is then sent again after a restart).
	Report func(Job) error
	// Running is the running firmware's version.
	Running string
	// AllowDowngrade is the configuration's consent to downgrades.
	AllowDowngrade bool
	// IdleDeadline bounds waiting-for-idle before install (default 1 h);
	// HealthDeadline bounds the trial boot's checks (default 5 min).
	IdleDeadline, HealthDeadline time.Duration
	// Poll is how often idleness and health are asked (default 1 s).
	Poll time.Duration
	// RetryDelay is the pause between download attempts (default 5 s);
	// Retries the attempts without progress before the job fails (default 10).
	RetryDelay time.Duration
	Retries    int
	// SelfTest, when set, runs once after each update that succeeded: the
	// new build checks a path the trial boot's health cannot see (the
	// caller-ID self-test on a base with an analog port). While it returns
	// ErrLineBusy it is tried again every SelfTestRetry (default 30 s);
	// SelfTested gets its verdict (nil: passed) with the new version.
	SelfTest      func(ctx context.Context) error
	SelfTested    func(version string, err error)
	SelfTestRetry time.Duration
}

// Updater runs firmware jobs one at a time.
type Updater struct {
	cfg  Config
	st   store
	wake chan struct{}
	due  chan string // the version of an update that succeeded, for SelfTest

	mu sync.Mutex
	f  *jobsFile // guarded by mu
}

// New loads the persisted jobs from cfg.Dir.
func New(cfg Config) (*Updater, error) {
	if cfg.Installer == nil || cfg.Lines == nil || cfg.Health == nil || cfg.Reboot == nil || cfg.HTTP == nil {
		return nil, errors.New("update: Installer, Lines, Health, HTTP and Reboot are required")
	}
	if _, err := parseVersion(cfg.Running); err != nil {
		return nil, fmt.Errorf("update: running version: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.IdleDeadline, time.Hour)
	def(&cfg.HealthDeadline, 5*time.Minute)
	def(&cfg.Poll, time.Second)
	def(&cfg.RetryDelay, 5*time.Second)
	def(&cfg.SelfTestRetry, 30*time.Second)
	if cfg.Retries <= 0 {
		cfg.Retries = 10
	}
	if cfg.Report == nil {
		cfg.Report = func(Job) error { return nil }
	}
	u := &Updater{cfg: cfg, st: store{cfg.Dir}, wake: make(chan struct{}, 1), due: make(chan string, 1)}
	f, err := u.st.load()
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	u.f = f
	return u, nil
}

// Submit takes a job. A job id seen before is answered with its current
// state (Duplicate set) and never run again; a new id while a job runs is
// rejected as busy.
func (u *Updater) Submit(r Request) (Job, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.f.Current; c != nil && c.ID == r.ID {
		j := *c
		j.Duplicate = true
		return j, nil
	}
	for _, d := range u.f.Done {
		if d.ID == r.ID {
			d.Duplicate = true
			return d, nil
		}
	}
	j := Job{Request: r, State: Queued, Updated: time.Now().UTC()}
	if err := checkJob(&j); err != nil {
		return Job{}, fmt.Errorf("update: %w", err)
	}
	if u.f.Current != nil {
		j.State, j.Reason, j.Detail = Rejected, ReasonBusy, "job "+u.f.Current.ID+" is running"
		u.f.Done = appendDone(u.f.Done, j)
		return j, u.st.save(u.f)
	}
	u.f.Current = &j
	if err := u.st.save(u.f); err != nil {
		u.f.Current = nil
		return Job{}, err
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
	return j, nil
}

// Jobs returns the job in progress (nil if none) and the finished ones.
func (u *Updater) Jobs() (*Job, []Job) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var c *Job
	if u.f.Current != nil {
		j := *u.f.Current
		c = &j
	}
	return c, append([]Job(nil), u.f.Done...)
}

func appendDone(d []Job, j Job) []Job {
	d = append(d, j)
	if len(d) > maxDone {
		d = d[len(d)-maxDone:]
	}
	return d
}

func (u *Updater) current() *Job {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.f.Current == nil {
		return nil
	}
	j := *u.f.Current
	return &j
}

// set persists j as the current job (or, final, as finished) and reports it.
func (u *Updater) set(j Job) error {
	j.Updated = time.Now().UTC()
	u.mu.Lock()
	if Final(j.State) {
		u.f.Current = nil
		u.f.Done = appendDone(u.f.Done, j)
	} else {
		u.f.Current = &j
	}
	err := u.st.save(u.f)
	u.mu.Unlock()
	if err != nil {
		return fmt.Errorf("update: persisting job %s: %w", j.ID, err)
	}
	if Final(j.State) {
		_ = os.Remove(u.bundlePath(j.ID))
	}
	_ = u.cfg.Report(j)
	if j.State == Succeeded {
		u.succeeded(j.Version)
	}
	return nil
}

func (u *Updater) bundlePath(id string) string {
	return filepath.Join(u.cfg.Dir, "bundle-"+id+".raucb")
}

// Run resumes a persisted job (after a restart or a reboot), then runs
// submitted jobs, and the self-test after each update that succeeded,
// until ctx ends.
func (u *Updater) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	u.selfTests(ctx, &wg)
	if j := u.current(); j != nil {
		if err := u.resume(ctx, *j); err != nil {
			return err
		}
	}
	for {
		if j := u.current(); j != nil {
			if err := u.drive(ctx, *j); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.wake:
		}
	}
}

// status asks the installer, retrying while its service starts.
func (u *Updater) status(ctx context.Context) (SlotStatus, error) {
	var err error
	for range 20 {
		var st SlotStatus
		if st, err = u.cfg.Installer.Status(ctx); err == nil {
			return st, nil
		}
		if !sleep(ctx, u.cfg.Poll/4) {
			return SlotStatus{}, ctx.Err()
		}
	}
	return SlotStatus{}, err
}

// resume decides, after a start, where a job interrupted by a restart
// stands: the booted slot tells whether the trial slot or the old one runs.
func (u *Updater) resume(ctx context.Context, j Job) error {
	switch j.State {
	case Installing, Rebooting, CheckingHealth:
	default:
		return nil // download, verification and waiting are redone
	}
	st, err := u.status(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return u.set(failed(j, "installer status after restart: "+err.Error()))
	}
	switch {
	case j.State != Installing && st.Booted == j.TargetSlot:
		j.State = CheckingHealth
		return u.set(j)
	case j.State == Installing && st.Booted != j.FromSlot:
		// Installed, then a power cut: the bootloader started the new slot.
		j.State, j.TargetSlot = CheckingHealth, st.Booted
		return u.set(j)
	case j.State == Installing && st.Primary == j.FromSlot:
		// The installer did not finish (it switches the primary last).
		return nil
	default:
		// The old slot runs although the new one was made primary: the
		// bootloader fell back after the trial's attempts.
		if err := u.cfg.Installer.MarkActiveBooted(ctx); err != nil && ctx.Err() != nil {
			return nil
		}
		if j.TargetSlot == "" {
			j.TargetSlot = st.Primary
		}
		j.State, j.Detail = RolledBack, "slot "+j.TargetSlot+" did not prove healthy; running "+st.Booted+" again"
		return u.set(j)
	}
}

func failed(j Job, detail string) Job {
	j.State, j.Detail = Failed, detail
	return j
}

func rejected(j Job, reason, detail string) Job {
	j.State, j.Reason, j.Detail = Rejected, reason, detail
	return j
}

// drive runs j from its state to a final state, a reboot, or ctx's end.
func (u *Updater) drive(ctx context.Context, j Job) error {
	for !Final(j.State) {
		if ctx.Err() != nil {
			return nil
		}
		next, err := u.step(ctx, j)
		if ctx.Err() != nil {
			return nil // interrupted: the persisted state resumes
		}
		if err != nil {
			return err
		}
		if next.State == Rebooting && j.State == Rebooting {
			return nil // the reboot is on its way
		}
		if next.State != j.State || next.Detail != j.Detail {
			if err := u.set(next); err != nil {
				return err
			}
		}
		j = next
	}
	return nil
}

func (u *Updater) step(ctx context.Context, j Job) (Job, error) {
	switch j.State {
	case Queued:
		j.State = Downloading
		return j, nil
	case Downloading:
		return u.download(ctx, j), nil
	case Verifying:
		return u.verify(ctx, j), nil
	case WaitingForIdle:
		if !u.waitIdle(ctx, u.cfg.IdleDeadline) {
			if ctx.Err() != nil {
				return j, nil
			}
			return rejected(j, ReasonBusy, fmt.Sprintf("lines not idle within %v", u.cfg.IdleDeadline)), nil
		}
		st, err := u.status(ctx)
		if err != nil {
			return failed(j, "installer status: "+err.Error()), nil
		}
		j.State, j.FromSlot = Installing, st.Booted
		return j, nil
	case Installing:
		if err := u.cfg.Installer.Install(ctx, u.bundlePath(j.ID)); err != nil {
			if ctx.Err() != nil {
				return j, nil
			}
			return failed(j, err.Error()), nil
		}
		st, err := u.status(ctx)
		if err != nil {
			return failed(j, "installer status: "+err.Error()), nil
		}
		if st.Primary == "" || st.Primary == j.FromSlot {
			return failed(j, "installer did not make another slot primary"), nil
		}
		j.State, j.TargetSlot = Rebooting, st.Primary
		return j, nil
	case Rebooting:
		u.waitIdle(ctx, 0) // never reboot during a call
		if ctx.Err() != nil {
			return j, nil
		}
		if err := u.cfg.Reboot(ctx); err != nil {
			_ = u.cfg.Installer.MarkActiveBooted(ctx)
			return failed(j, "reboot: "+err.Error()), nil
		}
		<-ctx.Done() // the reboot ends this process
		return j, nil
	case CheckingHealth:
		return u.checkHealth(ctx, j), nil
	}
	return j, fmt.Errorf("update: job %s in unknown state %q", j.ID, j.State)
}

func (u *Updater) download(ctx context.Context, j Job) Job {
	path := u.bundlePath(j.ID)
	var have int64
	if fi, err := os.Stat(path); err == nil {
		have = fi.Size()
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(u.cfg.Dir, &sfs); err == nil {
		if free := int64(sfs.Bavail) * int64(sfs.Bsize); free < j.Size-have { // Bsize is int32 on arm
			return rejected(j, ReasonNoSpace, fmt.Sprintf("%d bytes free, %d needed", free, j.Size-have))
		}
	}
	progress := func(n int64) {
		p := j
		p.Bytes = n
		_ = u.cfg.Report(p)
	}
	fails := 0
	for {
		before := have
		n, err := fetchOnce(ctx, u.cfg.HTTP, j.URL, path, j.Size, progress)
		have = n
		if err == nil {
			j.State, j.Bytes = Verifying, n
			return j
		}
		if ctx.Err() != nil {
			return j
		}
		if errors.Is(err, errMismatch) {
			_ = os.Remove(path)
			return failed(j, "download: "+err.Error())
		}
		if have > before {
			fails = 0
		} else {
			fails++
		}
		if fails >= u.cfg.Retries {
			return failed(j, fmt.Sprintf("download: %v (after %d attempts without progress)", err, fails))
		}
		if !sleep(ctx, u.cfg.RetryDelay) {
			return j
		}
	}
}

func (u *Updater) verify(ctx context.Context, j Job) Job {
	path := u.bundlePath(j.ID)
	if err := checkFile(path, j.Size, j.SHA256); err != nil {
		_ = os.Remove(path)
		return failed(j, "verify: "+err.Error())
	}
	info, err := u.cfg.Installer.Info(ctx, path)
	if errors.Is(err, ErrBadSignature) {
		return rejected(j, ReasonBadSignature, err.Error())
	}
	if err != nil {
		return failed(j, "verify: "+err.Error())
	}
	st, err := u.status(ctx)
	if err != nil {
		return failed(j, "installer status: "+err.Error())
	}
	if info.Compatible != st.Compatible {
		return rejected(j, ReasonIncompatible, fmt.Sprintf("bundle is for %q, this base is %q", info.Compatible, st.Compatible))
	}
	if info.Version != j.Version {
		return failed(j, fmt.Sprintf("verify: bundle version %q, the job says %q", info.Version, j.Version))
	}
	bv, err := parseVersion(info.Version)
	if err != nil {
		return failed(j, "verify: bundle "+err.Error())
	}
	run, _ := parseVersion(u.cfg.Running)
	if compareVersions(bv, run) < 0 && !(j.AllowDowngrade && u.cfg.AllowDowngrade) {
		why := "the job does not allow it"
		if j.AllowDowngrade {
			why = "the configuration does not allow downgrades"
		}
		return rejected(j, ReasonDowngrade, fmt.Sprintf("bundle version %s is lower than the running %s; %s", info.Version, u.cfg.Running, why))
	}
	j.State = WaitingForIdle
	return j
}

// waitIdle waits until every line is idle; false when the deadline (0:
// none) or ctx ends first.
func (u *Updater) waitIdle(ctx context.Context, deadline time.Duration) bool {
	var end <-chan time.Time
	if deadline > 0 {
		t := time.NewTimer(deadline)
		defer t.Stop()
		end = t.C
	}
	tick := time.NewTicker(u.cfg.Poll)
	defer tick.Stop()
	for !u.cfg.Lines.Idle() {
		select {
		case <-ctx.Done():
			return false
		case <-end:
			return false
		case <-tick.C:
		}
	}
	return true
}

// checkHealth runs the trial boot's checks. Healthy: mark good, succeeded.
// Not healthy within the deadline: the slot is not marked good and the
// base reboots (when idle), so the bootloader spends the trial's attempts
// and falls back; the old image then reports rolled-back.
func (u *Updater) checkHealth(ctx context.Context, j Job) Job {
	hctx, cancel := context.WithTimeout(ctx, u.cfg.HealthDeadline)
	defer cancel()
	err := u.cfg.Health.Healthy(hctx)
	for err != nil && sleep(hctx, u.cfg.Poll) {
		err = u.cfg.Health.Healthy(hctx)
	}
	if ctx.Err() != nil {
		return j
	}
	if err == nil {
		if err := u.cfg.Installer.MarkGood(ctx); err != nil {
			if ctx.Err() != nil {
				return j
			}
			j.Detail = "mark good: " + err.Error()
			return j
		}
		j.State, j.Detail = Succeeded, ""
		return j
	}
	p := j
	p.Detail = "not healthy within " + u.cfg.HealthDeadline.String() + ": " + err.Error()
	_ = u.cfg.Report(p)
	u.waitIdle(ctx, 0)
	if ctx.Err() == nil {
		_ = u.cfg.Reboot(ctx)
	}
	<-ctx.Done() // the reboot ends this process
	return j
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
