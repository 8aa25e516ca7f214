package virtual

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"basestation/hal"
	wire "basestation/hal/vboard"
)

// ---- SPI ----------------------------------------------------------------

type port struct {
	c         *client
	mu        sync.Mutex
	connected bool
}

func (p *port) String() string { return "virtual SLIC SPI" }

// Connect configures the simulated bus; like spidev it may be called once.
func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.connected {
		return nil, errors.New("virtual SLIC SPI: Connect called twice")
	}
	if f < 0 || f/physic.Hertz > 1<<32-1 {
		return nil, fmt.Errorf("virtual SLIC SPI: frequency %s out of range", f)
	}
	if mode < 0 || mode > 255 || bits < 0 || bits > 255 {
		return nil, fmt.Errorf("virtual SLIC SPI: mode %s / %d bits out of range", mode, bits)
	}
	r, err := p.c.call(context.Background(), nil, &wire.Msg{Type: wire.TSPIConn, Hz: uint32(f / physic.Hertz), Mode: uint8(mode), Bits: uint8(bits)})
	if err == nil {
		err = expect(r, wire.TOK)
	}
	if err != nil {
		return nil, err
	}
	p.connected = true
	return &spiConn{c: p.c}, nil
}

var _ spi.Port = (*port)(nil)

type spiConn struct{ c *client }

func (s *spiConn) String() string      { return "virtual SLIC SPI" }
func (s *spiConn) Duplex() conn.Duplex { return conn.Full }

// Tx clocks w out and, if r is not empty, what the chip shifts back into r.
func (s *spiConn) Tx(w, r []byte) error {
	if len(r) != 0 && len(r) != len(w) {
		return fmt.Errorf("virtual SLIC SPI: read buffer of %d bytes for %d written (must be 0 or equal)", len(r), len(w))
	}
	for off := 0; off < len(w); off += wire.MaxSPI {
		end := min(off+wire.MaxSPI, len(w))
		rep, err := s.c.call(context.Background(), nil, &wire.Msg{Type: wire.TSPITx, Read: len(r) != 0, Data: w[off:end]})
		if err == nil {
			err = expect(rep, wire.TSPIRx)
		}
		if err != nil {
			return err
		}
		if len(r) != 0 {
			if len(rep.Data) != end-off {
				return fmt.Errorf("virtual SLIC SPI: %d bytes back for %d clocked", len(rep.Data), end-off)
			}
			copy(r[off:end], rep.Data)
		}
	}
	return nil
}

// TxPackets clocks each packet in turn.
func (s *spiConn) TxPackets(pkts []spi.Packet) error {
	for i, p := range pkts {
		if p.BitsPerWord != 0 && p.BitsPerWord != 8 {
			return fmt.Errorf("virtual SLIC SPI: packet %d: %d bits per word not supported", i, p.BitsPerWord)
		}
		if err := s.Tx(p.W, p.R); err != nil {
			return fmt.Errorf("packet %d: %w", i, err)
		}
	}
	return nil
}

var _ spi.Conn = (*spiConn)(nil)

// ---- IRQ line -------------------------------------------------------------

// irqPin is the SLIC's interrupt line as the server reports it.
type irqPin struct {
	c      *client
	name   string
	mu     sync.Mutex
	level  gpio.Level
	edge   gpio.Edge
	pull   gpio.Pull
	edgeCh chan struct{}
	haltCh chan struct{}
}

func newIRQPin(c *client, slic string, level uint8) *irqPin {
	return &irqPin{c: c, name: slic + " IRQ", level: level == 1, pull: gpio.PullUp,
		edgeCh: make(chan struct{}, 1), haltCh: make(chan struct{})}
}

