package endpoint

import (
	"context"
	"fmt"
	"time"
)

// Reason says why a caller's number (and name) is absent.
type Reason string

// Absence reasons. Present is the zero value: a number is given.
const (
	Present   Reason = ""
	Private   Reason = "private"     // withheld by the caller
	OutOfArea Reason = "out-of-area" // unavailable
)

// CallerID is what a phone shows for an incoming or waiting call.
type CallerID struct {
	// Number is the caller's number as the network gave it (digits,
	// possibly with a leading +); each phone shows it in its own way.
	// Empty with Reason set when the number is absent.
	Number string
	// Name is the caller's name; empty when there is none.
	Name string
	// Reason is set when Number is empty: why it is absent.
	Reason Reason
	// NameReason, when set, is why Name is absent (a name withheld with
	// the number shown); otherwise an absent name is absent for Reason,
	// or OutOfArea when the number is shown.
	NameReason Reason
	// Time is when the call arrived; zero means now. The phone shows it
	// in its configured zone.
	Time time.Time
}

// Tone is a call-progress tone. None stops any tone.
type Tone string

// Tones every endpoint plays. A phone may know more (the analog port also
// plays "howler", "confirmation", "recall-dial", further SIT tones) and
// fails on a tone it does not know.
const (
	None        Tone = ""
	Dial        Tone = "dial"
	StutterDial Tone = "stutter-dial"
	Ringback    Tone = "ringback"
	Busy        Tone = "busy"
	Reorder     Tone = "reorder"
	CallWaiting Tone = "call-waiting"
	SIT         Tone = "sit-intercept" // out of service / not in service
)

// Cadence names a ring cadence: Normal (also the empty name) or a
// distinctive one ("distinctive1".."distinctive5", also spelt
// "bellcore-drN"). A phone fails on a cadence it does not know.
type Cadence string

// Normal is the standard ring cadence.
const Normal Cadence = "normal"

// AudioPort is a full-duplex audio channel of an endpoint: 16-bit linear
// mono samples at Rate(), exchanged in 10 ms frames. It has the methods of
// hal.PCM but Close: the endpoint owns the channel (DisconnectAudio).
type AudioPort interface {
	Rate() int
	ReadFrame(ctx context.Context, dst []int16) error
	WriteFrame(ctx context.Context, src []int16) error
}

// Endpoint is a phone the call layer drives: the analog port or a paired
// DECT device. Calls return promptly (they queue work or wait for the
// device's confirmation within a bounded time, never for the user);
// errors name what failed.
type Endpoint interface {
	// Ring starts ringing with caller ID and a cadence.
	Ring(cid CallerID, c Cadence) error
	// StopRinging stops ringing (answered elsewhere, cancelled).
	StopRinging() error
	// PlayTone plays a call-progress tone; None stops it. Dial or
	// StutterDial during a call (after a flash) asks the phone to collect
	// a second number (transfer, consultation) with recall dial tone; it
	// reports it as a Dialed event.
	PlayTone(t Tone) error
	// ConnectAudio hands over the endpoint's audio channel for a call.
	ConnectAudio() (AudioPort, error)
	// DisconnectAudio ends the use of the channel returned by ConnectAudio.
	DisconnectAudio() error
	// SetMessageWaiting turns the message-waiting indication on or off.
	SetMessageWaiting(on bool) error
	// AlertCallWaiting announces a second call during a call (tone and
	// caller ID on the display). The call layer does not repeat it.
	AlertCallWaiting(cid CallerID) error
}

// Wideband is an Endpoint whose audio can run at 16 kHz (a wideband DECT
// Headset). Calls that may reach one prefer G.722, and its channel is
// opened at the call's codec rate.
type Wideband interface {
	Endpoint
	// Wideband reports whether the endpoint can take 16 kHz audio.
	Wideband() bool
	// ConnectAudioAt is ConnectAudio for a call whose audio runs at rate
	// (8000 or 16000): the channel runs at rate if the endpoint can, at
	// 8000 otherwise.
	ConnectAudioAt(rate int) (AudioPort, error)
}

// Releaser is an Endpoint whose call is cleared from the network side
// when the far end hangs up (a cordless device: its link and display are
// released, and it then reports itself on-hook). The call layer calls
// Release after the busy tone; an analog phone has no such thing (its
// user hears busy tone and hangs up).
type Releaser interface {
	Release() error
}

// MessageCounter is an Endpoint whose display shows how many new messages
// wait. The call layer calls SetMessageCount instead of SetMessageWaiting.
type MessageCounter interface {
	// SetMessageCount turns the indication on or off with the number of
	// new messages (0: unknown).
	SetMessageCount(on bool, count int) error
}

// Activity is what a phone is doing, as the base reports it (the line
// LED, the state sent to the cloud).
type Activity string

// Activities. A line fault is not an activity: the device reports it as
// its own event.
const (
	Idle    Activity = "idle"
	Ringing Activity = "ringing"
	Dialing Activity = "dialing" // off-hook, no call audio (dial tone, digits, ringback)
	Talking Activity = "talking" // call audio connected
)

// EventKind is what an endpoint reports.
type EventKind int

// Events an endpoint reports to the call layer.
const (
	// OffHook: the user picked up (answers a ringing call, or wants to dial).
	OffHook EventKind = iota + 1
	// Dialed: a complete number (Number).
	Dialed
	// Digit: a key pressed during a call (Digit: 0-9 * # A-D).
	Digit
	// Flash: hook flash / the "R" key (swap calls, hold, transfer).
	Flash
	// OnHook: the user hung up (or the device went away).
	OnHook
)

func (k EventKind) String() string {
	switch k {
	case OffHook:
		return "off-hook"
	case Dialed:
		return "dialed"
	case Digit:
		return "digit"
	case Flash:
		return "flash"
	case OnHook:
		return "on-hook"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one event reported by an endpoint.
type Event struct {
	Kind   EventKind
	Number string // Dialed
	Digit  byte   // Digit
	// NotAnswer (OffHook): the device says it went off-hook to dial, not
	// to answer a call ringing on it (a DECT device's answer flag).
	NotAnswer bool
}

func (e Event) String() string {
	switch e.Kind {
	case Dialed:
		return "dialed " + e.Number
	case Digit:
		return "digit " + string(e.Digit)
	}
	return e.Kind.String()
}
