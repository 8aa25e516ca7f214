package fxs

import (
	"errors"
	"fmt"
	"time"

	"basestation/endpoint"
	"basestation/fxs/dsp"
	"basestation/fxs/proslic"
	"basestation/hal"
)

// burst is an FSK transmission in progress (caller ID or VMWI).
type burst interface {
	// Fill writes the next samples into dst and returns how many it
	// wrote; fewer than len(dst) means the burst has ended.
	Fill(dst []int16) int
}

const (
	cwNone      cwPhase = iota
	cwSAS               // 440 Hz to the user
	cwCAS               // 2130+2750 Hz to the CPE
	cwAckWait           // waiting for DTMF A or D
	cwAckOn             // ACK sounding; FSK starts at its end
	cwFSK               // caller ID going out
	cwWait              // between the first alert and its one repeat (far end heard)
	cwRepeatSAS         // the repeated 440 Hz burst; the alert ends after it
)

// loop is the state machine, owned by the goroutine in Port.Run. It never
// blocks and, per frame, never allocates.
type loop struct {
	p   *Port
	gen *dsp.ToneGenerator
	det *dsp.DTMFDetector

	in, out []int16
	dtmfEv  []dsp.DTMFEvent

	state    State
	hook     hal.HookState
	linefeed proslic.Linefeed
	mwi      bool
	vmwiDue  bool      // VMWI message to send at the next idle moment
	vmwiSent time.Time // when the last VMWI message went out
	vmwiOn   bool      // the state the VMWI burst on the line carries
	audio    *callAudio

	// Hook classification (pulse digits, flash, hang-up).
	hc         *dsp.HookClassifier
	hookEv     []dsp.HookEvent
	epoch      time.Time     // origin of the classifier's time axis
	hcNow      time.Duration // latest time given to the classifier
	lastHookAt time.Time

	// Dialing.
	digits     [MaxDigits]byte
	ndigits    int
	offHookAt  time.Time
	digitDue   time.Time // inter-digit deadline (zero: none)
	lockoutAt  time.Time
	howling    bool
	hotline    bool // the Hotline number is still to be dialed for this off-hook
	dtmfActive byte // digit in progress (0: none) in a call
	// In-band DTMF suppression (callAudio.SuppressInBandDTMF): detN counts
	// the samples given to the detector since its last Reset, detDigit is
	// the digit it hears now (any state), and dtmfBlank how many of the
	// latest samples of the phone's audio to silence this frame.
	detN      int64
	detDigit  byte
	dtmfBlank int

	// After a failed or ended call (StateCall, the call layer's failure
	// tone and no audio): sitEnded is set when a SIT has played out, so
	// reorder follows it; howlAt is when the howler replaces busy or
	// reorder (zero: not armed). Any later action of the call layer
	// disarms both.
	sitEnded bool
	howlAt   time.Time

	// Ringing.
	cadence  Cadence
	ringStep int
	stepEnd  time.Time
	cidReq   *endpoint.CallerID
	cidAt    time.Time // when to start the caller-ID burst (zero: none)

	// FSK.
	fskTx    *dsp.FSKTransmitter // the one modulator (bursts do not overlap)
	fskProbe *dsp.FSKTransmitter // measures a burst's duration before it is due
	fsk      burst
	fskLead  int // samples of silence before the burst
	fskKind  int // fskCID, fskVMWI, fskCIDCW

	// Call waiting.
	cw      cwPhase
	cwUntil time.Time
	cwStart time.Time
	cwCID   *endpoint.CallerID // nil: alert without caller ID

	// Fault.
	faultUntil time.Time

	ohtUntil time.Time // keep on-hook transmission after a VMWI burst

	test testMode // a line test or self-test holds the line (linetest.go)
}

const (
	fskCID = iota + 1
	fskVMWI
	fskCIDCW
)

