package radio

// Radio health (protocol 1.1, docs/radio-protocol.md §5.10): the module
// measures each device's signal, link quality and battery, answers
// DEVICE-STATUS, pages one device with LOCATE, and tells the host of
// changes with LINK-IND.

import (
	"fmt"
)

// Link states on the wire.
const (
	linkInRange    = 0x00
	linkOutOfRange = 0x01
	linkOff        = 0x02
)

// Unknown or absent values on the wire.
const (
	rssiUnknown    = -128
	qualityUnknown = 0xFF
	batteryNone    = 0xFF
)

// linkReport is what the module last told the host of a device.
type linkReport struct {
	valid   bool
	link    byte
	rssi    int
	quality int
	battery int
}

// LINK-IND thresholds: a change smaller than these is not worth a message.
const (
	rssiStep    = 6  // dB
	qualityStep = 10 // points
	batteryStep = 5  // points
	batteryLow  = 20 // crossing it is always reported
)

func (e *Emulator) moduleMinor() byte {
	if e.opts.Protocol10 {
		return 0
	}
	return 1
}

func (e *Emulator) lastRequestType() byte {
	if e.opts.Protocol10 {
		return mDateTime
	}
	return mLocate
}

// linkIndOK: both ends speak 1.1 and the link is up.
func (e *Emulator) linkIndOK() bool {
	return e.moduleMinor() >= 1 && e.hostMinor >= 1 && e.booted && e.synced && !e.hung
}

// measure returns what the module measures of d now.
func (d *Device) measure(link byte) linkReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := linkReport{valid: true, link: link, rssi: rssiUnknown, quality: qualityUnknown, battery: batteryNone}
	if link == linkInRange {
		r.rssi, r.quality = d.st.RSSI, d.st.LinkQuality
	}
	if d.st.Battery >= 0 && link != linkOff {
		r.battery = d.st.Battery
	}
	return r
}

func (r linkReport) body(h byte) []byte {
	return []byte{h, r.link, byte(int8(r.rssi)), byte(r.quality), byte(r.battery)}
}

// sendLink tells the host of en's link when it changed enough (or force).
func (e *Emulator) sendLink(en *entry, r linkReport, force bool) {
	if !e.linkIndOK() {
		return
	}
	t := en.told
	if !force && t.valid && t.link == r.link && !changed(t, r) {
		return
	}
	en.told = r
	e.indicate(iLink, r.body(en.Handset)...)
}

func changed(a, b linkReport) bool {
	abs := func(x int) int {
		if x < 0 {
			return -x
		}
		return x
	}
	if (a.rssi == rssiUnknown) != (b.rssi == rssiUnknown) || abs(a.rssi-b.rssi) >= rssiStep {
		return true
	}
	if (a.quality == qualityUnknown) != (b.quality == qualityUnknown) || abs(a.quality-b.quality) >= qualityStep {
		return true
	}
	if (a.battery == batteryNone) != (b.battery == batteryNone) || abs(a.battery-b.battery) >= batteryStep {
		return true
	}
	return (a.battery < batteryLow) != (b.battery < batteryLow)
}

// linkChanged runs on the emulator's goroutine after a device's signal or
// battery changed.
func (e *Emulator) linkChanged(d *Device) {
	en := e.entryByIPEI(d.ipei)
	if en == nil || !en.authed || !d.onAir() {
		return
	}
	e.sendLink(en, d.measure(linkInRange), false)
}

// deviceStatus answers DEVICE-STATUS(HS).
func (e *Emulator) deviceStatus(r request) {
	en := e.table[r.handset]
	if en == nil {
		e.confirm(r, stUnknown, linkReport{link: linkOff, rssi: rssiUnknown, quality: qualityUnknown, battery: batteryNone}.body(0)[1:]...)
		return
	}
	d := e.deviceFor(en)
	rep := linkReport{valid: true, link: linkOff, rssi: rssiUnknown, quality: qualityUnknown, battery: batteryNone}
	fw := ""
	if d != nil {
		d.mu.Lock()
		on, in := d.st.Powered, d.st.InRange
		fw = d.firmware
		d.mu.Unlock()
		switch {
		case on && in:
			rep = d.measure(linkInRange)
		case on:
			rep = d.measure(linkOutOfRange)
		}
	}
	en.told = rep
	body := rep.body(0)[1:]
	e.confirm(r, stOK, appendText(body, fw)...)
}

// locate answers LOCATE(HS, on): page that one device.
func (e *Emulator) locate(r request) {
	if r.on > 1 {
		e.confirm(r, stBadRequest)
		return
	}
	_, d, st := e.target(r.handset)
	if st != stOK {
		e.confirm(r, st)
		return
	}
	d.update(func(s *DeviceState) { s.Locating = r.on == 1 })
	e.confirm(r, stOK)
}

// SetSignal sets what the base receives from the device: rssi in dBm
// (-127..0) and the link quality in % (0..100). A change big enough is
// reported to the host (LINK-IND).
func (d *Device) SetSignal(rssi, quality int) error {
	if rssi < -127 || rssi > 0 {
		return fmt.Errorf("radio: RSSI %d dBm out of range (-127..0)", rssi)
	}
	if quality < 0 || quality > 100 {
		return fmt.Errorf("radio: link quality %d%% out of range (0..100)", quality)
	}
	d.update(func(s *DeviceState) { s.RSSI, s.LinkQuality = rssi, quality })
	d.e.post(func() { d.e.linkChanged(d) })
	return nil
}

// SetBattery sets the device's battery charge in % (0..100), or -1 for
// none (mains powered).
func (d *Device) SetBattery(pct int) error {
	if pct < -1 || pct > 100 {
		return fmt.Errorf("radio: battery %d%% out of range (0..100, or -1 for none)", pct)
	}
	d.update(func(s *DeviceState) { s.Battery = pct })
	d.e.post(func() { d.e.linkChanged(d) })
	return nil
}
