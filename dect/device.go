package dect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"basestation/dect/wire"
	"basestation/endpoint"
	"basestation/hal"
)

// A paired device is an endpoint of the call layer; it shows a message
// count and may take wideband audio.
var (
	_ endpoint.Endpoint       = (*Device)(nil)
	_ endpoint.Wideband       = (*Device)(nil)
	_ endpoint.MessageCounter = (*Device)(nil)
)

// Device is one paired DECT device (a Linx or a Headset) as a telephone
// endpoint: it reports its user's actions on Events() and takes the call
// layer's orders through its methods. Methods are safe for concurrent use.
type Device struct {
	d     *Driver
	rec   Record
	inbox chan inItem
	evs   chan DeviceEvent
	gone  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	attached bool
	authed   bool
	state    callState
	dialed   bool // the number is complete (or the call was incoming)
	digits   []byte
	audio    hal.PCM
	slot     int
	removed  bool
	health   Health
}

type callState int

const (
	stIdle callState = iota
	stRinging
	stActive
	// stReleasing: Release is telling the module; the device is idle, and
	// reported so, once the module confirms and OnHook is emitted.
	stReleasing
)

type inItem struct {
	s *session
	m wire.Msg
}

func newDevice(d *Driver, r Record) *Device {
	return &Device{d: d, rec: r, inbox: make(chan inItem, 64), evs: make(chan DeviceEvent, 64), gone: make(chan struct{}), slot: -1,
		health: unknownHealth()}
}

func (v *Device) info() DeviceInfo { return recordInfo(v.rec) }

// Info describes the device.
func (v *Device) Info() DeviceInfo { return v.info() }

// Handset is the device's number on this base.
func (v *Device) Handset() int { return v.rec.Handset }

func (v *Device) String() string { return v.info().String() }

// Events delivers the device's user actions (buffered 64).
func (v *Device) Events() <-chan DeviceEvent { return v.evs }

// Gone is closed when the device is removed from this base (deregistered,
// or replaced by pairing the same handset again); the events it reported
// until then stay readable on Events.
func (v *Device) Gone() <-chan struct{} { return v.gone }

// Attached reports whether the device is in range and authenticated.
func (v *Device) Attached() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.attached && v.authed
}

func (v *Device) emit(e DeviceEvent) {
	e.Handset = v.rec.Handset
	v.d.log.Info("dect: device event", "event", e.String())
	select {
	case v.evs <- e:
	default:
		v.d.log.Warn("dect: device event channel full; event dropped", "event", e.String())
	}
}

func (v *Device) deliver(s *session, m wire.Msg) {
	select {
	case v.inbox <- inItem{s, m}:
	case <-v.gone:
	}
}

func (v *Device) remove() {
	v.once.Do(func() { close(v.gone) })
	v.mu.Lock()
	v.removed = true
	v.attached, v.authed = false, false
	active := v.state == stActive
	v.state = stIdle
	v.mu.Unlock()
	v.dropAudio()
	if active {
		v.emit(DeviceEvent{Kind: OnHook, Reason: "deregistered"})
	}
}

// run handles the device's indications, one at a time.
func (v *Device) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.gone:
			return
		case it := <-v.inbox:
			if cur, err := v.d.current(); err != nil || cur != it.s {
				continue // from a session that has ended
			}
			v.handle(ctx, it.s, it.m, timer)
		case <-timer.C:
			v.mu.Lock()
			var num string
			if v.state == stActive && !v.dialed && len(v.digits) > 0 {
				num = string(v.digits)
				v.dialed = true
			}
			v.mu.Unlock()
			if num != "" {
				v.emit(DeviceEvent{Kind: Dialed, Number: num})
			}
		}
	}
}

