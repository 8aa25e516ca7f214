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

	"github.com/tarm/serial"
	"periph.io/x/conn/v3/gpio"

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

	events chan Event
	clockQ chan struct{} // SyncClock's request to the clock loop

	pairMu sync.Mutex // one pairing exchange at a time

	mu        sync.Mutex
	sess      *session // current session, nil when the module is not ready
	running   bool
	runCtx    context.Context
	devWG     sync.WaitGroup
	firmware  string
	rfpi      [5]byte
	slots     int
	capacity  int
	slotUsed  []bool
	table     *Table
	devices   map[int]*Device
	reg       regState
	starts    int
	paging    bool
	pageTimer *time.Timer
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

func (d *Driver) openPort() (io.ReadWriteCloser, error) {
	if d.opts.OpenPort != nil {
		return d.opts.OpenPort()
	}
	baud := d.radio.Baud
	if baud == 0 {
		baud = 115200
	}
	p, err := serial.OpenPort(&serial.Config{Name: d.radio.Device, Baud: baud, ReadTimeout: d.opts.ReadTimeout})
	if err != nil {
		return nil, fmt.Errorf("dect: open %s: %w", d.radio.Device, err)
	}
	return p, nil
}

type portReader struct {
	chunks chan []byte
	errc   chan error
	stop   context.CancelFunc
	clock  *readClock
}

// readClock records how far the reader has looked at the line: every byte
// that arrived before Seen() has been read and handed to the link engine
// (it is in the chunks channel or already taken). The engine judges the
// module's silence, its missing acknowledgements and stalled frames
// against this time, not against its own clock: under CPU load a
// goroutine returning from a blocking read waits in the scheduler's global
// run queue behind every runnable goroutine, while the engine, woken by its
// timers, runs at once. Judged by the engine's clock, the module's answers
// waiting unread in the tty buffer looked like silence (issue 9).
type readClock struct {
	base time.Time
	at   atomic.Int64 // since base
}

func newReadClock() *readClock {
	c := &readClock{base: time.Now()}
	return c
}

// mark is called by the reader before each read.
func (c *readClock) mark() { c.at.Store(int64(time.Since(c.base))) }

// Seen is the start of the reader's latest read.
func (c *readClock) Seen() time.Time { return c.base.Add(time.Duration(c.at.Load())) }

func startReader(ctx context.Context, p io.Reader) *portReader {
	rctx, cancel := context.WithCancel(ctx)
	r := &portReader{chunks: make(chan []byte, 64), errc: make(chan error, 1), stop: cancel, clock: newReadClock()}
	go reader(rctx, p, r.chunks, r.errc, r.clock)
	return r
}

// reader copies bytes from the port to chunks. An empty chunk means "read
// timeout, line idle". tarm/serial reports a read timeout as io.EOF.
func reader(ctx context.Context, p io.Reader, chunks chan<- []byte, errc chan<- error, clock *readClock) {
	buf := make([]byte, 1024)
	for {
		clock.mark()
		n, err := p.Read(buf)
		if n > 0 {
			c := make([]byte, n)
			copy(c, buf[:n])
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
		}
		switch {
		case err == nil || errors.Is(err, io.EOF):
			if n == 0 {
				select {
				case chunks <- nil:
				default:
				}
				if ctx.Err() != nil {
					return
				}
			}
		case errors.Is(err, os.ErrClosed) || ctx.Err() != nil:
			return
		default:
			errc <- err
			return
		}
	}
}

// pulseReset holds the module's reset line low for ResetPulse.
func (d *Driver) pulseReset(ctx context.Context) error {
	if d.radio.Reset == nil {
		return nil
	}
	if err := d.radio.Reset.Out(gpio.Low); err != nil {
		return fmt.Errorf("dect: reset pin: %w", err)
	}
	t := time.NewTimer(d.opts.ResetPulse)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	if err := d.radio.Reset.Out(gpio.High); err != nil {
		return fmt.Errorf("dect: reset pin: %w", err)
	}
	return nil
}

