package slic

import (
	"math"
	"time"
)

// Measurement is the line as a bench instrument sees it: what the chip
// drives, what flows, and what hangs on it.
type Measurement struct {
	Linefeed   string `json:"linefeed"`   // the actual line state
	Programmed string `json:"programmed"` // the linefeed the driver wrote (reg 64)
	// Polarity is "forward" (tip above ring), "reverse", "ringing" (AC) or
	// "none" (not driven).
	Polarity      string  `json:"polarity"`
	TipVolts      float64 `json:"tip_volts"`  // to ground, now
	RingVolts     float64 `json:"ring_volts"` // to ground, now
	LoopVolts     float64 `json:"loop_volts"` // |tip − ring| (DC states; an instant while ringing)
	LoopCurrentMA float64 `json:"loop_current_ma"`
	Ringing       bool    `json:"ringing"` // ring voltage on the line now
	// RingVrms and RingHz are the ring generator's programme (the signal
	// while Ringing is true).
	RingVrms    float64        `json:"ring_vrms"`
	RingHz      float64        `json:"ring_hz"`
	OffHook     bool           `json:"off_hook"`    // the phone's hook switch closes the loop
	LoopClosure bool           `json:"loop_detect"` // the chip's debounced loop-closure status
	BatteryV    float64        `json:"battery_volts"`
	Powered     bool           `json:"powered"`
	InReset     bool           `json:"in_reset"`
	Thermal     bool           `json:"thermal_alarm"`
	Conditions  LineConditions `json:"conditions"`
}

// Measure returns the line now.
func (m *Model) Measure() Measurement {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.solveLocked()
	r := Measurement{
		Linefeed: Linefeed(m.lfs).String(), Programmed: Linefeed(m.reg[64] & 7).String(),
		TipVolts: round2(w.vt), RingVolts: round2(w.vr), LoopVolts: round2(math.Abs(w.vt - w.vr)),
		LoopCurrentMA: round2(math.Abs(w.i) * 1000), Ringing: m.ringOn,
		OffHook: m.loopClosed, LoopClosure: m.lcr, BatteryV: round2(m.vbatLocked()),
		Powered: m.poweredLocked(), InReset: m.inReset, Thermal: m.thermal, Conditions: m.cond,
	}
	vpk, hz := m.ringParamsLocked()
	r.RingVrms, r.RingHz = round2(vpk/math.Sqrt2), round2(hz)
	lf := m.lfs
	if m.inReset || !r.Powered || m.thermal {
		lf = 0
	}
	switch lf {
	case 1, 2:
		r.Polarity = "forward"
	case 5, 6:
		r.Polarity = "reverse"
	case 4:
		r.Polarity = "forward"
		if m.ringOn {
			r.Polarity = "ringing"
		}
	default:
		r.Polarity = "none"
	}
	return r
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// TimelineSince returns the recorded line events at or after t (oldest
// first), without copying the whole timeline.
func (m *Model) TimelineSince(t time.Time) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := len(m.timeline)
	for i > 0 && !m.timeline[i-1].At.Before(t) {
		i--
	}
	return append([]Event(nil), m.timeline[i:]...)
}