func (v *Device) handle(ctx context.Context, s *session, m wire.Msg, timer *time.Timer) {
	switch m.Type {
	case wire.TAttachInd:
		v.mu.Lock()
		v.attached, v.authed = true, false
		v.mu.Unlock()
		ok := v.authenticate(ctx, s)
		var r byte
		if !ok {
			r = 1
		}
		if _, err := s.request(ctx, wire.Msg{Type: wire.TAuthResult, Handset: m.Handset, Reason: r}); err != nil {
			v.d.log.Warn("dect: auth result not confirmed", "handset", m.Handset, "err", err)
			return
		}
		if cur, err := v.d.current(); err != nil || cur != s {
			return // the module went away meanwhile
		}
		if ok {
			v.mu.Lock()
			v.authed = true
			v.mu.Unlock()
			v.attachedNow(time.Now())
			v.refreshStatus(ctx, s)
			v.d.emit(Event{Kind: EventDeviceAttached, Device: v.info(), Health: v.Health()})
		}
	case wire.TDetachInd:
		v.mu.Lock()
		was := v.attached && v.authed
		active := v.state != stIdle
		v.attached, v.authed = false, false
		v.state = stIdle
		v.mu.Unlock()
		v.dropAudio()
		why := v.detached()
		if active {
			v.emit(DeviceEvent{Kind: OnHook, Reason: "out-of-range"})
		}
		if was {
			v.d.emit(Event{Kind: EventDeviceDetached, Device: v.info(), Reason: why, Health: v.Health()})
		}
	case wire.TLinkInd:
		v.linkInd(m)
	case wire.TSetupInd:
		v.mu.Lock()
		busy := v.state != stIdle
		v.mu.Unlock()
		if busy {
			_, _ = s.request(ctx, wire.Msg{Type: wire.TRelease, Handset: m.Handset, Reason: wire.ReleaseBusy})
			return
		}
		// A device that starts a call is challenged again.
		if !v.authenticate(ctx, s) {
			v.mu.Lock()
			v.authed = false
			v.mu.Unlock()
			_, _ = s.request(ctx, wire.Msg{Type: wire.TRelease, Handset: m.Handset, Reason: wire.ReleaseAuthFailed})
			return
		}
		if _, err := s.request(ctx, wire.Msg{Type: wire.TCallProceed, Handset: m.Handset}); err != nil {
			v.d.log.Warn("dect: call proceed failed", "handset", m.Handset, "err", err)
			return
		}
		v.mu.Lock()
		v.attached, v.authed = true, true
		v.state = stActive
		v.dialed = v.rec.Type == wire.Headset
		v.digits = v.digits[:0]
		v.mu.Unlock()
		v.emit(DeviceEvent{Kind: OffHook})
	case wire.TAlertingInd:
		v.d.log.Debug("dect: device alerting", "handset", m.Handset)
	case wire.TConnectInd:
		v.mu.Lock()
		ringing := v.state == stRinging && v.authed
		if ringing {
			v.state = stActive
			v.dialed = true
		}
		v.mu.Unlock()
		if !ringing {
			_, _ = s.request(ctx, wire.Msg{Type: wire.TRelease, Handset: m.Handset, Reason: wire.ReleaseRejected})
			return
		}
		v.emit(DeviceEvent{Kind: OffHook, Answer: true})
	case wire.TReleaseInd:
		v.mu.Lock()
		prev := v.state
		if prev == stReleasing {
			v.mu.Unlock() // Release ends it and reports the on-hook
			return
		}
		v.state = stIdle
		v.mu.Unlock()
		v.dropAudio()
		switch prev {
		case stActive:
			v.emit(DeviceEvent{Kind: OnHook, Reason: "hangup"})
		case stRinging:
			v.emit(DeviceEvent{Kind: OnHook, Reason: "declined"})
		}
	case wire.TKeysInd:
		v.keys(m.Digits, timer)
	}
}

func (v *Device) keys(keys string, timer *time.Timer) {
	for _, c := range []byte(keys) {
		v.mu.Lock()
		if v.state != stActive || !v.authed {
			v.mu.Unlock()
			return
		}
		if c == 'R' {
			v.mu.Unlock()
			v.emit(DeviceEvent{Kind: Flash})
			continue
		}
		if v.dialed {
			v.mu.Unlock()
			v.emit(DeviceEvent{Kind: Digit, Digit: c})
			continue
		}
		var done string
		if c == '#' && len(v.digits) > 0 {
			done = string(v.digits)
		} else {
			v.digits = append(v.digits, c)
			if f := v.d.opts.DialComplete; f != nil && f(string(v.digits)) {
				done = string(v.digits)
			}
		}
		if done != "" {
			v.dialed = true
			timer.Stop()
		} else {
			timer.Reset(v.d.opts.InterDigitTimeout)
		}
		v.mu.Unlock()
		if done != "" {
			v.emit(DeviceEvent{Kind: Dialed, Number: done})
		}
	}
}

