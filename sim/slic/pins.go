package slic

import (
	"errors"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// irqPin is the chip's open-drain, active-low interrupt output as the host
// sees it: Low while any enabled interrupt (regs 18–20 masked by 21–23) is
// pending, High once the driver clears the status bits by writing 1s.
type irqPin struct {
	m      *Model
	mu     sync.Mutex
	level  gpio.Level
	edge   gpio.Edge
	pull   gpio.Pull
	edgeCh chan struct{}
	haltCh chan struct{}
}

func newIRQPin(m *Model) *irqPin {
	return &irqPin{m: m, level: gpio.High, pull: gpio.PullUp, edgeCh: make(chan struct{}, 1), haltCh: make(chan struct{})}
}

// update recomputes the line level; called with m.mu held.
func (p *irqPin) update() {
	m := p.m
	asserted := !m.inReset && (m.reg[18]&m.reg[21]|m.reg[19]&m.reg[22]|m.reg[20]&m.reg[23]) != 0
	lvl := gpio.Level(!asserted)
	p.mu.Lock()
	defer p.mu.Unlock()
	if lvl == p.level {
		return
	}
	p.level = lvl
	var match bool
	switch p.edge {
	case gpio.BothEdges:
		match = true
	case gpio.FallingEdge:
		match = lvl == gpio.Low
	case gpio.RisingEdge:
		match = lvl == gpio.High
	}
	if match {
		select {
		case p.edgeCh <- struct{}{}:
		default: // edges coalesce, as on real GPIO drivers
		}
	}
}

func (p *irqPin) String() string   { return p.m.name + " IRQ" }
func (p *irqPin) Name() string     { return p.m.name + "-IRQ" }
func (p *irqPin) Number() int      { return -1 }
func (p *irqPin) Function() string { return "In/" + p.Read().String() }

// Halt wakes any WaitForEdge in progress (it returns false).
func (p *irqPin) Halt() error {
	p.mu.Lock()
	close(p.haltCh)
	p.haltCh = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// In configures edge detection and drops edges seen so far.
func (p *irqPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	select {
	case <-p.edgeCh:
	default:
	}
	return nil
}

// Read returns the line level (Low = interrupt pending).
func (p *irqPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge waits for an edge of the kind configured with In. A positive
// timeout bounds the wait; 0 only checks for an edge already seen; a
// negative timeout waits until an edge or Halt. Without edge detection
// configured it never sees an edge.
func (p *irqPin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	halt := p.haltCh
	p.mu.Unlock()
	if timeout == 0 {
		select {
		case <-p.edgeCh:
			return true
		default:
			return false
		}
	}
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-p.edgeCh:
		return true
	case <-tc:
		return false
	case <-halt:
		return false
	}
}

func (p *irqPin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}
func (p *irqPin) DefaultPull() gpio.Pull { return gpio.PullUp }

var _ gpio.PinIn = (*irqPin)(nil)

// resetPin is the chip's active-low reset input: driving it Low holds the
// chip in reset (registers at defaults, SPI ignored, line open); High lets
// it run.
type resetPin struct {
	m     *Model
	level gpio.Level // guarded by m.mu
}

func (p *resetPin) String() string   { return p.m.name + " RESET" }
func (p *resetPin) Name() string     { return p.m.name + "-RESET" }
func (p *resetPin) Number() int      { return -1 }
func (p *resetPin) Halt() error      { return nil }
func (p *resetPin) Function() string { return "Out" }

// Out drives the reset line.
func (p *resetPin) Out(l gpio.Level) error {
	m := p.m
	m.mu.Lock()
	p.level = l
	if l == gpio.Low && !m.inReset {
		v := m.vbatLocked()
		m.gen++
		m.inReset = true
		m.defaultsLocked()
		m.vbatFrom, m.dcdcT = v, time.Now()
		m.pcm.flushLocked()
		m.emitLocked(ResetEvent, "reset asserted")
		m.updateLineLocked()
		m.irq.update()
	} else if l == gpio.High && m.inReset {
		m.inReset = false
		m.emitLocked(ResetEvent, "reset released")
		m.updateLineLocked()
	}
	m.unlockAndDeliver()
	return nil
}

var errNoPWM = errors.New("sim slic: reset pin has no PWM")

func (p *resetPin) PWM(gpio.Duty, physic.Frequency) error { return errNoPWM }

var _ gpio.PinOut = (*resetPin)(nil)
