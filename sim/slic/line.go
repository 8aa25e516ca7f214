package slic

import (
	"fmt"
	"math"
	"time"
)

// SetLoop closes (off-hook) or opens (on-hook) the loop: the phone's hook
// switch. The chip sees it after its debounce interval.
func (m *Model) SetLoop(closed bool) {
	m.mu.Lock()
	if m.loopClosed != closed {
		m.loopClosed = closed
		note := "on-hook"
		if closed {
			note = "off-hook"
		}
		m.emitLocked(HookSwitch, note)
		m.detectLocked()
	}
	m.unlockAndDeliver()
}

// InjectPowerAlarm raises the power alarm of the given external
// transistors (1…6 = Q1…Q6; none means all), as the chip's power monitor
// does when a transistor overheats: reg 19 bits 2–7 and, with reg 67 bit0,
// the linefeed goes open.
func (m *Model) InjectPowerAlarm(transistors ...int) {
	m.mu.Lock()
	var bits byte
	if len(transistors) == 0 {
		bits = 0xFC
	}
	for _, q := range transistors {
		if q >= 1 && q <= 6 {
			bits |= 1 << (q + 1)
		}
	}
	m.powerAlarmLocked(bits, "power-alarm")
	m.unlockAndDeliver()
}

func (m *Model) powerAlarmLocked(bits byte, note string) {
	if m.inReset {
		return
	}
	m.powerAlarm |= bits
	m.reg[19] |= bits
	m.emitLocked(Alarm, fmt.Sprintf("%s Q-bits %#02x", note, bits))
	if m.reg[67]&0x01 != 0 || m.thermal {
		m.reg[64] &^= 0x07
	}
	m.updateLineLocked()
	m.irq.update()
}

// InjectThermalAlarm puts the line in thermal overload: the power alarms of
// all six transistors fire and the chip holds the line open (whatever reg 67
// says) until ClearThermalAlarm: writing an active linefeed meanwhile raises
// the alarms again and leaves the line open.
func (m *Model) InjectThermalAlarm() {
	m.mu.Lock()
	m.thermal = true
	m.powerAlarmLocked(0xFC, "thermal-overload")
	m.unlockAndDeliver()
}

// ClearThermalAlarm ends the overload; the driver must re-enable the line.
func (m *Model) ClearThermalAlarm() {
	m.mu.Lock()
	if m.thermal {
		m.thermal = false
		m.powerAlarm = 0
		m.emitLocked(Alarm, "thermal-cleared")
	}
	m.unlockAndDeliver()
}

func (m *Model) vbatTarget() float64 { return float64(m.reg[74]&0x3F) * volt15 }

// vbatLocked returns the battery voltage now.
func (m *Model) vbatLocked() float64 {
	if m.dcdcT.IsZero() {
		return m.vbatFrom
	}
	el := time.Since(m.dcdcT).Seconds()
	if m.dcdcOn {
		tgt := m.vbatTarget()
		v := m.vbatFrom + (tgt-m.vbatFrom)*el/m.cfg.PowerUpTime.Seconds()
		if (tgt >= m.vbatFrom && v > tgt) || (tgt < m.vbatFrom && v < tgt) {
			v = tgt
		}
		return v
	}
	return m.vbatFrom * math.Exp(-el/2.0)
}

func (m *Model) poweredLocked() bool {
	return m.dcdcOn && !m.inReset && m.vbatTarget() > 0 && m.vbatLocked() >= ringMinVolts*m.vbatTarget()
}

func (m *Model) setDCDCLocked(on bool) {
	if on == m.dcdcOn {
		return
	}
	m.vbatFrom = m.vbatLocked()
	m.dcdcT = time.Now()
	m.dcdcOn = on
	if on {
		m.emitLocked(Power, "dc-dc on")
		gen := m.gen
		for _, at := range []time.Duration{m.cfg.PowerUpTime * 7 / 10, m.cfg.PowerUpTime} {
			time.AfterFunc(at+time.Microsecond, func() {
				m.mu.Lock()
				if m.gen == gen {
					m.updateLineLocked()
				}
				m.unlockAndDeliver()
			})
		}
	} else {
		m.emitLocked(Power, "dc-dc off")
	}
	m.updateLineLocked()
}

// updateLineLocked recomputes the actual linefeed, ring voltage and loop
// detection after anything that affects them.
func (m *Model) updateLineLocked() {
	lf := m.reg[64] & 7
	if m.thermal {
		lf = 0
	}
	if m.inReset {
		lf = 0
	}
	// Ring cadence: runs while the programmed linefeed is ringing.
	if lf == 4 && !m.ring.running {
		m.startCadenceLocked(&m.ring, 2)
	} else if lf != 4 && m.ring.running {
		m.ring = cadence{seq: m.ring.seq + 1}
	}
	actual := lf
	if lf == 4 && !m.ring.on {
		actual = 2 // silent period: on-hook transmission
	}
	if actual != m.lfs {
		old := m.lfs
		m.lfs = actual
		m.emitLocked(LinefeedChange, "from "+Linefeed(old).String())
	}
	// Ring voltage as actually applied to the line.
	on := lf == 4 && m.ring.on && m.poweredLocked() && !m.rtp
	vpk, hz := m.ringParamsLocked()
	if vpk <= 0 {
		on = false
	}
	if on != m.ringRecorded.on {
		m.ringRecorded.on = on
		m.ringRecorded.vrms, m.ringRecorded.hz = vpk/math.Sqrt2, hz
		if on {
			m.emitLocked(RingOn, "")
		} else {
			m.emitLocked(RingOff, "")
		}
	}
	m.ringOn = on
	m.detectLocked()
}