// authenticate challenges the device with its stored key.
func (v *Device) authenticate(ctx context.Context, s *session) bool {
	var rs, randF [8]byte
	v.d.random(rs[:])
	v.d.random(randF[:])
	cnf, err := s.request(ctx, wire.Msg{Type: wire.TAuth, Handset: byte(v.rec.Handset), RS: rs, RandF: randF})
	if err != nil {
		v.d.emit(Event{Kind: EventAuthFailed, Handset: v.rec.Handset, IPEI: v.rec.IPEI, Reason: "no-response"})
		return false
	}
	if cnf.Res != wire.Authenticate(v.rec.UAK, rs, randF) {
		v.d.emit(Event{Kind: EventAuthFailed, Handset: v.rec.Handset, IPEI: v.rec.IPEI, Reason: "wrong-key"})
		return false
	}
	return true
}

// linkLost: the module reset; every call it carried is gone.
func (v *Device) linkLost(reason string) {
	v.mu.Lock()
	active := v.state == stActive
	v.attached, v.authed = false, false
	v.state = stIdle
	v.mu.Unlock()
	v.healthLost()
	v.dropAudio()
	if active {
		v.emit(DeviceEvent{Kind: OnHook, Reason: reason})
	}
}

func (v *Device) dropAudio() {
	v.mu.Lock()
	pcm, slot := v.audio, v.slot
	v.audio, v.slot = nil, -1
	v.mu.Unlock()
	if pcm != nil {
		_ = pcm.Close()
	}
	if slot >= 0 {
		v.d.freeSlot(slot)
	}
}

func (v *Device) ready() error {
	if v.removed {
		return ErrUnknownDevice
	}
	if !v.attached || !v.authed {
		return ErrNotAuthenticated
	}
	return nil
}

func (v *Device) fail(op string, err error) error {
	return fmt.Errorf("dect: %s on device %d: %w", op, v.rec.Handset, err)
}

// call bounds one of the device's endpoint calls by Options.RequestTimeout
// (3 s): the call layer is never held longer than the module takes to
// confirm or the link to give up.
func (v *Device) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), v.d.opts.RequestTimeout)
}

// shownTime is the call's time on the device's display: in the devices'
// zone (SetLocation, Options.Location), now when cid.Time is zero.
func (v *Device) shownTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.In(v.d.location())
}

// Ring makes the device ring with the caller shown on its display and the
// cadence. Only an attached, authenticated, idle device rings.
func (v *Device) Ring(cid endpoint.CallerID, cadence endpoint.Cadence) error {
	ctx, cancel := v.call()
	defer cancel()
	cad, err := Cadence(cadence)
	if err != nil {
		return v.fail("ring", err)
	}
	cli, err := cliFields(cid)
	if err != nil {
		return v.fail("ring", err)
	}
	v.mu.Lock()
	if err := v.ready(); err != nil {
		v.mu.Unlock()
		return v.fail("ring", err)
	}
	if v.state != stIdle {
		v.mu.Unlock()
		return v.fail("ring", ErrBusy)
	}
	v.state = stRinging
	v.mu.Unlock()
	_, err = v.d.request(ctx, wire.Msg{Type: wire.TRing, Handset: byte(v.rec.Handset), Cadence: cad, CLI: cli,
		Time: toDateTime(v.shownTime(cid.Time)), Number: trunc(displayNumber(cid.Number)), Name: trunc(cid.Name)})
	if err != nil {
		v.mu.Lock()
		if v.state == stRinging {
			v.state = stIdle
		}
		v.mu.Unlock()
		return v.fail("ring", err)
	}
	return nil
}

