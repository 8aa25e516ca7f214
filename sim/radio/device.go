package radio

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"

	"basestation/hal"
)

// Kind is a simulated device's kind.
const (
	KindLinx    = 0x01
	KindHeadset = 0x02
)

func typeName(t byte) string {
	switch t {
	case KindLinx:
		return "linx"
	case KindHeadset:
		return "headset"
	}
	return fmt.Sprintf("type-%d", t)
}

// Caller is what a device's display shows for a call.
type Caller struct {
	Number string `json:"number"`
	Name   string `json:"name"`
	Reason string `json:"reason"` // "private", "out-of-area" or ""
	Time   string `json:"time"`   // "2006-01-02 15:04:05" or ""
}

// Call phases a device can be in (DeviceState.Call).
const (
	CallIdle      = "idle"
	CallRinging   = "ringing"   // incoming call alerting
	CallSetup     = "setup"     // off-hook, waiting for the base to accept
	CallDialing   = "dialing"   // Linx: the base accepted; dial tone, digits
	CallConnected = "connected" // talking (answered, or a Headset's call accepted)
)

// DeviceState is a snapshot of what a device's user can see and hear.
type DeviceState struct {
	Kind       string  `json:"kind"` // "linx" or "headset"
	IPEI       string  `json:"ipei"`
	Powered    bool    `json:"powered"`
	InRange    bool    `json:"in_range"`
	Registered bool    `json:"registered"` // holds a subscription to this base
	Handset    int     `json:"handset"`
	Attached   bool    `json:"attached"` // the base authenticated it
	Denied     string  `json:"denied"`   // why the base refused it: "auth-failed", "not-registered", ""
	OffHook    bool    `json:"off_hook"` // Linx: the analog phone's hook; Headset: talk state
	Call       string  `json:"call"`     // a Call* phase
	Caller     Caller  `json:"caller"`   // display during ringing
	Cadence    int     `json:"cadence"`
	Released   string  `json:"released"` // reason of the last release by the base ("" before any)
	Tone       string  `json:"tone"`     // call-progress tone heard ("" for none)
	Waiting    *Caller `json:"waiting"`
	MWI        bool    `json:"mwi"`
	MWICount   int     `json:"mwi_count"`
	MWIUpdates int     `json:"mwi_updates"` // how many MWI indications arrived
	Paging     bool    `json:"paging"`
	Locating   bool    `json:"locating"` // paged alone by LOCATE (protocol 1.1); ends at off-hook
	Clock      string  `json:"clock"`
	// Radio health as the module measures it (protocol 1.1).
	RSSI        int    `json:"rssi"`         // dBm at the base while in range (default -55)
	LinkQuality int    `json:"link_quality"` // % of frames received intact (default 100)
	Battery     int    `json:"battery"`      // % charge; -1: no battery (a Linx is mains powered)
	Firmware    string `json:"firmware"`     // the device's firmware version
	AudioRate   int    `json:"audio_rate"`   // 0 when no audio channel
	AudioSlot   int    `json:"audio_slot"`
}

// Device is a simulated Linx or Headset.
type Device struct {
	e        *Emulator
	kind     byte
	ipei     [5]byte
	model    string
	wideband bool
	firmware string

	mu      sync.Mutex
	st      DeviceState
	uak     [16]byte
	pairPIN string
	pairKS  [16]byte
	pairRP  [8]byte
	pairRes chan error
	changed chan struct{}
	mwiLog  []string

	// audio
	pcm       *pcmEnd
	stopAudio context.CancelFunc
	speakHz   float64
	speakAmp  float64
	heard     AudioStats
	mic       []int16 // queued by Speak, sent before the tone
	earBuf    []int16 // the last 200 ms heard, for HeardHz
}

// DeviceOptions describes a new simulated device.
type DeviceOptions struct {
	IPEI     uint64 // 36-bit identity; 0 picks a random one
	Model    string // default "Linx L1" / "Headset H1"
	Wideband *bool  // default: false for a Linx, true for a Headset
	Firmware string // default "L1 2.3.0" / "H1 1.4.2"
}

// NewLinx adds a Linx (a DECT adapter with an analog phone behind it),
// powered off.
func (e *Emulator) NewLinx(o DeviceOptions) *Device { return e.newDevice(KindLinx, o) }

// NewHeadset adds a DECT headset, powered off.
func (e *Emulator) NewHeadset(o DeviceOptions) *Device { return e.newDevice(KindHeadset, o) }

