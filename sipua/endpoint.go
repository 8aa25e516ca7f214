package sipua

import (
	"context"
	"fmt"
	"time"
)

// AudioPort is a full-duplex audio channel of an endpoint: 16-bit linear
// mono samples at Rate(), exchanged in 10 ms frames. It has exactly the
// methods of hal.PCM (without Close: the endpoint owns the channel).
type AudioPort interface {
	Rate() int
	ReadFrame(ctx context.Context, dst []int16) error
	WriteFrame(ctx context.Context, src []int16) error
}

// CallerIDReason says why a caller ID number is absent.
type CallerIDReason string

const (
	CallerIDPresent   CallerIDReason = ""
	CallerIDPrivate   CallerIDReason = "private"
	CallerIDOutOfArea CallerIDReason = "out-of-area"
)

// CallerID is what an endpoint shows for an incoming or waiting call.
type CallerID struct {
	Number string
	Name   string
	Reason CallerIDReason // set when Number is empty
	Time   time.Time      // local time of the call
}

// Tone names a call-progress tone. ToneNone stops any tone.
type Tone string

const (
	ToneNone        Tone = ""
	ToneDial        Tone = "dial"
	ToneStutterDial Tone = "stutter-dial"
	ToneRingback    Tone = "ringback"
	ToneBusy        Tone = "busy"
	ToneReorder     Tone = "reorder"
	ToneCallWaiting Tone = "call-waiting"
	ToneSIT         Tone = "sit-intercept" // out of service / not in service
)

// Endpoint is a local phone the user agent drives: the analog port or a
// DECT device (wrapped by the daemon's wiring). Calls must return promptly
// (queue work, do not block on the user); errors are logged and the call
// goes on as well as it can.
type Endpoint interface {
	// Ring starts ringing with caller ID and a cadence name ("normal"
	// or a distinctive one).
	Ring(cid CallerID, cadence string) error
	// StopRinging stops ringing (answered elsewhere, cancelled).
	StopRinging() error
	// PlayTone plays a call-progress tone; ToneNone stops it.
	PlayTone(t Tone) error
	// ConnectAudio hands over the endpoint's audio channel for a call.
	ConnectAudio() (AudioPort, error)
	// DisconnectAudio ends the use of the channel returned by ConnectAudio.
	DisconnectAudio() error
	// SetMessageWaiting turns the message-waiting indication on or off.
	SetMessageWaiting(on bool) error
	// AlertCallWaiting announces a second call during a call (tone and
	// caller ID on the display). It is not repeated by the user agent.
	AlertCallWaiting(cid CallerID) error
}

// WidebandEndpoint is an Endpoint whose audio can run at 16 kHz (a
// wideband DECT Headset). Calls that may reach one prefer G.722, and its
// channel is opened at the call's codec rate.
type WidebandEndpoint interface {
	Endpoint
	// Wideband reports whether the endpoint can take 16 kHz audio.
	Wideband() bool
	// ConnectAudioAt is ConnectAudio for a call whose audio runs at rate
	// (8000 or 16000): the channel runs at rate if the endpoint can, at
	// 8000 otherwise.
	ConnectAudioAt(rate int) (AudioPort, error)
}

// EndpointEventKind is what an endpoint reports.
type EndpointEventKind int

const (
	// EvOffHook: the user picked up (answers a ringing call, or wants dial tone).
	EvOffHook EndpointEventKind = iota + 1
	// EvDialed: a complete number per the dial plan (Number).
	EvDialed
	// EvDigit: a key pressed during a call (Digit: 0-9 * # A-D).
	EvDigit
	// EvFlash: hook flash / the "R" key (swap calls, hold).
	EvFlash
	// EvOnHook: the user hung up.
	EvOnHook
)

func (k EndpointEventKind) String() string {
	switch k {
	case EvOffHook:
		return "off-hook"
	case EvDialed:
		return "dialed"
	case EvDigit:
		return "digit"
	case EvFlash:
		return "flash"
	case EvOnHook:
		return "on-hook"
	}
	return fmt.Sprintf("EndpointEventKind(%d)", int(k))
}

// EndpointEvent is one event reported by an endpoint.
type EndpointEvent struct {
	Kind   EndpointEventKind
	Number string // EvDialed
	Digit  byte   // EvDigit
}

// Reporter is given to the endpoint's driver by UA.Attach. It never
// blocks: events are queued and handled in order by the user agent.
type Reporter func(EndpointEvent)
