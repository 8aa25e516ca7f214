package fxs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"basestation/endpoint"
	"basestation/fxs/dsp"
	"basestation/fxs/proslic"
	"basestation/hal"
)

// Errors returned by the port's actions.
var (
	ErrNotRunning = errors.New("fxs: port not running")
	ErrOffHook    = errors.New("fxs: phone is off-hook")
	ErrOnHook     = errors.New("fxs: phone is on-hook")
	ErrNotInCall  = errors.New("fxs: no call on the port")
	ErrFault      = errors.New("fxs: line fault")
	ErrCadence    = errors.New("fxs: unknown ring cadence")
	ErrTone       = errors.New("fxs: unknown tone")
)

// SLIC is what the port needs from the line chip; *proslic.Dev has it.
type SLIC interface {
	SetLinefeed(proslic.Linefeed) error
	Hook() (hal.HookState, error)
	// Run services the chip's interrupts until ctx ends.
	Run(ctx context.Context, handle func(proslic.Event)) error
}

// Caller-ID placement (telephony.md §5.2): the burst starts at least
// 500 ms after a ring ends and ends at least 200 ms before the next.
const (
	cidAfterRing  = 550 * time.Millisecond
	cidBeforeRing = 250 * time.Millisecond
	vmwiLeadIn    = 500 * time.Millisecond // silence before an on-hook VMWI burst
)

// Call-waiting caller ID (Type II, telephony.md §5.4).
const (
	sasTime    = 300 * time.Millisecond // 440 Hz subscriber alerting signal
	casTime    = 80 * time.Millisecond  // 2130+2750 Hz CPE alerting signal
	ackWindow  = 200 * time.Millisecond // the ACK must start within this after CAS ends
	ackMaxWait = 120 * time.Millisecond // FSK starts at the ACK's end, or this after its start
	cwRepeat   = 10 * time.Second
)

var _ endpoint.Endpoint = (*Port)(nil)

// Port is one analog phone port: the line state machine over a SLIC and
// its PCM channel. Create it with New (or NewWithSLIC), run it with Run,
// read its Events and call its actions from any goroutine.
type Port struct {
	// cfg is written only by the frame loop (or before Run) under cfgMu;
	// other goroutines read it under cfgMu.
	cfgMu sync.RWMutex
	cfg   Config
	plan  *DialPlan
	log   *slog.Logger
	slic  SLIC
	pcm   hal.PCM
	rate  int

	cmds   chan command
	hw     chan proslic.Event
	events chan Event
	done   chan struct{} // closed when Run returns
	run    atomic.Bool
	state  atomic.Int32
	hookSt atomic.Int32
	mwiSt  atomic.Bool
	// audioSt: the call layer holds the audio path (ConnectAudio until
	// DisconnectAudio or the next hook change).
	audioSt atomic.Bool

	// wakeups counts the sleeping line's wake-ups (sleep.go), for tests.
	wakeups atomic.Int64

	// startMu orders Run's start after a SetConfig made before it.
	startMu sync.Mutex

	// Owned by the frame loop.
	l loop
}

// New builds a port on the board's SLIC: it resets, probes and initialises
// the chip (proslic.New) and prepares the DSP. The line stays open until Run.
func New(s hal.SLIC, cfg Config, log *slog.Logger) (*Port, error) {
	return NewWithOpts(s, cfg, nil, log)
}

// NewWithOpts is New with the SLIC driver's options (PCM slot and format,
// loop current, …; nil = proslic.DefaultOpts()). The ring generator's
// frequency and amplitude come from cfg; ring cadence is timed by the port.
func NewWithOpts(s hal.SLIC, cfg Config, so *proslic.Opts, log *slog.Logger) (*Port, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.PCM == nil {
		return nil, fmt.Errorf("fxs %s: no PCM channel", s.Name)
	}
	o := proslic.DefaultOpts()
	if so != nil {
		o = *so
	}
	o.Logger = log
	o.Ring = proslic.RingConfig{FrequencyHz: cfg.RingFrequencyHz, PeakVolts: cfg.RingPeakVolts} // cadence by the port
	if s.PCM.Rate() == hal.RateWideband {
		o.PCM.Wideband = true
	}
	dev, err := proslic.New(s, &o)
	if err != nil {
		return nil, err
	}
	return NewWithSLIC(dev, s.PCM, cfg, log)
}