// Run drives the module until ctx ends: it opens the port, resets the module
// through its reset pin, handshakes, reconciles the device table and serves
// the link; a module that resets or stops answering is recovered the same
// way. It returns nil when ctx ends, or an error if the port cannot be
// opened at all.
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("dect: Run called twice")
	}
	d.running = true
	d.runCtx = ctx
	for _, dev := range d.devices {
		d.startDevice(dev)
	}
	d.devWG.Add(1)
	go func() {
		defer d.devWG.Done()
		d.clockLoop(ctx)
	}()
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
		d.devWG.Wait()
		d.halt()
	}()

	port, err := d.openPort()
	if err != nil {
		return err
	}
	var portMu sync.Mutex
	closePort := func() {
		portMu.Lock()
		defer portMu.Unlock()
		if port != nil {
			port.Close()
			port = nil
		}
	}
	defer closePort()

	rd := startReader(ctx, port)
	defer func() { rd.stop() }()

	needReset := true
	failures := 0
	for {
		if needReset {
			if err := d.pulseReset(ctx); err != nil {
				d.log.Error("dect: reset", "err", err)
			}
		}
		err := d.runSession(ctx, port, rd)
		if ctx.Err() != nil {
			return nil
		}
		d.emit(Event{Kind: EventModuleLost, Reason: err.Error()})
		var pe portError
		if errors.As(err, &pe) {
			d.log.Error("dect: serial port failed; reopening", "err", pe.err)
			closePort()
			rd.stop()
			for {
				if !sleep(ctx, backoff(failures)) {
					return nil
				}
				failures++
				p, oerr := d.openPort()
				if oerr == nil {
					portMu.Lock()
					port = p
					portMu.Unlock()
					break
				}
				d.log.Error("dect: reopen", "err", oerr)
			}
			rd = startReader(ctx, port)
			needReset = true
			continue
		}
		needReset = !errors.Is(err, errModuleReset)
		if errors.Is(err, errNoSync) || errors.Is(err, errHandshake) {
			failures++
			d.log.Warn("dect: module not answering", "err", err, "attempt", failures)
			if !sleep(ctx, backoff(failures)) {
				return nil
			}
		} else {
			failures = 0
			d.log.Warn("dect: module link lost; recovering", "err", err)
		}
	}
}

type portError struct{ err error }

func (p portError) Error() string { return "serial port: " + p.err.Error() }

var errHandshake = errors.New("handshake failed")

