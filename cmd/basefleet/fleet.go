package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"basestation/provisioning/cloud"
)

// options are basefleet's flags.
type options struct {
	N           int
	Shard       shard
	Prefix      string
	Broker      string // the bases' broker
	CloudBroker string // the cloud side's broker (default Broker): another node of a cluster
	Registrar   string
	FirstIP     netip.Addr
	SIPPort     int
	StateDir    string // "" = a new directory under /dev/shm (tmpfs) or the temp dir, removed at the end

	Boot       time.Duration // boot storm: every base started within Boot (0: at once)
	BootGrace  time.Duration // after Boot, how long the last bases may take to connect and register
	PairAtBoot bool          // pair each base's Linx with its button (102 registers too)
	Idle       time.Duration // idle measure window after the boot (CPU while idle)
	Steady     time.Duration // steady state (pushes run inside it)

	Pushes   int     // registration-mode pushes, spread over the bases
	PushRate float64 // per second
	// PushShortfall is the fraction of pushes that may fail to complete a
	// pairing without failing the run (their errors are still reported).
	PushShortfall float64
	Configs       bool    // push a new configuration to every base
	CfgRate       float64 // per second
	// BrokerStop and BrokerStart restart the bases' broker RestartAt into
	// the steady state (both nil: no restart).
	BrokerStop, BrokerStart func(ctx context.Context) error
	RestartAt               time.Duration

	Timeout          time.Duration // bound on the whole run
	Progress         io.Writer     // the live progress line (nil: none)
	ProgressEvery    time.Duration
	Log              *slog.Logger
	RadioReadTimeout time.Duration
	PCMPace          time.Duration
	QuietRadio       bool
	Fast             bool
}

// fleetRun is one run: the bases, the cloud client, the measurements.
type fleetRun struct {
	o     options
	specs []spec
	cl    *cloud.Client
	rec   *recorder
	bases []*base // built bases, in order; guarded by mu
	mu    sync.Mutex

	started, connected, registered, failed atomic.Int64
}

// run runs the whole fleet scenario and returns its report. It stops by
// itself: every phase is bounded.
func run(ctx context.Context, o options) (*report, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if o.CloudBroker == "" {
		o.CloudBroker = o.Broker
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lo, hi := o.Shard.indexes(o.N)
	if err := raiseFileLimit(hi - lo); err != nil {
		return nil, err
	}
	f := &fleetRun{o: o, rec: newRecorder()}
	for i := lo; i < hi; i++ {
		s, err := makeSpec(o.Prefix, o.FirstIP, i)
		if err != nil {
			return nil, err
		}
		f.specs = append(f.specs, s)
	}
	if o.StateDir == "" {
		root := os.TempDir()
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			root = "/dev/shm"
		}
		dir, err := os.MkdirTemp(root, "basefleet-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		f.o.StateDir = dir
	}
	var err error
	f.cl, err = cloud.Dial(ctx, cloud.Options{Brokers: []string{o.CloudBroker},
		ClientID: fmt.Sprintf("basefleet-cloud-%s-%d", o.Prefix, o.Shard.K), Logger: o.Log.With("side", "cloud")})
	if err != nil {
		return nil, err
	}
	defer f.cl.Close()
	if err := f.seed(ctx); err != nil {
		return nil, err
	}

	runCtx, stopBases := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stopBases()
		wg.Wait()
	}()
	progCtx, stopProgress := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	pwg.Go(func() { f.progress(progCtx) })

	t0 := time.Now()
	f.rec.mark("boot")
	var bwg sync.WaitGroup // the boot loop; the bases it starts are wg's
	bwg.Go(func() { f.boot(ctx, runCtx, &wg) })
	f.waitBooted(ctx, t0)
	bwg.Wait()
	f.rec.bootDone(time.Since(t0))
	f.rec.sample("after boot", len(f.specs))

	if o.Idle > 0 && ctx.Err() == nil {
		f.rec.measureIdle(ctx, o.Idle, len(f.specs))
	}
	if o.Steady > 0 && ctx.Err() == nil {
		f.steady(ctx)
	}
	f.rec.sample("end", len(f.specs))
	stopProgress()
	pwg.Wait()
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	stopBases()
	wg.Wait()
	f.mu.Lock()
	for _, b := range f.bases {
		if m := b.milestones(); m.Err != nil {
			f.rec.errorf("daemon-stopped", "%s: %v", b.ID, m.Err)
		}
	}
	f.mu.Unlock()
	rep := f.rec.report(f)
	if ctx.Err() != nil {
		rep.Failures = append(rep.Failures, fmt.Sprintf("run cut short: %v", ctx.Err()))
		rep.Pass = false
	}
	return rep, nil
}

