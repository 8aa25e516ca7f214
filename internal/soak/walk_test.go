package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/sim/pbx"
	"basestation/sim/phone"
	"basestation/sim/radio"
	"basestation/sim/softphone"
)

// run is one seed's walk.
type run struct {
	seed       int64
	steps      int
	duration   time.Duration
	quietEvery int
	keepGoing  bool
	journal    func(format string, a ...any)
	log        *slog.Logger
	dir        string

	w   *world
	m   *model
	rng *rand.Rand
	n   int

	baseline   *resources
	violations int
	starved    int    // failed steps put down to a starved simulation (NOTE)
	streak     int    // violations since the last step that passed
	inject     string // tests of the soak itself: "panic" panics in a goroutine at step 3
	times      map[string]stepTime
}

type stepTime struct {
	n     int
	total time.Duration
}

func (r *run) took(name string, d time.Duration) {
	if r.times == nil {
		r.times = map[string]stepTime{}
	}
	t := r.times[name]
	t.n++
	t.total += d
	r.times[name] = t
}

// errViolation marks a step whose outcome is not what the base must do.
type violation struct{ msg string }

func (v *violation) Error() string { return v.msg }

func violatef(format string, a ...any) error { return &violation{fmt.Sprintf(format, a...)} }

// step is one kind of action of the walk: ok says whether it fits the
// model now; plan draws its parameters and returns what it will do (for
// the journal) and the action.
type step struct {
	name   string
	weight int
	ok     func() bool
	plan   func() (string, func() error)
}

func (r *run) do(ctx context.Context) error {
	r.rng = rand.New(rand.NewPCG(uint64(r.seed), 0x50a6))
	r.m = newModel()
	defer func() {
		// Every softphone call the walk started has ended before the world
		// goes: its goroutine is the walk's.
		for _, c := range r.m.calls {
			if c.spResult != nil {
				select {
				case <-c.spResult:
				case <-time.After(5 * time.Second):
				}
			}
		}
	}()
	start := time.Now()
	w, err := newWorld(ctx, r.dir, r.log)
	if err != nil {
		return fmt.Errorf("building the world: %w", err)
	}
	r.w = w
	defer w.close()
	for _, d := range w.devs {
		r.m.powered[d.name], r.m.inRange[d.name] = true, true
	}
	r.journal("START seed=%d steps=%d duration=%v pbx=%s broker=%s", r.seed, r.steps, r.duration, w.pbxAddr, w.brokerAddr)
	// The office's first configuration, as basesim seeds it.
	if err := r.push(r.m.config(1, w.pbxAddr)); err != nil {
		return fmt.Errorf("first configuration: %w", err)
	}
	if err := r.waitFor("the radio ready and 101 registered", 20*time.Second, func() string {
		if !w.d.Status().RadioReady {
			return "radio not ready"
		}
		if !w.baseBindings()["101"] {
			return "101 not registered at the PBX"
		}
		return ""
	}); err != nil {
		return err
	}
	if v := r.check(); len(v) > 0 {
		return fmt.Errorf("after start: %s", strings.Join(v, "; "))
	}
	if err := r.quiet("start"); err != nil {
		return err
	}
	steps := r.catalogue()
	sinceQuiet := 0
	for r.n = 1; ; r.n++ {
		if r.duration > 0 && time.Since(start) > r.duration || r.duration == 0 && r.n > r.steps {
			break
		}
		if sinceQuiet >= r.quietEvery {
			sinceQuiet = 0
			r.journal("STEP %d quiet: bring the base idle and measure", r.n)
			if err := r.quiet(fmt.Sprintf("step %d", r.n)); err != nil {
				if !r.recover(err) {
					return err
				}
			}
			continue
		}
		sinceQuiet++
		if err := r.expireWindow(false); err != nil {
			if !r.recover(err) {
				return err
			}
			continue
		}
		s := r.pick(steps)
		desc, act := s.plan()
		if r.inject == "panic" && r.n == 3 {
			desc, act = "a goroutine of the base panics (injected)", func() error {
				done := make(chan struct{})
				go func() { defer close(done); panic("soak: injected panic") }()
				<-done
				return nil
			}
		}
		r.journal("STEP %d %s: %s", r.n, s.name, desc)
		t0, s0 := time.Now(), r.starvation()
		err := act()
		if err == nil {
			if v := r.check(); len(v) > 0 {
				err = violatef("%s", strings.Join(v, "; "))
			}
		}
		r.took(s.name, time.Since(t0))
		if err != nil {
			if why := r.starvedSince(s0, s.name); why != "" && r.starved < maxStarved {
				// The simulation lost real time (FINDINGS F14): noted,
				// the base put back in its start state, the walk goes on.
				r.starved++
				r.journal("NOTE seed=%d step=%d: step %s failed while the simulation was starved of CPU (%s): %v", r.seed, r.n, s.name, why, err)
				r.m.portFault = false
				if rerr := r.reset(); rerr != nil {
					if !r.recover(fmt.Errorf("step %d: putting the base back after a starved step: %w", r.n, rerr)) {
						return rerr
					}
				}
				continue
			}
			if !r.recover(fmt.Errorf("step %d %s: %w", r.n, s.name, err)) {
				return err
			}
			continue
		}
		r.streak = 0
	}
	r.n--
	if err := r.quiet("end"); err != nil {
		if !r.recover(err) {
			return err
		}
	}
	var kinds []string
	for k := range r.times {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	for _, k := range kinds {
		t := r.times[k]
		fmt.Fprintf(&b, " %s=%d×%dms", k, t.n, (t.total / time.Duration(t.n)).Milliseconds())
	}
	r.journal("TIMES%s", b.String())
	r.journal("DONE seed=%d steps=%d violations=%d starved=%d elapsed=%v", r.seed, r.n, r.violations, r.starved, time.Since(start).Round(time.Second))
	if r.violations > 0 {
		return fmt.Errorf("%d violations", r.violations)
	}
	return nil
}

// maxStarved bounds the failed steps per seed the walk puts down to a
// starved simulation: more than that is a violation all the same.
const maxStarved = 3

// starvationMark is what shows that the simulation lost real time: the
// SLIC model's PCM frame clock finding no frame from the base (the fxs
// loop, which also times the hook switch, did not run), and module boots
// (the base resets the DECT module when its link keepalive goes
// unanswered).
type starvationMark struct {
	underruns int
	boots     uint64
}

func (r *run) starvation() starvationMark {
	return starvationMark{r.w.board.SLIC.Stats().PCMUnderruns, r.w.board.Radio.Stats().Boots}
}

// starvedSince names the evidence of lost real time since m ("" if none).
// A module reset the step asked for is no evidence.
func (r *run) starvedSince(m starvationMark, step string) string {
	now := r.starvation()
	var why []string
	if n := now.underruns - m.underruns; n > 0 {
		why = append(why, fmt.Sprintf("%d PCM underruns", n))
	}
	if n := now.boots - m.boots; n > 0 && step != "module-reset" {
		why = append(why, fmt.Sprintf("the DECT module rebooted %d times unasked", n))
	}
	return strings.Join(why, ", ")
}

// recover reports a violation; with -keep-going it brings the base back to
// the start state and goes on.
func (r *run) recover(err error) bool {
	r.violations++
	r.journal("VIOLATION seed=%d step=%d: %v", r.seed, r.n, err)
	r.journal("MODEL %s", r.m)
	st := r.w.d.Status()
	r.journal("DAEMON lines %+v registrations %+v", st.Lines, st.Registrations)
	if !r.keepGoing {
		return false
	}
	r.streak++
	if r.streak > 5 {
		r.journal("FAIL seed=%d step=%d: five violations in a row; the base does not come back", r.seed, r.n)
		return false
	}
	r.m.portFault = false
	if err := r.reset(); err != nil {
		r.journal("RESET-FAILED seed=%d step=%d: %v", r.seed, r.n, err)
		return true
	}
	return true
}

func (r *run) pick(steps []step) step {
	var fit []step
	total := 0
	for _, s := range steps {
		if s.ok() {
			fit = append(fit, s)
			total += s.weight
		}
	}
	x := r.rng.IntN(total)
	for _, s := range fit {
		if x < s.weight {
			return s
		}
		x -= s.weight
	}
	return fit[len(fit)-1]
}

// ---- helpers ----

func (r *run) ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.w.ctx, d)
}