func (l *loop) init(p *Port) error {
	l.p = p
	plan, err := dsp.PlanFor(p.cfg.Region)
	if err != nil {
		return fmt.Errorf("fxs: tone plan: %w", err)
	}
	if l.gen, err = dsp.NewToneGenerator(plan, p.rate); err != nil {
		return fmt.Errorf("fxs: tone generator: %w", err)
	}
	if l.det, err = dsp.NewDTMFDetector(p.rate, nil); err != nil {
		return fmt.Errorf("fxs: DTMF detector: %w", err)
	}
	if l.fskTx, err = dsp.NewFSKTransmitter(p.rate, nil); err != nil {
		return fmt.Errorf("fxs: FSK transmitter: %w", err)
	}
	if l.fskProbe, err = dsp.NewFSKTransmitter(p.rate, nil); err != nil {
		return fmt.Errorf("fxs: FSK transmitter: %w", err)
	}
	ho := dsp.DefaultHookOpts()
	ho.FlashMin, ho.FlashMax = p.cfg.FlashMin, p.cfg.FlashMax
	if l.hc, err = dsp.NewHookClassifier(&ho); err != nil {
		return fmt.Errorf("fxs: hook classifier: %w", err)
	}
	l.hookEv = make([]dsp.HookEvent, 0, 8)
	n := hal.FrameSamples(p.rate)
	l.in = make([]int16, n)
	l.out = make([]int16, n)
	l.dtmfEv = make([]dsp.DTMFEvent, 0, 8)
	return nil
}

// fire moves the state machine by event e: the next state is lineTable's.
// Every state change goes through here. An event that is no transition in
// the current state is logged and ignored (the handlers never fire one).
func (l *loop) fire(e LineEvent) {
	t, ok := lineNext(l.state, e)
	if !ok {
		l.p.log.Error("fxs: line event ignored: no transition", "state", l.state.String(), "event", e.String())
		return
	}
	l.setState(t.To)
}

func (l *loop) setState(s State) {
	l.state = s
	l.sitEnded, l.howlAt = false, time.Time{}
	l.p.state.Store(int32(s))
}

// setLinefeed programs the linefeed. When the write fails the line goes to
// StateFault (safe, retried after FaultRetry) and setLinefeed reports false:
// the caller's transition is abandoned, the line stays in the fault.
func (l *loop) setLinefeed(now time.Time, lf proslic.Linefeed) bool {
	if l.linefeed == lf {
		return true
	}
	if err := l.p.slic.SetLinefeed(lf); err != nil {
		l.fault(now, fmt.Errorf("set linefeed %v: %w", lf, err))
		return false
	}
	l.linefeed = lf
	return true
}

// start feeds the line and reads the hook once.
func (l *loop) start(now time.Time) error {
	l.linefeed = 0xFF
	if err := l.p.slic.SetLinefeed(proslic.LFForward); err != nil {
		return fmt.Errorf("fxs: feed line: %w", err)
	}
	l.linefeed = proslic.LFForward
	h, err := l.p.slic.Hook()
	if err != nil {
		return fmt.Errorf("fxs: read hook: %w", err)
	}
	l.epoch = now
	l.fire(LineStart)
	if h == hal.OffHook {
		l.hookRaw(now, hal.OffHook)
	}
	return nil
}

// safe leaves the line safe: no tone, no FSK, no ringing, open linefeed.
func (l *loop) safe() {
	l.gen.Stop()
	l.fsk = nil
	if l.audio != nil {
		l.audio.Close()
		l.audio = nil
	}
	if err := l.p.slic.SetLinefeed(proslic.LFOpen); err != nil {
		l.p.log.Warn("fxs: open line", "err", err)
	}
	l.linefeed = proslic.LFOpen
}

// frame runs one 10 ms step: commands, hook events, DSP, timers, output.
func (l *loop) frame(now time.Time) {
	l.commands(now)
	if l.test.on {
		l.testFrame()
		return
	}
	l.slicEvents()
	l.dtmf(now)
	l.timers(now)
	l.render()
}

// commands applies the call layer's pending commands.
func (l *loop) commands(now time.Time) {
	for {
		select {
		case c := <-l.p.cmds:
			c.reply <- l.command(now, c)
		default:
			return
		}
	}
}

// slicEvents applies the SLIC's pending events.
func (l *loop) slicEvents() {
	for {
		select {
		case e := <-l.p.hw:
			l.slicEvent(e)
		default:
			return
		}
	}
}

func (l *loop) slicEvent(e proslic.Event) {
	at := e.At
	switch e.Kind {
	case proslic.EvHook:
		l.hookRaw(at, e.Hook)
	case proslic.EvRingTrip:
		if l.state == StateRinging {
			l.hookRaw(at, hal.OffHook)
		}
	case proslic.EvPowerAlarm:
		l.fault(at, fmt.Errorf("SLIC power alarm on transistor(s) %s", alarmNames(e.Alarm)))
	}
}

