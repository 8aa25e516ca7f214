package dect

// Radio health of the paired devices (protocol 1.1, docs/radio-protocol.md
// §5.10): signal, link quality, battery, firmware and when each was last
// heard, kept per device from DEVICE-STATUS-CNF and LINK-IND; and LOCATE,
// which pages one device. A 1.0 module has none of it: the driver then
// knows only attach and detach, and Locate returns ErrNotSupported.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"basestation/dect/wire"
)

// ErrNotSupported: the module speaks protocol 1.0, which lacks the request.
var ErrNotSupported = errors.New("dect: the radio module does not support this (protocol 1.0)")

// Link states of a device (Health.Link).
const (
	LinkUnknown    = "unknown"      // not heard of since the driver started (or the module reset)
	LinkInRange    = "in-range"     // attached, in radio contact
	LinkOutOfRange = "out-of-range" // radio contact lost
	LinkOff        = "switched-off" // the device detached (switched off, battery dead)
	LinkGone       = "detached"     // left; a 1.0 module does not say why
)

// Health is what the base knows of a paired device's radio link.
type Health struct {
	Link     string    `json:"link"`               // a Link* state
	RSSI     int       `json:"rssi_dbm,omitempty"` // dBm at the base; 0: not measured
	Quality  int       `json:"link_quality_pct"`   // % of frames intact; -1: not measured
	Battery  int       `json:"battery_pct"`        // % charge; -1: no battery or not reported
	Firmware string    `json:"firmware,omitempty"` // the device's firmware
	LastSeen time.Time `json:"last_seen,omitzero"` // when it was last heard in range
}

func unknownHealth() Health { return Health{Link: LinkUnknown, Quality: -1, Battery: -1} }

// Health returns the device's radio health.
func (v *Device) Health() Health {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.health
}

// applyLink takes the figures of a DEVICE-STATUS-CNF or LINK-IND. It
// reports whether the link state changed and whether the figures did.
func (v *Device) applyLink(m wire.Msg, withFirmware bool, now time.Time) (before Health, after Health) {
	v.mu.Lock()
	defer v.mu.Unlock()
	before = v.health
	h := v.health
	switch m.Link {
	case wire.LinkInRange:
		h.Link = LinkInRange
		h.LastSeen = now
	case wire.LinkOutOfRange:
		h.Link = LinkOutOfRange
	case wire.LinkOff:
		h.Link = LinkOff
	}
	h.RSSI = 0
	if m.RSSI != wire.RSSIUnknown {
		h.RSSI = int(m.RSSI)
	}
	h.Quality = -1
	if m.Quality != wire.QualityUnknown {
		h.Quality = int(m.Quality)
	}
	if m.Battery != wire.BatteryNone {
		h.Battery = int(m.Battery)
	} else if m.Link == wire.LinkInRange {
		h.Battery = -1 // in range and no battery reported: mains powered
	}
	if withFirmware && m.Firmware != "" {
		h.Firmware = m.Firmware
	}
	v.health = h
	return before, h
}

// linkInd handles a LINK-IND: a change of figures is reported as
// EventDeviceHealth; a lost link is remembered for the DETACH-IND that
// follows (which reports the device detached with the reason).
func (v *Device) linkInd(m wire.Msg) {
	before, after := v.applyLink(m, false, time.Now())
	if after != before && after.Link == LinkInRange {
		v.d.emit(Event{Kind: EventDeviceHealth, Device: v.info(), Health: after})
	}
}

// refreshStatus asks the module for the device's figures (after it
// attached). Errors are logged: the figures are advisory.
func (v *Device) refreshStatus(ctx context.Context, s *session) {
	if !v.d.supports11() {
		return
	}
	m, err := s.request(ctx, wire.Msg{Type: wire.TDeviceStatus, Handset: byte(v.rec.Handset)})
	if err != nil {
		v.d.log.Warn("dect: device status", "handset", v.rec.Handset, "err", err)
		return
	}
	v.applyLink(m, true, time.Now())
}

// detached marks the device off the air; the reason is what the LINK-IND
// before the DETACH-IND said, or LinkGone from a 1.0 module.
func (v *Device) detached() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch v.health.Link {
	case LinkOutOfRange, LinkOff:
	default:
		v.health.Link = LinkGone
	}
	v.health.RSSI, v.health.Quality = 0, -1
	return v.health.Link
}

// attachedNow marks the device in range (ATTACH-IND, authenticated).
func (v *Device) attachedNow(now time.Time) {
	v.mu.Lock()
	v.health.Link = LinkInRange
	v.health.LastSeen = now
	v.mu.Unlock()
}

// healthLost: the module reset; nothing it measured stands.
func (v *Device) healthLost() {
	v.mu.Lock()
	fw, seen, batt := v.health.Firmware, v.health.LastSeen, v.health.Battery
	v.health = unknownHealth()
	v.health.Firmware, v.health.LastSeen, v.health.Battery = fw, seen, batt
	v.mu.Unlock()
}

func (d *Driver) supports11() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.protoMinor >= 1
}

// Locate makes one device ring to be found (on) or stops it. The device
// must be in range and authenticated.
func (d *Driver) Locate(ctx context.Context, handset int, on bool) error {
	if handset < 1 || handset > 255 {
		return fmt.Errorf("%w: handset %d", ErrBadRequest, handset)
	}
	if d.Device(handset) == nil {
		return fmt.Errorf("%w: handset %d", ErrUnknownDevice, handset)
	}
	if _, err := d.current(); err != nil {
		return err
	}
	if !d.supports11() {
		return ErrNotSupported
	}
	var f byte
	if on {
		f = 1
	}
	_, err := d.request(ctx, wire.Msg{Type: wire.TLocate, Handset: byte(handset), On: f})
	var st wire.Status
	if errors.As(err, &st) && st == wire.StatusUnreachable {
		return fmt.Errorf("%w: handset %d", ErrNotAuthenticated, handset)
	}
	return err
}