// waitFor polls cond (which describes what is still missing, "" when
// done) until done or d passes.
func (r *run) waitFor(what string, d time.Duration, cond func() string) error {
	deadline := time.Now().Add(d)
	for {
		miss := cond()
		if miss == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return violatef("timed out after %v waiting for %s: %s", d, what, miss)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// push publishes cfg and waits until the base applies it.
func (r *run) push(cfg *provisioning.Config) error {
	ctx, cancel := r.ctx(20 * time.Second)
	defer cancel()
	if _, err := r.w.cloud.Push(ctx, cfg, nil); err != nil {
		return violatef("configuration version %d not applied: %v", cfg.Version, err)
	}
	r.m.version = cfg.Version
	r.m.nextVersion = max(r.m.nextVersion, cfg.Version+1)
	r.m.dirty = false
	return nil
}

// pushModel publishes the model's configuration as the next version.
func (r *run) pushModel() error {
	return r.push(r.m.config(r.m.nextVersion, r.w.pbxAddr))
}

func (r *run) devByID(id string) *simDev {
	for _, d := range r.w.devs {
		if d.id == id {
			return d
		}
	}
	return nil
}

// usable says whether a device can ring or place a call now.
func (r *run) usable(id string) bool {
	m := r.m
	if m.callOf(id) != nil || m.extOf(id) == "" {
		return false
	}
	for _, c := range m.calls {
		if slices.Contains(c.maybe, id) {
			return false
		}
	}
	if id == provisioning.PortDeviceID {
		return !m.portFault
	}
	d := r.devByID(id)
	return d != nil && m.paired[d.name] && m.powered[d.name] && m.inRange[d.name]
}

func choose[T any](r *run, xs []T) T { return xs[r.rng.IntN(len(xs))] }

func (r *run) pairedDevs(f func(*simDev) bool) []*simDev {
	var out []*simDev
	for _, d := range r.w.devs {
		if r.m.paired[d.name] && (f == nil || f(d)) {
			out = append(out, d)
		}
	}
	return out
}

// windowOpen says whether the registration window is open; sure is false
// near its end, when the base may or may not have closed it yet.
func (r *run) windowOpen() (open, sure bool) {
	win := r.m.win
	if win == nil {
		return false, true
	}
	left := time.Until(win.closesAt)
	return true, left > 1500*time.Millisecond
}

// expireWindow waits out a window that ends within the next 1.5 s (or any
// open window when now is set) and checks its command timed out.
func (r *run) expireWindow(now bool) error {
	win := r.m.win
	if win == nil {
		return nil
	}
	if !now && time.Until(win.closesAt) > 1500*time.Millisecond {
		return nil
	}
	time.Sleep(time.Until(win.closesAt) + 1500*time.Millisecond)
	return r.endWindow(provisioning.StatusTimedOut, "")
}

// endWindow waits for the register-device command's final result.
func (r *run) endWindow(status, device string) error {
	win := r.m.win
	r.m.win = nil
	if win == nil {
		return nil
	}
	if win.lost {
		win.cancel()
		<-win.res
		return nil
	}
	var o cmdOutcome
	select {
	case o = <-win.res:
	case <-time.After(15 * time.Second):
		win.cancel()
		<-win.res
		return violatef("register-device %s: no final result (want %s)", win.cmdID, status)
	}
	win.cancel()
	if o.err != nil {
		return violatef("register-device %s: %v (want %s)", win.cmdID, o.err, status)
	}
	if o.r.Status != status {
		return violatef("register-device %s ended %s (%s), want %s", win.cmdID, o.r.Status, o.r.Reason, status)
	}
	if device != "" && (o.r.Device == nil || o.r.Device.ID != device) {
		return violatef("register-device %s paired %+v, want %s", win.cmdID, o.r.Device, device)
	}
	return nil
}

// ---- the steps ----

func (r *run) catalogue() []step {
	m, w := r.m, r.w
	always := func() bool { return true }
	unpaired := func() []*simDev {
		var out []*simDev
		for _, d := range w.devs {
			if !m.paired[d.name] && m.powered[d.name] && m.inRange[d.name] {
				out = append(out, d)
			}
		}
		return out
	}
	idlePhones := func() []string {
		var out []string
		for _, sp := range phoneExts {
			if m.callOfPhone(sp) == nil {
				out = append(out, sp)
			}
		}
		return out
	}
	// Extensions whose every device is idle and at least one can ring.
	callable := func() []string {
		var out []string
		for _, e := range baseExts {
			if m.extBusy(e) {
				continue
			}
			for _, id := range m.devicesOf(e) {
				if r.usable(id) {
					out = append(out, e)
					break
				}
			}
		}
		return out
	}
	callers := func() []string { // devices that can place a call (port, Linx)
		var out []string
		if r.usable(provisioning.PortDeviceID) {
			out = append(out, provisioning.PortDeviceID)
		}
		for _, d := range r.pairedDevs(func(d *simDev) bool { return d.kind == provisioning.DeviceLinx }) {
			if r.usable(d.id) {
				out = append(out, d.id)
			}
		}
		return out
	}
	inState := func(inbound bool, state string) []*call {
		var out []*call
		for _, c := range m.calls {
			if c.inbound == inbound && c.state == state {
				out = append(out, c)
			}
		}
		return out
	}
	connected := func() []*call {
		var out []*call
		for _, c := range m.calls {
			if c.state == "connected" {
				out = append(out, c)
			}
		}
		return out
	}
	noCalls := func() bool { return len(m.calls) == 0 }

	return []step{
		{"register", 6, always, r.stepRegister},
		{"pair", 5, func() bool { return len(unpaired()) > 0 }, func() (string, func() error) { return r.stepPair(choose(r, unpaired())) }},
		{"close-registration", 2, always, r.stepCloseRegistration},
		{"wait-window-expiry", 2, func() bool { return m.win != nil && time.Until(m.win.closesAt) < 5*time.Second }, func() (string, func() error) {
			return "wait until the registration window closes by itself", func() error { return r.expireWindow(true) }
		}},
		{"assign", 8, func() bool { return len(r.assignable()) > 0 }, r.stepAssign},
		{"unassign", 4, func() bool { return len(r.unassignable()) > 0 }, r.stepUnassign},
		{"remove-device", 3, func() bool { return len(r.removable()) > 0 }, func() (string, func() error) { return r.stepRemove(choose(r, r.removable())) }},
		{"remove-bad-device", 1, always, r.stepRemoveBad},
		{"push-valid", 3, func() bool { return len(r.liveExts()) > 0 }, r.stepPushValid},
		{"push-invalid", 3, always, r.stepPushInvalid},
		{"push-older", 2, always, r.stepPushOlder},
		{"push-duplicate", 2, always, r.stepPushDuplicate},
		{"duplicate-command", 1, always, r.stepDuplicateCommand},
		{"call-in", 10, func() bool { return len(idlePhones()) > 0 && len(callable()) > 0 }, func() (string, func() error) {
			return r.stepCallIn(choose(r, idlePhones()), choose(r, callable()))
		}},
		{"call-in-nobody", 1, func() bool { return len(idlePhones()) > 0 && len(r.deviceless()) > 0 }, func() (string, func() error) {
			return r.stepCallNobody(choose(r, idlePhones()), choose(r, r.deviceless()))
		}},
		{"answer", 10, func() bool { return len(inState(true, "ringing")) > 0 }, func() (string, func() error) {
			return r.stepAnswer(choose(r, inState(true, "ringing")))
		}},
		{"caller-gives-up", 3, func() bool { return len(inState(true, "ringing")) > 0 }, func() (string, func() error) {
			return r.stepCallerCancels(choose(r, inState(true, "ringing")))
		}},
		{"call-out", 8, func() bool { return len(idlePhones()) > 0 && len(callers()) > 0 }, func() (string, func() error) {
			return r.stepCallOut(choose(r, callers()), choose(r, idlePhones()))
		}},
		{"call-out-unassigned", 1, func() bool { return len(r.unassignedCallers()) > 0 }, func() (string, func() error) {
			return r.stepCallOutUnassigned(choose(r, r.unassignedCallers()))
		}},
		{"far-end-answers", 6, func() bool { return len(inState(false, "ringing")) > 0 }, func() (string, func() error) {
			return r.stepFarAnswers(choose(r, inState(false, "ringing")))
		}},
		{"far-end-rejects", 2, func() bool { return len(inState(false, "ringing")) > 0 }, func() (string, func() error) {
			return r.stepFarRejects(choose(r, inState(false, "ringing")))
		}},
		{"hang-up-device", 5, func() bool { return len(m.calls) > 0 }, func() (string, func() error) {
			return r.stepDeviceHangsUp(choose(r, m.calls))
		}},
		{"hang-up-far-end", 5, func() bool { return len(connected()) > 0 }, func() (string, func() error) {
			return r.stepFarHangsUp(choose(r, connected()))
		}},
		{"call-waiting", 2, func() bool { return len(r.cwCandidates()) > 0 }, func() (string, func() error) {
			return r.stepCallWaiting(choose(r, r.cwCandidates()))
		}},
		{"transfer", 1, func() bool { return len(r.cwCandidates()) > 0 }, func() (string, func() error) {
			return r.stepTransfer(choose(r, r.cwCandidates()))
		}},
		{"mwi", 4, always, r.stepMWI},
		{"delete-extension", 2, func() bool { return len(r.deletable()) > 0 }, func() (string, func() error) {
			return r.stepDeleteExtension(choose(r, r.deletable()))
		}},
		{"add-extension", 2, func() bool { return len(r.liveExts()) < len(baseExts) }, r.stepAddExtension},
		{"change-during-call", 2, func() bool { return len(r.changeable()) > 0 }, func() (string, func() error) {
			return r.stepChangeDuringCall(choose(r, r.changeable()))
		}},
		{"power", 3, func() bool { return len(r.pairedDevs(func(d *simDev) bool { return m.callOf(d.id) == nil })) > 0 }, r.stepPower},
		{"module-reset", 1, noCalls, r.stepModuleReset},
		{"line-fault", 1, func() bool { return m.callOf(provisioning.PortDeviceID) == nil }, r.stepLineFault},
		{"broker-restart", 1, always, r.stepBrokerRestart},
		{"pbx-outage", 1, noCalls, r.stepPBXOutage},
	}
}

// ---- registration mode and pairing ----

func (r *run) stepRegister() (string, func() error) {
	m, w := r.m, r.w
	winS := 10 + r.rng.IntN(3)
	pin := fmt.Sprintf("%04d", r.rng.IntN(10000))
	kind := "open"
	switch x := r.rng.IntN(10); {
	case m.win != nil:
		kind = "while-open"
	case x == 0:
		kind = "bad-window"
	case x == 1:
		kind = "bad-pin"
	}
	locked := time.Until(m.lockedUntil)
	if kind == "open" && locked > -500*time.Millisecond && locked < time.Second {
		time.Sleep(locked + 500*time.Millisecond) // too close to the lockout's end to tell
		locked = time.Until(m.lockedUntil)
	}
	nPaired := len(r.pairedDevs(nil))
	desc := fmt.Sprintf("register-device window %ds PIN %s (%s)", winS, pin, kind)
	return desc, func() error {
		id := w.cloud.NewCommandID()
		args := provisioning.RegisterDeviceArgs{WindowS: winS, PIN: pin}
		switch kind {
		case "bad-window":
			args.WindowS = []int{5, 121, 3600}[r.rng.IntN(3)]
		case "bad-pin":
			args.PIN = []string{"12a4", "123", "123456789"}[r.rng.IntN(3)]
		}
		ctx, cancel := context.WithTimeout(w.ctx, time.Duration(winS+30)*time.Second)
		accepted := make(chan provisioning.Result, 1)
		res := make(chan cmdOutcome, 1)
		go func() {
			rr, err := w.cloud.CommandID(ctx, baseID, id, provisioning.CmdRegisterDevice, args, func(p provisioning.Result) {
				if p.Status == provisioning.StatusAccepted {
					select {
					case accepted <- p:
					default:
					}
				}
			})
			res <- cmdOutcome{rr, err}
		}()
		wantFinal := ""
		switch {
		case kind == "while-open" || kind == "bad-window" || kind == "bad-pin":
			wantFinal = provisioning.StatusRejected
		case locked > 0:
			wantFinal = provisioning.StatusFailed
		case nPaired >= 6:
			wantFinal = provisioning.StatusFailed
		}
		if wantFinal != "" {
			defer cancel()
			select {
			case o := <-res:
				if o.err != nil {
					return violatef("register-device (%s): %v", kind, o.err)
				}
				if o.r.Status != wantFinal {
					return violatef("register-device (%s, %d paired, locked %v) ended %s (%s), want %s", kind, nPaired, locked > 0, o.r.Status, o.r.Reason, wantFinal)
				}
				return nil
			case <-accepted:
				cancel()
				<-res
				return violatef("register-device (%s, %d paired, locked %v) accepted, want %s", kind, nPaired, locked > 0, wantFinal)
			case <-ctx.Done():
				<-res
				return violatef("register-device (%s): no result", kind)
			}
		}
		select {
		case p := <-accepted:
			if p.ClosesAt == nil {
				cancel()
				<-res
				return violatef("register-device accepted without closes_at")
			}
			m.win = &window{pin: pin, closesAt: *p.ClosesAt, cmdID: id, res: res, cancel: cancel}
			// The module's window must be open before a device tries.
			return r.waitFor("the module's registration window", 5*time.Second, func() string {
				if !w.board.Radio.RegistrationOpen() {
					return "closed"
				}
				return ""
			})
		case o := <-res:
			cancel()
			if o.err != nil {
				return violatef("register-device: %v", o.err)
			}
			return violatef("register-device ended %s (%s), want accepted", o.r.Status, o.r.Reason)
		case <-time.After(15 * time.Second):
			cancel()
			<-res
			return violatef("register-device: not accepted within 15 s")
		}
	}
}

func (r *run) stepPair(d *simDev) (string, func() error) {
	m := r.m
	pin := fmt.Sprintf("%04d", r.rng.IntN(10000))
	if m.win != nil && r.rng.IntN(4) != 0 {
		pin = m.win.pin
	}
	right := m.win != nil && pin == m.win.pin
	open := m.win != nil
	locked := time.Now().Before(m.lockedUntil)
	return fmt.Sprintf("%s (%s) pairs with PIN %s (window open %v, right %v)", d.name, d.id, pin, open, right), func() error {
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		err := d.dev.Pair(ctx, pin)
		var pe *radio.PairError
		switch {
		case open && right && !locked:
			if err != nil {
				return violatef("pairing %s with the right PIN in an open window: %v", d.name, err)
			}
			m.paired[d.name] = true
			m.wrong = 0
			if err := r.endWindow(provisioning.StatusSucceeded, d.id); err != nil {
				return err
			}
			return r.waitAttached(d)
		case err == nil:
			m.paired[d.name] = true
			return violatef("%s paired with PIN %s (window open %v, right PIN %v, locked out %v)", d.name, pin, open, right, locked)
		case !errors.As(err, &pe):
			return violatef("pairing %s: %v, want a refusal", d.name, err)
		case open && !locked:
			m.wrong++
			if m.wrong >= 3 {
				m.wrong = 0
				m.lockedUntil = time.Now().Add(lockoutDuration)
				return r.endWindow(provisioning.StatusFailed, "")
			}
		}
		return nil
	}
}

func (r *run) waitAttached(d *simDev) error {
	return r.waitFor(d.name+" attached", 10*time.Second, func() string {
		if st := d.dev.State(); !st.Attached {
			return fmt.Sprintf("%+v", st)
		}
		return ""
	})
}

func (r *run) stepCloseRegistration() (string, func() error) {
	return fmt.Sprintf("close-registration (window open %v)", r.m.win != nil), func() error {
		if win := r.m.win; win != nil && time.Until(win.closesAt) < 3*time.Second {
			// Too close to its end to tell which closes it: let it expire.
			if err := r.expireWindow(true); err != nil {
				return err
			}
		}
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		res, err := r.w.cloud.Command(ctx, baseID, provisioning.CmdCloseRegistration, nil, nil)
		if err != nil {
			return violatef("close-registration: %v", err)
		}
		if res.Status != provisioning.StatusSucceeded {
			return violatef("close-registration ended %s (%s)", res.Status, res.Reason)
		}
		return r.endWindow(provisioning.StatusFailed, "")
	}
}

func (r *run) stepDuplicateCommand() (string, func() error) {
	return "page twice with the same command id", func() error {
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		id := r.w.cloud.NewCommandID()
		args := provisioning.PageArgs{DurationS: 1}
		first, err := r.w.cloud.CommandID(ctx, baseID, id, provisioning.CmdPage, args, nil)
		if err != nil {
			return violatef("page: %v", err)
		}
		again, err := r.w.cloud.CommandID(ctx, baseID, id, provisioning.CmdPage, args, nil)
		if err != nil {
			return violatef("page again: %v", err)
		}
		if !again.Duplicate || again.Status != first.Status {
			return violatef("the same command id again: %+v, want the first result (%s) marked duplicate", again, first.Status)
		}
		return nil
	}
}

// ---- assignment ----

type assignment struct {
	id, ext string
	t       provisioning.DeviceType
}

func (r *run) assignable() []assignment {
	m := r.m
	var out []assignment
	ids := []struct {
		id string
		t  provisioning.DeviceType
	}{{provisioning.PortDeviceID, provisioning.DevicePort}}
	for _, d := range r.pairedDevs(nil) {
		ids = append(ids, struct {
			id string
			t  provisioning.DeviceType
		}{d.id, d.kind})
	}
	for _, x := range ids {
		if m.extOf(x.id) != "" {
			continue
		}
		for _, e := range baseExts {
			if !m.deleted[e] && m.assign[e].Get(x.t) == "" {
				out = append(out, assignment{x.id, e, x.t})
			}
		}
	}
	return out
}

func (r *run) stepAssign() (string, func() error) {
	a := choose(r, r.assignable())
	viaHelper := !r.m.dirty && r.rng.IntN(2) == 0
	return fmt.Sprintf("assign %s to %s (cloud helper %v)", a.id, a.ext, viaHelper), func() error {
		m := r.m
		d := m.assign[a.ext]
		_ = d.Set(a.t, a.id)
		m.assign[a.ext] = d
		r.joinRinging(a.id)
		if viaHelper {
			ctx, cancel := r.ctx(20 * time.Second)
			defer cancel()
			cfg, err := r.w.cloud.AssignDevice(ctx, baseID, a.ext, a.id)
			if err != nil {
				return violatef("assign %s to %s: %v", a.id, a.ext, err)
			}
			m.version, m.nextVersion = cfg.Version, max(m.nextVersion, cfg.Version+1)
			return nil
		}
		return r.pushModel()
	}
}

// unassignable devices carry no call and belong to an extension with none
// (taking a device away during a call defers the change).
func (r *run) unassignable() []string {
	var out []string
	for _, e := range baseExts {
		if r.m.extBusy(e) {
			continue
		}
		out = append(out, r.m.devicesOf(e)...)
	}
	return out
}

func (r *run) stepUnassign() (string, func() error) {
	id := choose(r, r.unassignable())
	ext := r.m.extOf(id)
	viaHelper := !r.m.dirty && r.rng.IntN(2) == 0
	return fmt.Sprintf("unassign %s from %s (cloud helper %v)", id, ext, viaHelper), func() error {
		m := r.m
		m.unassign(id)
		if viaHelper {
			ctx, cancel := r.ctx(20 * time.Second)
			defer cancel()
			cfg, err := r.w.cloud.UnassignDevice(ctx, baseID, ext, id)
			if err != nil {
				return violatef("unassign %s from %s: %v", id, ext, err)
			}
			m.version, m.nextVersion = cfg.Version, max(m.nextVersion, cfg.Version+1)
			return nil
		}
		return r.pushModel()
	}
}

func (r *run) removable() []*simDev {
	return r.pairedDevs(func(d *simDev) bool {
		e := r.m.extOf(d.id)
		return r.m.callOf(d.id) == nil && (e == "" || !r.m.extBusy(e))
	})
}

func (r *run) stepRemove(d *simDev) (string, func() error) {
	ext := r.m.extOf(d.id)
	return fmt.Sprintf("remove-device %s (%s, on %q)", d.id, d.name, ext), func() error {
		m := r.m
		if m.dirty {
			// The portal's helper builds on the desired document: make it
			// the applied one again first.
			if err := r.pushModel(); err != nil {
				return err
			}
		}
		ctx, cancel := r.ctx(30 * time.Second)
		defer cancel()
		res, err := r.w.cloud.RemoveDevice(ctx, baseID, d.id)
		m.paired[d.name] = false
		if ext != "" {
			m.unassign(d.id)
		}
		if err != nil {
			return violatef("remove-device %s: %v", d.id, err)
		}
		if ext != "" {
			// The portal published the next version without it: the next
			// after every version the base has seen, which need not be
			// the model's version + 1 (a rejected one is skipped).
			cfg, err := r.w.cloud.Desired(ctx, baseID)
			if err != nil {
				return violatef("remove-device %s: reading the version the portal published: %v", d.id, err)
			}
			if cfg.Version <= m.version || cfg.ExtensionOf(d.id) != nil {
				return violatef("remove-device %s: the portal's desired configuration is v%d (applied v%d) with the device on %v", d.id, cfg.Version, m.version, cfg.ExtensionOf(d.id))
			}
			m.version = cfg.Version
			m.nextVersion = max(m.nextVersion, m.version+1)
		}
		if res.Status != provisioning.StatusSucceeded {
			return violatef("remove-device %s ended %s (%s)", d.id, res.Status, res.Reason)
		}
		if ext != "" && !slices.Equal(res.Unassigned, []string{ext}) {
			return violatef("remove-device %s unassigned %v, want [%s]", d.id, res.Unassigned, ext)
		}
		if !m.powered[d.name] || !m.inRange[d.name] {
			return nil // it keeps its subscription until it hears the base again
		}
		return r.waitFor(d.name+" deregistered", 10*time.Second, func() string {
			if st := d.dev.State(); st.Registered || st.Attached {
				return fmt.Sprintf("%+v", st)
			}
			return ""
		})
	}
}

func (r *run) stepRemoveBad() (string, func() error) {
	id, want := "dect-0000fffff", provisioning.StatusFailed
	if r.rng.IntN(2) == 0 {
		id, want = provisioning.PortDeviceID, provisioning.StatusRejected
	}
	return "remove-device " + id + " (want " + want + ")", func() error {
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		res, err := r.w.cloud.Command(ctx, baseID, provisioning.CmdRemoveDevice, provisioning.RemoveDeviceArgs{Device: id}, nil)
		if err != nil {
			return violatef("remove-device %s: %v", id, err)
		}
		if res.Status != want {
			return violatef("remove-device %s ended %s (%s), want %s", id, res.Status, res.Reason, want)
		}
		return nil
	}
}

// ---- configuration pushes ----

func (r *run) stepPushValid() (string, func() error) {
	ext := choose(r, r.liveExts())
	cid := fmt.Sprintf("+1613555%04d", r.rng.IntN(10000))
	return fmt.Sprintf("push v%d: %s's caller ID %s", r.m.nextVersion, ext, cid), func() error {
		r.m.callerID[ext] = cid
		return r.pushModel()
	}
}

func (r *run) stepPushInvalid() (string, func() error) {
	m, w := r.m, r.w
	kinds := []string{"two-devices-of-a-type", "device-twice", "unknown-device", "bad-caller-id", "other-base", "bad-schema", "unknown-field", "malformed"}
	kind := choose(r, kinds)
	v := m.nextVersion
	return fmt.Sprintf("push invalid v%d (%s)", v, kind), func() error {
		cfg := m.config(v, w.pbxAddr)
		var raw []byte
		e := &cfg.Extensions[r.rng.IntN(len(cfg.Extensions))]
		switch kind {
		case "two-devices-of-a-type":
			// The port on two extensions and an unknown Linx: the base
			// checks both rules.
			e.Devices.Port = provisioning.PortDeviceID
			for i := range cfg.Extensions {
				if &cfg.Extensions[i] != e {
					cfg.Extensions[i].Devices.Port = provisioning.PortDeviceID
					break
				}
			}
		case "device-twice":
			cfg.Extensions[0].Devices.Linx = "dect-00000abcd"
			cfg.Extensions[len(cfg.Extensions)-1].Devices.Linx = "dect-00000abcd"
		case "unknown-device":
			e.Devices.Headset = "dect-0000fffff"
		case "bad-caller-id":
			e.CallerID = "not a number"
		case "other-base":
			cfg.Base = "base-other"
		case "bad-schema":
			cfg.Schema = 99
		case "unknown-field":
			b, _ := json.Marshal(cfg)
			raw = append(b[:len(b)-1], []byte(`,"surprise":true}`)...)
		case "malformed":
			b, _ := json.Marshal(cfg)
			raw = b[:len(b)/2]
		}
		if raw == nil {
			raw, _ = json.Marshal(cfg)
		}
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		if err := w.cloud.PublishRaw(ctx, provisioning.TopicsFor(baseID).Desired, raw, true); err != nil {
			return violatef("publishing: %v", err)
		}
		m.dirty = true
		m.nextVersion = v + 1
		if kind == "malformed" {
			// No version to name: wait until the rejection is reported.
			time.Sleep(100 * time.Millisecond)
			return nil
		}
		return r.waitFor(fmt.Sprintf("v%d rejected", v), settle, func() string {
			st, err := w.cloud.State(ctx, baseID)
			if err != nil {
				return err.Error()
			}
			if st.Config.Rejected == nil || st.Config.Rejected.Version != v {
				return fmt.Sprintf("rejected %+v, applied %d", st.Config.Rejected, st.Config.AppliedVersion)
			}
			return ""
		})
	}
}

func (r *run) stepPushOlder() (string, func() error) {
	m, w := r.m, r.w
	old := uint64(1 + r.rng.IntN(int(m.version)))
	return fmt.Sprintf("push older v%d (applied v%d) with every device unassigned", old, m.version), func() error {
		cfg := m.config(old, w.pbxAddr)
		for i := range cfg.Extensions {
			cfg.Extensions[i].Devices = provisioning.Devices{}
		}
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		if err := w.cloud.Publish(ctx, cfg); err != nil {
			return violatef("publishing: %v", err)
		}
		m.dirty = true
		time.Sleep(100 * time.Millisecond)
		return nil
	}
}

func (r *run) stepPushDuplicate() (string, func() error) {
	return fmt.Sprintf("push v%d again (duplicate)", r.m.version), func() error {
		return r.push(r.m.config(r.m.version, r.w.pbxAddr))
	}
}

// ---- calls ----

// joinRinging notes a device that just became able to ring while a call
// rings for its extension: the base may offer it the call (a DECT device
// back in range does; docs say nothing of a device assigned meanwhile), so
// both ringing and idle are right for it until the call is answered.
func (r *run) joinRinging(id string) {
	ext := r.m.extOf(id)
	if ext == "" || !r.usable(id) {
		return
	}
	for _, c := range r.m.calls {
		if c.ext == ext && c.inbound && c.state == "ringing" {
			c.maybe = append(c.maybe, id)
		}
	}
}

func (r *run) deviceless() []string {
	var out []string
	for _, e := range baseExts {
		if len(r.m.devicesOf(e)) == 0 {
			out = append(out, e)
		}
	}
	return out
}

// ringsFor lists the devices that must ring for a call to ext.
func (r *run) ringsFor(ext string) []string {
	var out []string
	for _, id := range r.m.devicesOf(ext) {
		if r.usable(id) {
			out = append(out, id)
		}
	}
	return out
}

// deviceCall is what a device's user sees of its call.
func (r *run) deviceCall(id string) string {
	return r.devByID(id).dev.State().Call
}

func (r *run) stepCallIn(sp, ext string) (string, func() error) {
	rings := r.ringsFor(ext)
	return fmt.Sprintf("%s calls %s: %v ring", sp, ext, rings), func() error {
		w, m := r.w, r.m
		if err := r.waitRegistered(ext); err != nil {
			return err
		}
		c := &call{sp: sp, ext: ext, inbound: true, state: "ringing", ringing: rings, spResult: make(chan error, 1)}
		m.calls = append(m.calls, c)
		p := w.phones[sp]
		go func() {
			ctx, cancel := context.WithTimeout(w.ctx, 2*time.Minute)
			defer cancel()
			c.spResult <- p.Call(ctx, ext)
		}()
		ended := ""
		return r.waitFor(fmt.Sprintf("%v ringing for %s", rings, sp), settle, func() string {
			var miss []string
			for _, id := range rings {
				if id == provisioning.PortDeviceID {
					continue // the analog ring is checked on the reported line
				}
				if got := r.deviceCall(id); got != radio.CallRinging {
					miss = append(miss, id+" "+got)
				}
			}
			if st := p.State(); st != softphone.Alerting {
				miss = append(miss, sp+" "+string(st))
			}
			if c.spResult != nil {
				select {
				case err := <-c.spResult:
					c.spResult = nil
					m.removeCall(c)
					ended = fmt.Sprintf("%s's call ended: %v", sp, err)
				default:
				}
			}
			if ended != "" {
				return ended
			}
			return strings.Join(miss, ", ")
		})
	}
}

func (r *run) waitRegistered(ext string) error {
	return r.waitFor(ext+" registered at the PBX", 15*time.Second, func() string {
		if !r.w.baseBindings()[ext] {
			return "no binding"
		}
		return ""
	})
}

func (r *run) stepCallNobody(sp, ext string) (string, func() error) {
	return fmt.Sprintf("%s calls %s, which has no device on the base", sp, ext), func() error {
		ctx, cancel := r.ctx(20 * time.Second)
		defer cancel()
		err := r.w.phones[sp].Call(ctx, ext)
		var ce *softphone.CallError
		if !errors.As(err, &ce) {
			if err == nil {
				_ = r.w.phones[sp].Hangup(ctx)
			}
			return violatef("%s's call to %s: %v, want a refusal", sp, ext, err)
		}
		return nil
	}
}

func (r *run) stepAnswer(c *call) (string, func() error) {
	id := choose(r, c.ringing)
	return fmt.Sprintf("%s answers %s's call to %s", id, c.sp, c.ext), func() error {
		var err error
		if id == provisioning.PortDeviceID {
			r.w.board.Phone.OffHook()
		} else {
			err = r.devByID(id).dev.Answer()
		}
		if err != nil {
			return violatef("answering on %s: %v", id, err)
		}
		c.state, c.dev, c.ringing = "connected", id, nil
		select {
		case err := <-c.spResult:
			c.spResult = nil
			if err != nil {
				r.m.removeCall(c)
				return violatef("%s's call answered on %s: %v", c.sp, id, err)
			}
		case <-time.After(settle):
			return violatef("%s's call not connected %v after %s answered", c.sp, settle, id)
		}
		return nil
	}
}

func (r *run) stepCallerCancels(c *call) (string, func() error) {
	return fmt.Sprintf("%s gives up calling %s", c.sp, c.ext), func() error {
		ctx, cancel := r.ctx(10 * time.Second)
		defer cancel()
		if err := r.w.phones[c.sp].Hangup(ctx); err != nil {
			return violatef("%s cancelling: %v", c.sp, err)
		}
		r.m.removeCall(c)
		select {
		case <-c.spResult:
			c.spResult = nil
		case <-time.After(settle):
			return violatef("%s's cancelled call did not end", c.sp)
		}
		return r.waitFor("nothing rings", settle, func() string {
			for _, id := range c.ringing {
				if id != provisioning.PortDeviceID && r.deviceCall(id) == radio.CallRinging {
					return id + " rings"
				}
			}
			return ""
		})
	}
}

func (r *run) unassignedCallers() []string {
	var out []string
	if r.m.extOf(provisioning.PortDeviceID) == "" && !r.m.portFault && r.m.callOf(provisioning.PortDeviceID) == nil {
		out = append(out, provisioning.PortDeviceID)
	}
	for _, d := range r.pairedDevs(func(d *simDev) bool { return d.kind == provisioning.DeviceLinx }) {
		if r.m.extOf(d.id) == "" && r.m.powered[d.name] && r.m.inRange[d.name] {
			out = append(out, d.id)
		}
	}
	return out
}

func (r *run) stepCallOut(id, sp string) (string, func() error) {
	ext := r.m.extOf(id)
	return fmt.Sprintf("%s (%s) calls %s", id, ext, sp), func() error {
		w, m := r.w, r.m
		if err := r.waitRegistered(ext); err != nil {
			return err
		}
		c := &call{sp: sp, ext: ext, state: "ringing", dev: id}
		m.calls = append(m.calls, c)
		ctx, cancel := r.ctx(15 * time.Second)
		defer cancel()
		if id == provisioning.PortDeviceID {
			ph := w.board.Phone
			ph.OffHook()
			if err := r.waitFor("dial tone", 5*time.Second, func() string {
				if h := ph.State().Hearing; h != "dial" && h != "stutter-dial" {
					return "hearing " + h
				}
				return ""
			}); err != nil {
				return err
			}
			if err := ph.DialDTMF(ctx, sp); err != nil {
				return violatef("dialing %s: %v", sp, err)
			}
		} else {
			d := r.devByID(id).dev
			if err := d.OffHook(); err != nil {
				return violatef("%s off-hook: %v", id, err)
			}
			if _, err := d.Wait(ctx, func(s radio.DeviceState) bool { return s.Call == radio.CallDialing }); err != nil {
				return violatef("%s never got dial tone: %+v", id, d.State())
			}
			if err := d.Dial(sp + "#"); err != nil {
				return violatef("%s dialing: %v", id, err)
			}
		}
		return r.waitFor(sp+" rings", settle, func() string {
			if st := w.phones[sp].State(); st != softphone.Incoming {
				return string(st)
			}
			return ""
		})
	}
}

func (r *run) idlePhone() string {
	for _, sp := range phoneExts {
		if r.m.callOfPhone(sp) == nil {
			return sp
		}
	}
	return ""
}

func (r *run) stepCallOutUnassigned(id string) (string, func() error) {
	return fmt.Sprintf("%s, assigned to no extension, goes off-hook", id), func() error {
		w := r.w
		ctx, cancel := r.ctx(10 * time.Second)
		defer cancel()
		if id == provisioning.PortDeviceID {
			ph := w.board.Phone
			ph.OffHook()
			defer ph.OnHook()
			return r.waitFor("out-of-service tone", 5*time.Second, func() string {
				if h := ph.State(); h.Hearing != "sit" && h.SIT == "" {
					return "hearing " + h.Hearing
				}
				return ""
			})
		}
		d := r.devByID(id).dev
		if err := d.OffHook(); err != nil {
			return violatef("%s off-hook: %v", id, err)
		}
		defer d.HangUp()
		// The base answers with the out-of-service tone (or releases the
		// call); digits dialled then reach nobody.
		if _, err := d.Wait(ctx, func(s radio.DeviceState) bool { return s.Call == radio.CallIdle || s.Tone == "sit" }); err != nil {
			return violatef("%s: no out-of-service answer: %+v", id, d.State())
		}
		if sp := r.idlePhone(); sp != "" && d.State().Call == radio.CallDialing {
			if err := d.Dial(sp + "#"); err != nil {
				return violatef("%s dialing: %v", id, err)
			}
			time.Sleep(300 * time.Millisecond)
			if st := w.phones[sp].State(); st != softphone.Idle {
				return violatef("an unassigned %s called %s: %s", id, sp, st)
			}
		}
		return nil
	}
}

func (r *run) stepFarAnswers(c *call) (string, func() error) {
	return fmt.Sprintf("%s answers %s's call", c.sp, c.dev), func() error {
		p := r.w.phones[c.sp]
		if err := p.Answer(); err != nil {
			return violatef("%s answering: %v", c.sp, err)
		}
		c.state = "connected"
		return r.waitFor(c.sp+" connected", settle, func() string {
			if st := p.State(); st != softphone.Connected {
				return string(st)
			}
			return ""
		})
	}
}

func (r *run) stepFarRejects(c *call) (string, func() error) {
	code := choose(r, []int{486, 603, 480})
	return fmt.Sprintf("%s rejects %s's call with %d; %s hangs up", c.sp, c.dev, code, c.dev), func() error {
		if err := r.w.phones[c.sp].Reject(code); err != nil {
			return violatef("%s rejecting: %v", c.sp, err)
		}
		r.m.removeCall(c)
		if c.dev == provisioning.PortDeviceID {
			// The person hears busy or reorder and hangs up.
			if err := r.waitFor("busy tone", 5*time.Second, func() string {
				if h := r.w.board.Phone.State().Hearing; !strings.Contains(h, "busy") && !strings.Contains(h, "reorder") {
					return "hearing " + h
				}
				return ""
			}); err != nil {
				return err
			}
		}
		return r.putDown(c.dev)
	}
}

// putDown hangs a device up (the person puts the phone down).
func (r *run) putDown(id string) error {
	if id == provisioning.PortDeviceID {
		r.w.board.Phone.OnHook()
		return nil
	}
	if err := r.devByID(id).dev.HangUp(); err != nil {
		return violatef("%s hanging up: %v", id, err)
	}
	return nil
}

func (r *run) stepDeviceHangsUp(c *call) (string, func() error) {
	id := c.dev
	if id == "" {
		// Declining a ringing call on a DECT device it rings on.
		var dects []string
		for _, x := range c.ringing {
			if x != provisioning.PortDeviceID {
				dects = append(dects, x)
			}
		}
		if len(dects) == 0 || len(c.ringing) < 2 {
			return fmt.Sprintf("%s gives up calling %s (nothing to decline on)", c.sp, c.ext), func() error {
				_, act := r.stepCallerCancels(c)
				return act()
			}
		}
		id = choose(r, dects)
		return fmt.Sprintf("%s declines %s's call to %s; the others ring on", id, c.sp, c.ext), func() error {
			if err := r.devByID(id).dev.Decline(); err != nil {
				return violatef("%s declining: %v", id, err)
			}
			c.ringing = slices.DeleteFunc(c.ringing, func(x string) bool { return x == id })
			return nil
		}
	}
	return fmt.Sprintf("%s hangs up its call with %s (%s)", id, c.sp, c.state), func() error {
		r.m.removeCall(c)
		if err := r.putDown(id); err != nil {
			return err
		}
		return r.waitFor(c.sp+" idle", settle, func() string {
			if st := r.w.phones[c.sp].State(); st != softphone.Idle {
				return string(st)
			}
			return ""
		})
	}
}

func (r *run) stepFarHangsUp(c *call) (string, func() error) {
	return fmt.Sprintf("%s hangs up its call with %s; %s is put down", c.sp, c.dev, c.dev), func() error {
		ctx, cancel := r.ctx(10 * time.Second)
		defer cancel()
		if err := r.w.phones[c.sp].Hangup(ctx); err != nil {
			return violatef("%s hanging up: %v", c.sp, err)
		}
		r.m.removeCall(c)
		if c.dev != provisioning.PortDeviceID {
			d := r.devByID(c.dev).dev
			if _, err := d.Wait(ctx, func(s radio.DeviceState) bool { return s.Call == radio.CallIdle }); err != nil {
				return violatef("%s not released after %s hung up: %+v", c.dev, c.sp, d.State())
			}
		}
		return r.putDown(c.dev)
	}
}

// cwCandidates are connected calls on the port whose extension has no
// other device that could ring, with the other softphone free.
func (r *run) cwCandidates() []*call {
	var out []*call
	for _, c := range r.m.calls {
		if c.dev != provisioning.PortDeviceID || c.state != "connected" {
			continue
		}
		other := phoneExts[0]
		if other == c.sp {
			other = phoneExts[1]
		}
		if r.m.callOfPhone(other) != nil {
			continue
		}
		alone := true
		for _, id := range r.m.devicesOf(c.ext) {
			if id != provisioning.PortDeviceID && r.usable(id) {
				alone = false
			}
		}
		if alone {
			out = append(out, c)
		}
	}
	return out
}

func otherPhone(sp string) string {
	if sp == phoneExts[0] {
		return phoneExts[1]
	}
	return phoneExts[0]
}

func (r *run) stepCallWaiting(c *call) (string, func() error) {
	sp2 := otherPhone(c.sp)
	giveUp := r.rng.IntN(3) == 0
	return fmt.Sprintf("call waiting: %s calls %s during its call with %s; give up %v, else flash, flash, %s hangs up", sp2, c.ext, c.sp, giveUp, sp2), func() error {
		w, m := r.w, r.m
		ph := w.board.Phone
		p2 := w.phones[sp2]
		res := make(chan error, 1)
		cctx, ccancel := context.WithTimeout(w.ctx, time.Minute)
		joined := false
		defer func() {
			ccancel()
			if !joined {
				<-res // the second caller's goroutine is the step's
			}
		}()
		t0, under0 := time.Now(), w.board.SLIC.Stats().PCMUnderruns
		go func() { res <- p2.Call(cctx, c.ext) }()
		c2 := &call{sp: sp2, ext: c.ext, inbound: true, state: "waiting"}
		m.calls = append(m.calls, c2)
		defer m.removeCall(c2)
		ctx, cancel := r.ctx(20 * time.Second)
		defer cancel()
		if err := r.waitFor("the call-waiting caller ID", settle, func() string {
			if st := ph.State(); st.CallerID == nil || !st.CallerID.CallWaiting || st.CallerID.Number != sp2 {
				return fmt.Sprintf("caller ID %+v (the phone has acknowledged %d CAS in all)", st.CallerID, st.CASAcks)
			}
			return ""
		}); err != nil {
			// The CAS/ACK exchange is real-time audio: when the processes
			// are starved (the PCM frame clock finds no frame from the
			// base, or the phone hears the CAS cut or stretched), the
			// phone does not acknowledge and the base, as it must, sends
			// no caller ID (FINDINGS F14). That is the simulation losing
			// real time, not the base failing: noted, and the second
			// caller gives up. A CAS heard whole without an ACK, or none
			// heard with the frame clock on time, stays a violation.
			// What the phone heard since the call came, to tell a CAS
			// never played from one heard and not answered.
			var heard []string
			for _, sg := range ph.Segments() {
				if sg.Start.After(t0) {
					heard = append(heard, fmt.Sprintf("%s%s@+%v/%v", sg.Label, sg.Digit, sg.Start.Sub(t0).Round(time.Millisecond), sg.Dur.Round(time.Millisecond)))
				}
			}
			err = fmt.Errorf("%w; the phone heard %v", err, heard)
			if why := r.cwStarved(t0, under0); why != "" {
				r.journal("NOTE seed=%d step=%d: call-waiting caller ID lost to a starved audio path (%s)", r.seed, r.n, why)
				if err := p2.Hangup(ctx); err != nil {
					return violatef("%s cancelling: %v", sp2, err)
				}
				joined = true
				<-res
				return nil
			}
			return err
		}
		if giveUp {
			if err := p2.Hangup(ctx); err != nil {
				return violatef("%s cancelling: %v", sp2, err)
			}
			joined = true
			<-res
			return nil
		}
		if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
			return violatef("flash: %v", err)
		}
		select {
		case err := <-res:
			joined = true
			if err != nil {
				return violatef("%s's waiting call answered by flash: %v", sp2, err)
			}
		case <-time.After(settle):
			return violatef("%s's waiting call not answered by flash", sp2)
		}
		if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
			return violatef("flash back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		if err := p2.Hangup(ctx); err != nil {
			return violatef("%s hanging up: %v", sp2, err)
		}
		return r.waitFor(c.sp+" still connected, "+sp2+" idle", settle, func() string {
			if st := p2.State(); st != softphone.Idle {
				return sp2 + " " + string(st)
			}
			if st := w.phones[c.sp].State(); st != softphone.Connected {
				return c.sp + " " + string(st)
			}
			return ""
		})
	}
}

// cwStarved says why a call-waiting alert since t0 was distorted by the
// simulation losing real time ("" if it was not): PCM underruns (frames
// the base did not deliver in time) or a CAS the phone heard outside the
// 50–130 ms it accepts.
func (r *run) cwStarved(t0 time.Time, under0 int) string {
	var why []string
	if n := r.w.board.SLIC.Stats().PCMUnderruns - under0; n > 0 {
		why = append(why, fmt.Sprintf("%d PCM underruns", n))
	}
	for _, sg := range r.w.board.Phone.Segments() {
		if sg.Label == phone.ToneCAS && sg.Start.After(t0) && (sg.Dur < 50*time.Millisecond || sg.Dur > 130*time.Millisecond) {
			why = append(why, fmt.Sprintf("a CAS of %v", sg.Dur.Round(time.Millisecond)))
		}
	}
	return strings.Join(why, ", ")
}

func (r *run) stepTransfer(c *call) (string, func() error) {
	sp2 := otherPhone(c.sp)
	return fmt.Sprintf("transfer: the port flashes, dials %s, hangs up; %s answers and talks to %s, then hangs up", sp2, sp2, c.sp), func() error {
		w, m := r.w, r.m
		ph := w.board.Phone
		ctx, cancel := r.ctx(20 * time.Second)
		defer cancel()
		if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
			return violatef("flash: %v", err)
		}
		if err := r.waitFor("dial tone after flash", 5*time.Second, func() string {
			if h := ph.State().Hearing; h != "dial" && h != "stutter-dial" {
				return "hearing " + h
			}
			return ""
		}); err != nil {
			return err
		}
		if err := ph.DialDTMF(ctx, sp2); err != nil {
			return violatef("dialing %s: %v", sp2, err)
		}
		ph.OnHook()
		m.removeCall(c)
		p2 := w.phones[sp2]
		if err := r.waitFor(sp2+" rings", settle, func() string {
			if st := p2.State(); st != softphone.Incoming {
				return string(st)
			}
			return ""
		}); err != nil {
			return err
		}
		if err := p2.Answer(); err != nil {
			return violatef("%s answering: %v", sp2, err)
		}
		if err := r.waitFor(c.sp+" and "+sp2+" connected", settle, func() string {
			if st := p2.State(); st != softphone.Connected {
				return sp2 + " " + string(st)
			}
			if st := w.phones[c.sp].State(); st != softphone.Connected {
				return c.sp + " " + string(st)
			}
			return ""
		}); err != nil {
			return err
		}
		// The stand-in PBX carries out the REFER itself: it calls the
		// target, re-INVITEs the transferee with the target's answer and
		// only then swaps the legs. A transferee hanging up before that
		// ends the old call and leaves the target's new leg behind (a
		// limit of sim/pbx, nothing the base takes part in), so the walk
		// waits for the swap.
		if err := r.waitFor("the PBX to complete the transfer to "+sp2, settle, func() string {
			p := w.thePBX()
			if p == nil {
				return "no PBX"
			}
			for _, ci := range p.Calls() {
				if ci.TransferredTo == sp2 && ci.Ended.IsZero() {
					return ""
				}
			}
			return "not yet"
		}); err != nil {
			return err
		}
		if err := w.phones[c.sp].Hangup(ctx); err != nil {
			return violatef("%s hanging up: %v", c.sp, err)
		}
		return r.waitFor(sp2+" idle", settle, func() string {
			if st := p2.State(); st != softphone.Idle {
				return string(st)
			}
			return ""
		})
	}
}