// goIdle returns to on-hook idle after a hang-up or the end of ringing. It
// reports false when the linefeed could not be set: the line is then in
// StateFault (fault() has reported it) instead.
func (l *loop) goIdle(now time.Time, e LineEvent) bool {
	l.gen.Stop()
	l.fsk = nil
	l.fskKind = 0
	l.cw = cwNone
	l.cidAt = time.Time{}
	l.dtmfActive = 0
	if l.audio != nil {
		l.audio.Close()
		l.audio = nil
	}
	if !l.setLinefeed(now, proslic.LFForward) {
		return false
	}
	l.fire(e)
	return true
}

func (l *loop) timers(now time.Time) {
	cfg := &l.p.cfg
	l.hookTick(now)
	// A glitch too short for the classifier to confirm the off-hook: the
	// phone never really left the hook.
	if l.hook == hal.OnHook && l.hc.Idle() && (l.state == StateDialing || l.state == StateCall || l.state == StateLockout) {
		l.hangUp(l.lastHookAt)
	}
	// While the hook switch is moving (a rotary digit) the dialing timers wait.
	pulsing := l.hook == hal.OnHook || now.Sub(l.lastHookAt) < 300*time.Millisecond
	switch l.state {
	case StateDialing:
		if h := cfg.Hotline; l.hotline && l.ndigits == 0 && !pulsing && now.Sub(l.offHookAt) >= cfg.HotlineDelay {
			l.hotline = false
			l.ndigits = copy(l.digits[:], h)
			l.finishDialing(now)
			return
		}
		if !l.digitDue.IsZero() && !now.Before(l.digitDue) && !pulsing {
			l.digitDue = time.Time{}
			if m := l.p.plan.Match(l.dialed(), true); m == Complete || m == Ambiguous {
				l.finishDialing(now)
			} else {
				l.failDialing(now)
			}
			return
		}
		if l.sitEnded {
			// An out-of-service intercept at off-hook: reorder until the
			// off-hook timeout gives the howler (a digit still dials).
			l.sitEnded = false
			if l.ndigits == 0 {
				_ = l.gen.Play(dsp.ToneReorder)
			}
		}
		if l.ndigits == 0 && !pulsing && now.Sub(l.offHookAt) >= cfg.OffHookTimeout {
			l.lockout(now, true)
		}
	case StateLockout:
		if !l.howling && now.Sub(l.lockoutAt) >= cfg.OffHookTimeout {
			l.howling = true
			_ = l.gen.Play(dsp.ToneHowler)
		}
	case StateRinging:
		l.ringTimers(now)
	case StateCall:
		l.cwTimers(now)
		l.failTimers(now)
	case StateIdle:
		if !l.ohtUntil.IsZero() && !now.Before(l.ohtUntil) {
			l.ohtUntil = time.Time{}
			l.setLinefeed(now, proslic.LFForward)
		}
		if r := cfg.VMWIRefresh; r > 0 && !l.vmwiSent.IsZero() && now.Sub(l.vmwiSent) >= r {
			l.vmwiSent = now
			l.vmwiDue = true
		}
		if l.vmwiDue && l.fsk == nil && l.ohtUntil.IsZero() && l.p.cfg.VMWI {
			l.startVMWI(now)
		}
	case StateFault:
		if !now.Before(l.faultUntil) {
			l.clearFault(now)
		}
	}
	if l.audio != nil && l.audio.isClosed() {
		l.audio = nil
	}
}

// isSIT reports whether t is one of the special information tones.
func isSIT(t dsp.ToneName) bool {
	switch t {
	case dsp.ToneSITIntercept, dsp.ToneSITVacant, dsp.ToneSITReorder, dsp.ToneSITNoCircuit:
		return true
	}
	return false
}

// failTone is called for each tone the call layer plays in StateCall: busy
// and reorder arm the howler for OffHookTimeout later; any other tone
// disarms it (a SIT arms it when it has played out, see failTimers).
func (l *loop) failTone(now time.Time, t dsp.ToneName) {
	l.sitEnded, l.howlAt = false, time.Time{}
	if t == dsp.ToneBusy || t == dsp.ToneReorder {
		l.howlAt = now.Add(l.p.cfg.OffHookTimeout)
	}
}

