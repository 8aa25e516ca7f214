package proslic

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"basestation/hal"
)

// EventKind classifies what the chip reported.
type EventKind uint8

func (k EventKind) String() string {
	switch k {
	case EvHook:
		return "hook"
	case EvRingTrip:
		return "ring-trip"
	case EvRingActive:
		return "ring-active-timer"
	case EvRingInactive:
		return "ring-inactive-timer"
	case EvPowerAlarm:
		return "power-alarm"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one decoded interrupt.
type Event struct {
	Kind  EventKind
	Hook  hal.HookState // EvHook, EvRingTrip
	Alarm uint8         // EvPowerAlarm: bit i = transistor Q(i+1)
	At    time.Time     // when the interrupt was serviced
}

// IRQPoll is how often Run reads the status of a chip without an IRQ pin.
const IRQPoll = 50 * time.Millisecond

// IRQRecheck bounds Run's wait for an edge on the IRQ pin: a line found
// still low then (an edge missed) is serviced all the same. It is long, so
// that an idle line costs no wake-ups: hook changes come from the edge.
const IRQRecheck = 15 * time.Second

// Run services the chip's interrupt line until ctx ends, calling handle for
// each event (from Run's goroutine). It waits for a falling edge (at most
// IRQRecheck; ctx's end halts the pin to wake it); on an edge, or when the
// line is still held low, it reads and clears the three status registers.
// Without an IRQ pin it polls the status every IRQPoll. On return the line
// is left open.
func (d *Dev) Run(ctx context.Context, handle func(Event)) error {
	defer func() {
		if err := d.Halt(); err != nil {
			d.log.Warn("proslic halt", "bus", d.name, "err", err)
		}
	}()
	if d.irq != nil {
		stop := d.haltIRQOnDone(ctx)
		defer stop()
	}
	// A ring trip reports off-hook at once; the loop closure follows
	// after the chip's debounce. A loop opened again before that debounce
	// ran out never sets LCR, so no loop-status interrupt would ever say
	// on-hook: the port would hold a call on an open line. The loop status
	// is read once RingTripAudit after a ring trip that no loop-status
	// interrupt followed, and an open loop is reported as on-hook.
	var audit time.Time
	watch := func(e Event) {
		switch e.Kind {
		case EvRingTrip:
			audit = time.Now().Add(RingTripAudit)
		case EvHook:
			audit = time.Time{}
		}
		handle(e)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		wait := IRQRecheck
		if !audit.IsZero() {
			wait = max(time.Until(audit), time.Millisecond)
		}
		if d.irq != nil {
			// The line is level-held low until the status is cleared: one
			// still (or again) low after the last Service has an interrupt
			// pending whose falling edge may have come before this wait
			// began, so it is serviced without waiting for another edge.
			if d.irq.Read() == gpio.High && !d.irq.WaitForEdge(wait) && d.irq.Read() == gpio.High {
				if err := d.auditHook(&audit, watch); err != nil {
					return err
				}
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(IRQPoll, wait)):
			}
		}
		if err := ctx.Err(); err != nil {
			return nil
		}
		if err := d.Service(watch); err != nil {
			return err
		}
		if d.irq == nil {
			if err := d.auditHook(&audit, watch); err != nil {
				return err
			}
		}
	}
}

// RingTripAudit is how long after a ring trip Run checks that the loop is
// still closed (well past the loop-closure debounce, reg 69).
const RingTripAudit = 100 * time.Millisecond

// auditHook reads the loop status when the ring-trip audit *at is due and
// reports an open loop as on-hook.
func (d *Dev) auditHook(at *time.Time, handle func(Event)) error {
	if at.IsZero() || time.Now().Before(*at) {
		return nil
	}
	*at = time.Time{}
	hook, err := d.Hook()
	if err != nil {
		return err
	}
	if hook == hal.OnHook {
		d.log.Info("proslic: loop open after a ring trip without a loop-closure interrupt; reporting on-hook", "bus", d.name)
		handle(Event{Kind: EvHook, Hook: hal.OnHook, At: time.Now()})
	}
	return nil
}

// haltIRQOnDone wakes Run's WaitForEdge when ctx ends: it halts the pin,
// and again every 10 ms (a halt that lands just before the wait starts
// is not seen by it) until stop is called. stop waits for the goroutine.
func (d *Dev) haltIRQOnDone(ctx context.Context) (stop func()) {
	exited := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if err := d.irq.Halt(); err != nil {
				d.log.Warn("proslic: halt IRQ pin", "bus", d.name, "err", err)
			}
			select {
			case <-exited:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(exited); <-done }
}

// Service reads and clears the interrupt status once and reports what it
// found. Run calls it; it is exported for hosts that share one IRQ line.
func (d *Dev) Service(handle func(Event)) error {
	d.mu.Lock()
	var st [3]uint8
	var err error
	for i := range st {
		if st[i], err = d.readReg(regIRQ1 + uint8(i)); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	for i := range st {
		if st[i] != 0 {
			if err = d.writeReg(regIRQ1+uint8(i), st[i]); err != nil {
				d.mu.Unlock()
				return err
			}
		}
	}
	var loop uint8
	if st[1]&(irq2LoopStatus|irq2RingTrip) != 0 {
		if loop, err = d.readReg(regLoopStatus); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	d.mu.Unlock()
	now := time.Now()
	hook := hal.OnHook
	if loop&1 != 0 {
		hook = hal.OffHook
	}
	if a := st[1] & irq2PowerAlarms; a != 0 {
		handle(Event{Kind: EvPowerAlarm, Alarm: a >> 2, At: now})
	}
	if st[1]&irq2RingTrip != 0 {
		handle(Event{Kind: EvRingTrip, Hook: hal.OffHook, At: now})
	}
	if st[1]&irq2LoopStatus != 0 {
		handle(Event{Kind: EvHook, Hook: hook, At: now})
	}
	if st[0]&irq1RingActive != 0 {
		handle(Event{Kind: EvRingActive, At: now})
	}
	if st[0]&irq1RingInactive != 0 {
		handle(Event{Kind: EvRingInactive, At: now})
	}
	return nil
}
