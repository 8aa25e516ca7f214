package dsp

import (
	"fmt"
	"time"

	"basestation/hal"
)

// HookOpts are the timing windows of a HookClassifier. A zero field takes
// the default of DefaultHookOpts.
type HookOpts struct {
	// MinBreak is the shortest on-hook counted as a dial pulse; shorter
	// on-hooks are glitches and ignored. Default 20 ms.
	MinBreak time.Duration
	// MaxBreak is the longest on-hook counted as a dial pulse. On-hooks
	// between MaxBreak and FlashMin are ignored as glitches. Default 150 ms
	// (10 pps at 60/40 breaks for 60 ms; 8 pps at 64 % for 80 ms).
	MaxBreak time.Duration
	// MinMake is the shortest off-hook that ends an on-hook; shorter
	// off-hooks are contact bounce and the on-hook goes on. Default 10 ms.
	MinMake time.Duration
	// InterDigit is how long the line must stay off-hook after a pulse to
	// end the digit. Default 250 ms (DAHDI), well above the 40-50 ms make
	// between pulses and below the ~700 ms a rotary dial returns in.
	InterDigit time.Duration
	// FlashMin and FlashMax bound an on-hook reported as a hook flash
	// (inclusive). Longer on-hooks are a hang-up. Default 300 ms and
	// 1000 ms (the North American manual flash window).
	FlashMin, FlashMax time.Duration
}

// DefaultHookOpts returns the default windows.
func DefaultHookOpts() HookOpts {
	return HookOpts{
		MinBreak: 20 * time.Millisecond, MaxBreak: 150 * time.Millisecond,
		MinMake: 10 * time.Millisecond, InterDigit: 250 * time.Millisecond,
		FlashMin: 300 * time.Millisecond, FlashMax: 1000 * time.Millisecond,
	}
}

// HookEventKind is what a HookEvent reports.
type HookEventKind int

const (
	// HookOffHook: the idle line went off-hook (seizure).
	HookOffHook HookEventKind = iota + 1
	// HookDigit: a pulse-dialed digit ('1'-'9', '0' for ten pulses).
	HookDigit
	// HookBadDigit: more than ten pulses before an inter-digit pause.
	HookBadDigit
	// HookFlash: an on-hook inside [FlashMin, FlashMax].
	HookFlash
	// HookHangUp: an on-hook longer than FlashMax; the line is idle.
	HookHangUp
)

func (k HookEventKind) String() string {
	switch k {
	case HookOffHook:
		return "off-hook"
	case HookDigit:
		return "digit"
	case HookBadDigit:
		return "bad-digit"
	case HookFlash:
		return "flash"
	case HookHangUp:
		return "hang-up"
	}
	return fmt.Sprintf("HookEventKind(%d)", int(k))
}

// HookEvent is one classified hook event.
type HookEvent struct {
	Kind   HookEventKind
	Digit  byte // HookDigit
	Pulses int  // HookDigit, HookBadDigit
	// At is when it began: the off-hook, the first pulse's break, the
	// flash's or hang-up's on-hook (on the caller's time axis).
	At time.Duration
	// Duration is the on-hook time of a flash.
	Duration time.Duration
}

// HookClassifier turns hook-switch transitions with their times into
// off-hook, pulse digit, flash and hang-up events. It has no clock: the
// caller passes the time of each transition (any origin, never decreasing)
// and calls Tick when Deadline passes, so that a digit ends or a hang-up is
// seen without another transition. It starts idle (on-hook). It never
// allocates when dst has room, and is not safe for concurrent use.
type HookClassifier struct {
	o HookOpts

	now  time.Duration // latest time seen
	raw  hal.HookState // last reported state
	idle bool          // on-hook for good (initially, or after a hang-up)

	seizePending bool
	seizeAt      time.Duration

	breakStart   time.Duration // start of the current on-hook (merged over bounces)
	breakPending bool          // the on-hook ended at breakEnd, unconfirmed
	breakEnd     time.Duration

	pulses     int
	firstPulse time.Duration // start of the digit's first break
	lastPulse  time.Duration // end of the last break counted
}

