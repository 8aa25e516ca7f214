package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"basestation/hal"
	"basestation/sim/slic"
)

// Line is the analog line a phone hangs on; *slic.Model implements it.
type Line interface {
	// Attach makes t the terminal that hears the line.
	Attach(t slic.Terminal)
	// SetLoop closes (off-hook) or opens (on-hook) the loop.
	SetLoop(closed bool)
}

// DTMFConfig is how the keypad sends digits.
type DTMFConfig struct {
	On, Off time.Duration // tone and pause per digit; 0 means 80 ms / 80 ms
	// LowDBm0 / HighDBm0 are the row / column tone levels; 0 means −8 / −6
	// dBm0 (a typical +2 dB twist towards the high group).
	LowDBm0, HighDBm0 float64
	// FreqOffset shifts both tones by this fraction (0.015: +1.5 %), as a
	// keypad off its nominal frequencies.
	FreqOffset float64
}

// RotaryConfig is the rotary dial's timing (telephony.md §2: 10 pps,
// 60/40 break/make, inter-digit ≈ 700–800 ms).
type RotaryConfig struct {
	Break, Make time.Duration // 0 means 60 ms / 40 ms
	InterDigit  time.Duration // 0 means 700 ms
}

// Config configures a Phone; the zero value is a Type II (CIDCW) capable
// phone with a Part 68 Type A ringer and a 60 s ear history.
type Config struct {
	Name   string // "" means "phone"
	DTMF   DTMFConfig
	Rotary RotaryConfig
	// NoCIDCW makes the phone ignore CAS (a Type I only phone): no ACK.
	NoCIDCW bool
	// ACKDigit is the DTMF answer to CAS; 0 means 'D'.
	ACKDigit byte
	// RingerMinVrms is the least ring voltage that rings the bell; 0 means
	// 40 Vrms. The ringer answers 15–35 Hz.
	RingerMinVrms float64
	// EarHistory is how much line audio EarAudio keeps; 0 means 60 s.
	EarHistory time.Duration
	Logger     *slog.Logger // nil means slog.Default()
}

// CallerID is what the display shows for one call.
type CallerID struct {
	Number        string    `json:"number,omitempty"`
	Name          string    `json:"name,omitempty"`
	Date          *DateTime `json:"date,omitempty"`
	Private       bool      `json:"private,omitempty"`     // number withheld ('P')
	OutOfArea     bool      `json:"out_of_area,omitempty"` // number unavailable ('O')
	NamePrivate   bool      `json:"name_private,omitempty"`
	NameOutOfArea bool      `json:"name_out_of_area,omitempty"`
	Format        string    `json:"format"` // SDMF / MDMF
	CallWaiting   bool      `json:"call_waiting,omitempty"`
	Received      time.Time `json:"received"`
}

// Ring is one burst of ring voltage seen by the ringer.
type Ring struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitempty"` // zero while ringing
	Vrms  float64   `json:"vrms"`
	Hz    float64   `json:"hz"`
	Valid bool      `json:"valid"` // strong enough and at a ringer frequency: the bell rang
}

// State is a snapshot of the phone for the console / control API.
type State struct {
	Name           string    `json:"name"`
	Hook           string    `json:"hook"` // "on-hook" / "off-hook"
	Ringing        bool      `json:"ringing"`
	Rings          int       `json:"rings"`   // valid ring bursts so far
	Hearing        string    `json:"hearing"` // Tone* name, "dtmf-5"…
	SIT            string    `json:"sit,omitempty"`
	CallerID       *CallerID `json:"caller_id,omitempty"`
	MessageWaiting bool      `json:"message_waiting"`
	Busy           bool      `json:"busy"` // dialing / flashing in progress
	Recording      string    `json:"recording,omitempty"`
	CASAcks        int       `json:"cas_acks"`
	CIDErrors      int       `json:"cid_errors"`
	LastCIDError   string    `json:"last_cid_error,omitempty"`
}

// Errors of the phone's actions.
var (
	ErrOnHook     = errors.New("phone is on-hook")
	ErrBadDigit   = errors.New("not a dialable digit")
	ErrRecording  = errors.New("already recording")
	ErrNotRunning = errors.New("not recording")
)

type micChunk struct {
	s    []int16
	done chan struct{}
}

