package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"basestation/dect"
	"basestation/fxs"
	"basestation/sipua"
)

// lineState is what the daemon knows of one device's call state, for the
// reported state, the line LED and deferring configuration changes.
type lineState struct {
	mu      sync.Mutex
	ringing bool
	offHook bool
	audio   bool
	fault   string
}

func (l *lineState) set(f func(*lineState)) {
	l.mu.Lock()
	f(l)
	l.mu.Unlock()
}

func (l *lineState) snapshot() (state, fault string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.fault != "":
		return "fault", l.fault
	case l.audio:
		return "talking", ""
	case l.ringing:
		return "ringing", ""
	case l.offHook:
		return "dialing", ""
	}
	return "idle", ""
}

func (l *lineState) busy() bool {
	s, _ := l.snapshot()
	return s == "talking" || s == "ringing" || s == "dialing"
}

// portEndpoint is the analog port as a sipua.Endpoint.
type portEndpoint struct {
	port *fxs.Port
	line *lineState
	tz   func() *time.Location
}

// displayNumber is a caller's number as an analog display shows it: digits
// only, North American numbers without the +1 country code.
func displayNumber(n string) string {
	n = strings.TrimPrefix(n, "+")
	if len(n) == 11 && n[0] == '1' {
		n = n[1:]
	}
	return n
}

func toFXSCallerID(c sipua.CallerID, loc *time.Location) *fxs.CallerID {
	f := &fxs.CallerID{Number: displayNumber(c.Number), Name: c.Name, Time: c.Time}
	if f.Time.IsZero() {
		f.Time = time.Now()
	}
	if loc != nil {
		f.Time = f.Time.In(loc)
	}
	switch c.Reason {
	case sipua.CallerIDPrivate:
		f.NumberPresentation = fxs.Private
	case sipua.CallerIDOutOfArea:
		f.NumberPresentation = fxs.OutOfArea
	}
	if c.Number == "" && c.Reason == sipua.CallerIDPresent {
		f.NumberPresentation = fxs.OutOfArea
	}
	if c.Name == "" {
		f.NamePresentation = f.NumberPresentation
		if f.NamePresentation == fxs.Available {
			f.NamePresentation = fxs.OutOfArea
		}
	}
	return f
}

func (e *portEndpoint) Ring(cid sipua.CallerID, cadence string) error {
	if err := e.port.Ring(fxs.RingRequest{CallerID: toFXSCallerID(cid, e.tz()), Cadence: cadence}); err != nil {
		return err
	}
	e.line.set(func(l *lineState) { l.ringing = true })
	return nil
}

func (e *portEndpoint) StopRinging() error {
	e.line.set(func(l *lineState) { l.ringing = false })
	return e.port.StopRinging()
}

func (e *portEndpoint) PlayTone(t sipua.Tone) error {
	switch {
	case t == sipua.ToneNone:
		return e.port.StopTone()
	case (t == sipua.ToneDial || t == sipua.ToneStutterDial) && e.port.State() == fxs.StateCall:
		// Dial tone during a call (after a flash): collect a new number
		// (transfer target) with recall dial tone.
		return e.port.CollectDigits()
	}
	return e.port.PlayTone(string(t))
}

func (e *portEndpoint) ConnectAudio() (sipua.AudioPort, error) {
	a, err := e.port.ConnectAudio()
	if err != nil {
		return nil, err
	}
	e.line.set(func(l *lineState) { l.audio = true; l.ringing = false })
	return a, nil
}

func (e *portEndpoint) DisconnectAudio() error {
	e.line.set(func(l *lineState) { l.audio = false })
	return e.port.DisconnectAudio()
}

func (e *portEndpoint) SetMessageWaiting(on bool) error { return e.port.SetMessageWaiting(on) }

func (e *portEndpoint) AlertCallWaiting(cid sipua.CallerID) error {
	return e.port.CallWaiting(toFXSCallerID(cid, e.tz()))
}

var (
	_ sipua.MessageCounter   = (*dectEndpoint)(nil)
	_ sipua.WidebandEndpoint = (*dectEndpoint)(nil)
)

// dectEndpoint is a paired DECT device as a sipua.Endpoint. Its calls are
// bounded by a timeout: the radio link retransmits, so a call returns once
// the module confirmed or the link gave up.
type dectEndpoint struct {
	dev  *dect.Device
	line *lineState
	tz   func() *time.Location
}

const dectCallTimeout = 3 * time.Second

func (e *dectEndpoint) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), dectCallTimeout)
}

func toDECTCallerID(c sipua.CallerID, loc *time.Location) dect.CallerID {
	d := dect.CallerID{Number: displayNumber(c.Number), Name: c.Name, Reason: string(c.Reason), Time: c.Time}
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	if loc != nil {
		d.Time = d.Time.In(loc)
	}
	return d
}

