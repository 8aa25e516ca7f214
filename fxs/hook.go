package fxs

import (
	"time"

	"basestation/fxs/dsp"
	"basestation/fxs/proslic"
	"basestation/hal"
)

func (l *loop) setHook(h hal.HookState) {
	l.hook = h
	l.p.hookSt.Store(int32(h))
}

// hookRaw feeds one debounced hook transition from the SLIC. Going
// off-hook from idle or ringing acts at once (dial tone, answer); every
// transition also goes to the classifier, whose events (pulse digits,
// flash, hang-up) hookEvents applies.
func (l *loop) hookRaw(at time.Time, h hal.HookState) {
	l.lastHookAt = at
	if h != l.hook {
		l.setHook(h)
		switch {
		case h == hal.OffHook && l.state == StateIdle:
			l.offHook(at, false)
		case h == hal.OffHook && l.state == StateRinging:
			l.offHook(at, true)
		case h == hal.OnHook && l.state == StateDialing:
			l.gen.Stop() // a rotary digit's first pulse ends dial tone
		}
	}
	t := at.Sub(l.epoch)
	if t < l.hcNow {
		t = l.hcNow // stamped before a Tick already past: clamp (≤ hookTickLag)
	}
	l.hcNow = t
	var err error
	l.hookEv, err = l.hc.Transition(h, t, l.hookEv[:0])
	if err != nil {
		l.p.log.Warn("fxs: hook classifier", "err", err)
		return
	}
	l.hookEvents()
}

// hookTickLag keeps the classifier's clock this far behind the frame clock,
// so that a transition stamped by the IRQ loop just before a frame but
// delivered after it still arrives in order.
const hookTickLag = 20 * time.Millisecond

func (l *loop) hookTick(now time.Time) {
	t := now.Sub(l.epoch) - hookTickLag
	if t <= l.hcNow {
		return
	}
	if d, ok := l.hc.Deadline(); !ok || t < d {
		return
	}
	l.hcNow = t
	var err error
	l.hookEv, err = l.hc.Tick(t, l.hookEv[:0])
	if err != nil {
		l.p.log.Warn("fxs: hook classifier", "err", err)
		return
	}
	l.hookEvents()
}

func (l *loop) hookEvents() {
	for _, e := range l.hookEv {
		at := l.epoch.Add(e.At)
		switch e.Kind {
		case dsp.HookOffHook:
			// handled on the raw transition
		case dsp.HookDigit:
			switch l.state {
			case StateDialing:
				if l.p.cfg.PulseDialing {
					l.addDigit(at, e.Digit)
				}
			case StateCall:
				if l.p.cfg.PulseDialing {
					l.p.emit(Event{Kind: EvDigit, At: at, Digit: e.Digit, Pulse: true})
				}
			}
		case dsp.HookBadDigit:
			if l.state == StateDialing && l.p.cfg.PulseDialing {
				l.failDialing(at)
			}
		case dsp.HookFlash:
			switch l.state {
			case StateCall:
				l.cancelCW()
				l.p.emit(Event{Kind: EvFlash, At: at, Duration: e.Duration})
			case StateDialing:
				l.startDialing(at, LineRecall) // a recall while dialing: start over
			}
		case dsp.HookHangUp:
			l.hangUp(at)
		}
	}
}

// hangUp ends an off-hook state.
func (l *loop) hangUp(at time.Time) {
	switch l.state {
	case StateDialing, StateCall, StateLockout:
		if l.goIdle(time.Now(), LineHangUp) { // else fault() reported the on-hook
			l.p.emit(Event{Kind: EvOnHook, At: at})
		}
	}
}

// offHook starts dialing or answers ringing.
func (l *loop) offHook(at time.Time, answer bool) {
	l.setHook(hal.OffHook)
	l.fsk = nil
	l.ohtUntil = time.Time{}
	if l.fskKind == fskVMWI {
		l.vmwiDue = true // resend when idle again
	}
	l.fskKind = 0
	if !l.setLinefeed(at, proslic.LFForward) {
		return // the line is in StateFault; at the retry an off-hook gives dial tone
	}
	if answer {
		l.cidAt = time.Time{}
		l.fire(LineAnswer)
		l.p.emit(Event{Kind: EvOffHook, At: at, Answer: true})
		return
	}
	l.startDialing(at, LineOffHook)
	if l.p.cfg.Hotline != "" {
		l.hotline = true
		if l.p.cfg.HotlineDelay == 0 {
			l.gen.Stop() // a hotline gives no dial tone
		}
	}
	l.p.emit(Event{Kind: EvOffHook, At: at})
}
