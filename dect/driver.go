package dect

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"basestation/dect/wire"
	"basestation/hal"
)

// Driver drives the DECT radio module over its serial port: the link, the
// module's lifecycle, registration, the paired-device table and the devices.
type Driver struct {
	radio hal.Radio
	opts  Options
	log   *slog.Logger
	rnd   io.Reader
	zone  atomic.Pointer[time.Location] // SetLocation's; nil: Options.Location

	events chan Event
	clockQ chan struct{} // SyncClock's request to the clock loop

	pairMu sync.Mutex // one pairing exchange at a time

	mu         sync.Mutex
	sess       *session // current session, nil when the module is not ready
	running    bool
	runCtx     context.Context
	devWG      sync.WaitGroup
	firmware   string
	protoMinor byte // the module's protocol minor (HELLO-CNF)
	rfpi       [5]byte
	slots      int
	capacity   int
	slotUsed   []bool
	table      *Table
	devices    map[int]*Device
	reg        regState
	starts     int
	paging     bool
	pageTimer  *time.Timer
}

type regState struct {
	open        bool
	pin         string
	until       time.Time
	timer       *time.Timer
	gen         int
	wrong       int
	lockedUntil time.Time
}

// New loads the paired-device table from opts.StateDir and returns a driver.
// It does not touch the serial port or the module: Run does. It fails when
// the options are invalid or the table exists but neither it nor its backup
// can be read.
func New(radio hal.Radio, opts *Options) (*Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.fill(); err != nil {
		return nil, err
	}
	if o.StallTimeout <= 0 {
		baud := radio.Baud
		if baud <= 0 {
			baud = 115200
		}
		frame := time.Duration(wire.MaxFrame*10) * time.Second / time.Duration(baud)
		o.StallTimeout = 2*frame + 20*time.Millisecond
	}
	if o.OpenPort == nil && radio.Device == "" {
		return nil, fmt.Errorf("dect: hal.Radio.Device is empty")
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("dect: state dir: %w", err)
	}
	t, restored, err := LoadTable(o.StateDir)
	if err != nil {
		return nil, err
	}
	d := &Driver{
		radio:   radio,
		opts:    o,
		log:     o.Logger.With("subsys", "dect"),
		rnd:     o.Rand,
		events:  make(chan Event, 256),
		clockQ:  make(chan struct{}, 1),
		table:   t,
		devices: make(map[int]*Device),
	}
	if d.rnd == nil {
		d.rnd = rand.Reader
	}
	for _, r := range t.Devices {
		d.devices[r.Handset] = newDevice(d, r)
	}
	if restored {
		d.log.Warn("dect: device table was corrupt; restored from backup")
		d.emit(Event{Kind: EventTableRestored, Reason: "current file corrupt, backup used"})
	}
	return d, nil
}

func (d *Driver) String() string { return "dect(" + d.radio.Device + ")" }

// Events delivers the driver's events. The channel is buffered (256); if
// the consumer falls that far behind, further events are dropped and logged.
func (d *Driver) Events() <-chan Event { return d.events }

func (d *Driver) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	d.log.Info("dect: event", "event", e.String())
	select {
	case d.events <- e:
	default:
		d.log.Warn("dect: event channel full; event dropped", "event", e.String())
	}
}

// Ready reports whether the module is up and reconciled.
func (d *Driver) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sess != nil
}

// WaitReady waits until the module is ready, ctx ends or max has passed,
// and reports whether it is ready (just after start-up or a module reset
// the module may still be booting).
func (d *Driver) WaitReady(ctx context.Context, max time.Duration) bool {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	for !d.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-t.C:
		}
	}
	return true
}

// Status is a snapshot of the radio for state reports.
type Status struct {
	Ready            bool   // module up and reconciled
	Firmware         string // module firmware (from the last handshake)
	RFPI             [5]byte
	Slots            int // PCM slots
	Capacity         int // effective device-table size (min of MaxDevices and the module's)
	Paired           int
	RegistrationOpen bool
	RegistrationEnds time.Time
	LockedOutUntil   time.Time // zero when not locked out
	Paging           bool
}

// Status reports the radio's state.
func (d *Driver) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{Ready: d.sess != nil, Firmware: d.firmware, RFPI: d.rfpi, Slots: d.slots,
		Capacity: d.maxDevicesLocked(), Paired: len(d.table.Devices), RegistrationOpen: d.reg.open,
		Paging: d.paging}
	if d.reg.open {
		st.RegistrationEnds = d.reg.until
	}
	if time.Now().Before(d.reg.lockedUntil) {
		st.LockedOutUntil = d.reg.lockedUntil
	}
	return st
}