// seed publishes every base's first configuration (retained), so each
// base finds it when it first connects.
func (f *fleetRun) seed(ctx context.Context) error {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for _, s := range f.specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f.cl.Publish(ctx, s.config(f.o.Registrar, 1, false)); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("seed configuration of %s: %w", s.ID, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// boot starts every base, spread evenly over o.Boot: each is built (its
// line chip powers up and calibrates, which takes a few hundred
// milliseconds) and run in its own goroutine, as real bases boot side by
// side.
func (f *fleetRun) boot(ctx, runCtx context.Context, wg *sync.WaitGroup) {
	bo := baseOptions{Broker: f.o.Broker, Registrar: f.o.Registrar, SIPPort: f.o.SIPPort, StateRoot: f.o.StateDir,
		Log: f.o.Log, RadioReadTimeout: f.o.RadioReadTimeout, Fast: f.o.Fast, PCMPace: f.o.PCMPace, QuietRadio: f.o.QuietRadio}
	start := time.Now()
	n := len(f.specs)
	for i, s := range f.specs {
		if f.o.Boot > 0 {
			at := start.Add(f.o.Boot * time.Duration(i) / time.Duration(n))
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		wg.Go(func() {
			on := time.Now() // powered on
			b, err := newBase(s, bo)
			if err != nil {
				f.rec.errorf("build", "%v", err)
				f.failed.Add(1)
				return
			}
			f.mu.Lock()
			f.bases = append(f.bases, b)
			f.mu.Unlock()
			f.started.Add(1)
			b.run(runCtx, on)
		})
	}
}

// want is how many registrations make a base complete.
func (f *fleetRun) want() int {
	if f.o.PairAtBoot {
		return 2
	}
	return 1
}

// waitBooted watches the bases until every one is connected and
// registered, or Boot+BootGrace has passed; it pairs Linxes on the way
// when asked.
func (f *fleetRun) waitBooted(ctx context.Context, t0 time.Time) {
	deadline := t0.Add(f.o.Boot + f.o.BootGrace)
	pairing := map[*base]bool{}
	sem := make(chan struct{}, 64)
	var pwg sync.WaitGroup
	defer pwg.Wait()
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := map[*base]bool{}
	for {
		f.mu.Lock()
		bases := append([]*base(nil), f.bases...)
		f.mu.Unlock()
		now := time.Now()
		var conn, reg int64
		for _, b := range bases {
			if done[b] {
				conn++
				reg++
				continue
			}
			c, r := b.observe(now, f.want())
			if c {
				conn++
			}
			if c && r >= f.want() {
				reg++
				done[b] = true
			}
			if f.o.PairAtBoot && c && !pairing[b] && b.d.Radio().Ready() {
				pairing[b] = true
				pwg.Go(func() {
					select {
					case sem <- struct{}{}:
					case <-pctx.Done():
						return
					}
					defer func() { <-sem }()
					if err := b.pairLinx(pctx); err != nil {
						f.rec.errorf("pair-at-boot", "%s: %v", b.ID, err)
						return
					}
					// The administrator assigns the new Linx to 102: the
					// configuration is published (retained); its effect,
					// 102 registered, is what the watcher waits for.
					if err := f.cl.Publish(pctx, b.nextConfig(f.o.Registrar, "")); err != nil {
						f.rec.errorf("assign-linx", "%s: %v", b.ID, err)
					}
				})
			}
		}
		f.connected.Store(conn)
		f.registered.Store(reg)
		if int(reg) == len(f.specs) || time.Now().After(deadline) || ctx.Err() != nil {
			cancel()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// progress prints the live line until ctx ends.
func (f *fleetRun) progress(ctx context.Context) {
	if f.o.Progress == nil {
		return
	}
	every := f.o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	t0 := time.Now()
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		fmt.Fprintf(f.o.Progress, "\r%6.1fs %-10s started %d/%d connected %d registered %d failures %d   ",
			time.Since(t0).Seconds(), f.rec.phase(), f.started.Load(), len(f.specs), f.connected.Load(),
			f.registered.Load(), f.rec.errorCount())
	}
}