func (r *run) liveExts() []string {
	var out []string
	for _, e := range baseExts {
		if !r.m.deleted[e] {
			out = append(out, e)
		}
	}
	return out
}

func (r *run) deletable() []string {
	var out []string
	for _, e := range r.liveExts() {
		if !r.m.extBusy(e) {
			out = append(out, e)
		}
	}
	return out
}

func (r *run) stepDeleteExtension(ext string) (string, func() error) {
	viaHelper := !r.m.dirty && r.rng.IntN(2) == 0
	return fmt.Sprintf("delete extension %s with its devices %v (cloud helper %v)", ext, r.m.devicesOf(ext), viaHelper), func() error {
		m := r.m
		m.deleted[ext] = true
		m.assign[ext] = provisioning.Devices{}
		if viaHelper {
			ctx, cancel := r.ctx(20 * time.Second)
			defer cancel()
			cfg, err := r.w.cloud.DeleteExtension(ctx, baseID, ext)
			if err != nil {
				return violatef("delete extension %s: %v", ext, err)
			}
			m.version, m.nextVersion = cfg.Version, max(m.nextVersion, cfg.Version+1)
			return nil
		}
		return r.pushModel()
	}
}

func (r *run) stepAddExtension() (string, func() error) {
	var gone []string
	for _, e := range baseExts {
		if r.m.deleted[e] {
			gone = append(gone, e)
		}
	}
	ext := choose(r, gone)
	return fmt.Sprintf("add extension %s again, with no device", ext), func() error {
		r.m.deleted[ext] = false
		return r.pushModel()
	}
}

