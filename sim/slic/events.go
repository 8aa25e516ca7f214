package slic

import (
	"fmt"
	"time"
)

// Linefeed is a linefeed code / line state (reg 64, §1.4).
type Linefeed byte

// Linefeed codes.
const (
	LFOpen Linefeed = iota
	LFForwardActive
	LFForwardOHT
	LFTipOpen
	LFRinging
	LFReverseActive
	LFReverseOHT
	LFRingOpen
)

func (l Linefeed) String() string {
	names := [...]string{"open", "forward-active", "forward-oht", "tip-open", "ringing", "reverse-active", "reverse-oht", "ring-open"}
	if int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("Linefeed(%d)", int(l))
}

// EventKind is what happened on the line.
type EventKind int

// Line events.
const (
	// LinefeedChange: the actual line state changed (Event.Linefeed is the
	// new state), including the silent periods of ringing.
	LinefeedChange EventKind = iota
	// RingOn / RingOff: ring voltage applied to / removed from the line
	// (RingOn carries Vrms and Hz).
	RingOn
	RingOff
	// HookSwitch: the phone's hook switch moved (Note "off-hook"/"on-hook").
	HookSwitch
	// LoopDetect: the chip's debounced loop-closure status changed.
	LoopDetect
	// RingTrip: the chip detected an answer during ringing.
	RingTrip
	// Alarm: power or thermal alarm raised or cleared.
	Alarm
	// Power: DC-DC converter and calibration milestones.
	Power
	// ResetEvent: the reset line was asserted or released.
	ResetEvent
)

func (k EventKind) String() string {
	names := [...]string{"linefeed", "ring-on", "ring-off", "hook", "loop", "ring-trip", "alarm", "power", "reset"}
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one entry of the line's timeline.
type Event struct {
	At       time.Time
	Kind     EventKind
	Linefeed Linefeed // actual line state after the event
	Vrms, Hz float64  // RingOn: the ring signal applied
	Note     string
}

func (e Event) String() string {
	s := e.At.Format("15:04:05.000") + " " + e.Kind.String()
	switch e.Kind {
	case RingOn:
		s += fmt.Sprintf(" %.1fVrms %.1fHz", e.Vrms, e.Hz)
	case LinefeedChange:
		s += " " + e.Linefeed.String()
	}
	if e.Note != "" {
		s += " " + e.Note
	}
	return s
}