func (e *Emulator) newDevice(kind byte, o DeviceOptions) *Device {
	d := &Device{e: e, kind: kind, changed: make(chan struct{})}
	v := o.IPEI
	if v == 0 {
		var b [5]byte
		_, _ = rand.Read(b[:])
		b[0] &= 0x0F
		v = ipeiValue(b)
	}
	v &= 0xFFFFFFFFF
	for i := 4; i >= 0; i-- {
		d.ipei[i] = byte(v)
		v >>= 8
	}
	d.model = o.Model
	d.wideband = kind == KindHeadset
	if o.Wideband != nil {
		d.wideband = *o.Wideband
	}
	if d.model == "" {
		d.model = map[byte]string{KindLinx: "Linx L1", KindHeadset: "Headset H1"}[kind]
	}
	d.firmware = o.Firmware
	if d.firmware == "" {
		d.firmware = map[byte]string{KindLinx: "L1 2.3.0", KindHeadset: "H1 1.4.2"}[kind]
	}
	battery := -1
	if kind == KindHeadset {
		battery = 100
	}
	d.st = DeviceState{Kind: typeName(kind), IPEI: ipeiString(d.ipei), Call: CallIdle, InRange: true,
		RSSI: -55, LinkQuality: 100, Battery: battery, Firmware: d.firmware}
	d.speakHz, d.speakAmp = 440, 8000
	e.mu.Lock()
	e.devices = append(e.devices, d)
	e.mu.Unlock()
	return d
}

func ipeiValue(b [5]byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// ipeiString prints EMC (5 digits), PSN (7 digits) and the check digit.
func ipeiString(b [5]byte) string {
	v := ipeiValue(b)
	s := fmt.Sprintf("%05d%07d", v>>20, v&0xFFFFF)
	sum := 0
	for i := 0; i < 12; i++ {
		sum += (i + 1) * int(s[i]-'0')
	}
	if sum%11 == 10 {
		return s + "*"
	}
	return s + string(rune('0'+sum%11))
}

// IPEI is the device's identity as a 36-bit number (EMC<<20 | PSN).
func (d *Device) IPEI() uint64 { return ipeiValue(d.ipei) }

// Kind is "linx" or "headset".
func (d *Device) Kind() string { return typeName(d.kind) }

// Model is the device's model name.
func (d *Device) Model() string { return d.model }

// Wideband reports whether the device does 16 kHz audio.
func (d *Device) Wideband() bool { return d.wideband }

func (d *Device) String() string { return d.Kind() + " " + ipeiString(d.ipei) }

func (d *Device) caps() byte {
	if d.wideband {
		return 1
	}
	return 0
}

// State returns a snapshot of the device.
func (d *Device) State() DeviceState {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.st
	if s.Waiting != nil {
		w := *s.Waiting
		s.Waiting = &w
	}
	return s
}

// MWILog lists every message-waiting indication the device received, in
// order ("on 3", "off 0").
func (d *Device) MWILog() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.mwiLog...)
}

// Wait blocks until cond holds for the device's state or ctx ends.
func (d *Device) Wait(ctx context.Context, cond func(DeviceState) bool) (DeviceState, error) {
	for {
		d.mu.Lock()
		s := d.st
		ch := d.changed
		d.mu.Unlock()
		if cond(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, fmt.Errorf("%v: waiting for state: %w (state %+v)", d, ctx.Err(), s)
		}
	}
}

// notify must be called with d.mu held after a change.
func (d *Device) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Device) update(f func(s *DeviceState)) {
	d.mu.Lock()
	f(&d.st)
	d.notify()
	d.mu.Unlock()
}

// reachableAs reports whether the device is on, in range and subscribed
// with this handset number (called on the module goroutine).
func (d *Device) reachableAs(h byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.Powered && d.st.InRange && d.st.Registered && d.st.Handset == int(h)
}

func (d *Device) onAir() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.Powered && d.st.InRange
}

// ---- user actions ----

// Errors of user actions.
var (
	ErrPoweredOff   = errors.New("radio: device is powered off")
	ErrOutOfRange   = errors.New("radio: device is out of range")
	ErrNotInCall    = errors.New("radio: device has no call")
	ErrNotLinx      = errors.New("radio: only a Linx can dial")
	ErrNotAttached  = errors.New("radio: device is not attached to the base")
	ErrAlreadyInUse = errors.New("radio: device is already off-hook")
)

// PairError is why a pairing attempt failed.
type PairError struct{ Reason string }

func (p *PairError) Error() string { return "radio: pairing refused: " + p.Reason }

// PowerOn switches the device on; a registered device in range attaches.
func (d *Device) PowerOn() {
	d.update(func(s *DeviceState) { s.Powered = true })
	d.e.post(func() { d.e.deviceArrived(d) })
}

// PowerOff switches the device off (any call is dropped).
func (d *Device) PowerOff() {
	d.airAudioStop()
	d.update(func(s *DeviceState) {
		s.Powered = false
		s.Attached = false
		s.Call = CallIdle
		s.OffHook = false
		s.Tone = ""
		s.Paging = false
		s.Locating = false
	})
	d.e.post(func() { d.e.deviceLeft(d, linkOff) })
}

