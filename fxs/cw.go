package fxs

import (
	"time"

	"basestation/endpoint"
	"basestation/fxs/dsp"
)

// cw phases of a Type II (call waiting) alert.
type cwPhase int

// Call waiting (Type II caller ID).
//
// The alert is one 300 ms SAS (then, with caller ID, CAS, the phone's ACK
// and FSK), repeated once as a bare SAS 10 s later; the far end is muted
// only while the port signals.
func (l *loop) startCW(now time.Time, cid *endpoint.CallerID) {
	l.cwCID = nil
	if cid != nil && l.p.cfg.CallWaitingCallerID && l.p.cfg.CallerID != CallerIDOff {
		l.cwCID = cid
	}
	l.cwStart = now
	_ = l.gen.Play(dsp.ToneCallWaiting)
	l.cw = cwSAS
	l.cwUntil = now.Add(sasTime)
}

func (l *loop) cancelCW() {
	if l.cw == cwNone {
		return
	}
	l.cw = cwNone
	l.gen.Stop()
	if l.fskKind == fskCIDCW {
		l.fsk = nil
		l.fskKind = 0
	}
}

func (l *loop) cwTimers(now time.Time) {
	if l.cw == cwNone || now.Before(l.cwUntil) {
		return
	}
	switch l.cw {
	case cwSAS:
		if l.cwCID == nil {
			l.gen.Stop()
			l.cw = cwWait
			l.cwUntil = l.cwStart.Add(cwRepeat)
			return
		}
		_ = l.gen.Play(dsp.ToneCAS)
		l.cw = cwCAS
		l.cwUntil = now.Add(casTime)
	case cwCAS:
		l.gen.Stop()
		l.resetDTMF()
		l.cw = cwAckWait
		l.cwUntil = now.Add(ackWindow)
	case cwAckWait:
		// no ACK: the phone cannot show caller ID on call waiting
		l.p.log.Info("fxs: no CIDCW acknowledgement; caller ID not sent")
		l.cw = cwWait
		l.cwUntil = l.cwStart.Add(cwRepeat)
	case cwAckOn:
		l.cwSend(now)
	case cwWait:
		_ = l.gen.Play(dsp.ToneCallWaiting)
		l.cw = cwRepeatSAS
		l.cwUntil = now.Add(sasTime)
	case cwRepeatSAS:
		l.gen.Stop()
		l.cw = cwNone
	}
}

func (l *loop) cwAck(now time.Time, e dsp.DTMFEvent) {
	if e.Digit != 'D' && e.Digit != 'A' {
		return
	}
	if !e.End && l.cw == cwAckWait {
		l.cw = cwAckOn
		l.cwUntil = now.Add(ackMaxWait)
		l.p.emit(Event{Kind: EvCallWaitingAck, At: now, Digit: e.Digit})
		return
	}
	if e.End && l.cw == cwAckOn {
		l.cwSend(now)
	}
}

func (l *loop) cwSend(now time.Time) {
	b, err := l.cidBurst(l.cwCID, now, true)
	if err != nil {
		l.p.log.Warn("fxs: CIDCW not sent", "err", err)
		l.cw = cwWait
		l.cwUntil = l.cwStart.Add(cwRepeat)
		return
	}
	l.cw = cwFSK
	l.fsk, l.fskLead, l.fskKind = b, 0, fskCIDCW
}
