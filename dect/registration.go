package dect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"basestation/dect/wire"
	"basestation/hal"
)

// OpenRegistration opens the registration window for dur (0 means the
// default, 60 s; at most 120 s) with the given PIN (4–8 digits). It returns
// once the module has confirmed the open window. Opening while open restarts
// the window with the new PIN and duration. It is refused (with an
// EventRegistrationRefused naming the reason) when the table is full, after
// repeated wrong PINs (lockout) or when the module is not ready. The window
// closes on the first successful pairing, at its timeout, or on
// CloseRegistration.
func (d *Driver) OpenRegistration(ctx context.Context, dur time.Duration, pin string) error {
	refuse := func(reason string, err error) error {
		d.emit(Event{Kind: EventRegistrationRefused, Reason: reason})
		return fmt.Errorf("dect: open registration: %w", err)
	}
	if dur == 0 {
		dur = d.opts.Window
	}
	if dur < time.Second || dur > d.opts.MaxWindow {
		return refuse("invalid", fmt.Errorf("%w: window %v outside 1 s..%v", ErrBadRequest, dur, d.opts.MaxWindow))
	}
	if err := wire.CheckPIN(pin); err != nil {
		return refuse("invalid", fmt.Errorf("%w: %v", ErrBadRequest, err))
	}
	dur = dur.Round(time.Second)
	d.mu.Lock()
	now := time.Now()
	switch {
	case now.Before(d.reg.lockedUntil):
		until := d.reg.lockedUntil
		d.mu.Unlock()
		return refuse("locked-out", fmt.Errorf("%w until %s", ErrLockedOut, until.Format(time.TimeOnly)))
	case len(d.table.Devices) >= d.maxDevicesLocked():
		n := len(d.table.Devices)
		d.mu.Unlock()
		return refuse("table-full", fmt.Errorf("%w: %d of %d devices paired", ErrTableFull, n, d.maxDevicesLocked()))
	case d.sess == nil:
		d.mu.Unlock()
		return refuse("module-not-ready", ErrNotReady)
	}
	s := d.sess
	d.mu.Unlock()

	if _, err := s.request(ctx, wire.Msg{Type: wire.TRegOpen, Seconds: uint16(dur / time.Second), PIN: pin}); err != nil {
		return fmt.Errorf("dect: open registration: %w", err)
	}
	d.mu.Lock()
	if d.reg.timer != nil {
		d.reg.timer.Stop()
	}
	d.reg.gen++
	gen := d.reg.gen
	d.reg.open = true
	d.reg.pin = pin
	d.reg.until = time.Now().Add(dur)
	until := d.reg.until
	d.reg.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		same := d.reg.open && d.reg.gen == gen
		d.mu.Unlock()
		if same {
			d.closeWindowGen("timeout", true, gen)
		}
	})
	d.mu.Unlock()
	if d.opts.LED != nil {
		if err := d.opts.LED.Set(hal.LEDBlinkFast); err != nil {
			d.log.Warn("dect: registration LED", "err", err)
		}
	}
	d.emit(Event{Kind: EventRegistrationOpened, Until: until})
	return nil
}

// CloseRegistration closes the window (no-op when closed).
func (d *Driver) CloseRegistration(ctx context.Context) error {
	d.closeWindow("closed", true)
	return nil
}

// RegistrationOpen reports whether the window is open and until when.
func (d *Driver) RegistrationOpen() (bool, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reg.open, d.reg.until
}

func (d *Driver) maxDevicesLocked() int {
	m := d.opts.MaxDevices
	if d.capacity > 0 && d.capacity < m {
		m = d.capacity
	}
	return m
}

func (d *Driver) closeWindow(reason string, tellModule bool) {
	d.closeWindowGen(reason, tellModule, -1)
}

func (d *Driver) closeWindowGen(reason string, tellModule bool, gen int) {
	d.mu.Lock()
	if !d.reg.open || (gen >= 0 && gen != d.reg.gen) {
		d.mu.Unlock()
		return
	}
	d.reg.open = false
	if d.reg.timer != nil {
		d.reg.timer.Stop()
		d.reg.timer = nil
	}
	s := d.sess
	d.mu.Unlock()
	if tellModule && s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.RequestTimeout)
		defer cancel()
		if _, err := s.request(ctx, wire.Msg{Type: wire.TRegClose}); err != nil && !errors.Is(err, wire.StatusNotOpen) {
			d.log.Warn("dect: module did not confirm closing the window", "err", err)
		}
	}
	if d.opts.LED != nil {
		if err := d.opts.LED.Set(hal.LEDOff); err != nil {
			d.log.Warn("dect: registration LED", "err", err)
		}
	}
	d.emit(Event{Kind: EventRegistrationClosed, Reason: reason})
}