// changeable is the connected calls whose device carries no other call
// (held or waiting): taking the device away waits for this call alone.
func (r *run) changeable() []*call {
	var out []*call
	for _, c := range r.m.calls {
		if c.state == "connected" && !r.otherCall(c, func(o *call) bool { return o.dev == c.dev }) {
			out = append(out, c)
		}
	}
	return out
}

// otherCall reports whether a call other than c matches.
func (r *run) otherCall(c *call, match func(*call) bool) bool {
	for _, o := range r.m.calls {
		if o != c && match(o) {
			return true
		}
	}
	return false
}

// stepChangeDuringCall takes the device carrying a call away from its
// extension, or deletes the extension: the base must defer the change
// (reported pending, waiting for the extension) until the call ends, and
// apply it then. The extension is deleted only when this is its one call:
// a deletion waits for every call of the extension (the walk once
// expected it applied while another device of the extension was still
// dialing: FINDINGS F10).
func (r *run) stepChangeDuringCall(c *call) (string, func() error) {
	del := r.rng.IntN(2) == 0 && !r.otherCall(c, func(o *call) bool { return o.ext == c.ext })
	what := "unassign " + c.dev + " from " + c.ext
	if del {
		what = "delete extension " + c.ext
	}
	hangDev := r.rng.IntN(2) == 0
	return fmt.Sprintf("during %s's call with %s: %s (deferred), then the call ends (device side %v)", c.dev, c.sp, what, hangDev), func() error {
		m, w := r.m, r.w
		v := m.nextVersion
		m.nextVersion++
		if del {
			m.deleted[c.ext] = true
			m.assign[c.ext] = provisioning.Devices{}
		} else {
			m.unassign(c.dev)
		}
		cfg := m.config(v, w.pbxAddr)
		m.dirty = true
		ctx, cancel := r.ctx(60 * time.Second)
		pushed := make(chan error, 1)
		joined := false
		defer func() {
			cancel()
			if !joined {
				<-pushed // the push goroutine is the step's: it ends with ctx
			}
		}()
		pending := make(chan provisioning.Pending, 1)
		go func() {
			_, err := w.cloud.Push(ctx, cfg, func(p provisioning.Pending) { pending <- p })
			pushed <- err
		}()
		select {
		case p := <-pending:
			if !slices.Equal(p.WaitingFor, []string{c.ext}) {
				return violatef("v%d pending waiting for %v, want [%s]", v, p.WaitingFor, c.ext)
			}
		case err := <-pushed:
			joined = true
			return violatef("v%d, which drops %s's call, was not deferred (push: %v)", v, c.ext, err)
		case <-time.After(settle):
			return violatef("v%d not reported pending", v)
		}
		// The call goes on while the change waits.
		if st := w.phones[c.sp].State(); st != softphone.Connected {
			return violatef("%s's call is %s while the change waits", c.sp, st)
		}
		m.removeCall(c)
		if hangDev {
			if err := r.putDown(c.dev); err != nil {
				return err
			}
		} else {
			if err := w.phones[c.sp].Hangup(ctx); err != nil {
				return violatef("%s hanging up: %v", c.sp, err)
			}
			if c.dev != provisioning.PortDeviceID {
				d := r.devByID(c.dev).dev
				if _, err := d.Wait(ctx, func(s radio.DeviceState) bool { return s.Call == radio.CallIdle }); err != nil {
					return violatef("%s not released after %s hung up: %+v", c.dev, c.sp, d.State())
				}
			}
			if err := r.putDown(c.dev); err != nil {
				return err
			}
		}
		select {
		case err := <-pushed:
			joined = true
			if err != nil {
				return violatef("v%d after the call ended: %v", v, err)
			}
		case <-time.After(settle):
			return violatef("v%d not applied within %v of the call's end", v, settle)
		}
		m.version, m.dirty = v, false
		return nil
	}
}