// NewWithSLIC builds a port on an already initialised line chip.
func NewWithSLIC(slic SLIC, pcm hal.PCM, cfg Config, log *slog.Logger) (*Port, error) {
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.Cadences = cloneCadences(cfg.Cadences)
	cfg.EmergencyNumbers = slices.Clone(cfg.EmergencyNumbers)
	p := &Port{
		cfg: cfg, plan: c.plan, log: log, slic: slic, pcm: pcm, rate: pcm.Rate(),
		cmds:   make(chan command, 16),
		hw:     make(chan proslic.Event, 64),
		events: make(chan Event, 64),
		done:   make(chan struct{}),
	}
	if err := p.l.init(p); err != nil {
		return nil, err
	}
	return p, nil
}

func cloneCadences(m map[string]Cadence) map[string]Cadence {
	out := make(map[string]Cadence, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = slices.Clone(v)
	}
	return out
}

// Events returns the port's event stream. Events are dropped (and logged)
// if nobody reads and 64 are pending.
func (p *Port) Events() <-chan Event { return p.events }

// State returns the state machine's current state.
func (p *Port) State() State { return State(p.state.Load()) }

// Activity is what the line is doing: ringing, off-hook without call audio
// (dialing, tones, lockout), talking (audio connected), or idle (on-hook,
// or out of service with a fault, which the port reports as EvFault).
func (p *Port) Activity() endpoint.Activity {
	switch p.State() {
	case StateRinging:
		return endpoint.Ringing
	case StateDialing, StateLockout:
		return endpoint.Dialing
	case StateCall:
		if p.audioSt.Load() {
			return endpoint.Talking
		}
		return endpoint.Dialing
	}
	return endpoint.Idle
}

// String is the port's Config.Name.
func (p *Port) String() string {
	p.cfgMu.RLock()
	defer p.cfgMu.RUnlock()
	if p.cfg.Name == "" {
		return "fxs"
	}
	return p.cfg.Name
}

// Hook returns the hook state as the port last saw it.
func (p *Port) Hook() hal.HookState { return hal.HookState(p.hookSt.Load()) }

// MessageWaiting reports the message-waiting indication.
func (p *Port) MessageWaiting() bool { return p.mwiSt.Load() }

// Config returns a copy of the port's configuration.
func (p *Port) Config() Config {
	p.cfgMu.RLock()
	defer p.cfgMu.RUnlock()
	c := p.cfg
	c.Cadences = cloneCadences(c.Cadences)
	c.EmergencyNumbers = slices.Clone(c.EmergencyNumbers)
	return c
}

type cmdKind int

const (
	cmdRing cmdKind = iota
	cmdStopRing
	cmdTone
	cmdStopTone
	cmdConnect
	cmdDisconnect
	cmdMWI
	cmdCallWaiting
	cmdCollect
	cmdConfig
	cmdTestBegin // a line test or self-test takes the line (linetest.go)
	cmdTestEnd
	cmdTestFSK // the self-test's FSK loopback (selftest.go)
	cmdPing    // the loop answers (Ping)
)

type command struct {
	kind    cmdKind
	ring    ringRequest
	cadence Cadence
	tone    dsp.ToneName
	on      bool
	cid     *endpoint.CallerID
	reply   chan error
	audio   *callAudio
	cfg     *Config
	plan    *DialPlan
	fsk     *fskLoopback
}

func (p *Port) do(c command) error {
	if !p.run.Load() {
		return ErrNotRunning
	}
	c.reply = make(chan error, 1)
	select {
	case p.cmds <- c:
	case <-p.done:
		return ErrNotRunning
	}
	select {
	case err := <-c.reply:
		return err
	case <-p.done:
		return ErrNotRunning
	}
}

// Ring alerts the phone with the cadence and caller ID (sent between the
// first and second ring; "" is "normal"; the number as displayNumber
// shows it, the time in Config.Location). It fails when the phone is
// off-hook (use AlertCallWaiting) or the line is faulty.
func (p *Port) Ring(cid endpoint.CallerID, cadence endpoint.Cadence) error {
	cid.Number = displayNumber(cid.Number)
	return p.ring(ringRequest{CallerID: &cid, Cadence: cadence})
}

// ring alerts the phone; r.CallerID nil rings without caller ID.
func (p *Port) ring(r ringRequest) error {
	name := strings.ToLower(string(r.Cadence))
	if name == "" {
		name = CadenceNormal
	}
	p.cfgMu.RLock()
	cad, ok := p.cfg.Cadences[name]
	p.cfgMu.RUnlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrCadence, r.Cadence)
	}
	if r.CallerID != nil {
		c := *r.CallerID
		r.CallerID = &c
	}
	return p.do(command{kind: cmdRing, ring: r, cadence: cad})
}

