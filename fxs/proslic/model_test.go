package proslic

import (
	"io"
	"log/slog"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// model is a small behavioural Si3210 register file for driver tests that
// do not need a byte-exact transcript (the full chip model is sim/slic).
type model struct {
	mu        sync.Mutex
	reg       [128]byte
	ind       [256]uint16
	addr      int // -1: expecting an address byte
	read      bool
	vbatStuck bool
	indWrite  bool
	irq       *gpiotest.Pin
}

func newModel(id byte) *model {
	m := &model{addr: -1, irq: &gpiotest.Pin{N: "IRQ", L: gpio.High, EdgesChan: make(chan gpio.Level, 16)}}
	m.reg[0] = id
	m.reg[8] = 0x02
	m.reg[11] = 0x33
	m.reg[14] = 0x10
	return m
}

func (m *model) String() string                                            { return "model" }
func (m *model) Duplex() conn.Duplex                                       { return conn.Full }
func (m *model) TxPackets([]spi.Packet) error                              { return nil }
func (m *model) LimitSpeed(physic.Frequency) error                         { return nil }
func (m *model) Close() error                                              { return nil }
func (m *model) Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error) { return m, nil }

func (m *model) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.addr < 0 {
		m.addr = int(w[0] & 0x7F)
		m.read = w[0]&0x80 != 0
		return nil
	}
	a := m.addr
	m.addr = -1
	if m.read {
		v := m.reg[a]
		switch a {
		case 82:
			if m.reg[14]&0x10 == 0 && !m.vbatStuck {
				v = 0xC8
			}
		}
		if len(r) > 0 {
			r[0] = v
		}
		return nil
	}
	v := w[0]
	switch a {
	case 18, 19, 20:
		m.reg[a] &^= v
		m.updateIRQ()
	case 29:
		m.reg[29] = v
		m.indWrite = true // IDA written: the next IAA write is a write
	case 30:
		if m.indWrite {
			m.ind[v] = uint16(m.reg[29])<<8 | uint16(m.reg[28])
		} else {
			m.reg[28], m.reg[29] = byte(m.ind[v]), byte(m.ind[v]>>8)
		}
		m.indWrite = false
	case 64:
		m.reg[64] = v&7 | (v&7)<<4
	case 93:
		m.reg[93] = v &^ 0x80 // calibration finishes at once
	case 96:
		m.reg[96] = 0
	default:
		m.reg[a] = v
	}
	return nil
}

// raise sets interrupt status bits (reg 18+i) and asserts IRQ if enabled.
func (m *model) raise(i int, bits byte) {
	m.mu.Lock()
	m.reg[18+i] |= bits
	m.updateIRQ()
	m.mu.Unlock()
}

func (m *model) setHook(off bool) {
	m.mu.Lock()
	if off {
		m.reg[68] |= 1
	} else {
		m.reg[68] &^= 1
	}
	m.mu.Unlock()
	m.raise(1, irq2LoopStatus)
}

func (m *model) updateIRQ() {
	pending := m.reg[18]&m.reg[21] | m.reg[19]&m.reg[22] | m.reg[20]&m.reg[23]
	m.irq.Lock()
	was := m.irq.L
	m.irq.Unlock()
	if pending != 0 && was == gpio.High {
		m.irq.EdgesChan <- gpio.Low
	} else if pending == 0 && was == gpio.Low {
		m.irq.Lock()
		m.irq.L = gpio.High
		m.irq.Unlock()
	}
}