// Devices lists the paired devices ordered by handset number.
func (d *Driver) Devices() []DeviceInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DeviceInfo, 0, len(d.table.Devices))
	for _, r := range d.table.Devices {
		out = append(out, recordInfo(r))
	}
	return out
}

// Device returns the paired device with the given handset number, or nil.
func (d *Driver) Device(handset int) *Device {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.devices[handset]
}

func recordInfo(r Record) DeviceInfo {
	return DeviceInfo{Handset: r.Handset, IPEI: r.IPEI, Type: r.Type, Model: r.Model, Wideband: r.Wideband, PairedAt: r.PairedAt}
}

// current returns the ready session.
func (d *Driver) current() (*session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return nil, ErrNotReady
	}
	return d.sess, nil
}

func (d *Driver) request(ctx context.Context, m wire.Msg) (wire.Msg, error) {
	s, err := d.current()
	if err != nil {
		return wire.Msg{}, fmt.Errorf("dect: %v: %w", m.Type, err)
	}
	return s.request(ctx, m)
}

func (d *Driver) random(b []byte) {
	if _, err := io.ReadFull(d.rnd, b); err != nil {
		panic(fmt.Sprintf("unexpected: random source failed: %v", err))
	}
}

// Page makes every device in range ring to be found (on) for PageDuration
// or until Page(ctx, false).
func (d *Driver) Page(ctx context.Context, on bool) error {
	if !on {
		return d.PageFor(ctx, 0)
	}
	return d.PageFor(ctx, d.opts.PageDuration)
}

// PageFor makes every device in range ring to be found for dur, or stops
// paging (dur 0). A later call replaces the running page and its end.
func (d *Driver) PageFor(ctx context.Context, dur time.Duration) error {
	var f byte
	if dur > 0 {
		f = 1
	}
	if _, err := d.request(ctx, wire.Msg{Type: wire.TPage, On: f}); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pageTimer != nil {
		d.pageTimer.Stop()
		d.pageTimer = nil
	}
	d.paging = dur > 0
	if dur > 0 {
		d.pageTimer = time.AfterFunc(dur, func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.opts.RequestTimeout)
			defer cancel()
			if err := d.PageFor(ctx, 0); err != nil {
				d.log.Warn("dect: stop paging", "err", err)
			}
		})
	}
	return nil
}

// Paging reports whether devices are being paged.
func (d *Driver) Paging() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paging
}

// Button acts on a press of the base's button: held for LongPress or more
// it opens the registration window for window (0: the default) with pin; a
// shorter press starts paging for PageDuration, or stops it if it is on.
func (d *Driver) Button(ctx context.Context, p hal.ButtonPress, window time.Duration, pin string) error {
	if p.Held >= d.opts.LongPress {
		return d.OpenRegistration(ctx, window, pin)
	}
	return d.Page(ctx, !d.Paging())
}

// Deregister removes a device from the module and the table. The table
// entry is removed even if the module cannot be reached; the module's copy
// is then removed as an orphan at the next start-up.
func (d *Driver) Deregister(ctx context.Context, handset int) error {
	d.mu.Lock()
	dev := d.devices[handset]
	if dev == nil {
		d.mu.Unlock()
		return fmt.Errorf("dect: deregister %d: %w", handset, ErrUnknownDevice)
	}
	info := dev.info()
	nt := &Table{Generation: d.table.Generation + 1}
	for _, r := range d.table.Devices {
		if r.Handset != handset {
			nt.Devices = append(nt.Devices, r)
		}
	}
	if err := SaveTable(d.opts.StateDir, nt); err != nil {
		d.mu.Unlock()
		return fmt.Errorf("dect: deregister %d: %w", handset, err)
	}
	d.table = nt
	delete(d.devices, handset)
	d.mu.Unlock()
	dev.remove()
	_, err := d.request(ctx, wire.Msg{Type: wire.TDeregister, Handset: byte(handset), IPEI: info.IPEI})
	if err != nil && !errors.Is(err, wire.StatusUnknown) {
		d.log.Warn("dect: module did not confirm deregistration; it will be removed as an orphan later", "handset", handset, "err", err)
	}
	d.emit(Event{Kind: EventDeregistered, Device: info})
	return nil
}

func (d *Driver) startDevice(dev *Device) {
	d.devWG.Add(1)
	go func() {
		defer d.devWG.Done()
		dev.run(d.runCtx)
	}()
}

func (d *Driver) allocSlot() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, u := range d.slotUsed {
		if !u {
			d.slotUsed[i] = true
			return i, nil
		}
	}
	return 0, ErrNoAudioSlot
}

func (d *Driver) freeSlot(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i >= 0 && i < len(d.slotUsed) {
		d.slotUsed[i] = false
	}
}