func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n, 7)
	return min(d, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (d *Driver) runSession(ctx context.Context, w io.Writer, rd *portReader) error {
	readErr := rd.errc
	s := newSession(d.log, &d.opts, w, rd.chunks, rd.clock.Seen)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var perr error
	var pmu sync.Mutex
	go s.run(sctx)
	go func() {
		select {
		case e := <-readErr:
			pmu.Lock()
			perr = e
			pmu.Unlock()
			cancel()
		case <-s.done:
		}
	}()
	finish := func(err error) error {
		cancel()
		<-s.done
		reason := "module-reset"
		if ctx.Err() != nil {
			reason = "stopped"
		}
		d.sessionEnded(s, reason)
		pmu.Lock()
		defer pmu.Unlock()
		if perr != nil {
			return portError{perr}
		}
		if err == nil {
			err = s.err
		}
		return err
	}
	select {
	case <-s.up:
	case <-s.done:
		return finish(nil)
	}
	if err := d.startup(sctx, s); err != nil {
		if ctx.Err() == nil && sctx.Err() == nil {
			d.log.Error("dect: start-up", "err", err)
		}
		select {
		case <-s.done:
			return finish(nil)
		default:
		}
		return finish(fmt.Errorf("%w: %v", errHandshake, err))
	}
	for {
		select {
		case m := <-s.inds:
			d.handleInd(sctx, s, m)
		case <-s.done:
			return finish(nil)
		}
	}
}

// startup handshakes and reconciles the device table.
func (d *Driver) startup(ctx context.Context, s *session) error {
	h, err := s.request(ctx, wire.Msg{Type: wire.THello, ProtoMajor: 1, ProtoMinor: 0})
	if err != nil {
		return err
	}
	if h.ProtoMajor != 1 {
		return fmt.Errorf("module speaks protocol %d.%d, driver 1.x", h.ProtoMajor, h.ProtoMinor)
	}
	l, err := s.request(ctx, wire.Msg{Type: wire.TDeviceList})
	if err != nil {
		return err
	}
	d.mu.Lock()
	records := append([]Record(nil), d.table.Devices...)
	d.mu.Unlock()
	known := map[byte]Record{}
	for _, r := range records {
		known[byte(r.Handset)] = r
	}
	inModule := map[byte]bool{}
	for _, e := range l.Devices {
		r, ok := known[e.Handset]
		if ok && r.IPEI == e.IPEI {
			inModule[e.Handset] = true
			continue
		}
		// Orphan: the module knows a subscription the table does not (the
		// table is the authority: it alone holds keys). Free the slot.
		_, derr := s.request(ctx, wire.Msg{Type: wire.TDeregister, Handset: e.Handset, IPEI: e.IPEI})
		reason := "removed from module"
		if derr != nil {
			reason = "removal failed: " + derr.Error()
		}
		d.emit(Event{Kind: EventOrphan, Handset: int(e.Handset), IPEI: e.IPEI, Type: e.Type, Reason: reason})
	}
	for _, r := range records {
		if inModule[byte(r.Handset)] {
			continue
		}
		caps := byte(0)
		if r.Wideband {
			caps = wire.CapWideband
		}
		if _, err := s.request(ctx, wire.Msg{Type: wire.TDeviceAdd, Handset: byte(r.Handset), IPEI: r.IPEI,
			DevType: r.Type, Caps: caps, Model: r.Model}); err != nil {
			return fmt.Errorf("re-sync device %d to module: %w", r.Handset, err)
		}
		d.log.Info("dect: device re-synced to module", "handset", r.Handset, "ipei", r.IPEI.String())
	}
	if _, err := s.request(ctx, wire.Msg{Type: wire.TDateTime, Time: d.localNow()}); err != nil {
		return err
	}
	d.mu.Lock()
	d.sess = s
	d.firmware = h.Firmware
	d.rfpi = h.RFPI
	d.slots = int(h.Slots)
	d.capacity = int(h.Capacity)
	d.slotUsed = make([]bool, d.slots)
	d.starts++
	reason := "start"
	if d.starts > 1 {
		reason = "recovered"
	}
	d.mu.Unlock()
	d.emit(Event{Kind: EventModuleReady, Firmware: h.Firmware, Reason: reason})
	return nil
}

func toDateTime(t time.Time) wire.DateTime {
	if t.IsZero() || t.Year() < 2000 || t.Year() > 2099 {
		return wire.DateTime{}
	}
	return wire.DateTime{Year: uint16(t.Year()), Month: byte(t.Month()), Day: byte(t.Day()),
		Hour: byte(t.Hour()), Min: byte(t.Minute()), Sec: byte(t.Second())}
}

// sessionEnded drops everything that lived in the module: calls, audio,
// the registration window, authentication state.
func (d *Driver) sessionEnded(s *session, reason string) {
	d.mu.Lock()
	wasReady := d.sess == s
	if wasReady {
		d.sess = nil
	}
	devs := make([]*Device, 0, len(d.devices))
	for _, dev := range d.devices {
		devs = append(devs, dev)
	}
	d.mu.Unlock()
	if !wasReady {
		return
	}
	d.closeWindow(reason, false)
	d.mu.Lock()
	d.paging = false
	if d.pageTimer != nil {
		d.pageTimer.Stop()
		d.pageTimer = nil
	}
	d.mu.Unlock()
	for _, dev := range devs {
		dev.linkLost(reason)
	}
}

// halt leaves everything inert when Run ends.
func (d *Driver) halt() {
	d.closeWindow("closed", false)
	if d.opts.LED != nil {
		_ = d.opts.LED.Set(hal.LEDOff)
	}
}

func (d *Driver) handleInd(ctx context.Context, s *session, m wire.Msg) {
	switch m.Type {
	case wire.TRegClosedInd:
		d.mu.Lock()
		open := d.reg.open
		d.mu.Unlock()
		if open {
			reason := "timeout"
			if m.Reason == wire.CloseHost {
				reason = "closed"
			}
			d.closeWindow(reason, false)
		}
	case wire.TPairReqInd:
		go d.pair(ctx, s, m)
	default:
		d.mu.Lock()
		dev := d.devices[int(m.Handset)]
		d.mu.Unlock()
		if dev == nil || (m.Type == wire.TAttachInd && dev.info().IPEI != m.IPEI) {
			go d.refuseUnknown(ctx, s, m)
			return
		}
		dev.deliver(s, m)
	}
}

// refuseUnknown answers a device the table does not hold.
func (d *Driver) refuseUnknown(ctx context.Context, s *session, m wire.Msg) {
	switch m.Type {
	case wire.TAttachInd:
		_, _ = s.request(ctx, wire.Msg{Type: wire.TAuthResult, Handset: m.Handset, Reason: 1})
		d.emit(Event{Kind: EventAuthFailed, Handset: int(m.Handset), IPEI: m.IPEI, Reason: "unknown-device"})
	case wire.TSetupInd, wire.TConnectInd:
		_, _ = s.request(ctx, wire.Msg{Type: wire.TRelease, Handset: m.Handset, Reason: wire.ReleaseNotRegister})
		d.emit(Event{Kind: EventAuthFailed, Handset: int(m.Handset), Reason: "unknown-device"})
	default:
		d.log.Debug("dect: indication for unknown handset ignored", "type", m.Type, "handset", m.Handset)
	}
}

func (d *Driver) random(b []byte) {
	if _, err := io.ReadFull(d.rnd, b); err != nil {
		panic(fmt.Sprintf("unexpected: random source failed: %v", err))
	}
}

// localNow is the devices' clock: now in the configured time zone.
func (d *Driver) localNow() wire.DateTime {
	loc := d.opts.Location()
	if loc == nil {
		loc = time.Local
	}
	return toDateTime(time.Now().In(loc))
}

// SyncClock sets the devices' clock again soon (the configured time zone
// changed). It does not wait; a module that is not ready gets the clock
// when it starts.
func (d *Driver) SyncClock() {
	select {
	case d.clockQ <- struct{}{}:
	default:
	}
}

// clockLoop keeps the devices' clock right: it sets it every
// ClockInterval (drift), at the instant the zone's offset changes
// (daylight saving time) and on SyncClock. Module start-up sets it too.
func (d *Driver) clockLoop(ctx context.Context) {
	t := time.NewTimer(d.nextClock())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.clockQ:
			t.Stop()
		}
		if s, err := d.current(); err == nil {
			rctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
			if _, err := s.request(rctx, wire.Msg{Type: wire.TDateTime, Time: d.localNow()}); err != nil && ctx.Err() == nil {
				d.log.Warn("dect: setting the devices' clock", "err", err)
			}
			cancel()
		}
		t.Reset(d.nextClock())
	}
}

