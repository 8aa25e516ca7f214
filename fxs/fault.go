package fxs

import (
	"fmt"
	"time"

	"basestation/fxs/proslic"
	"basestation/hal"
)

func alarmNames(m uint8) string {
	s := ""
	for i := 0; i < 6; i++ {
		if m&(1<<i) != 0 {
			if s != "" {
				s += ","
			}
			s += fmt.Sprintf("Q%d", i+1)
		}
	}
	return s
}

// fault puts the line in the safe state and reports it.
func (l *loop) fault(now time.Time, err error) {
	wasOff := l.state == StateDialing || l.state == StateCall || l.state == StateLockout
	l.gen.Stop()
	l.fsk = nil
	l.fskKind = 0
	l.cw = cwNone
	l.cidAt = time.Time{}
	if l.audio != nil {
		l.audio.Close()
		l.audio = nil
	}
	if e := l.p.slic.SetLinefeed(proslic.LFOpen); e != nil {
		l.p.log.Error("fxs: cannot open the line after a fault", "err", e)
	}
	l.linefeed = proslic.LFOpen
	l.ohtUntil = time.Time{}
	l.fire(LineFault)
	l.faultUntil = now.Add(l.p.cfg.FaultRetry)
	l.p.log.Error("fxs: line fault; line opened", "err", err)
	l.p.emit(Event{Kind: EvFault, At: now, Err: err})
	if wasOff {
		l.p.emit(Event{Kind: EvOnHook, At: now})
	}
}

func (l *loop) clearFault(now time.Time) {
	l.linefeed = 0xFF
	if err := l.p.slic.SetLinefeed(proslic.LFForward); err != nil {
		l.faultUntil = now.Add(l.p.cfg.FaultRetry)
		return
	}
	l.linefeed = proslic.LFForward
	l.fire(LineFaultCleared)
	l.p.emit(Event{Kind: EvFaultCleared, At: now})
	// The open line carried no loop current: what the loop last knew of the
	// hook is stale. Take the chip's reading as the truth, so that an
	// off-hook confirmed after the line is fed again is a new off-hook.
	h, err := l.p.slic.Hook()
	switch {
	case err != nil:
	case h == hal.OffHook:
		l.setHook(hal.OnHook)
		l.hookRaw(now, hal.OffHook)
	case l.hook != hal.OnHook:
		l.hookRaw(now, hal.OnHook)
	}
}