// SetInRange walks the device out of range (false) or back (true).
func (d *Device) SetInRange(in bool) {
	if !in {
		d.airAudioStop()
	}
	d.update(func(s *DeviceState) {
		s.InRange = in
		if !in {
			s.Attached = false
			s.Call = CallIdle
			s.Tone = ""
			s.Paging = false
			s.Locating = false
		}
	})
	if in {
		d.e.post(func() { d.e.deviceArrived(d) })
	} else {
		d.e.post(func() { d.e.deviceLeft(d, linkOutOfRange) })
	}
}

// Pair starts registration with the base's PIN and waits for the outcome:
// nil when paired, a *PairError when the base refused, or ctx's error.
func (d *Device) Pair(ctx context.Context, pin string) error {
	if !validPIN(pin) {
		return fmt.Errorf("radio: PIN must be 4 to 8 digits")
	}
	d.mu.Lock()
	if !d.st.Powered {
		d.mu.Unlock()
		return ErrPoweredOff
	}
	if !d.st.InRange {
		d.mu.Unlock()
		return ErrOutOfRange
	}
	res := make(chan error, 1)
	d.pairPIN = pin
	d.pairRes = res
	d.mu.Unlock()
	d.e.post(func() { d.e.pairRequest(d) })
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		d.mu.Lock()
		d.pairRes = nil
		d.mu.Unlock()
		return ctx.Err()
	}
}

func (d *Device) pairDone(err error) {
	d.mu.Lock()
	ch := d.pairRes
	d.pairRes = nil
	d.mu.Unlock()
	if ch != nil {
		ch <- err
	}
}

// OffHook lifts the Linx's analog phone (or presses the Headset's talk
// button): it answers a ringing call or starts a new one.
func (d *Device) OffHook() error {
	d.mu.Lock()
	if err := d.usable(); err != nil {
		d.mu.Unlock()
		return err
	}
	if d.st.OffHook {
		d.mu.Unlock()
		return ErrAlreadyInUse
	}
	d.st.OffHook = true
	d.st.Tone = ""
	answering := d.st.Call == CallRinging
	if answering {
		d.st.Call = CallConnected
	} else {
		d.st.Call = CallSetup
	}
	d.st.Paging = false
	d.st.Locating = false
	d.notify()
	d.mu.Unlock()
	if answering {
		d.e.post(func() { d.e.deviceAnswered(d) })
	} else {
		d.e.post(func() { d.e.deviceSetup(d) })
	}
	return nil
}

// Answer is OffHook.
func (d *Device) Answer() error { return d.OffHook() }

func (d *Device) usable() error {
	if !d.st.Powered {
		return ErrPoweredOff
	}
	if !d.st.InRange {
		return ErrOutOfRange
	}
	return nil
}

// Dial dials digits on the Linx's analog phone (0-9 * #), one key
// indication per digit.
func (d *Device) Dial(digits string) error {
	if d.kind != KindLinx {
		return ErrNotLinx
	}
	for _, c := range digits {
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return fmt.Errorf("radio: cannot dial %q", c)
		}
	}
	return d.keys(digits, true)
}

// Flash is the R key during a call: on a Linx its analog phone's hook
// flash, on a Headset a double press of its talk button. Both send the
// base KEYS-IND "R" (register recall): answer a waiting call, swap between
// two calls, or hold the only one.
func (d *Device) Flash() error {
	return d.keys("R", false)
}

func (d *Device) keys(k string, each bool) error {
	d.mu.Lock()
	if err := d.usable(); err != nil {
		d.mu.Unlock()
		return err
	}
	if d.st.Call != CallDialing && d.st.Call != CallConnected {
		d.mu.Unlock()
		return ErrNotInCall
	}
	d.st.Tone = ""
	d.notify()
	d.mu.Unlock()
	if each {
		for _, c := range k {
			s := string(c)
			d.e.post(func() { d.e.deviceKeys(d, s) })
		}
	} else {
		d.e.post(func() { d.e.deviceKeys(d, k) })
	}
	return nil
}

// HangUp puts the phone on-hook (ends the call or declines ringing).
func (d *Device) HangUp() error {
	d.airAudioStop()
	d.mu.Lock()
	had := d.st.Call != CallIdle
	d.st.OffHook = false
	d.st.Call = CallIdle
	d.st.Tone = ""
	d.st.Waiting = nil
	d.notify()
	d.mu.Unlock()
	if had {
		d.e.post(func() { d.e.deviceReleased(d) })
	}
	return nil
}