// Phone is an analog phone on a Line. Its methods are safe for concurrent
// use; actions (dialing, flash) run one at a time.
type Phone struct {
	cfg  Config
	line Line
	log  *slog.Logger

	act sync.Mutex // one hook-switch action at a time

	mu      sync.Mutex
	hook    hal.HookState
	busy    bool
	mic     []micChunk
	ear     []int16
	earCap  int
	an      analyser
	demod   fskDemod
	frm     framer
	sampleN uint64
	fskHold int
	rings   []Ring
	ringing bool
	cids    []CallerID
	lamp    bool
	casSeen time.Time // start of the last CAS answered
	ackAt   time.Time
	acks    int
	cidErrs int
	lastErr string
	rec     *wavWriter
	recPath string
}

// New hangs a phone, on-hook, on line.
func New(line Line, cfg Config) *Phone {
	if cfg.Name == "" {
		cfg.Name = "phone"
	}
	if cfg.DTMF.On <= 0 {
		cfg.DTMF.On = 80 * time.Millisecond
	}
	if cfg.DTMF.Off <= 0 {
		cfg.DTMF.Off = 80 * time.Millisecond
	}
	if cfg.DTMF.LowDBm0 == 0 {
		cfg.DTMF.LowDBm0 = -8
	}
	if cfg.DTMF.HighDBm0 == 0 {
		cfg.DTMF.HighDBm0 = -6
	}
	if cfg.Rotary.Break <= 0 {
		cfg.Rotary.Break = 60 * time.Millisecond
	}
	if cfg.Rotary.Make <= 0 {
		cfg.Rotary.Make = 40 * time.Millisecond
	}
	if cfg.Rotary.InterDigit <= 0 {
		cfg.Rotary.InterDigit = 700 * time.Millisecond
	}
	if _, _, ok := dtmfFreqs(cfg.ACKDigit); !ok {
		cfg.ACKDigit = 'D' // 0 or not a DTMF key: the usual ACK
	}
	if cfg.RingerMinVrms <= 0 {
		cfg.RingerMinVrms = 40
	}
	if cfg.EarHistory <= 0 {
		cfg.EarHistory = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Phone{cfg: cfg, line: line, log: cfg.Logger.With("subsys", "sim-phone", "phone", cfg.Name)}
	p.earCap = int(cfg.EarHistory.Seconds() * sampleRate)
	line.Attach(p)
	return p
}

func (p *Phone) String() string { return p.cfg.Name }

// ---- hook switch ---------------------------------------------------------------

// OffHook lifts the handset.
func (p *Phone) OffHook() {
	p.mu.Lock()
	p.hook = hal.OffHook
	p.mu.Unlock()
	p.line.SetLoop(true)
}

// OnHook hangs up (also aborts dialing in progress).
func (p *Phone) OnHook() {
	p.mu.Lock()
	p.hook = hal.OnHook
	for _, c := range p.mic {
		close(c.done)
	}
	p.mic = nil
	p.mu.Unlock()
	p.line.SetLoop(false)
}

// Hook returns the handset position.
func (p *Phone) Hook() hal.HookState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hook
}

func (p *Phone) startAction() error {
	p.act.Lock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hook != hal.OffHook {
		p.act.Unlock()
		return ErrOnHook
	}
	p.busy = true
	return nil
}

func (p *Phone) endAction() {
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
	p.act.Unlock()
}

