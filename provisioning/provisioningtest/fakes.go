package provisioningtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"basestation/provisioning"
)

// Applier records applied configurations. Busy and CheckErrors are set by
// the test.
type Applier struct {
	mu      sync.Mutex
	applied []*provisioning.Config
	busy    []string
	check   func(*provisioning.Config) []provisioning.FieldError
	fail    error
	notify  chan uint64
}

// NewApplier returns an Applier with nothing applied.
func NewApplier() *Applier { return &Applier{notify: make(chan uint64, 1024)} }

// Check implements provisioning.Applier.
func (a *Applier) Check(cfg *provisioning.Config) []provisioning.FieldError {
	a.mu.Lock()
	f := a.check
	a.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(cfg)
}

// Apply implements provisioning.Applier.
func (a *Applier) Apply(ctx context.Context, cfg *provisioning.Config) error {
	a.mu.Lock()
	if a.fail != nil {
		err := a.fail
		a.mu.Unlock()
		return err
	}
	a.applied = append(a.applied, cfg.Clone())
	a.mu.Unlock()
	select {
	case a.notify <- cfg.Version:
	default:
	}
	return nil
}

// BusyExtensions implements provisioning.Applier.
func (a *Applier) BusyExtensions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.busy)
}

// SetBusy sets the extensions with a live call.
func (a *Applier) SetBusy(ext ...string) {
	a.mu.Lock()
	a.busy = ext
	a.mu.Unlock()
}

// SetCheck sets the live-state check.
func (a *Applier) SetCheck(f func(*provisioning.Config) []provisioning.FieldError) {
	a.mu.Lock()
	a.check = f
	a.mu.Unlock()
}

// SetFail makes Apply fail with err (nil: succeed).
func (a *Applier) SetFail(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}

// Current is the last applied configuration (nil: none).
func (a *Applier) Current() *provisioning.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.applied) == 0 {
		return nil
	}
	return a.applied[len(a.applied)-1].Clone()
}

// Count is how many times Apply succeeded.
func (a *Applier) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.applied)
}

// Applied delivers the version of every successful Apply.
func (a *Applier) Applied() <-chan uint64 { return a.notify }

// Radio is a fake DECT radio: registration mode opens for a window; Pair
// pairs a device while it is open; the window times out on its own.
type Radio struct {
	mu       sync.Mutex
	devices  []provisioning.Device
	open     *window
	opens    []Open
	removed  []string
	pages    int
	locates  []string
	openedCh chan Open
	failOpen error
	scale    float64
}

// SetTimeScale makes registration windows last d*scale (e.g. 0.01 turns a
// 10 s window into 100 ms) so tests can see them time out quickly.
func (r *Radio) SetTimeScale(scale float64) {
	r.mu.Lock()
	r.scale = scale
	r.mu.Unlock()
}

// SetFailOpen makes OpenRegistration fail with err (nil: succeed).
func (r *Radio) SetFailOpen(err error) {
	r.mu.Lock()
	r.failOpen = err
	r.mu.Unlock()
}

// Open records one OpenRegistration call.
type Open struct {
	Window time.Duration
	PIN    string
	At     time.Time
}

type window struct {
	out   chan provisioning.Pairing
	timer *time.Timer
}

// NewRadio returns a radio with the given paired devices.
func NewRadio(devices ...provisioning.Device) *Radio {
	return &Radio{devices: devices, openedCh: make(chan Open, 1024)}
}

// OpenRegistration implements provisioning.Radio.
func (r *Radio) OpenRegistration(ctx context.Context, d time.Duration, pin string) (<-chan provisioning.Pairing, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOpen != nil {
		return nil, r.failOpen
	}
	if r.open != nil {
		return nil, provisioning.ErrRegistrationBusy
	}
	w := &window{out: make(chan provisioning.Pairing, 1)}
	real := d
	if r.scale > 0 {
		real = time.Duration(float64(d) * r.scale)
	}
	w.timer = time.AfterFunc(real, func() { r.end(w, provisioning.Pairing{Err: provisioning.ErrRegistrationTimeout}) })
	r.open = w
	o := Open{Window: d, PIN: pin, At: time.Now()}
	r.opens = append(r.opens, o)
	select {
	case r.openedCh <- o:
	default:
	}
	return w.out, nil
}

func (r *Radio) end(w *window, p provisioning.Pairing) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != w {
		return false
	}
	r.open = nil
	w.timer.Stop()
	if p.Err == nil {
		r.devices = append(r.devices, p.Device)
	}
	w.out <- p
	close(w.out)
	return true
}

