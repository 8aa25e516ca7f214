package fxs

import (
	"fmt"
	"time"

	"basestation/endpoint"
)

// State is where the port's state machine is.
type State int

// Port states.
const (
	// StateIdle: on-hook, line fed (forward active), nothing happening.
	StateIdle State = iota
	// StateRinging: on-hook, ringing with a cadence (caller ID between the
	// first and second ring).
	StateRinging
	// StateDialing: off-hook, dial tone, collecting digits by the dial plan.
	StateDialing
	// StateCall: off-hook and handed to the call layer (a number was dialed
	// or a ringing call answered): tones and audio as the call layer asks;
	// digits and flashes are reported. After a failed or ended call (no
	// audio connected) a SIT the call layer plays goes on to reorder, and
	// busy or reorder go on to the howler after Config.OffHookTimeout,
	// until the phone hangs up or the call layer acts again.
	StateCall
	// StateLockout: off-hook after failed or abandoned dialing: reorder,
	// then the receiver off-hook howler, until the phone hangs up.
	StateLockout
	// StateFault: a line fault; the line is open and ringing is off.
	StateFault
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateRinging:
		return "ringing"
	case StateDialing:
		return "dialing"
	case StateCall:
		return "call"
	case StateLockout:
		return "lockout"
	case StateFault:
		return "fault"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// EventKind is what happened on the line.
type EventKind int

// Events the port reports to the call layer.
const (
	// EvOffHook: the phone went off-hook. Answer is true when it answered
	// ringing (the call layer should connect the call); false when the
	// user is about to dial (dial tone is already playing).
	EvOffHook EventKind = iota + 1
	// EvDialed: the dial plan completed a number (Number; Emergency true
	// for an emergency number). The port is now in StateCall, silent: the
	// call layer plays ringback/busy/… or connects audio.
	EvDialed
	// EvDialFailed: dialing ended without a number (no match, timeout);
	// the port plays reorder by itself. Number holds what was dialed.
	EvDialFailed
	// EvDigit: a key pressed during a call (DTMF or pulse). Digit holds
	// it; Duration is 0 at the start of a DTMF tone.
	EvDigit
	// EvDigitEnd: the DTMF tone of the last EvDigit ended after Duration.
	EvDigitEnd
	// EvFlash: a hook flash during a call (on-hook for FlashMin..FlashMax).
	EvFlash
	// EvOnHook: the phone hung up (on-hook longer than FlashMax), or the
	// line was taken down by a fault while off-hook.
	EvOnHook
	// EvFault: a line fault (power/thermal alarm, SLIC error). Err says
	// what; the line is in the safe state (open, no ringing).
	EvFault
	// EvFaultCleared: the port fed the line again after FaultRetry.
	EvFaultCleared
	// EvCallWaitingAck: the phone acknowledged a CIDCW alert (its CPE sent
	// DTMF A/D); caller ID follows. Informational.
	EvCallWaitingAck
)

func (k EventKind) String() string {
	switch k {
	case EvOffHook:
		return "off-hook"
	case EvDialed:
		return "dialed"
	case EvDialFailed:
		return "dial-failed"
	case EvDigit:
		return "digit"
	case EvDigitEnd:
		return "digit-end"
	case EvFlash:
		return "flash"
	case EvOnHook:
		return "on-hook"
	case EvFault:
		return "fault"
	case EvFaultCleared:
		return "fault-cleared"
	case EvCallWaitingAck:
		return "call-waiting-ack"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one report from the port.
type Event struct {
	Kind      EventKind
	At        time.Time
	Answer    bool          // EvOffHook: answering ringing
	Number    string        // EvDialed, EvDialFailed
	Emergency bool          // EvDialed: an EmergencyNumbers entry
	Digit     byte          // EvDigit, EvDigitEnd: '0'-'9', '*', '#', 'A'-'D'
	Pulse     bool          // EvDigit: from the rotary dial
	Duration  time.Duration // EvDigitEnd; EvFlash: how long the hook was down
	Err       error         // EvFault
}

func (e Event) String() string {
	s := e.Kind.String()
	switch e.Kind {
	case EvOffHook:
		if e.Answer {
			s += " answer"
		}
	case EvDialed, EvDialFailed:
		s += " " + e.Number
		if e.Emergency {
			s += " (emergency)"
		}
	case EvDigit, EvDigitEnd:
		s += " " + string(e.Digit)
		if e.Duration > 0 {
			s += " " + e.Duration.String()
		}
	case EvFlash:
		s += " " + e.Duration.String()
	case EvFault:
		s += ": " + fmt.Sprint(e.Err)
	}
	return s
}

// Endpoint is the event as the call layer sees it (endpoint.Event); ok is
// false for the port's own events (dial failed, digit end, faults, call
// waiting ACK), which the call layer does not take.
func (e Event) Endpoint() (ev endpoint.Event, ok bool) {
	switch e.Kind {
	case EvOffHook:
		return endpoint.Event{Kind: endpoint.OffHook}, true
	case EvDialed:
		return endpoint.Event{Kind: endpoint.Dialed, Number: e.Number}, true
	case EvDigit:
		return endpoint.Event{Kind: endpoint.Digit, Digit: e.Digit}, true
	case EvFlash:
		return endpoint.Event{Kind: endpoint.Flash}, true
	case EvOnHook:
		return endpoint.Event{Kind: endpoint.OnHook}, true
	}
	return endpoint.Event{}, false
}

// ringRequest is a request to alert the phone.
type ringRequest struct {
	CallerID *endpoint.CallerID // nil: no caller ID
	Cadence  endpoint.Cadence   // a Config.Cadences name; "" = "normal"
}
