package slic

import (
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// port is the chip's SPI port (spi.Port).
type port struct{ m *Model }

func (p *port) String() string { return p.m.name + " SPI" }

// Connect configures the connection. Like the spidev ports it may be called
// once. The Si321x shifts 8-bit words MSB first and samples on the rising
// clock edge, so SPI modes 0 and 3 work and anything else is refused.
func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	m := p.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.connected {
		return nil, fmt.Errorf("%s: Connect called twice", m.name)
	}
	if bits != 8 {
		return nil, fmt.Errorf("%s: %d bits per word not supported, the Si321x uses 8", m.name, bits)
	}
	if mode&^spi.Mode3 != 0 {
		return nil, fmt.Errorf("%s: mode %s not supported (needs CS, full duplex, MSB first)", m.name, mode)
	}
	if mode&spi.Mode3 == spi.Mode1 || mode&spi.Mode3 == spi.Mode2 {
		return nil, fmt.Errorf("%s: %s samples on the falling edge; the Si321x needs mode 0 or 3", m.name, mode)
	}
	if f < 0 {
		return nil, fmt.Errorf("%s: invalid frequency %s", m.name, f)
	}
	m.connected = true
	m.stats.ConnectCount++
	return &spiConn{m: m}, nil
}

var _ spi.Port = (*port)(nil)

// spiConn is the connected chip.
type spiConn struct{ m *Model }

func (c *spiConn) String() string       { return c.m.name }
func (c *spiConn) Duplex() conn.Duplex  { return conn.Full }
func (c *spiConn) Tx(w, r []byte) error { return c.m.transfer(w, r) }

// TxPackets clocks each packet in turn; the chip's byte state machine does
// not depend on chip select, so KeepCS changes nothing.
func (c *spiConn) TxPackets(pkts []spi.Packet) error {
	for i, p := range pkts {
		if p.BitsPerWord != 0 && p.BitsPerWord != 8 {
			return fmt.Errorf("%s: packet %d: %d bits per word not supported", c.m.name, i, p.BitsPerWord)
		}
		if err := c.m.transfer(p.W, p.R); err != nil {
			return fmt.Errorf("packet %d: %w", i, err)
		}
	}
	return nil
}

var _ spi.Conn = (*spiConn)(nil)

var errLen = errors.New("read buffer length must be 0 or equal to the write buffer length")

func (m *Model) transfer(w, r []byte) error {
	if len(r) != 0 && len(r) != len(w) {
		return fmt.Errorf("%s: tx: %w (%d vs %d)", m.name, errLen, len(r), len(w))
	}
	m.mu.Lock()
	for i, b := range w {
		o := m.clockByteLocked(b)
		if len(r) != 0 {
			r[i] = o
		}
	}
	m.unlockAndDeliver()
	return nil
}

const (
	stCtrl = iota
	stData
	stChan
)

// clockByteLocked shifts one byte in and returns the byte shifted out.
func (m *Model) clockByteLocked(w byte) byte {
	if m.inReset {
		m.stats.SPIWhileReset++
		return 0xFF
	}
	switch m.cfg.Mute {
	case MuteHigh:
		return 0xFF
	case MuteLow:
		return 0x00
	}
	m.stats.SPIBytes++
	m.indirectDueLocked()
	switch m.spiState {
	case stChan:
		m.spiChanOK = w&0x01 != 0
		m.spiState = stCtrl
		return 0xFF
	case stCtrl:
		m.spiCtrl = w
		m.spiState = stData
		if m.reg[0]&0x80 == 0 {
			m.spiChanOK = true
		}
		return 0xFF
	}
	out := byte(0xFF)
	addr := m.spiCtrl & 0x7F
	if m.spiChanOK {
		if m.spiCtrl&0x80 != 0 {
			out = m.readRegLocked(addr, true)
		} else {
			m.writeRegLocked(addr, w)
		}
	}
	m.spiState = stCtrl
	if m.reg[0]&0x80 != 0 {
		m.spiState = stChan
	}
	return out
}

// readRegLocked returns a direct register; with sideEffects it is an SPI
// read (observing the indirect busy flag counts).
func (m *Model) readRegLocked(a byte, sideEffects bool) byte {
	switch a {
	case 0:
		part := byte(m.cfg.Part)
		if m.cfg.Part.family3215() {
			part = 0
		}
		return m.reg[0]&0x80 | (part&3)<<4 | m.cfg.Revision&0x0F
	case 1:
		v := m.reg[1] &^ 0x80
		if m.cfg.Part.family3215() {
			v |= 0x80
		}
		return v
	case 6:
		var sub byte
		switch m.cfg.Part {
		case Si3216:
			sub = 0x80
		case Si3215M:
			sub = 0x60
		case Si3216M:
			sub = 0xE0
		}
		return m.reg[6]&0x1F | sub
	case 24:
		return 0
	case 31:
		if m.iaBusy {
			if sideEffects {
				m.iaSeenBusy = true
			}
			return 0x01
		}
		return 0
	case 64:
		return m.lfs<<4 | m.reg[64]&0x07
	case 68:
		var v byte
		if m.lcr {
			v |= 1
		}
		if m.rtp {
			v |= 2
		}
		return v
	case 78, 79, 80, 81:
		return m.senseLocked(a)
	case 82:
		v := m.vbatLocked() / vbatLSB
		return byte(math.Min(255, math.Max(0, math.Round(v))))
	case 88, 89:
		return 0
	case 93:
		v := m.reg[93] & 0x7F
		if m.dcCalBusy {
			v |= 0x80
		}
		return v
	case 96:
		if m.calBusy {
			return m.reg[96]
		}
		return 0
	}
	return m.reg[a]
}