// NewHookClassifier checks opts (nil for the defaults) and returns an idle
// classifier.
func NewHookClassifier(opts *HookOpts) (*HookClassifier, error) {
	o := DefaultHookOpts()
	if opts != nil {
		set := func(dst *time.Duration, v time.Duration) {
			if v != 0 {
				*dst = v
			}
		}
		set(&o.MinBreak, opts.MinBreak)
		set(&o.MaxBreak, opts.MaxBreak)
		set(&o.MinMake, opts.MinMake)
		set(&o.InterDigit, opts.InterDigit)
		set(&o.FlashMin, opts.FlashMin)
		set(&o.FlashMax, opts.FlashMax)
	}
	switch {
	case o.MinBreak <= 0 || o.MinMake <= 0:
		return nil, fmtErr(ErrOptions, "hook: MinBreak %v and MinMake %v must be positive", o.MinBreak, o.MinMake)
	case o.MinBreak >= o.MaxBreak:
		return nil, fmtErr(ErrOptions, "hook: MinBreak %v not below MaxBreak %v", o.MinBreak, o.MaxBreak)
	case o.MaxBreak >= o.FlashMin:
		return nil, fmtErr(ErrOptions, "hook: MaxBreak %v not below FlashMin %v", o.MaxBreak, o.FlashMin)
	case o.FlashMin > o.FlashMax:
		return nil, fmtErr(ErrOptions, "hook: FlashMin %v above FlashMax %v", o.FlashMin, o.FlashMax)
	case o.InterDigit <= o.MinMake:
		return nil, fmtErr(ErrOptions, "hook: InterDigit %v not above MinMake %v", o.InterDigit, o.MinMake)
	}
	return &HookClassifier{o: o, raw: hal.OnHook, idle: true}, nil
}

// Idle reports whether the line is on-hook for good (no call).
func (h *HookClassifier) Idle() bool { return h.idle }

// Transition reports that the hook switch went to state at time at, and
// appends the events it completes to dst. A repeated state only advances
// time. A time before one already seen is an error and changes nothing.
func (h *HookClassifier) Transition(state hal.HookState, at time.Duration, dst []HookEvent) ([]HookEvent, error) {
	if state != hal.OnHook && state != hal.OffHook {
		return dst, fmtErr(ErrOptions, "hook state %d", int(state))
	}
	dst, err := h.Tick(at, dst)
	if err != nil || state == h.raw {
		return dst, err
	}
	h.raw = state
	if state == hal.OffHook {
		if h.idle {
			h.seizePending, h.seizeAt = true, at
		} else {
			h.breakPending, h.breakEnd = true, at
		}
		return dst, nil
	}
	// on-hook
	switch {
	case h.seizePending:
		h.seizePending = false // a bounce: still idle
	case h.breakPending:
		// a bounce: the break goes on, and may by now be a hang-up
		h.breakPending = false
		return h.Tick(at, dst)
	default:
		h.breakStart = at
	}
	return dst, nil
}

// Tick advances time to now and appends the events whose time has come
// (a digit after the inter-digit pause, a hang-up after FlashMax on-hook).
func (h *HookClassifier) Tick(now time.Duration, dst []HookEvent) ([]HookEvent, error) {
	if now < h.now {
		return dst, fmtErr(ErrTime, "hook: %v after %v", now, h.now)
	}
	h.now = now
	for {
		t, ok := h.Deadline()
		if !ok || t > now {
			return dst, nil
		}
		dst = h.fire(dst)
	}
}

// Deadline returns the time at which the classifier next has something to
// decide by itself, if any: call Tick then (or later).
func (h *HookClassifier) Deadline() (time.Duration, bool) {
	switch {
	case h.seizePending:
		return h.seizeAt + h.o.MinMake, true
	case h.idle:
		return 0, false
	case h.breakPending:
		return h.breakEnd + h.o.MinMake, true
	case h.raw == hal.OnHook:
		return h.breakStart + h.o.FlashMax + 1, true
	case h.pulses > 0:
		return h.lastPulse + h.o.InterDigit, true
	}
	return 0, false
}

// fire handles the deadline that has come.
func (h *HookClassifier) fire(dst []HookEvent) []HookEvent {
	switch {
	case h.seizePending:
		h.seizePending, h.idle = false, false
		h.pulses = 0
		return append(dst, HookEvent{Kind: HookOffHook, At: h.seizeAt})
	case h.breakPending:
		h.breakPending = false
		d := h.breakEnd - h.breakStart
		switch {
		case d >= h.o.MinBreak && d <= h.o.MaxBreak:
			if h.pulses == 0 {
				h.firstPulse = h.breakStart
			}
			h.pulses++
			h.lastPulse = h.breakEnd
		case d >= h.o.FlashMin && d <= h.o.FlashMax:
			dst = h.endDigit(dst)
			dst = append(dst, HookEvent{Kind: HookFlash, At: h.breakStart, Duration: d})
		}
		// anything else is a glitch and changes nothing
		return dst
	case h.raw == hal.OnHook:
		h.idle, h.pulses = true, 0
		return append(dst, HookEvent{Kind: HookHangUp, At: h.breakStart})
	default:
		return h.endDigit(dst)
	}
}

func (h *HookClassifier) endDigit(dst []HookEvent) []HookEvent {
	n := h.pulses
	h.pulses = 0
	switch {
	case n == 0:
		return dst
	case n > 10:
		return append(dst, HookEvent{Kind: HookBadDigit, Pulses: n, At: h.firstPulse})
	}
	return append(dst, HookEvent{Kind: HookDigit, Digit: byte('0' + n%10), Pulses: n, At: h.firstPulse})
}