// stillOffHook is checked between hook-switch steps.
func (p *Phone) stillOffHook() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hook == hal.OffHook
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flash opens the loop for d (a hook flash; 300–1000 ms is a flash in
// North America, longer is a hang-up). It returns when the loop is closed
// again.
func (p *Phone) Flash(ctx context.Context, d time.Duration) error {
	if err := p.startAction(); err != nil {
		return fmt.Errorf("phone: flash: %w", err)
	}
	defer p.endAction()
	p.line.SetLoop(false)
	err := sleep(ctx, d)
	if p.stillOffHook() {
		p.line.SetLoop(true)
	}
	return err
}

// DialRotary dials digits with the rotary dial: each digit n (0 = 10) is n
// breaks of the loop at Config.Rotary timing, followed by the inter-digit
// pause. It returns when the last pause has passed.
func (p *Phone) DialRotary(ctx context.Context, digits string) error {
	return p.DialRotaryWith(ctx, digits, p.cfg.Rotary)
}

// DialRotaryWith is DialRotary at the timing r (zero fields: the phone's
// Config.Rotary).
func (p *Phone) DialRotaryWith(ctx context.Context, digits string, r RotaryConfig) error {
	r = p.rotaryDefaults(r)
	if err := r.Validate(); err != nil {
		return err
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return fmt.Errorf("phone: rotary dial %q: %w: %q", digits, ErrBadDigit, c)
		}
	}
	if err := p.startAction(); err != nil {
		return fmt.Errorf("phone: rotary dial: %w", err)
	}
	defer p.endAction()
	for _, c := range digits {
		n := int(c - '0')
		if n == 0 {
			n = 10
		}
		for range n {
			if !p.stillOffHook() {
				return fmt.Errorf("phone: rotary dial: %w", ErrOnHook)
			}
			p.line.SetLoop(false)
			err := sleep(ctx, r.Break)
			if p.stillOffHook() {
				p.line.SetLoop(true)
			}
			if err != nil {
				return err
			}
			if err := sleep(ctx, r.Make); err != nil {
				return err
			}
		}
		if err := sleep(ctx, r.InterDigit); err != nil {
			return err
		}
	}
	return nil
}

// DialDTMF sends digits (0–9 * # A–D) with the keypad into the microphone
// path at Config.DTMF timing and levels; it returns when the last pause
// has been sent.
func (p *Phone) DialDTMF(ctx context.Context, digits string) error {
	return p.DialDTMFWith(ctx, digits, p.cfg.DTMF)
}

// DialDTMFWith is DialDTMF with the keypad set to c (zero fields: the
// phone's Config.DTMF).
func (p *Phone) DialDTMFWith(ctx context.Context, digits string, c DTMFConfig) error {
	samples, err := DTMFSamples(digits, p.dtmfDefaults(c))
	if err != nil {
		return fmt.Errorf("phone: DTMF %q: %w", digits, err)
	}
	if err := p.startAction(); err != nil {
		return fmt.Errorf("phone: DTMF: %w", err)
	}
	defer p.endAction()
	return p.speakWait(ctx, samples)
}

func (p *Phone) dtmfSamples(key byte, on, off time.Duration) ([]int16, error) {
	r, c, ok := dtmfFreqs(key)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrBadDigit, key)
	}
	n := int(on.Seconds() * sampleRate)
	f := 1 + p.cfg.DTMF.FreqOffset
	s := synth(nil, n, []float64{r * f, c * f}, []float64{peakFromDBm0(p.cfg.DTMF.LowDBm0), peakFromDBm0(p.cfg.DTMF.HighDBm0)})
	return append(s, make([]int16, int(off.Seconds()*sampleRate))...), nil
}

// Speak queues audio (8 kHz linear) for the microphone; it is sent while
// the phone is off-hook. It does not wait.
func (p *Phone) Speak(samples []int16) {
	p.mu.Lock()
	p.mic = append(p.mic, micChunk{s: append([]int16(nil), samples...), done: make(chan struct{})})
	p.mu.Unlock()
}

// SpeakWait queues audio for the microphone and waits until it was sent.
func (p *Phone) SpeakWait(ctx context.Context, samples []int16) error {
	return p.speakWait(ctx, samples)
}