func (m *Model) writeRegLocked(a, v byte) {
	switch a {
	case 0:
		m.reg[0] = v & 0x80
	case 1:
		m.reg[1] = v &^ 0x80
		if v&0x3C == 0x3C {
			m.log.Warn("wideband linear PCM selected; the simulated slot is narrowband only")
		}
	case 6:
		m.reg[6] = v & 0x1F
	case 14:
		m.reg[14] = v
		m.setDCDCLocked(v&0x10 == 0)
	case 18, 19, 20:
		m.reg[a] &^= v
		m.irq.update()
	case 21, 22, 23:
		m.reg[a] = v
		m.irq.update()
	case 24, 31, 68, 78, 79, 80, 81, 82, 88, 89:
		// read-only
	case 28, 29, 30:
		if m.iaBusy {
			m.stats.IndirectViolations++
			m.log.Warn("indirect register access while busy (I_STATUS=1): dropped", "reg", a, "value", v)
			return
		}
		switch a {
		case 28:
			m.reg[28] = v
		case 29:
			m.reg[29] = v
			m.idaArmed = true
		case 30:
			m.reg[30] = v
			m.startIndirectLocked(v)
		}
	case 32, 33:
		m.reg[a] = v
		m.oscControlChangedLocked(int(a - 32))
	case 64:
		m.reg[64] = v & 0x07
		if m.thermal && v&0x07 != 0 {
			m.powerAlarmLocked(0xFC, "thermal-overload")
		}
		m.updateLineLocked()
	case 69, 70:
		m.reg[a] = v
		m.detectLocked()
	case 74:
		m.vbatFrom = m.vbatLocked()
		if !m.dcdcT.IsZero() {
			m.dcdcT = time.Now()
		}
		m.reg[74] = v
		m.updateLineLocked()
	case 93:
		m.reg[93] = v & 0x7F
		if v&0x80 != 0 && !m.dcCalBusy {
			m.dcCalBusy = true
			gen := m.gen
			time.AfterFunc(m.cfg.CalTime/4, func() {
				m.mu.Lock()
				if m.gen == gen {
					m.dcCalBusy = false
				}
				m.mu.Unlock()
			})
		}
	case 96:
		m.reg[96] = v
		if v != 0 {
			m.startCalLocked()
		} else {
			m.calBusy = false
		}
	default:
		m.reg[a&0x7F] = v
	}
}

func (m *Model) startCalLocked() {
	m.calBusy = true
	m.calSeq++
	seq, gen := m.calSeq, m.gen
	var check func()
	check = func() {
		m.mu.Lock()
		defer m.unlockAndDeliver()
		if m.gen != gen || m.calSeq != seq || !m.calBusy {
			return
		}
		if !m.poweredLocked() {
			// Calibration needs the battery; it waits for it.
			time.AfterFunc(m.cfg.CalTime, check)
			return
		}
		m.calBusy = false
		m.reg[96] = 0
		if m.reg[97]&0x01 != 0 {
			m.reg[20] |= 0x04 // common-mode balance calibration done
		}
		m.emitLocked(Power, "calibration done")
		m.irq.update()
	}
	time.AfterFunc(m.cfg.CalTime, check)
}

// startIndirectLocked begins an indirect access to address a.
func (m *Model) startIndirectLocked(a byte) {
	m.iaBusy, m.iaSeenBusy = true, false
	m.iaAddr = a
	m.iaRead = !m.idaArmed
	m.iaData = uint16(m.reg[29])<<8 | uint16(m.reg[28])
	m.idaArmed = false
	m.iaSeq++
	seq, gen := m.iaSeq, m.gen
	start := time.Now()
	m.iaStart = start
	time.AfterFunc(indirectTime, func() {
		m.mu.Lock()
		if m.gen == gen && m.iaSeq == seq && m.iaBusy {
			m.completeIndirectLocked()
		}
		m.unlockAndDeliver()
	})
}

// indirectDueLocked completes a pending indirect access whose time is up
// or whose busy flag the driver has already seen.
func (m *Model) indirectDueLocked() {
	if m.iaBusy && (m.iaSeenBusy || time.Since(m.iaStart) >= indirectTime) {
		m.completeIndirectLocked()
	}
}

func (m *Model) completeIndirectLocked() {
	m.iaBusy = false
	if m.iaRead {
		v := m.ir[m.iaAddr]
		m.reg[28], m.reg[29] = byte(v), byte(v>>8)
	} else {
		m.ir[m.iaAddr] = m.iaData
		m.indirectWrittenLocked()
	}
	m.reg[20] |= 0x02
	m.irq.update()
}

// indirectWrittenLocked applies indirect registers that change the line now.
func (m *Model) indirectWrittenLocked() {
	if m.ringOn || m.reg[64]&7 == 4 {
		m.updateLineLocked()
	}
}