// set records a change the server reported (see docs/virtual-board.md,
// "IRQ": the message means at least one edge towards level).
func (p *irqPin) set(level uint8) {
	l := gpio.Level(level == 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.level = l
	match := p.edge == gpio.BothEdges || (p.edge == gpio.FallingEdge && l == gpio.Low) || (p.edge == gpio.RisingEdge && l == gpio.High)
	if match {
		select {
		case p.edgeCh <- struct{}{}:
		default:
		}
	}
}

func (p *irqPin) String() string         { return p.name }
func (p *irqPin) Name() string           { return p.name }
func (p *irqPin) Number() int            { return -1 }
func (p *irqPin) Function() string       { return "In/" + p.Read().String() }
func (p *irqPin) DefaultPull() gpio.Pull { return gpio.PullUp }

func (p *irqPin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// Halt wakes a WaitForEdge in progress.
func (p *irqPin) Halt() error {
	p.mu.Lock()
	close(p.haltCh)
	p.haltCh = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// In selects the edges WaitForEdge sees and forgets edges seen so far.
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

// Read returns the line's level as last reported.
func (p *irqPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge waits for an edge as gpio.PinIn does (timeout < 0: no
// bound); it returns false when the connection is lost.
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
	case <-halt:
	case <-p.c.done:
	}
	return false
}

var _ gpio.PinIn = (*irqPin)(nil)

// ---- reset lines ------------------------------------------------------------

type resetPin struct {
	c    *client
	line uint8
	name string
}

func (p *resetPin) String() string   { return p.name + " (virtual)" }
func (p *resetPin) Name() string     { return p.name }
func (p *resetPin) Number() int      { return -1 }
func (p *resetPin) Function() string { return "Out" }
func (p *resetPin) Halt() error      { return nil }

// Out drives the line; it returns once the board has acted on it.
func (p *resetPin) Out(l gpio.Level) error {
	var lvl uint8
	if l == gpio.High {
		lvl = 1
	}
	r, err := p.c.call(context.Background(), nil, &wire.Msg{Type: wire.TReset, Line: p.line, Level: lvl})
	if err == nil {
		err = expect(r, wire.TOK)
	}
	return err
}

func (p *resetPin) PWM(gpio.Duty, physic.Frequency) error {
	return fmt.Errorf("%s: PWM not supported", p)
}

var _ gpio.PinOut = (*resetPin)(nil)

// ---- PCM ------------------------------------------------------------------------

type pcm struct {
	c      *client
	ch     uint8
	rate   int
	closed chan struct{}
	once   sync.Once
}

func newPCM(c *client, ch uint8, rate int) *pcm {
	return &pcm{c: c, ch: ch, rate: rate, closed: make(chan struct{})}
}

func (p *pcm) Rate() int { return p.rate }

func (p *pcm) check(n int, op string) error {
	if want := hal.FrameSamples(p.rate); n != want {
		return fmt.Errorf("virtual PCM channel %d: %s of %d samples, want %d", p.ch, op, n, want)
	}
	select {
	case <-p.closed:
		return hal.ErrClosed
	default:
		return nil
	}
}

// ReadFrame returns the next frame the board's PCM clock captures.
func (p *pcm) ReadFrame(ctx context.Context, dst []int16) error {
	if err := p.check(len(dst), "ReadFrame"); err != nil {
		return err
	}
	r, err := p.c.call(ctx, p.closed, &wire.Msg{Type: wire.TPCMRead, Ch: p.ch})
	if err == nil {
		err = expect(r, wire.TPCMFrame)
	}
	if err != nil {
		return err
	}
	if len(r.Samples) != len(dst) || r.Ch != p.ch {
		return fmt.Errorf("virtual PCM channel %d: a frame of %d samples on channel %d came back", p.ch, len(r.Samples), r.Ch)
	}
	copy(dst, r.Samples)
	return nil
}

// WriteFrame queues a frame for playout; it blocks while the board's queue
// is full.
func (p *pcm) WriteFrame(ctx context.Context, src []int16) error {
	if err := p.check(len(src), "WriteFrame"); err != nil {
		return err
	}
	r, err := p.c.call(ctx, p.closed, &wire.Msg{Type: wire.TPCMWrite, Ch: p.ch, Samples: src})
	if err == nil {
		err = expect(r, wire.TOK)
	}
	return err
}

// Close releases the channel; blocked calls return hal.ErrClosed. The
// SLIC's slot (channel 0) stays the chip's: only this client stops using
// it.
func (p *pcm) Close() error {
	var err error
	p.once.Do(func() {
		close(p.closed)
		if p.ch != 0 {
			p.c.mu.Lock()
			current := p.c.pcms[p.ch] == p
			if current {
				delete(p.c.pcms, p.ch)
			}
			p.c.mu.Unlock()
			if !current {
				return // the slot was assigned again: the channel is not ours
			}
		}
		if p.c.lost() != nil {
			return
		}
		_, err = p.c.call(context.Background(), nil, &wire.Msg{Type: wire.TPCMClose, Ch: p.ch})
		if err != nil && p.c.lost() != nil {
			err = nil // the connection is gone: nothing left to release
		}
	})
	return err
}

// closeLocal ends this object's use of a channel assigned again.
func (p *pcm) closeLocal() { p.once.Do(func() { close(p.closed) }) }

var _ hal.PCM = (*pcm)(nil)

// ---- LEDs and button ----------------------------------------------------------

type led struct {
	c    *client
	name string
}

func (l *led) Set(s hal.LEDState) error {
	if s < hal.LEDOff || s > hal.LEDBlinkFast {
		return fmt.Errorf("virtual LED %s: state %v not supported", l.name, s)
	}
	r, err := l.c.call(context.Background(), nil, &wire.Msg{Type: wire.TLED, State: uint8(s), Name: l.name})
	if err == nil {
		err = expect(r, wire.TOK)
	}
	return err
}

type button struct{ c *client }

// Wait returns the next press the board reports.
func (b *button) Wait(ctx context.Context) (hal.ButtonPress, error) {
	select {
	case p := <-b.c.presses:
		return p, nil
	case <-ctx.Done():
		return hal.ButtonPress{}, ctx.Err()
	case <-b.c.done:
		return hal.ButtonPress{}, b.c.lost()
	}
}
