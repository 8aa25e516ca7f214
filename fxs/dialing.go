package fxs

import (
	"slices"
	"time"

	"basestation/fxs/dsp"
)

func (l *loop) startDialing(at time.Time, e LineEvent) {
	l.startDialingTone(at, dsp.ToneDial, e)
}

// startDialingTone enters StateDialing playing tone (stutter dial tone
// instead of dial tone while messages wait).
func (l *loop) startDialingTone(at time.Time, tone dsp.ToneName, e LineEvent) {
	l.fire(e)
	l.hotline = false
	l.ndigits = 0
	l.digitDue = time.Time{}
	l.offHookAt = at
	l.howling = false
	l.resetDTMF()
	l.dtmfActive = 0
	if tone == dsp.ToneDial && l.mwi && l.p.cfg.StutterDial {
		tone = dsp.ToneStutterDial
	}
	_ = l.gen.Play(tone)
}

func (l *loop) resetDTMF() {
	l.det.Reset()
	l.detN, l.detDigit = 0, 0
}

func (l *loop) dtmf(now time.Time) {
	l.dtmfEv = l.det.Process(l.in, l.dtmfEv[:0])
	l.detN += int64(len(l.in))
	l.dtmfBlank = 0
	for _, e := range l.dtmfEv {
		l.markDTMF(e)
	}
	if l.detDigit != 0 {
		l.dtmfBlank = max(l.dtmfBlank, len(l.in))
	}
	for _, e := range l.dtmfEv {
		switch l.state {
		case StateDialing:
			if !e.End {
				l.addDigit(now, e.Digit)
			}
		case StateCall:
			if l.cw == cwAckWait || l.cw == cwAckOn {
				l.cwAck(now, e)
				continue
			}
			if e.End {
				if l.dtmfActive == e.Digit {
					l.dtmfActive = 0
					l.p.emit(Event{Kind: EvDigitEnd, At: now, Digit: e.Digit, Duration: e.Duration})
				}
			} else {
				l.dtmfActive = e.Digit
				l.p.emit(Event{Kind: EvDigit, At: now, Digit: e.Digit})
			}
		}
	}
}

// dtmfGuard is silenced before a digit's detected onset as well: the
// detector places a digit's edges to within half a block (6.4 ms).
const dtmfGuard = 8 * time.Millisecond

// markDTMF sets dtmfBlank for a detector event: a digit's start silences
// the phone's audio back to its onset (less dtmfGuard), as far as the
// delay line reaches; while it lasts and in the frame of its end, the
// whole frame.
func (l *loop) markDTMF(e dsp.DTMFEvent) {
	n := len(l.in)
	if e.End {
		l.detDigit = 0
		l.dtmfBlank = max(l.dtmfBlank, n)
		return
	}
	l.detDigit = e.Digit
	onset := max(e.At-dtmfGuard, 0)
	sec := int64(time.Second)
	rate := int64(l.p.rate)
	back := l.detN - (int64(onset)/sec*rate + int64(onset)%sec*rate/sec)
	l.dtmfBlank = max(l.dtmfBlank, int(min(back, int64((dtmfHold+1)*n))))
}

func (l *loop) dialed() string { return string(l.digits[:l.ndigits]) }

func (l *loop) addDigit(now time.Time, d byte) {
	if l.state != StateDialing {
		return
	}
	l.gen.Stop() // the first digit ends dial tone
	cfg := &l.p.cfg
	if d == '#' && cfg.PoundEndsDialing && l.ndigits > 0 {
		withPound := l.p.plan.Match(l.dialed()+"#", false)
		if withPound == NoMatch {
			if m := l.p.plan.Match(l.dialed(), true); m == Complete || m == Ambiguous {
				l.finishDialing(now)
			} else {
				l.failDialing(now)
			}
			return
		}
	}
	if l.ndigits == MaxDigits {
		l.failDialing(now)
		return
	}
	l.digits[l.ndigits] = d
	l.ndigits++
	for _, e := range cfg.EmergencyNumbers {
		if e == l.dialed() {
			l.finishDialing(now)
			return
		}
	}
	switch l.p.plan.Match(l.dialed(), false) {
	case Complete:
		l.finishDialing(now)
	case Ambiguous:
		l.digitDue = now.Add(cfg.InterDigitShort)
	case Partial:
		l.digitDue = now.Add(cfg.InterDigitLong)
	default:
		l.failDialing(now)
	}
}

func (l *loop) isEmergency(n string) bool {
	return slices.Contains(l.p.cfg.EmergencyNumbers, n)
}

func (l *loop) finishDialing(now time.Time) {
	n := l.dialed()
	l.gen.Stop()
	l.digitDue = time.Time{}
	l.fire(LineDialed)
	l.p.emit(Event{Kind: EvDialed, At: now, Number: n, Emergency: l.isEmergency(n)})
}

func (l *loop) failDialing(now time.Time) {
	n := l.dialed()
	l.digitDue = time.Time{}
	l.lockout(now, false)
	l.p.emit(Event{Kind: EvDialFailed, At: now, Number: n})
}

func (l *loop) lockout(now time.Time, howl bool) {
	if howl {
		l.fire(LineOffHookTimeout)
	} else {
		l.fire(LineDialFailed)
	}
	l.lockoutAt = now
	l.howling = howl
	if howl {
		_ = l.gen.Play(dsp.ToneHowler)
	} else {
		_ = l.gen.Play(dsp.ToneReorder)
	}
}