// StopRinging stops an unanswered ring (another device answered, or the
// caller gave up).
func (v *Device) StopRinging() error {
	ctx, cancel := v.call()
	defer cancel()
	v.mu.Lock()
	ringing := v.state == stRinging
	if ringing {
		v.state = stIdle
	}
	v.mu.Unlock()
	if !ringing {
		return nil
	}
	if _, err := v.d.request(ctx, wire.Msg{Type: wire.TRelease, Handset: byte(v.rec.Handset), Reason: wire.ReleaseNormal}); err != nil && !errors.Is(err, ErrNotReady) {
		return v.fail("stop ringing", err)
	}
	return nil
}

var _ endpoint.Releaser = (*Device)(nil)

// Release ends the device's call from the network side (the far end hung
// up): the device's call is cleared and its audio disconnected. The
// module reports no hang-up for a release it was told of: Release reports
// OnHook (Reason "released") itself, so the call layer knows the device is
// free. Until the module confirms, Activity says Dialing; the device reads
// Idle only together with that event.
func (v *Device) Release() error {
	ctx, cancel := v.call()
	defer cancel()
	v.mu.Lock()
	had := v.state != stIdle && v.state != stReleasing
	if had {
		v.state = stReleasing
	}
	v.mu.Unlock()
	if !had {
		return nil
	}
	v.dropAudio()
	_, err := v.d.request(ctx, wire.Msg{Type: wire.TRelease, Handset: byte(v.rec.Handset), Reason: wire.ReleaseNormal})
	// Idle and OnHook together: whoever sees the device idle (the
	// reported line) can count on its on-hook being on its way to the
	// call layer, so a call offered now rings it rather than finding it
	// busy (soak seed 2 step 471). A detach meanwhile reported its own.
	v.mu.Lock()
	if v.state == stReleasing {
		v.state = stIdle
		v.emit(DeviceEvent{Kind: OnHook, Reason: "released"})
	}
	v.mu.Unlock()
	if err != nil && !errors.Is(err, ErrNotReady) {
		return v.fail("release", err)
	}
	return nil
}

// PlayTone plays a call-progress tone on the device (endpoint.Dial,
// StutterDial, Ringback, Busy, Reorder, CallWaiting, SIT, also spelt
// "out-of-service"; None or "off" stops). Dial tone during a call (after
// the R key) is what the Linx's phone hears while its user keys a second
// number, which the device reports as digits.
func (v *Device) PlayTone(t endpoint.Tone) error {
	ctx, cancel := v.call()
	defer cancel()
	code, err := ToneCode(t)
	if err != nil {
		return v.fail("tone", err)
	}
	v.mu.Lock()
	if err := v.ready(); err != nil {
		v.mu.Unlock()
		return v.fail("tone", err)
	}
	if v.state != stActive {
		v.mu.Unlock()
		return v.fail("tone", ErrNoCall)
	}
	v.mu.Unlock()
	if _, err := v.d.request(ctx, wire.Msg{Type: wire.TTone, Handset: byte(v.rec.Handset), Tone: code}); err != nil {
		return v.fail("tone", err)
	}
	return nil
}

// StopTone stops a tone.
func (v *Device) StopTone() error { return v.PlayTone(endpoint.None) }

// Wideband reports whether the device does 16 kHz audio (CAPS bit 0).
func (v *Device) Wideband() bool { return v.rec.Wideband }

// ConnectAudio opens a narrowband channel for the device's call (the call
// layer calls ConnectAudioAt with the call's rate).
func (v *Device) ConnectAudio() (endpoint.AudioPort, error) {
	return v.ConnectAudioAt(hal.RateNarrowband)
}