// failTimers runs, in StateCall, the line's course after a failed or ended
// call as after abandoned dialing (Config.OffHookTimeout): a SIT that has
// played out goes on to reorder, and busy or reorder go on to the receiver
// off-hook howler after OffHookTimeout, until the phone hangs up or the
// call layer acts again. With the call's audio connected nothing changes.
func (l *loop) failTimers(now time.Time) {
	if l.audio != nil || l.cw != cwNone {
		l.sitEnded, l.howlAt = false, time.Time{}
		return
	}
	if l.sitEnded {
		l.sitEnded = false
		_ = l.gen.Play(dsp.ToneReorder)
		l.howlAt = now.Add(l.p.cfg.OffHookTimeout)
	}
	if !l.howlAt.IsZero() && !now.Before(l.howlAt) {
		l.howlAt = time.Time{}
		_ = l.gen.Play(dsp.ToneHowler)
	}
}

func (l *loop) ringTimers(now time.Time) {
	for !now.Before(l.stepEnd) {
		l.ringStep = (l.ringStep + 1) % len(l.cadence)
		l.stepEnd = l.stepEnd.Add(l.cadence[l.ringStep])
		if l.ringStep%2 == 0 {
			if l.fsk != nil {
				l.p.log.Warn("fxs: caller ID cut by the next ring")
				l.fsk = nil
			}
			l.setLinefeed(now, proslic.LFRinging)
		} else {
			l.setLinefeed(now, proslic.LFForwardOHT)
		}
	}
	if !l.cidAt.IsZero() && !now.Before(l.cidAt) {
		l.cidAt = time.Time{}
		b, err := l.cidBurst(l.cidReq, now, false)
		if err != nil {
			l.p.log.Warn("fxs: caller ID not sent", "err", err)
			return
		}
		l.fsk, l.fskLead, l.fskKind = b, 0, fskCID
	}
}

// render produces the frame for the phone.
func (l *loop) render() {
	out := l.out
	if l.audio != nil {
		if l.cw != cwNone && l.cw != cwWait {
			clear(l.in) // the far end does not hear the CIDCW exchange
		}
		l.audio.pushUp(l.in, l.dtmfBlank)
	}
	switch {
	case l.fsk != nil:
		i := 0
		for ; i < len(out) && l.fskLead > 0; i++ {
			out[i] = 0
			l.fskLead--
		}
		if i < len(out) {
			n := l.fsk.Fill(out[i:])
			if n < len(out)-i {
				clear(out[i+n:])
				l.fskDone()
			}
		}
		if l.audio != nil {
			l.audio.pullDown(l.in) // discard the far end meanwhile
		}
	case l.gen.Playing() != "":
		was := l.gen.Playing()
		l.gen.Fill(out)
		if l.gen.Playing() == "" && isSIT(was) {
			l.sitEnded = true // played out (not stopped): reorder follows
		}
		if l.audio != nil {
			l.audio.pullDown(l.in)
		}
	case l.audio != nil && (l.cw == cwNone || l.cw == cwWait):
		l.audio.pullDown(out)
	default:
		clear(out)
		if l.audio != nil {
			l.audio.pullDown(l.in)
		}
	}
}

func (l *loop) fskDone() {
	l.fsk = nil
	switch l.fskKind {
	case fskVMWI:
		// A change while the burst was on the line is still to be sent.
		l.vmwiDue = l.vmwiOn != l.mwi
		l.vmwiSent = time.Now()
		// Stay in on-hook transmission until the audio queued behind the
		// burst has reached the line.
		l.ohtUntil = time.Now().Add(ohtHold)
	case fskCIDCW:
		l.cw = cwWait
		l.cwUntil = l.cwStart.Add(cwRepeat)
	}
	l.fskKind = 0
}

func (l *loop) startVMWI(now time.Time) {
	b, err := l.vmwiBurst(l.mwi)
	if err != nil {
		l.p.log.Warn("fxs: VMWI not sent", "err", err)
		l.vmwiDue = false
		return
	}
	l.setLinefeed(now, proslic.LFForwardOHT)
	l.fsk, l.fskKind, l.vmwiOn = b, fskVMWI, l.mwi
	l.fskLead = int(vmwiLeadIn) * l.p.rate / int(time.Second)
}