// ---- message waiting, devices, faults, outages ----

func (r *run) stepMWI() (string, func() error) {
	ext := choose(r, baseExts)
	n := choose(r, []int{0, 0, 1, 3})
	return fmt.Sprintf("voicemail %s: %d new", ext, n), func() error {
		p := r.w.thePBX()
		prev := p.Voicemail(ext)
		if err := p.SetVoicemail(ext, n, 0); err != nil {
			return violatef("voicemail: %v", err)
		}
		if r.m.mwi[ext] < 0 && prev == (pbx.Counts{New: n}) {
			// Unknown since a PBX outage (the PBX came back with empty
			// mailboxes and without the base's subscriptions) and not
			// changed at the PBX: nothing is sent, so a device may go on
			// showing the count from before the outage until the base
			// subscribes again (long run, seed 11 step 4477).
			return nil
		}
		r.m.mwi[ext] = n
		return nil
	}
}

func (r *run) stepPower() (string, func() error) {
	m := r.m
	d := choose(r, r.pairedDevs(func(d *simDev) bool { return m.callOf(d.id) == nil }))
	what := "power-off"
	switch {
	case !m.powered[d.name]:
		what = "power-on"
	case !m.inRange[d.name]:
		what = "back in range"
	case r.rng.IntN(2) == 0:
		what = "out of range"
	}
	return fmt.Sprintf("%s %s", d.name, what), func() error {
		switch what {
		case "power-off":
			d.dev.PowerOff()
			m.powered[d.name] = false
		case "power-on":
			d.dev.PowerOn()
			m.powered[d.name] = true
			r.joinRinging(d.id)
			return r.waitAttached(d)
		case "out of range":
			d.dev.SetInRange(false)
			m.inRange[d.name] = false
		case "back in range":
			d.dev.SetInRange(true)
			m.inRange[d.name] = true
			r.joinRinging(d.id)
			return r.waitAttached(d)
		}
		return nil
	}
}

