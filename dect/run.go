package dect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"basestation/dect/wire"
	"basestation/hal"
)

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
	h, err := s.request(ctx, wire.Msg{Type: wire.THello, ProtoMajor: 1, ProtoMinor: 1})
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
	d.protoMinor = h.ProtoMinor
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
	d.reopenWindow(ctx, s)
	d.emit(Event{Kind: EventModuleReady, Firmware: h.Firmware, Reason: reason})
	return nil
}

// reopenWindow opens a registration window that a module reset
// interrupted again in the module, with its PIN, for the time it has left
// (an administrator's Register New Device survives a reset the base did
// not ask for). A window with under a second left, or that the module
// refuses, is closed.
func (d *Driver) reopenWindow(ctx context.Context, s *session) {
	d.mu.Lock()
	open, gen, pin, left := d.reg.open, d.reg.gen, d.reg.pin, time.Until(d.reg.until)
	d.mu.Unlock()
	if !open {
		return
	}
	secs := (left + time.Second - 1) / time.Second
	if left < time.Second || secs > 0xffff {
		d.closeWindowGen("timeout", true, gen)
		return
	}
	if _, err := s.request(ctx, wire.Msg{Type: wire.TRegOpen, Seconds: uint16(secs), PIN: pin}); err != nil {
		d.log.Warn("dect: registration window not reopened after the module reset", "err", err)
		d.closeWindowGen("module-reset", false, gen)
		return
	}
	d.mu.Lock()
	still := d.reg.open && d.reg.gen == gen
	d.mu.Unlock()
	if !still { // closed meanwhile (its timer, close-registration)
		_, _ = s.request(ctx, wire.Msg{Type: wire.TRegClose})
		return
	}
	d.log.Info("dect: registration window reopened after the module reset", "left", left.Round(time.Millisecond))
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
	if reason != "module-reset" {
		// A module reset keeps the window: its timer runs on and start-up
		// opens it in the module again (reopenWindow).
		d.closeWindow(reason, false)
	}
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