// Decline rejects a ringing call without answering.
func (d *Device) Decline() error { return d.HangUp() }

// CorruptKey damages the device's stored authentication key (to test that
// the base refuses a device with a wrong key).
func (d *Device) CorruptKey() {
	d.mu.Lock()
	d.uak[0] ^= 0xFF
	d.mu.Unlock()
}

// ---- audio ----

// AudioStats is what the device heard from the base.
type AudioStats struct {
	Frames  int     `json:"frames"` // frames received
	Loud    int     `json:"loud"`   // frames with RMS above 100
	RMS     float64 `json:"rms"`    // RMS of the last frame
	Peak    int16   `json:"peak"`
	Last    []int16 `json:"last"` // the last frame
	Rate    int     `json:"rate"`
	Spoken  int     `json:"spoken"`  // frames the device sent
	Dropped int     `json:"dropped"` // frames the device could not send (base not reading)
}

// SetSpeech sets the tone the device's user "speaks" (0 Hz: silence).
func (d *Device) SetSpeech(hz, amplitude float64) {
	d.mu.Lock()
	d.speakHz, d.speakAmp = hz, amplitude
	d.mu.Unlock()
}

// Speak queues samples (at the call's audio rate, AudioRate) for the
// device's microphone: they are sent before the speech tone resumes. It
// reports false when the device has no audio channel.
func (d *Device) Speak(samples []int16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pcm == nil {
		return false
	}
	d.mic = append(d.mic, samples...)
	return true
}

// Speaking returns how many samples are still queued for the microphone.
func (d *Device) Speaking() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.mic)
}

// HeardHz estimates the main frequency the device heard over the last
// 200 ms (zero crossings); 0 for silence.
func (d *Device) HeardHz() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return crossingsHz(d.earBuf, d.heard.Rate)
}

func crossingsHz(x []int16, rate int) float64 {
	if len(x) < 2 || rate == 0 {
		return 0
	}
	var sum float64
	for _, v := range x {
		sum += float64(v) * float64(v)
	}
	if math.Sqrt(sum/float64(len(x))) < 100 {
		return 0
	}
	n, first, last := 0, -1, -1
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			n++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if n < 2 {
		return 0
	}
	return math.Round(float64(n-1)/2/(float64(last-first)/float64(rate))*10) / 10
}

// Heard returns what the device heard so far in the current call.
func (d *Device) Heard() AudioStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.heard
	h.Last = append([]int16(nil), h.Last...)
	return h
}

// SpeechFrame is the n-th frame a device speaking hz at amp sends at rate:
// a pure sine starting at phase 0, so tests can predict it.
func SpeechFrame(rate int, hz, amp float64, n int) []int16 {
	ns := hal.FrameSamples(rate)
	f := make([]int16, ns)
	for i := range f {
		t := float64(n*ns+i) / float64(rate)
		f[i] = int16(amp * math.Sin(2*math.Pi*hz*t))
	}
	return f
}

func (d *Device) runAudio(ctx context.Context, p *pcmEnd) {
	ns := hal.FrameSamples(p.rate)
	in := make([]int16, ns)
	for n := 0; ; n++ {
		if err := p.ReadFrame(ctx, in); err != nil {
			return
		}
		var sum float64
		var peak int16
		for _, s := range in {
			sum += float64(s) * float64(s)
			if s > peak {
				peak = s
			} else if -s > peak {
				peak = -s
			}
		}
		rms := math.Sqrt(sum / float64(ns))
		d.mu.Lock()
		hz, amp := d.speakHz, d.speakAmp
		d.heard.Frames++
		if rms > 100 {
			d.heard.Loud++
		}
		d.heard.RMS = rms
		if peak > d.heard.Peak {
			d.heard.Peak = peak
		}
		d.heard.Last = append(d.heard.Last[:0], in...)
		d.earBuf = append(d.earBuf, in...)
		if keep := p.rate / 5; len(d.earBuf) > 2*keep {
			d.earBuf = append(d.earBuf[:0], d.earBuf[len(d.earBuf)-keep:]...)
		}
		out := SpeechFrame(p.rate, hz, amp, n)
		if hz == 0 {
			clear(out)
		}
		if len(d.mic) > 0 {
			clear(out)
			k := copy(out, d.mic)
			d.mic = d.mic[k:]
		}
		d.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, hal.FrameDuration)
		err := p.WriteFrame(wctx, out)
		cancel()
		d.mu.Lock()
		if err == nil {
			d.heard.Spoken++
		} else {
			d.heard.Dropped++
		}
		d.mu.Unlock()
		if errors.Is(err, hal.ErrClosed) {
			return
		}
	}
}

// ---- over the air, called on the module goroutine ----

// ---- device-initiated events, on the module goroutine ----