func (p *Phone) speakWait(ctx context.Context, samples []int16) error {
	c := micChunk{s: append([]int16(nil), samples...), done: make(chan struct{})}
	p.mu.Lock()
	p.mic = append(p.mic, c)
	p.mu.Unlock()
	select {
	case <-c.done:
		if !p.stillOffHook() {
			return ErrOnHook
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- the line side (slic.Terminal) ------------------------------------------------

// LineEvent implements slic.Terminal: the ringer follows the ring voltage.
func (p *Phone) LineEvent(ev slic.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case slic.RingOn:
		valid := ev.Vrms >= p.cfg.RingerMinVrms && ev.Hz >= 15 && ev.Hz <= 35
		p.rings = append(p.rings, Ring{Start: ev.At, Vrms: ev.Vrms, Hz: ev.Hz, Valid: valid})
		if len(p.rings) > 1024 {
			p.rings = append(p.rings[:0], p.rings[512:]...)
		}
		p.ringing = valid
	case slic.RingOff:
		if n := len(p.rings); n > 0 && p.rings[n-1].End.IsZero() {
			p.rings[n-1].End = ev.At
		}
		p.ringing = false
	}
}

// Audio implements slic.Terminal: one 10 ms frame of line audio in, one of
// microphone out.
func (p *Phone) Audio(toPhone, fromPhone []int16) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	// Microphone: only an off-hook phone transmits.
	if p.hook == hal.OffHook {
		n := 0
		for n < len(fromPhone) && len(p.mic) > 0 {
			c := &p.mic[0]
			k := copy(fromPhone[n:], c.s)
			c.s = c.s[k:]
			n += k
			if len(c.s) == 0 {
				close(c.done)
				p.mic = p.mic[1:]
			}
		}
	}
	// Ear history and recording.
	p.ear = append(p.ear, toPhone...)
	if len(p.ear) > 2*p.earCap {
		p.ear = append(p.ear[:0], p.ear[len(p.ear)-p.earCap:]...)
	}
	if p.rec != nil {
		if err := p.rec.write(toPhone, fromPhone); err != nil {
			p.log.Error("recording failed; stopped", "path", p.recPath, "err", err)
			p.rec.close()
			p.rec, p.recPath = nil, ""
		}
	}
	// Caller-ID receiver: always listening (on-hook transmission too).
	frameStart := now.Add(-hal.FrameDuration)
	base := p.sampleN
	p.sampleN += uint64(len(toPhone))
	bytes := p.demod.push(toPhone)
	clean := 0
	for _, b := range bytes {
		if b.clean {
			clean++
		}
	}
	if clean > 0 {
		p.fskHold = 4 // frames: the analysis window
	} else if p.fskHold > 0 {
		p.fskHold--
	}
	// Tone analysis.
	p.an.push(toPhone, now, p.fskHold > 0 && p.demod.carrier)
	p.checkCASLocked(now)
	for _, b := range bytes {
		msg, trunc := p.frm.push(b)
		if trunc {
			p.cidErrorLocked("message cut short by a long mark gap")
		}
		if msg != nil {
			at := frameStart.Add(time.Duration(int64(b.sample)-int64(base)) * time.Second / sampleRate)
			p.messageLocked(msg, at)
		}
	}
	if !p.demod.carrier && p.frm.reset() {
		p.cidErrorLocked("carrier lost inside a message")
	}
}

// checkCASLocked answers a CPE alerting signal (2130+2750 Hz, ~80 ms) with
// the ACK digit, as a Type II phone does, once the CAS has ended.
func (p *Phone) checkCASLocked(now time.Time) {
	if p.cfg.NoCIDCW || p.hook != hal.OffHook || len(p.an.segs) == 0 {
		return
	}
	last := p.an.segs[len(p.an.segs)-1]
	if last.Label != ToneCAS || !last.Start.After(p.casSeen) {
		return
	}
	p.casSeen = last.Start
	if last.Dur < 50*time.Millisecond || last.Dur > 130*time.Millisecond {
		return
	}
	s, _ := p.dtmfSamples(p.cfg.ACKDigit, 60*time.Millisecond, 0)
	// The ACK goes out ahead of anything else queued.
	p.mic = append([]micChunk{{s: s, done: make(chan struct{})}}, p.mic...)
	p.ackAt = now
	p.acks++
}

func (p *Phone) cidErrorLocked(msg string) {
	p.cidErrs++
	p.lastErr = msg
	p.log.Debug("caller-id receive error", "err", msg)
}

func (p *Phone) messageLocked(b []byte, at time.Time) {
	m, err := ParseMessage(b)
	if err != nil {
		p.cidErrorLocked(err.Error())
		return
	}
	if m.VMWI != nil {
		p.lamp = *m.VMWI
	}
	if m.Type != MsgSDMFCallerID && m.Type != MsgMDMFCallerID {
		return
	}
	c := CallerID{
		Number: m.Number, Name: m.Name, Date: m.Date, Format: m.Format(), Received: at,
		Private: m.NumberAbsent == 'P', OutOfArea: m.NumberAbsent == 'O',
		NamePrivate: m.NameAbsent == 'P', NameOutOfArea: m.NameAbsent == 'O',
		CallWaiting: p.hook == hal.OffHook,
	}
	p.cids = append(p.cids, c)
	if len(p.cids) > 256 {
		p.cids = append(p.cids[:0], p.cids[128:]...)
	}
}

// ---- observation ------------------------------------------------------------------

// State returns a snapshot for the console.
func (p *Phone) State() State {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := State{
		Name: p.cfg.Name, Hook: p.hook.String(), Ringing: p.ringing, MessageWaiting: p.lamp,
		Busy: p.busy, Recording: p.recPath, CASAcks: p.acks, CIDErrors: p.cidErrs, LastCIDError: p.lastErr,
	}
	for _, r := range p.rings {
		if r.Valid {
			s.Rings++
		}
	}
	s.Hearing, s.SIT = p.an.hearing(now)
	if n := len(p.cids); n > 0 {
		c := p.cids[n-1]
		s.CallerID = &c
	}
	return s
}

// Hearing names what the ear hears now (a Tone* name or "dtmf-X").
func (p *Phone) Hearing() string {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	h, _ := p.an.hearing(now)
	return h
}

// Segments returns what the ear heard, as labelled stretches with
// timestamps (the last one is still open).
func (p *Phone) Segments() []Segment {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.an.segments()
}

// Rings returns the ring bursts seen by the ringer.
func (p *Phone) Rings() []Ring {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Ring(nil), p.rings...)
}

