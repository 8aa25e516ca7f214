package vboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"basestation/hal"
	wire "basestation/hal/vboard"
)

// Options tune a Server. Zero values mean the defaults in the comments.
type Options struct {
	// Slots is the number of DECT audio slots served (4).
	Slots int
	// Log receives connection events and protocol errors (slog.Default()).
	Log *slog.Logger
}

// Server serves one hal.Board to one client at a time.
type Server struct {
	hw    *hal.Board
	slots int
	log   *slog.Logger

	mu       sync.Mutex
	sess     *session   // the connected client, if any
	sentIRQ  gpio.Level // the IRQ level last sent to sess
	conn     spi.Conn   // the SLIC's SPI connection, made for the first client
	connMode spi.Mode
	connBits int
	sessions int // clients served so far
	refused  int // clients refused as busy
}

// New returns a server for hw. Nothing runs until Serve.
func New(hw *hal.Board, o Options) *Server {
	if o.Slots <= 0 {
		o.Slots = 4
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Server{hw: hw, slots: o.Slots, log: o.Log.With("subsys", "vboard"), sentIRQ: gpio.High}
}

// Stats are the server's counters.
type Stats struct {
	Sessions  int  // clients accepted
	Refused   int  // clients refused because another was connected
	Connected bool // a client is connected now
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Sessions: s.sessions, Refused: s.refused, Connected: s.sess != nil}
}

// Listen opens the Unix socket at path, replacing a stale socket file left
// by a previous simulator (but not a socket something still listens on).
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("virtual board socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("virtual board socket %s: another simulator is serving on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("virtual board socket %s: removing the stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("virtual board socket: %w", err)
	}
	return l, nil
}

// Serve accepts clients on l until ctx ends, then closes l, disconnects the
// client and returns nil. The hardware is left as the last client left it.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if s.hw.SLIC.IRQ != nil {
		if err := s.hw.SLIC.IRQ.In(gpio.PullUp, gpio.BothEdges); err != nil {
			return fmt.Errorf("virtual board: IRQ line: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.watchIRQ(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		l.Close()
	}()
	var err error
	for {
		c, aerr := l.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("virtual board: accept: %w", aerr)
			}
			break
		}
		s.mu.Lock()
		busy := s.sess != nil
		var ss *session
		if busy {
			s.refused++
		} else {
			ss = newSession(ctx, s, c)
			s.sess = ss
			s.sessions++
		}
		s.mu.Unlock()
		if busy {
			s.log.Warn("virtual board: a second client refused: one is connected")
			wg.Add(1)
			go func() {
				defer wg.Done()
				refuse(c, wire.CodeBusy, "busy: another client is connected to this virtual board")
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.run()
		}()
	}
	cancel()
	s.mu.Lock()
	if s.sess != nil {
		s.sess.conn.Close()
	}
	s.mu.Unlock()
	wg.Wait()
	return err
}

// refuse answers a client's HELLO with why it is disconnected.
func refuse(c net.Conn, code uint8, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var m wire.Msg
	if _, err := wire.ReadMsg(c, nil, &m); err != nil {
		return
	}
	b, err := wire.Append(nil, &wire.Msg{Type: wire.TError, Tag: m.Tag, Code: code, Name: msg})
	if err == nil {
		_, _ = c.Write(b)
	}
}

// watchIRQ forwards the IRQ line's changes to the client. The finite wait
// lets it notice ctx; it costs the simulator two wake-ups a second.
func (s *Server) watchIRQ(ctx context.Context) {
	for ctx.Err() == nil {
		edge := s.hw.SLIC.IRQ.WaitForEdge(500 * time.Millisecond)
		s.syncIRQ(edge)
	}
}

// syncIRQ sends the IRQ line's level to the client if it changed since the
// last IRQ sent, or if an edge was seen (edges coalesce).
func (s *Server) syncIRQ(edge bool) {
	if s.hw.SLIC.IRQ == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lvl := s.hw.SLIC.IRQ.Read()
	if s.sess == nil || !s.sess.welcomed || (!edge && lvl == s.sentIRQ) {
		s.sentIRQ = lvl
		return
	}
	s.sentIRQ = lvl
	_ = s.sess.send(&wire.Msg{Type: wire.TIRQ, Level: levelByte(lvl)})
}

func levelByte(l gpio.Level) uint8 {
	if l == gpio.High {
		return 1
	}
	return 0
}

// ended forgets a session that has finished.
func (s *Server) ended(ss *session) {
	s.mu.Lock()
	if s.sess == ss {
		s.sess = nil
	}
	s.mu.Unlock()
}

// spiConnect connects the SLIC's port for the first client and hands the
// same connection to later ones that ask for the same mode and word size.
func (s *Server) spiConnect(hz uint32, mode spi.Mode, bits int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		if mode != s.connMode || bits != s.connBits {
			return refusedf("the SLIC's SPI port is connected in %s with %d-bit words; %s with %d-bit words asked", s.connMode, s.connBits, mode, bits)
		}
		return nil
	}
	if s.hw.SLIC.Port == nil {
		return refusedf("this board has no SLIC SPI port")
	}
	c, err := s.hw.SLIC.Port.Connect(physic.Frequency(hz)*physic.Hertz, mode, bits)
	if err != nil {
		return hardware(err)
	}
	s.conn, s.connMode, s.connBits = c, mode, bits
	return nil
}

func (s *Server) spiConn() spi.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *Server) ledNames() []string {
	n := make([]string, 0, len(s.hw.LEDs))
	for k := range s.hw.LEDs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// reqError is an error answered with an ERROR code.
type reqError struct {
	code uint8
	err  error
}

func (e *reqError) Error() string { return e.err.Error() }
func (e *reqError) Unwrap() error { return e.err }

func refusedf(format string, a ...any) error {
	return &reqError{wire.CodeRefused, fmt.Errorf(format, a...)}
}

func hardware(err error) error { return &reqError{wire.CodeHardware, err} }

func codeOf(err error) uint8 {
	var re *reqError
	if errors.As(err, &re) {
		return re.code
	}
	return wire.CodeHardware
}
