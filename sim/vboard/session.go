package vboard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"

	"basestation/hal"
	wire "basestation/hal/vboard"
)

// writeTimeout bounds a write to a client that stopped reading.
const writeTimeout = 2 * time.Second

// helloTimeout is how long a new client has to say HELLO.
const helloTimeout = 5 * time.Second

// queueDepth is how many PCM requests of one channel and direction may
// wait.
const queueDepth = 16

// session is one connected client.
type session struct {
	s      *Server
	conn   net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the channel workers and the button watcher

	wmu  sync.Mutex
	wbuf []byte

	// welcomed: WELCOME is sent, so IRQ messages may follow (guarded by
	// the server's mu, under which WELCOME is sent).
	welcomed bool

	chans map[uint8]*channel // owned by run's goroutine
}

func newSession(ctx context.Context, s *Server, c net.Conn) *session {
	ctx, cancel := context.WithCancel(ctx)
	return &session{s: s, conn: c, ctx: ctx, cancel: cancel, chans: map[uint8]*channel{}}
}

// send writes one message; a failed write ends the session.
func (ss *session) send(m *wire.Msg) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	b, err := wire.Append(ss.wbuf[:0], m)
	if err != nil {
		return err
	}
	ss.wbuf = b
	_ = ss.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := ss.conn.Write(b); err != nil {
		ss.conn.Close()
		return err
	}
	return nil
}

func (ss *session) reply(tag uint16, err error) {
	if err == nil {
		_ = ss.send(&wire.Msg{Type: wire.TOK, Tag: tag})
		return
	}
	_ = ss.send(&wire.Msg{Type: wire.TError, Tag: tag, Code: codeOf(err), Name: err.Error()})
}

// run serves the client until it disconnects or sends a malformed message.
func (ss *session) run() {
	log := ss.s.log
	defer func() {
		ss.cancel()
		ss.conn.Close()
		for _, c := range ss.chans {
			c.stop()
		}
		ss.wg.Wait()
		ss.s.ended(ss)
	}()
	r := bufio.NewReaderSize(ss.conn, 8192)
	var m wire.Msg
	_ = ss.conn.SetReadDeadline(time.Now().Add(helloTimeout))
	buf, err := wire.ReadMsg(r, nil, &m)
	if err != nil {
		log.Warn("virtual board: client sent no HELLO", "err", err)
		ss.fail(err)
		return
	}
	if m.Type != wire.THello {
		ss.fail(fmt.Errorf("%w: %s before HELLO", wire.ErrMalformed, m.Type))
		return
	}
	if m.Version != wire.Version {
		_ = ss.send(&wire.Msg{Type: wire.TError, Tag: m.Tag, Code: wire.CodeVersion,
			Name: fmt.Sprintf("protocol version %d, this server speaks %d", m.Version, wire.Version)})
		return
	}
	_ = ss.conn.SetReadDeadline(time.Time{})
	log.Info("virtual board: client connected", "client", m.Name)
	if err := ss.welcome(m.Tag); err != nil {
		return
	}
	if ss.s.hw.Button != nil {
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			ss.watchButton()
		}()
	}
	for {
		buf, err = wire.ReadMsg(r, buf, &m)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				log.Info("virtual board: client disconnected; the hardware keeps its state")
				return
			}
			log.Warn("virtual board: dropping the client", "err", err)
			ss.fail(err)
			return
		}
		if !m.Type.FromClient() || m.Type == wire.THello {
			err := fmt.Errorf("%w: %s may not be sent by the client", wire.ErrMalformed, m.Type)
			log.Warn("virtual board: dropping the client", "err", err)
			ss.fail(err)
			return
		}
		ss.handle(&m)
	}
}

// fail reports a protocol error to the client (tag 0) if it can.
func (ss *session) fail(err error) {
	if errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTruncated) {
		_ = ss.send(&wire.Msg{Type: wire.TError, Code: wire.CodeMalformed, Name: err.Error()})
	}
}

func (ss *session) welcome(tag uint16) error {
	hw := ss.s.hw
	lvl := gpio.High
	ss.s.mu.Lock()
	if hw.SLIC.IRQ != nil {
		lvl = hw.SLIC.IRQ.Read()
	}
	ss.s.sentIRQ = lvl
	ss.welcomed = true
	defer ss.s.mu.Unlock()
	return ss.send(&wire.Msg{Type: wire.TWelcome, Tag: tag, Version: wire.Version, Name: hw.Name,
		SLIC: hw.SLIC.Name, RadioDev: hw.Radio.Device, RadioBaud: uint32(hw.Radio.Baud),
		Slots: uint8(ss.s.slots), Level: levelByte(lvl), LEDs: ss.s.ledNames()})
}

func (ss *session) watchButton() {
	for {
		p, err := ss.s.hw.Button.Wait(ss.ctx)
		if err != nil {
			return
		}
		held := p.Held.Milliseconds()
		if held < 0 {
			held = 0
		}
		if err := ss.send(&wire.Msg{Type: wire.TButton, HeldMs: uint32(min(held, 1<<31))}); err != nil {
			return
		}
	}
}