// nextClock is how long until the clock is set again: ClockInterval, or
// less if the zone's offset changes before.
func (d *Driver) nextClock() time.Duration {
	loc := d.opts.Location()
	if loc == nil {
		loc = time.Local
	}
	wait := d.opts.ClockInterval
	if _, end := time.Now().In(loc).ZoneBounds(); !end.IsZero() {
		wait = min(wait, time.Until(end))
	}
	return max(wait, 0)
}

// SetDateTime sends the date and time to every device's display.
func (d *Driver) SetDateTime(ctx context.Context, t time.Time) error {
	dt := toDateTime(t)
	if dt.IsZero() {
		return fmt.Errorf("%w: date %v outside 2000-2099", ErrBadRequest, t)
	}
	_, err := d.request(ctx, wire.Msg{Type: wire.TDateTime, Time: dt})
	return err
}

// Page makes every device in range ring to be found (on) for PageDuration
// or until Page(ctx, false).
func (d *Driver) Page(ctx context.Context, on bool) error {
	var f byte
	if on {
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
	d.paging = on
	if on {
		d.pageTimer = time.AfterFunc(d.opts.PageDuration, func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.opts.RequestTimeout)
			defer cancel()
			if err := d.Page(ctx, false); err != nil {
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
// it opens the registration window (default duration) with pin; a shorter
// press starts paging, or stops it if it is on.
func (d *Driver) Button(ctx context.Context, p hal.ButtonPress, pin string) error {
	if p.Held >= d.opts.LongPress {
		return d.OpenRegistration(ctx, 0, pin)
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