// pair runs the key-allocation exchange for one PAIR-REQ-IND
// (docs/radio-protocol.md §6.2).
func (d *Driver) pair(ctx context.Context, s *session, m wire.Msg) {
	d.pairMu.Lock()
	defer d.pairMu.Unlock()
	reject := func(code byte, kind EventKind, reason string) {
		if _, err := s.request(ctx, wire.Msg{Type: wire.TPairReject, IPEI: m.IPEI, Reason: code}); err != nil {
			d.log.Warn("dect: pair reject not confirmed", "err", err)
		}
		d.emit(Event{Kind: kind, IPEI: m.IPEI, Type: m.DevType, Reason: reason})
	}
	d.mu.Lock()
	open, pin := d.reg.open, d.reg.pin
	handset := 0
	for _, r := range d.table.Devices {
		if r.IPEI == m.IPEI {
			handset = r.Handset // re-pairing keeps the number
		}
	}
	full := handset == 0 && len(d.table.Devices) >= d.maxDevicesLocked()
	locked := time.Now().Before(d.reg.lockedUntil)
	d.mu.Unlock()
	switch {
	case locked:
		reject(wire.RejectLockedOut, EventPairingRejected, "locked-out")
		return
	case !open:
		reject(wire.RejectNotOpen, EventPairingRejected, "not-open")
		return
	case full:
		reject(wire.RejectFull, EventPairingRejected, "table-full")
		return
	}
	var rs, randF [8]byte
	d.random(rs[:])
	d.random(randF[:])
	cnf, err := s.request(ctx, wire.Msg{Type: wire.TPairChall, IPEI: m.IPEI, RS: rs, RandF: randF})
	if err != nil {
		d.log.Warn("dect: pairing challenge failed", "ipei", m.IPEI.String(), "err", err)
		return
	}
	res1, res2, uak, err := wire.KeyAllocation(pin, rs, randF, cnf.RandP)
	if err != nil {
		d.log.Error("unexpected: key allocation", "err", err)
		return
	}
	if cnf.Res != res1 {
		d.mu.Lock()
		d.reg.wrong++
		lock := d.reg.wrong >= d.opts.LockoutAttempts
		if lock {
			d.reg.wrong = 0
			d.reg.lockedUntil = time.Now().Add(d.opts.LockoutDuration)
		}
		d.mu.Unlock()
		reject(wire.RejectWrongPIN, EventWrongPIN, "wrong-pin")
		if lock {
			d.closeWindow("lockout", true)
		}
		return
	}
	d.mu.Lock()
	if handset == 0 {
		used := map[int]bool{}
		for _, r := range d.table.Devices {
			used[r.Handset] = true
		}
		for h := 1; ; h++ {
			if !used[h] {
				handset = h
				break
			}
		}
	}
	rec := Record{Handset: handset, IPEI: m.IPEI, Type: m.DevType, Model: m.Model,
		Wideband: m.Caps&wire.CapWideband != 0, UAK: uak, PairedAt: time.Now().UTC().Truncate(time.Second)}
	old := d.table
	nt := &Table{Generation: old.Generation + 1}
	for _, r := range old.Devices {
		if r.Handset != handset {
			nt.Devices = append(nt.Devices, r)
		}
	}
	nt.Devices = append(nt.Devices, rec)
	if err := SaveTable(d.opts.StateDir, nt); err != nil {
		d.mu.Unlock()
		d.log.Error("dect: cannot store paired device", "err", err)
		reject(wire.RejectStorage, EventPairingRejected, "storage")
		return
	}
	d.table = nt
	// The device exists before the module confirms: its ATTACH-IND follows
	// the confirmation at once and must find it.
	prev := d.devices[handset]
	dev := newDevice(d, rec)
	d.devices[handset] = dev
	if d.running {
		d.startDevice(dev)
	}
	d.mu.Unlock()
	if prev != nil {
		prev.remove()
	}
	if _, err := s.request(ctx, wire.Msg{Type: wire.TPairAccept, IPEI: m.IPEI, Handset: byte(handset), Res: res2}); err != nil {
		d.log.Warn("dect: module did not confirm the pairing; rolling back", "err", err)
		d.mu.Lock()
		if d.table == nt {
			rb := &Table{Generation: nt.Generation + 1, Devices: old.Devices}
			if serr := SaveTable(d.opts.StateDir, rb); serr == nil {
				d.table = rb
			} else {
				d.log.Error("dect: roll back table", "err", serr)
			}
		}
		if d.devices[handset] == dev {
			delete(d.devices, handset)
			if prev != nil && d.table != nt {
				d.devices[handset] = newDevice(d, recordOf(d.table, handset))
				if d.running {
					d.startDevice(d.devices[handset])
				}
			}
		}
		d.mu.Unlock()
		dev.remove()
		return
	}
	d.mu.Lock()
	d.reg.wrong = 0
	d.mu.Unlock()
	d.emit(Event{Kind: EventPaired, Device: recordInfo(rec)})
	d.closeWindow("paired", true)
}

func recordOf(t *Table, handset int) Record {
	for _, r := range t.Devices {
		if r.Handset == handset {
			return r
		}
	}
	return Record{Handset: handset}
}
