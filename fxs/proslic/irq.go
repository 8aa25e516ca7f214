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

// IRQPoll is the WaitForEdge timeout of Run: a finite wait so that ctx is
// honoured and a missed edge is recovered by re-reading the status.
const IRQPoll = 50 * time.Millisecond

// Run services the chip's interrupt line until ctx ends, calling handle for
// each event (from Run's goroutine). It waits for a falling edge with a
// finite timeout; on an edge, or when the line is still held low, it reads
// and clears the three status registers. Without an IRQ pin it polls the
// status every IRQPoll. On return the line is left open.
func (d *Dev) Run(ctx context.Context, handle func(Event)) error {
	defer func() {
		if err := d.Halt(); err != nil {
			d.log.Warn("proslic halt", "bus", d.name, "err", err)
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		if d.irq != nil {
			if !d.irq.WaitForEdge(IRQPoll) && d.irq.Read() == gpio.High {
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(IRQPoll):
			}
		}
		if err := d.Service(handle); err != nil {
			return err
		}
	}
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