// ConnectAudioAt assigns a PCM slot to the device's call and returns the
// audio channel: wideband (16 kHz, RATE 01) when the device supports it
// and maxRate allows (the call's codec), narrowband (8 kHz) otherwise
// (docs/radio-protocol.md §5.9). The channel is a hal.PCM; the device
// closes it on DisconnectAudio.
func (v *Device) ConnectAudioAt(maxRate int) (endpoint.AudioPort, error) {
	ctx, cancel := v.call()
	defer cancel()
	v.mu.Lock()
	if err := v.ready(); err != nil {
		v.mu.Unlock()
		return nil, v.fail("connect audio", err)
	}
	if v.state != stActive {
		v.mu.Unlock()
		return nil, v.fail("connect audio", ErrNoCall)
	}
	if v.audio != nil {
		pcm := v.audio
		v.mu.Unlock()
		return pcm, nil
	}
	v.mu.Unlock()
	if v.d.radio.Audio == nil {
		return nil, v.fail("connect audio", errors.New("board has no radio PCM"))
	}
	rate, code := hal.RateNarrowband, wire.RateNB
	if v.rec.Wideband && maxRate >= hal.RateWideband {
		rate, code = hal.RateWideband, wire.RateWB
	}
	slot, err := v.d.allocSlot()
	if err != nil {
		return nil, v.fail("connect audio", err)
	}
	pcm, err := v.d.radio.Audio(slot, rate)
	if err != nil {
		v.d.freeSlot(slot)
		return nil, v.fail("connect audio", err)
	}
	if _, err := v.d.request(ctx, wire.Msg{Type: wire.TAudioConnect, Handset: byte(v.rec.Handset), Slot: byte(slot), Rate: code}); err != nil {
		pcm.Close()
		v.d.freeSlot(slot)
		return nil, v.fail("connect audio", err)
	}
	v.mu.Lock()
	if v.state != stActive || v.audio != nil {
		v.mu.Unlock()
		pcm.Close()
		v.d.freeSlot(slot)
		return nil, v.fail("connect audio", ErrNoCall)
	}
	v.audio, v.slot = pcm, slot
	v.mu.Unlock()
	return pcm, nil
}

// DisconnectAudio releases the call's PCM slot.
func (v *Device) DisconnectAudio() error {
	ctx, cancel := v.call()
	defer cancel()
	v.mu.Lock()
	had := v.audio != nil
	v.mu.Unlock()
	if !had {
		return nil
	}
	v.dropAudio()
	if _, err := v.d.request(ctx, wire.Msg{Type: wire.TAudioDisc, Handset: byte(v.rec.Handset)}); err != nil && !errors.Is(err, ErrNotReady) {
		return v.fail("disconnect audio", err)
	}
	return nil
}

// SetMessageWaiting turns the message-waiting indication on or off without
// a count; the call layer calls SetMessageCount instead.
func (v *Device) SetMessageWaiting(on bool) error { return v.SetMessageCount(on, 0) }

// SetMessageCount turns the message-waiting indication on or off; count
// is the number of new messages (0 when unknown), shown on the display.
func (v *Device) SetMessageCount(on bool, count int) error {
	ctx, cancel := v.call()
	defer cancel()
	m := wire.Msg{Type: wire.TMWI, Handset: byte(v.rec.Handset), Count: byte(min(max(count, 0), 255))}
	if on {
		m.On = 1
	}
	v.mu.Lock()
	removed := v.removed
	v.mu.Unlock()
	if removed {
		return v.fail("message waiting", ErrUnknownDevice)
	}
	if _, err := v.d.request(ctx, m); err != nil {
		return v.fail("message waiting", err)
	}
	return nil
}

// AlertCallWaiting alerts a second call during a call: the call-waiting
// tone and the caller on the display.
func (v *Device) AlertCallWaiting(cid endpoint.CallerID) error {
	ctx, cancel := v.call()
	defer cancel()
	cli, err := cliFields(cid)
	if err != nil {
		return v.fail("call waiting", err)
	}
	v.mu.Lock()
	if err := v.ready(); err != nil {
		v.mu.Unlock()
		return v.fail("call waiting", err)
	}
	if v.state != stActive {
		v.mu.Unlock()
		return v.fail("call waiting", ErrNoCall)
	}
	v.mu.Unlock()
	if _, err := v.d.request(ctx, wire.Msg{Type: wire.TCallWaiting, Handset: byte(v.rec.Handset), CLI: cli,
		Number: trunc(displayNumber(cid.Number)), Name: trunc(cid.Name)}); err != nil {
		return v.fail("call waiting", err)
	}
	return nil
}

// Activity is what the device is doing: ringing, in a call without audio
// (dialing, tones), talking (audio connected) or idle.
func (v *Device) Activity() endpoint.Activity {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case v.state == stRinging:
		return endpoint.Ringing
	case v.state == stActive && v.audio != nil:
		return endpoint.Talking
	case v.state == stActive, v.state == stReleasing:
		return endpoint.Dialing
	}
	return endpoint.Idle
}