func (r *run) stepModuleReset() (string, func() error) {
	return "reset the DECT module", func() error {
		m, w := r.m, r.w
		boots := w.board.Radio.Stats().Boots
		// An open registration window survives the reset (the base opens
		// it in the module again for the time it has left): m.win stays.
		w.board.Radio.ResetModule()
		if err := r.waitFor("the module booted again", 15*time.Second, func() string {
			if w.board.Radio.Stats().Boots == boots {
				return "not yet"
			}
			return ""
		}); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // the base reads the module's SYNC
		if err := r.waitFor("the radio ready again", 15*time.Second, func() string {
			if !w.d.Status().RadioReady {
				return "not ready"
			}
			return ""
		}); err != nil {
			return err
		}
		for _, d := range r.pairedDevs(func(d *simDev) bool { return m.powered[d.name] && m.inRange[d.name] }) {
			if err := r.waitAttached(d); err != nil {
				return err
			}
		}
		return nil
	}
}

func (r *run) stepLineFault() (string, func() error) {
	return "power alarm on the SLIC (line fault)", func() error {
		w, m := r.w, r.m
		w.board.SLIC.InjectPowerAlarm()
		m.portFault = true
		if v := r.check(); len(v) > 0 {
			return violatef("during the fault: %s", strings.Join(v, "; "))
		}
		time.Sleep(faultRetry)
		m.portFault = false
		return nil
	}
}