// handle serves one request. Everything but PCM reads and writes is done
// here, in order.
func (ss *session) handle(m *wire.Msg) {
	hw := ss.s.hw
	switch m.Type {
	case wire.TSPIConn:
		ss.reply(m.Tag, ss.s.spiConnect(m.Hz, spi.Mode(m.Mode), int(m.Bits)))
	case wire.TSPITx:
		c := ss.s.spiConn()
		if c == nil {
			ss.reply(m.Tag, refusedf("SPI_TX before SPI_CONNECT"))
			return
		}
		var r []byte
		if m.Read {
			r = make([]byte, len(m.Data))
		}
		if err := c.Tx(m.Data, r); err != nil {
			ss.reply(m.Tag, hardware(err))
			return
		}
		ss.s.syncIRQ(false)
		_ = ss.send(&wire.Msg{Type: wire.TSPIRx, Tag: m.Tag, Data: r})
	case wire.TReset:
		pin := hw.SLIC.Reset
		if m.Line == wire.LineRadio {
			pin = hw.Radio.Reset
		}
		if pin == nil {
			ss.reply(m.Tag, refusedf("this board has no reset line %d", m.Line))
			return
		}
		err := pin.Out(gpio.Level(m.Level == 1))
		ss.s.syncIRQ(false)
		if err != nil {
			err = hardware(err)
		}
		ss.reply(m.Tag, err)
	case wire.TPCMOpen:
		ss.reply(m.Tag, ss.open(m.Ch, int(m.Rate)))
	case wire.TPCMRead, wire.TPCMWrite:
		c, err := ss.channel(m.Ch)
		if err != nil {
			ss.reply(m.Tag, err)
			return
		}
		if m.Type == wire.TPCMWrite && len(m.Samples) != hal.FrameSamples(c.pcm.Rate()) {
			ss.reply(m.Tag, refusedf("PCM_WRITE of %d samples on channel %d, want %d", len(m.Samples), m.Ch, hal.FrameSamples(c.pcm.Rate())))
			return
		}
		q := c.reads
		if m.Type == wire.TPCMWrite {
			q = c.writes
		}
		select {
		case q <- pcmReq{tag: m.Tag, samples: m.Samples}:
		default:
			ss.reply(m.Tag, refusedf("%d %s requests already wait on channel %d", queueDepth, m.Type, m.Ch))
		}
	case wire.TPCMClose:
		c := ss.chans[m.Ch]
		if c == nil && m.Ch == 0 {
			ss.reply(m.Tag, nil) // the SLIC's slot is always there
			return
		}
		if c == nil {
			ss.reply(m.Tag, refusedf("PCM_CLOSE of channel %d, which is not open", m.Ch))
			return
		}
		c.stop()
		delete(ss.chans, m.Ch)
		var err error
		if m.Ch != 0 { // the SLIC's slot is the chip's, not the client's
			err = c.pcm.Close()
		}
		ss.reply(m.Tag, err)
	case wire.TLED:
		l := hw.LEDs[m.Name]
		if l == nil {
			ss.reply(m.Tag, refusedf("no LED %q (have %v)", m.Name, ss.s.ledNames()))
			return
		}
		err := l.Set(hal.LEDState(m.State))
		if err != nil {
			err = hardware(err)
		}
		ss.reply(m.Tag, err)
	}
}

// open assigns a DECT audio slot (channel ≥ 1) for a call; channel 0 (the
// SLIC's slot) is always open.
func (ss *session) open(ch uint8, rate int) error {
	if ch == 0 {
		if rate != hal.RateNarrowband {
			return refusedf("channel 0 (the SLIC's slot) runs at %d Hz, not %d", hal.RateNarrowband, rate)
		}
		_, err := ss.channel(0)
		return err
	}
	if int(ch) > ss.s.slots {
		return refusedf("channel %d: the DECT module has %d audio slots (channels 1..%d)", ch, ss.s.slots, ss.s.slots)
	}
	if ss.s.hw.Radio.Audio == nil {
		return refusedf("this board has no DECT audio")
	}
	if old := ss.chans[ch]; old != nil {
		old.stop()
		delete(ss.chans, ch)
	}
	p, err := ss.s.hw.Radio.Audio(int(ch)-1, rate)
	if err != nil {
		return refusedf("channel %d at %d Hz: %v", ch, rate, err)
	}
	ss.chans[ch] = ss.startChannel(ch, p)
	return nil
}

// channel returns an open channel; channel 0 opens on first use.
func (ss *session) channel(ch uint8) (*channel, error) {
	if c := ss.chans[ch]; c != nil {
		return c, nil
	}
	if ch != 0 {
		return nil, refusedf("channel %d is not open (PCM_OPEN first)", ch)
	}
	if ss.s.hw.SLIC.PCM == nil {
		return nil, refusedf("this board has no SLIC PCM slot")
	}
	c := ss.startChannel(0, ss.s.hw.SLIC.PCM)
	ss.chans[0] = c
	return c, nil
}

type pcmReq struct {
	tag     uint16
	samples []int16
}

// channel is one PCM channel of a session with its reader and writer.
type channel struct {
	pcm    hal.PCM
	reads  chan pcmReq
	writes chan pcmReq
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (ss *session) startChannel(ch uint8, p hal.PCM) *channel {
	ctx, cancel := context.WithCancel(ss.ctx)
	c := &channel{pcm: p, reads: make(chan pcmReq, queueDepth), writes: make(chan pcmReq, queueDepth), cancel: cancel}
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		buf := make([]int16, hal.FrameSamples(p.Rate()))
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-c.reads:
				if err := p.ReadFrame(ctx, buf); err != nil {
					if ctx.Err() != nil {
						return
					}
					ss.reply(r.tag, hardware(fmt.Errorf("channel %d: %w", ch, err)))
					continue
				}
				_ = ss.send(&wire.Msg{Type: wire.TPCMFrame, Tag: r.tag, Ch: ch, Samples: buf})
			}
		}
	}()
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-c.writes:
				err := p.WriteFrame(ctx, r.samples)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					err = hardware(fmt.Errorf("channel %d: %w", ch, err))
				}
				ss.reply(r.tag, err)
			}
		}
	}()
	return c
}

// stop ends the channel's workers and waits for them.
func (c *channel) stop() {
	c.cancel()
	c.wg.Wait()
}