func (e *dectEndpoint) Ring(cid sipua.CallerID, cadence string) error {
	ctx, cancel := e.ctx()
	defer cancel()
	if err := e.dev.Ring(ctx, toDECTCallerID(cid, e.tz()), cadence); err != nil {
		return err
	}
	e.line.set(func(l *lineState) { l.ringing = true })
	return nil
}

func (e *dectEndpoint) StopRinging() error {
	ctx, cancel := e.ctx()
	defer cancel()
	e.line.set(func(l *lineState) { l.ringing = false })
	return e.dev.StopRinging(ctx)
}

func (e *dectEndpoint) PlayTone(t sipua.Tone) error {
	ctx, cancel := e.ctx()
	defer cancel()
	if t == sipua.ToneNone {
		return e.dev.StopTone(ctx)
	}
	return e.dev.PlayTone(ctx, string(t))
}

// ConnectAudio opens a narrowband channel (the user agent calls
// ConnectAudioAt with the call's rate).
func (e *dectEndpoint) ConnectAudio() (sipua.AudioPort, error) { return e.ConnectAudioAt(8000) }

// Wideband reports whether the device does 16 kHz audio (CAPS bit 0).
func (e *dectEndpoint) Wideband() bool { return e.dev.Info().Wideband }

// ConnectAudioAt opens the device's channel for a call whose audio runs
// at rate: 16 kHz (RATE 01) for a G.722 call to a wideband device,
// narrowband otherwise (docs/radio-protocol.md §5.9).
func (e *dectEndpoint) ConnectAudioAt(rate int) (sipua.AudioPort, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	a, err := e.dev.ConnectAudio(ctx, rate)
	if err != nil {
		return nil, err
	}
	e.line.set(func(l *lineState) { l.audio = true; l.ringing = false })
	return a, nil
}

func (e *dectEndpoint) DisconnectAudio() error {
	ctx, cancel := e.ctx()
	defer cancel()
	e.line.set(func(l *lineState) { l.audio = false })
	return e.dev.DisconnectAudio(ctx)
}

// SetMessageWaiting is the indication without a count (0: unknown); the
// user agent calls SetMessageCount instead (sipua.MessageCounter).
func (e *dectEndpoint) SetMessageWaiting(on bool) error { return e.SetMessageCount(on, 0) }

// SetMessageCount shows the number of new messages on the device's display
// (sipua.MessageCounter).
func (e *dectEndpoint) SetMessageCount(on bool, count int) error {
	ctx, cancel := e.ctx()
	defer cancel()
	return e.dev.SetMessageWaiting(ctx, on, count)
}

func (e *dectEndpoint) AlertCallWaiting(cid sipua.CallerID) error {
	ctx, cancel := e.ctx()
	defer cancel()
	return e.dev.CallWaiting(ctx, toDECTCallerID(cid, e.tz()))
}

func fromFXSEvent(ev fxs.Event) (sipua.EndpointEvent, bool) {
	switch ev.Kind {
	case fxs.EvOffHook:
		return sipua.EndpointEvent{Kind: sipua.EvOffHook}, true
	case fxs.EvDialed:
		return sipua.EndpointEvent{Kind: sipua.EvDialed, Number: ev.Number}, true
	case fxs.EvDigit:
		return sipua.EndpointEvent{Kind: sipua.EvDigit, Digit: ev.Digit}, true
	case fxs.EvFlash:
		return sipua.EndpointEvent{Kind: sipua.EvFlash}, true
	case fxs.EvOnHook:
		return sipua.EndpointEvent{Kind: sipua.EvOnHook}, true
	}
	return sipua.EndpointEvent{}, false
}

func fromDECTEvent(ev dect.DeviceEvent) (sipua.EndpointEvent, bool) {
	switch ev.Kind {
	case dect.OffHook:
		return sipua.EndpointEvent{Kind: sipua.EvOffHook}, true
	case dect.Dialed:
		return sipua.EndpointEvent{Kind: sipua.EvDialed, Number: ev.Number}, true
	case dect.Digit:
		return sipua.EndpointEvent{Kind: sipua.EvDigit, Digit: ev.Digit}, true
	case dect.Flash:
		return sipua.EndpointEvent{Kind: sipua.EvFlash}, true
	case dect.OnHook:
		return sipua.EndpointEvent{Kind: sipua.EvOnHook}, true
	}
	return sipua.EndpointEvent{}, false
}

func (e *portEndpoint) String() string { return "port1" }

func (e *dectEndpoint) String() string { return e.dev.String() }