func (r *run) stepBrokerRestart() (string, func() error) {
	down := time.Duration(r.rng.IntN(1000)) * time.Millisecond
	// The portal publishes the configuration again with a new version: the
	// version the retained document had is not the last one it used.
	return fmt.Sprintf("restart the MQTT broker (down %v); the portal publishes v%d", down, r.m.nextVersion), func() error {
		w, m := r.w, r.m
		if m.win != nil {
			m.win.lost = true // the command's subscription went with the broker
		}
		if err := w.restartBroker(down); err != nil {
			return err
		}
		// The portal connects again at once (its client's own reconnect
		// backs off for seconds).
		if err := w.redialCloud(); err != nil {
			return violatef("the portal reconnecting: %v", err)
		}
		// The broker lost the retained documents: the portal publishes the
		// desired configuration again, the base reports its state again.
		ctx, cancel := r.ctx(30 * time.Second)
		defer cancel()
		var err error
		v := m.nextVersion
		for ctx.Err() == nil {
			if _, err = w.cloud.Push(ctx, m.config(v, w.pbxAddr), nil); err == nil {
				m.version, m.nextVersion, m.dirty = v, v+1, false
				return nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		return violatef("the base did not report v%d within 30 s of the broker's restart: %v", v, err)
	}
}

func (r *run) stepPBXOutage() (string, func() error) {
	down := time.Duration(r.rng.IntN(1500)) * time.Millisecond
	return fmt.Sprintf("the PBX goes away for %v and comes back empty", down), func() error {
		w, m := r.w, r.m
		if err := w.stopPBX(); err != nil {
			return err
		}
		time.Sleep(down)
		if err := w.startPBX(w.pbxAddr); err != nil {
			return err
		}
		for _, sp := range phoneExts {
			if err := w.registerSoftphone(sp); err != nil {
				return violatef("re-registering %s: %v", sp, err)
			}
		}
		for ext := range m.mwi {
			m.mwi[ext] = -1
		}
		for _, ext := range baseExts {
			if len(m.devicesOf(ext)) > 0 {
				if err := r.waitFor(ext+" registered again", 2*pbxMaxExpires, func() string {
					if !w.baseBindings()[ext] {
						return "no binding"
					}
					return ""
				}); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// ---- quiet points ----

// quiet brings the base to the start state (no call, no window, no paired
// device, the port on 101, no messages waiting), checks message waiting
// and the invariants on the way, then measures the process and compares it
// with the baseline (the first quiet point).
func (r *run) quiet(label string) error {
	if err := r.checkMWI(); err != nil {
		return err
	}
	if err := r.reset(); err != nil {
		return err
	}
	if v := r.check(); len(v) > 0 {
		return violatef("at the quiet point: %s", strings.Join(v, "; "))
	}
	var x resources
	deadline := time.Now().Add(40 * time.Second)
	for {
		x = measure()
		if r.baseline == nil || overBaseline(x, *r.baseline) == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if r.baseline == nil {
		r.baseline = &x
		r.journal("QUIET %s baseline %s", label, x)
		return nil
	}
	r.journal("QUIET %s %s (baseline %s)", label, x, *r.baseline)
	if over := overBaseline(x, *r.baseline); over != "" {
		return violatef("resources did not come back to the baseline when idle: %s", over)
	}
	return nil
}

// checkMWI checks that every device of an extension with a known mailbox
// shows its message-waiting state.
func (r *run) checkMWI() error {
	m, w := r.m, r.w
	return r.waitFor("message waiting shown", settle, func() string {
		var miss []string
		for _, ext := range baseExts {
			n := m.mwi[ext]
			if n < 0 {
				continue
			}
			for _, id := range m.devicesOf(ext) {
				if id == provisioning.PortDeviceID {
					if m.callOf(id) != nil || m.portFault {
						continue
					}
					if got := w.board.Phone.MessageWaiting(); got != (n > 0) {
						miss = append(miss, fmt.Sprintf("port lamp %v for %s with %d new", got, ext, n))
					}
					continue
				}
				d := r.devByID(id)
				if !m.powered[d.name] || !m.inRange[d.name] {
					continue
				}
				if st := d.dev.State(); st.MWI != (n > 0) {
					miss = append(miss, fmt.Sprintf("%s MWI %v for %s with %d new", d.name, st.MWI, ext, n))
				}
			}
		}
		return strings.Join(miss, "; ")
	})
}

// reset ends every call, closes the window, removes every paired device,
// puts the port back on 101 and clears the mailboxes.
func (r *run) reset() error {
	m, w := r.m, r.w
	ctx, cancel := r.ctx(60 * time.Second)
	defer cancel()
	for _, sp := range phoneExts {
		if err := w.phones[sp].Hangup(ctx); err != nil {
			r.log.Warn("reset: hang up", "softphone", sp, "error", err)
		}
	}
	w.board.Phone.OnHook()
	for _, d := range w.devs {
		_ = d.dev.HangUp()
	}
	for _, c := range m.calls {
		if c.spResult != nil {
			select {
			case <-c.spResult:
			case <-time.After(settle):
				return violatef("reset: %s's call did not end", c.sp)
			}
		}
	}
	m.calls = nil
	if err := r.waitFor("softphones idle", settle, func() string {
		var busy []string
		for _, sp := range phoneExts {
			if st := w.phones[sp].State(); st != softphone.Idle {
				busy = append(busy, sp+" "+string(st))
			}
		}
		return strings.Join(busy, ", ")
	}); err != nil {
		return err
	}
	if m.win != nil {
		_, act := r.stepCloseRegistration()
		if err := act(); err != nil {
			return err
		}
	}
	for _, d := range w.devs {
		if !m.powered[d.name] {
			d.dev.PowerOn()
			m.powered[d.name] = true
		}
		if !m.inRange[d.name] {
			d.dev.SetInRange(true)
			m.inRange[d.name] = true
		}
	}
	if m.dirty {
		if err := r.pushModel(); err != nil {
			return err
		}
	}
	for _, d := range r.pairedDevs(nil) {
		_, act := r.stepRemove(d)
		if err := act(); err != nil {
			return err
		}
	}
	undeleted := false
	for e, gone := range m.deleted {
		if gone {
			m.deleted[e] = false
			undeleted = true
		}
	}
	if undeleted || m.extOf(provisioning.PortDeviceID) != "101" || len(m.devicesOf("101")) != 1 {
		m.unassign(provisioning.PortDeviceID)
		m.assign["101"] = provisioning.Devices{Port: provisioning.PortDeviceID}
		if err := r.pushModel(); err != nil {
			return err
		}
	}
	if p := w.thePBX(); p != nil {
		for _, ext := range baseExts {
			if err := p.SetVoicemail(ext, 0, 0); err != nil {
				return violatef("voicemail: %v", err)
			}
			m.mwi[ext] = 0
		}
	}
	// The base's count of wrong PINs in a row survives all this (only a
	// pairing or a lockout clears it): m.wrong stays.
	time.Sleep(time.Until(m.lockedUntil))
	return nil
}