// Pair pairs dev if registration mode is open and reports whether it did.
func (r *Radio) Pair(dev provisioning.Device) bool {
	r.mu.Lock()
	w := r.open
	r.mu.Unlock()
	if w == nil {
		return false
	}
	return r.end(w, provisioning.Pairing{Device: dev})
}

// CloseRegistration implements provisioning.Radio.
func (r *Radio) CloseRegistration(ctx context.Context) error {
	r.mu.Lock()
	w := r.open
	r.mu.Unlock()
	if w != nil {
		r.end(w, provisioning.Pairing{Err: provisioning.ErrRegistrationClosed})
	}
	return nil
}

// Devices implements provisioning.Radio.
func (r *Radio) Devices() []provisioning.Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.devices)
}

// RemoveDevice implements provisioning.Radio.
func (r *Radio) RemoveDevice(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.devices, func(d provisioning.Device) bool { return d.ID == id })
	if i < 0 {
		return fmt.Errorf("remove %s: %w", id, provisioning.ErrUnknownDevice)
	}
	r.devices = slices.Delete(r.devices, i, i+1)
	r.removed = append(r.removed, id)
	return nil
}

// Page implements provisioning.Radio.
func (r *Radio) Page(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.pages++
	r.mu.Unlock()
	return nil
}

// Locate implements provisioning.Locator: it records "id on" or "id off".
func (r *Radio) Locate(ctx context.Context, id string, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.ContainsFunc(r.devices, func(d provisioning.Device) bool { return d.ID == id }) {
		return fmt.Errorf("locate %s: %w", id, provisioning.ErrUnknownDevice)
	}
	what := id + " off"
	if on {
		what = id + " on"
	}
	r.locates = append(r.locates, what)
	return nil
}

// Locates lists the Locate calls ("id on" / "id off").
func (r *Radio) Locates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.locates)
}

// Opened delivers every OpenRegistration call.
func (r *Radio) Opened() <-chan Open { return r.openedCh }

// Opens returns the OpenRegistration calls so far.
func (r *Radio) Opens() []Open {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.opens)
}

// Removed returns the ids removed so far.
func (r *Radio) Removed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.removed)
}

// Pages is how many times Page was called.
func (r *Radio) Pages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pages
}

// IsOpen reports whether registration mode is open.
func (r *Radio) IsOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open != nil
}

// State is a fake StateSource.
type State struct {
	mu    sync.Mutex
	regs  []provisioning.Registration
	lines []provisioning.Line
}

// Registrations implements provisioning.StateSource.
func (s *State) Registrations() []provisioning.Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.regs)
}

// Lines implements provisioning.StateSource.
func (s *State) Lines() []provisioning.Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// Set replaces the registrations and lines.
func (s *State) Set(regs []provisioning.Registration, lines []provisioning.Line) {
	s.mu.Lock()
	s.regs, s.lines = regs, lines
	s.mu.Unlock()
}

// Linx is a sample paired Linx.
func Linx() provisioning.Device {
	return provisioning.Device{ID: "dect-0a1b2c3d", Type: provisioning.DeviceLinx, Name: "Linx"}
}

// Headset is a sample paired Headset.
func Headset() provisioning.Device {
	return provisioning.Device{ID: "dect-0e0f1011", Type: provisioning.DeviceHeadset, Name: "Headset"}
}

// SampleConfig is a valid configuration for base: extension 101 (phone
// port) and 102 (no devices), with a password that names the version.
func SampleConfig(base string, version uint64) *provisioning.Config {
	pw := fmt.Sprintf("secret-v%d", version)
	return &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: base, Version: version,
		System: provisioning.System{
			Registrars: []string{"sip:pbx1.example.net;transport=udp", "sip:pbx2.example.net:5070"},
			ToneRegion: "US", TimeZone: "America/New_York",
		},
		Extensions: []provisioning.Extension{
			{
				Number: "101", DisplayName: fmt.Sprintf("Front desk v%d", version),
				SIP:      provisioning.SIPAccount{User: "acct101", Password: pw, Domain: "pbx.example.net"},
				CallerID: "+15551230101", VoicemailNumber: "*98",
				Devices: provisioning.Devices{Port: provisioning.PortDeviceID},
			},
			{
				Number: "102", DisplayName: fmt.Sprintf("Back office v%d", version),
				SIP: provisioning.SIPAccount{User: "acct102", Password: pw, Domain: "pbx.example.net", Transport: "tls", SRTPRequired: true},
			},
		},
	}
}