// command applies one action from the call layer.
func (l *loop) command(now time.Time, c command) error {
	if c.kind == cmdPing {
		return nil
	}
	if l.test.on {
		return l.testCommand(now, c)
	}
	switch c.kind {
	case cmdTestBegin:
		return l.testBegin()
	case cmdTestEnd:
		return nil
	case cmdTestFSK:
		return errors.New("fxs: FSK loopback without a test holding the line")
	case cmdConfig:
		return l.setConfig(c.cfg, c.plan)
	case cmdMWI:
		if l.mwi != c.on {
			l.mwi = c.on
			l.p.mwiSt.Store(c.on)
			l.vmwiDue = l.p.cfg.VMWI
		}
		return nil
	}
	if l.state == StateFault {
		if c.kind == cmdStopRing || c.kind == cmdStopTone || c.kind == cmdDisconnect {
			return nil
		}
		return ErrFault
	}
	switch c.kind {
	case cmdRing:
		switch l.state {
		case StateIdle:
		case StateRinging:
			// a new call replaces the alert
		default:
			return ErrOffHook
		}
		if l.fsk != nil && l.fskKind == fskVMWI {
			l.fsk = nil
			l.vmwiDue = true
		}
		l.fsk, l.fskKind = nil, 0
		l.ohtUntil = time.Time{}
		l.cadence = c.cadence
		l.ringStep = 0
		l.stepEnd = now.Add(c.cadence[0])
		l.cidAt = time.Time{}
		l.cidReq = nil
		if c.ring.CallerID != nil && l.p.cfg.CallerID != CallerIDOff {
			l.cidReq = c.ring.CallerID
			l.cidAt = l.cidSlot(now, c.ring.CallerID)
		}
		l.fire(LineRing)
		l.setLinefeed(now, proslic.LFRinging)
		return nil
	case cmdStopRing:
		if l.state == StateRinging {
			l.goIdle(now, LineRingStop)
		}
		return nil
	case cmdTone:
		if l.hook != hal.OffHook || (l.state != StateCall && l.state != StateDialing) {
			return ErrOnHook
		}
		l.cw = cwNone
		l.failTone(now, "")
		if c.tone == dsp.ToneCallWaiting && l.state == StateCall {
			l.startCW(now, nil) // a short alert over the call, not a muting tone
			return nil
		}
		if err := l.gen.Play(c.tone); err != nil {
			return fmt.Errorf("%w: %v", ErrTone, err)
		}
		if l.state == StateCall {
			l.failTone(now, c.tone)
		}
		return nil
	case cmdStopTone:
		l.cancelCW()
		l.gen.Stop()
		l.failTone(now, "")
		return nil
	case cmdConnect:
		if l.state != StateCall {
			return ErrNotInCall
		}
		if l.audio != nil {
			l.audio.Close()
		}
		l.audio = c.audio
		return nil
	case cmdDisconnect:
		if l.audio != nil {
			l.audio.Close()
			l.audio = nil
		}
		return nil
	case cmdCallWaiting:
		if l.state != StateCall {
			return ErrNotInCall
		}
		l.startCW(now, c.cid)
		return nil
	case cmdCollect:
		if l.state != StateCall || l.hook != hal.OffHook {
			return ErrNotInCall
		}
		l.cancelCW()
		l.startDialingTone(now, dsp.ToneRecallDial, LineCollect)
		return nil
	}
	return fmt.Errorf("fxs: unknown command %d", c.kind)
}

// cidSlot picks when the Type I burst starts: in the first silent step of
// the cadence long enough to hold it with 500 ms after the ring and
// 200 ms before the next.
func (l *loop) cidSlot(now time.Time, cid *endpoint.CallerID) time.Time {
	need := cidAfterRing + l.cidDuration(cid) + cidBeforeRing
	t := now
	for i, d := range l.cadence {
		if i%2 == 1 && d >= need {
			return t.Add(cidAfterRing)
		}
		t = t.Add(d)
	}
	l.p.log.Warn("fxs: ring cadence has no silence long enough for caller ID", "need", need)
	return time.Time{}
}

// ohtHold keeps the line in on-hook transmission after an FSK burst while
// the PCM playout queue drains (a few frames) and a little beyond.
const ohtHold = 300 * time.Millisecond
