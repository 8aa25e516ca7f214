package fxs

import (
	"context"
	"time"

	"basestation/hal"
)

// An idle line sleeps: while the phone is on-hook and nothing sounds on the
// line, the port reads no PCM and runs no frame clock. It wakes for a
// command of the call layer, a SLIC interrupt (hook, ring trip, alarm) or
// its next timer (a ring step, the fault retry, a VMWI refresh, the hook
// classifier's next decision), does that step without audio, and goes back
// to sleep unless the step put the line to work: off-hook, an FSK burst
// (caller ID while ringing, on-hook VMWI) or its on-hook transmission
// hold, a tone, call audio, or a line test. Only then does it get in step
// with the PCM clock again (syncPCM) and process frames.

// needsPCM reports whether the line needs the frame clock now.
func (l *loop) needsPCM() bool {
	if l.test.on || l.hook == hal.OffHook || l.fsk != nil || l.audio != nil ||
		l.gen.Playing() != "" || !l.ohtUntil.IsZero() {
		return true
	}
	switch l.state {
	case StateIdle, StateFault:
		return false
	case StateRinging:
		return !l.cidAt.IsZero() // caller ID to send between the rings
	}
	return true // dialing, lockout, call: a hook switch not yet seen back on
}

// nextWake is when the sleeping line has something to do by itself (zero:
// nothing until an event or a command).
func (l *loop) nextWake(now time.Time) time.Time {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if d, ok := l.hc.Deadline(); ok {
		earliest(l.epoch.Add(d + hookTickLag))
	}
	switch l.state {
	case StateRinging:
		earliest(l.stepEnd)
		earliest(l.cidAt)
	case StateFault:
		earliest(l.faultUntil)
	case StateIdle:
		if r := l.p.cfg.VMWIRefresh; r > 0 && !l.vmwiSent.IsZero() {
			earliest(l.vmwiSent.Add(r))
		}
		if l.vmwiDue && l.p.cfg.VMWI {
			earliest(now)
		}
	}
	return at
}

// step is a frame's work without audio: the commands, the SLIC's events
// and the timers. The sleeping line runs it when it wakes.
func (l *loop) step(now time.Time) {
	l.commands(now)
	if l.test.on {
		return
	}
	l.slicEvents()
	l.timers(now)
}

// sleep waits, without the frame clock, for the next thing the idle line
// must do and does it (step). It returns nil when the line needs the PCM
// clock again or ctx ended, and the SLIC loop's end when that stops first
// (put back into slicDone for Run).
func (p *Port) sleep(ctx context.Context, slicDone chan error) (stopped bool, err error) {
	l := &p.l
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for !l.needsPCM() {
		p.wakeups.Add(1)
		now := time.Now()
		var tc <-chan time.Time
		if at := l.nextWake(now); !at.IsZero() {
			timer.Reset(max(at.Sub(now), 0))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return true, nil
		case err := <-slicDone:
			slicDone <- err
			return true, err
		case c := <-p.cmds:
			c.reply <- l.command(time.Now(), c)
		case e := <-p.hw:
			l.slicEvent(e)
		case <-tc:
		}
		timer.Stop()
		l.step(time.Now())
	}
	return false, nil
}