// CallerIDs returns every caller ID displayed so far (oldest first).
func (p *Phone) CallerIDs() []CallerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CallerID(nil), p.cids...)
}

// MessageWaiting reports the lamp.
func (p *Phone) MessageWaiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lamp
}

// EarAudio returns the line audio heard (up to Config.EarHistory).
func (p *Phone) EarAudio() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ear) > p.earCap {
		return append([]int16(nil), p.ear[len(p.ear)-p.earCap:]...)
	}
	return append([]int16(nil), p.ear...)
}

// ClearEar forgets the ear history and the tone segments.
func (p *Phone) ClearEar() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ear = p.ear[:0]
	p.an = analyser{}
}

// Record starts writing the line audio to a WAV file (8 kHz 16-bit): mono
// with what the ear hears, or with both stereo (left ear, right mic).
func (p *Phone) Record(path string, both bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rec != nil {
		return fmt.Errorf("phone: record %s: %w (%s)", path, ErrRecording, p.recPath)
	}
	ch := 1
	if both {
		ch = 2
	}
	w, err := createWAV(path, ch)
	if err != nil {
		return err
	}
	p.rec, p.recPath = w, path
	return nil
}

// StopRecording finishes the WAV file.
func (p *Phone) StopRecording() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rec == nil {
		return fmt.Errorf("phone: stop recording: %w", ErrNotRunning)
	}
	err := p.rec.close()
	p.rec, p.recPath = nil, ""
	return err
}

// Do runs a console command line: "offhook", "onhook", "flash [ms]",
// "dtmf DIGITS", "rotary DIGITS". It returns when the action is done.
func (p *Phone) Do(ctx context.Context, cmd string) error {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return fmt.Errorf("phone: empty command")
	}
	arg := ""
	if len(f) > 1 {
		arg = f[1]
	}
	switch strings.ToLower(f[0]) {
	case "offhook", "off-hook", "answer":
		p.OffHook()
		return nil
	case "onhook", "on-hook", "hangup":
		p.OnHook()
		return nil
	case "flash":
		d := 600 * time.Millisecond
		if arg != "" {
			ms, err := time.ParseDuration(arg + "ms")
			if err != nil || ms <= 0 || ms > 5*time.Second {
				return fmt.Errorf("phone: flash: bad duration %q (milliseconds, 1–5000)", arg)
			}
			d = ms
		}
		return p.Flash(ctx, d)
	case "dtmf", "dial":
		if arg == "" {
			return fmt.Errorf("phone: %s: no digits", f[0])
		}
		return p.DialDTMF(ctx, arg)
	case "rotary":
		if arg == "" {
			return fmt.Errorf("phone: rotary: no digits")
		}
		return p.DialRotary(ctx, arg)
	}
	return fmt.Errorf("phone: unknown command %q (offhook, onhook, flash [ms], dtmf DIGITS, rotary DIGITS)", f[0])
}

var _ slic.Terminal = (*Phone)(nil)