// ringParamsLocked returns the ring generator's peak voltage and frequency
// from IR 20/21 (Si3210 numbering), per the oscillator math of §1.5.
func (m *Model) ringParamsLocked() (vpk, hz float64) {
	c := float64(int16(m.irNamed(20))) / 32768
	x := float64(m.irNamed(21))
	if c <= -1 || c >= 1 {
		return 0, 0
	}
	hz = math.Acos(c) * 1000 / (2 * math.Pi)
	k := 8192 * math.Sqrt((1-c)/(1+c))
	if k == 0 {
		return 0, hz
	}
	vpk = x / k * 96
	if lim := m.vbatLocked(); vpk > lim {
		vpk = lim
	}
	return vpk, hz
}

// fedLocked: the line carries loop current if the phone closes the loop.
func (m *Model) fedLocked() bool {
	switch m.lfs {
	case 1, 2, 5, 6:
		return m.poweredLocked()
	}
	return false
}

// detectLocked schedules the debounced loop-closure and ring-trip detection.
func (m *Model) detectLocked() {
	if m.inReset {
		return
	}
	ringing := m.reg[64]&7 == 4 && !m.thermal
	wantRTP := ringing && m.loopClosed && m.poweredLocked()
	wantLCR := m.loopClosed && m.fedLocked() && !ringing
	if wantRTP == m.rtp && wantLCR == m.lcr {
		if m.detPending {
			m.detSeq++ // the line went back before the debounce ran out
			m.detPending = false
		}
		return
	}
	if m.detPending && m.detRTP == wantRTP && m.detLCR == wantLCR {
		return // already debouncing towards this state
	}
	m.detSeq++
	seq, gen := m.detSeq, m.gen
	m.detPending, m.detRTP, m.detLCR = true, wantRTP, wantLCR
	d := time.Duration(m.reg[69]&0x7F) * debounceUnit
	if wantRTP != m.rtp {
		d = time.Duration(m.reg[70]&0x7F) * debounceUnit
	}
	apply := func() {
		m.detPending = false
		if wantRTP != m.rtp {
			m.rtp = wantRTP
			if wantRTP {
				m.reg[19] |= 0x01
				m.emitLocked(RingTrip, "")
				if m.reg[67]&0x04 != 0 {
					m.reg[64] = m.reg[64]&^7 | 1
				}
			}
		}
		if wantLCR != m.lcr && !(m.reg[64]&7 == 4) {
			m.lcr = wantLCR
			m.reg[19] |= 0x02
			note := "open"
			if wantLCR {
				note = "closed"
				if m.reg[67]&0x02 != 0 && (m.lfs == 2 || m.lfs == 6) {
					m.reg[64] = m.reg[64]&^7 | (m.lfs - 1)
				}
			}
			m.emitLocked(LoopDetect, note)
		}
		m.irq.update()
		m.updateLineLocked()
	}
	if d == 0 {
		apply()
		return
	}
	time.AfterFunc(d, func() {
		m.mu.Lock()
		if m.gen == gen && m.detSeq == seq {
			apply()
		}
		m.unlockAndDeliver()
	})
}

// startCadenceLocked starts oscillator i's timers: i = 0/1 tone OSC1/OSC2,
// 2 = ring. The active phase begins now.
func (m *Model) startCadenceLocked(c *cadence, i int) {
	c.seq++
	c.running, c.on = true, true
	m.scheduleCadenceLocked(c, i)
}

func (m *Model) cadenceRegs(i int) (ctrl byte, active, inactive time.Duration, irqActive, irqInactive byte) {
	var base int
	switch i {
	case 0:
		ctrl, base, irqActive, irqInactive = m.reg[32], 36, 0x01, 0x02
	case 1:
		ctrl, base, irqActive, irqInactive = m.reg[33], 40, 0x04, 0x08
	default:
		ctrl, base, irqActive, irqInactive = m.reg[34], 48, 0x10, 0x20
	}
	active = time.Duration(uint16(m.reg[base])|uint16(m.reg[base+1])<<8) * timerUnit
	if i == 2 && m.ringScale > 0 {
		active = time.Duration(float64(active) * m.ringScale) // SetRingTimerError
	}
	inactive = time.Duration(uint16(m.reg[base+2])|uint16(m.reg[base+3])<<8) * timerUnit
	return
}

func (m *Model) scheduleCadenceLocked(c *cadence, i int) {
	ctrl, active, inactive, irqA, irqI := m.cadenceRegs(i)
	tae, tie := ctrl&0x10 != 0, ctrl&0x08 != 0
	var d time.Duration
	if c.on {
		if !tae || active == 0 {
			return // continuous
		}
		d = active
	} else {
		if !tie || inactive == 0 {
			return // stays silent
		}
		d = inactive
	}
	seq, gen := c.seq, m.gen
	time.AfterFunc(d, func() {
		m.mu.Lock()
		if m.gen == gen && c.seq == seq && c.running {
			if c.on {
				// End of the active period; without the inactive timer
				// the burst is not repeated.
				m.reg[18] |= irqA
				c.on = false
			} else {
				m.reg[18] |= irqI
				c.on = true
			}
			c.seq++
			m.scheduleCadenceLocked(c, i)
			m.irq.update()
			m.updateLineLocked()
		}
		m.unlockAndDeliver()
	})
}

// oscControlChangedLocked starts/stops a tone oscillator after reg 32/33.
func (m *Model) oscControlChangedLocked(i int) {
	ctrl := m.reg[32+i]
	c := &m.osc[i]
	if ctrl&0x04 != 0 && !c.running {
		m.startCadenceLocked(c, i)
		m.oscPhase[i] = 0
	} else if ctrl&0x04 == 0 && c.running {
		*c = cadence{seq: c.seq + 1}
	}
}