// Ping asks the port's loop to answer, as a liveness probe (an idle line
// sleeps, so no frame reads show its progress): nil once the loop has
// answered, ErrNotRunning when the port does not run, and ctx's error when
// ctx ends first (a loop that is stuck).
func (p *Port) Ping(ctx context.Context) error {
	if !p.run.Load() {
		return ErrNotRunning
	}
	c := command{kind: cmdPing, reply: make(chan error, 1)}
	select {
	case p.cmds <- c:
	case <-p.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-p.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopRinging stops alerting (the caller gave up or another device
// answered). Harmless when not ringing.
func (p *Port) StopRinging() error { return p.do(command{kind: cmdStopRing}) }

// Tone names the call layer may play (dsp.ToneName values): "dial",
// "stutter-dial", "ringback", "busy", "reorder", "call-waiting", "howler",
// "confirmation", "recall-dial", "sit-intercept" (also "out-of-service"),
// "sit-vacant", "sit-reorder", "sit-no-circuit".
func toneName(t endpoint.Tone) dsp.ToneName {
	switch s := strings.ToLower(string(t)); s {
	case "out-of-service", "intercept", "sit":
		return dsp.ToneSITIntercept
	case "congestion", "fast-busy":
		return dsp.ToneReorder
	default:
		return dsp.ToneName(s)
	}
}

// PlayTone plays a call-progress tone while the phone is off-hook;
// endpoint.None stops any tone. While a tone sounds it replaces the far
// end's audio. Dial tone (or stutter dial tone) asked for during a call,
// after a hook flash, takes a second number instead: CollectDigits, with
// recall dial tone.
func (p *Port) PlayTone(t endpoint.Tone) error {
	switch {
	case t == endpoint.None:
		return p.StopTone()
	case (t == endpoint.Dial || t == endpoint.StutterDial) && p.State() == StateCall:
		return p.CollectDigits()
	}
	return p.do(command{kind: cmdTone, tone: toneName(t)})
}

// StopTone silences any tone.
func (p *Port) StopTone() error { return p.do(command{kind: cmdStopTone}) }

// ConnectAudio hands out the audio path of the call: ReadFrame gives the
// phone's voice, WriteFrame plays the far end's voice (10 ms frames at the
// port's rate). The port keeps detecting DTMF and flash. The phone must be
// off-hook (after EvOffHook). Call DisconnectAudio when the call ends (the
// path is also a hal.PCM: closing it ends it as well); hanging up closes
// it too.
//
// The path also has the method SuppressInBandDTMF(on bool) (reach it with
// an interface assertion): on, the digits the port reports are being sent
// out of band and their tones are cut out of the phone's voice, which is
// then delayed by 40 ms (see DTMFSuppressDelay).
func (p *Port) ConnectAudio() (endpoint.AudioPort, error) {
	a := newCallAudio(p.rate)
	if err := p.do(command{kind: cmdConnect, audio: a}); err != nil {
		return nil, err
	}
	p.audioSt.Store(true)
	return a, nil
}

// DisconnectAudio closes the call's audio path.
func (p *Port) DisconnectAudio() error {
	p.audioSt.Store(false)
	return p.do(command{kind: cmdDisconnect})
}

// SetMessageWaiting turns message waiting on or off: an on-hook FSK VMWI
// message is sent when the phone is next idle, and stutter dial tone plays
// while it is on. It may be called before Run (the state at start-up).
func (p *Port) SetMessageWaiting(on bool) error {
	if !p.run.Load() {
		select {
		case <-p.done:
			return ErrNotRunning
		case p.cmds <- command{kind: cmdMWI, on: on, reply: make(chan error, 1)}:
			p.mwiSt.Store(on)
			return nil
		default:
			return ErrNotRunning
		}
	}
	return p.do(command{kind: cmdMWI, on: on})
}

// AlertCallWaiting alerts a second call during a call: a 300 ms
// call-waiting tone (far end muted meanwhile) and, when enabled, Type II
// caller ID (CAS, the phone's ACK, then FSK); the tone is repeated once
// 10 s later. A flash, StopTone or another tone ends the alert.
func (p *Port) AlertCallWaiting(cid endpoint.CallerID) error {
	cid.Number = displayNumber(cid.Number)
	return p.callWaiting(&cid)
}

// callWaiting is AlertCallWaiting; cid nil alerts without caller ID.
func (p *Port) callWaiting(cid *endpoint.CallerID) error {
	if cid != nil {
		c := *cid
		cid = &c
	}
	return p.do(command{kind: cmdCallWaiting, cid: cid})
}

// CollectDigits puts a port that is in a call back to dialing, with recall
// dial tone (three bursts, then steady): after a hook flash the call layer
// uses it to take a second number (consultation call, three-way, transfer).
// The number arrives as EvDialed; the first call's audio path stays
// connected until DisconnectAudio.
func (p *Port) CollectDigits() error { return p.do(command{kind: cmdCollect}) }

func (p *Port) emit(e Event) {
	if e.Kind == EvOnHook || e.Kind == EvOffHook {
		p.audioSt.Store(false) // a new call (or none): the path is gone
	}
	select {
	case p.events <- e:
	default:
		p.log.Warn("fxs: event dropped, nobody reading", "event", e.String())
	}
}

func (p *Port) onSLIC(e proslic.Event) {
	select {
	case p.hw <- e:
	default:
		p.log.Warn("fxs: SLIC event dropped", "kind", e.Kind.String())
	}
}

// syncPCM drops the captured frames that piled up before Run (they come
// back at once, without waiting for the frame clock) and primes playout
// with pcmPrime frames of silence, so that the port's tones reach the line
// about pcmPrime frames after the event that caused them instead of behind
// a full playout queue.
func (p *Port) syncPCM(ctx context.Context) error {
	for i := 0; i < 64; i++ {
		t := time.Now()
		if err := p.pcm.ReadFrame(ctx, p.l.in); err != nil {
			return err
		}
		if time.Since(t) >= hal.FrameDuration/4 {
			break // waited for the clock: in step now
		}
	}
	clear(p.l.out)
	for i := 0; i < pcmPrime; i++ {
		if err := p.pcm.WriteFrame(ctx, p.l.out); err != nil {
			return err
		}
	}
	return nil
}

// pcmPrime is the playout margin in frames against scheduling jitter.
const pcmPrime = 2

// Run drives the port until ctx ends: it feeds the line, services the
// SLIC's interrupts and, while the line is in use, processes the PCM
// channel frame by frame, in order; an idle line sleeps (sleep.go).
// On return the line is safe: ringing and tones off, linefeed open. It
// returns nil when ctx ends and an error when the SLIC or PCM fails.
func (p *Port) Run(ctx context.Context) error {
	p.startMu.Lock()
	started := p.run.CompareAndSwap(false, true)
	p.startMu.Unlock()
	if !started {
		return errors.New("fxs: Run called twice")
	}
	defer close(p.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slicDone := make(chan error, 1)
	go func() { slicDone <- p.slic.Run(ctx, p.onSLIC) }()
	defer func() {
		cancel()
		<-slicDone
	}()
	l := &p.l
	defer l.safe()
	if err := l.start(time.Now()); err != nil {
		return err
	}
	inStep := false // reading the PCM clock
	for {
		if !inStep && !l.needsPCM() {
			stopped, err := p.sleep(ctx, slicDone)
			if stopped {
				if ctx.Err() != nil {
					return nil
				}
				l.fault(time.Now(), fmt.Errorf("SLIC stopped: %v", err))
				if err == nil {
					err = errors.New("SLIC loop ended")
				}
				return fmt.Errorf("fxs: %w", err)
			}
		}
		if !inStep {
			if err := p.syncPCM(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("fxs: PCM: %w", err)
			}
			l.resetDTMF() // what it heard before the sleep is gone
			inStep = true
		}
		if err := p.pcm.ReadFrame(ctx, l.in); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fxs: PCM read: %w", err)
		}
		select {
		case err := <-slicDone:
			slicDone <- err
			if ctx.Err() != nil {
				return nil
			}
			l.fault(time.Now(), fmt.Errorf("SLIC stopped: %v", err))
			if err == nil {
				err = errors.New("SLIC loop ended")
			}
			return fmt.Errorf("fxs: %w", err)
		default:
		}
		l.frame(time.Now())
		if err := p.pcm.WriteFrame(ctx, l.out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fxs: PCM write: %w", err)
		}
		inStep = l.needsPCM()
	}
}
