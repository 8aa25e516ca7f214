package dect

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"basestation/dect/wire"
)

// session is one life of the link to the module: from SYNC to the module
// resetting, going silent or the driver stopping. Its engine goroutine owns
// all link state (sequence numbers, the retransmission queue, outstanding
// requests); everything else talks to it through channels.
type session struct {
	log  *slog.Logger
	opts *Options
	w    io.Writer
	in   <-chan []byte
	// seen is how far the reader has looked at the line (readClock.Seen):
	// every byte that arrived before it is in `in` or already taken.
	seen func() time.Time

	reqs   chan *call
	cancel chan *call
	inds   chan wire.Msg // indications, in order, to the driver's logic (from indQ)
	up     chan struct{} // closed when SYNC-ACK arrived
	done   chan struct{} // closed when the engine stopped
	err    error         // why it stopped; valid after done
	nonce  uint32

	// engine-owned
	dec          wire.Decoder
	txBuf        []byte
	queue        []outFrame
	inflight     bool
	retries      int
	txSeq        byte
	rxNext       byte
	pending      map[byte]*call
	tid          byte
	heard        time.Time
	kaCount      uint32
	isUp         bool
	partialSince time.Time
	stallT       *time.Ticker // runs while partialSince is set (setPartial)
	indQ         []wire.Msg   // indications not yet taken by the logic goroutine
	bootNonces   []uint32
	retxTimer    *time.Timer
	lastTx       time.Time // when the outstanding DATA frame was last (re)sent
	starvedLog   time.Time // when the reader's lag was last logged

	// Stats (engine-owned; read after done or through stats requests in tests).
	Retransmits, Duplicates uint64
}

type outFrame struct {
	payload []byte
	tid     byte
}

// kind names the frame's message type for error messages.
func (f outFrame) kind() wire.Type {
	if len(f.payload) == 0 {
		return 0
	}
	return wire.Type(f.payload[0])
}

type call struct {
	msg   wire.Msg
	reply chan result
	tid   byte
}

type result struct {
	msg wire.Msg
	err error
}

// maxIndQueue bounds the indications waiting for the driver's logic.
const maxIndQueue = 4096

// Link failures that end a session.
var (
	errModuleReset  = errors.New("module reset (it sent SYNC)")
	errModuleSilent = errors.New("module stopped answering")
	errLinkRetries  = errors.New("frame not acknowledged after all retries")
	errNoSync       = errors.New("module did not answer SYNC")
)

func newSession(log *slog.Logger, opts *Options, w io.Writer, in <-chan []byte, seen func() time.Time) *session {
	var nb [4]byte
	_, _ = rand.Read(nb[:])
	if seen == nil {
		seen = time.Now
	}
	return &session{
		log: log, opts: opts, w: w, in: in, seen: seen,
		reqs:    make(chan *call),
		cancel:  make(chan *call, 16),
		inds:    make(chan wire.Msg),
		up:      make(chan struct{}),
		done:    make(chan struct{}),
		nonce:   binary.BigEndian.Uint32(nb[:]),
		pending: make(map[byte]*call),
		txBuf:   make([]byte, 0, wire.MaxFrame),
	}
}

// request sends m (Type and body set; TID assigned here) and waits for its
// confirmation. A non-OK status is returned as the error (a wire.Status).
func (s *session) request(ctx context.Context, m wire.Msg) (wire.Msg, error) {
	c := &call{msg: m, reply: make(chan result, 1)}
	select {
	case s.reqs <- c:
	case <-s.done:
		return wire.Msg{}, fmt.Errorf("dect: %v: link down: %w", m.Type, s.err)
	case <-ctx.Done():
		return wire.Msg{}, ctx.Err()
	}
	t := time.NewTimer(s.opts.RequestTimeout)
	defer t.Stop()
	select {
	case r := <-c.reply:
		if r.err != nil {
			return r.msg, r.err
		}
		if r.msg.Status != wire.StatusOK {
			return r.msg, fmt.Errorf("dect: %v: %w", m.Type, r.msg.Status)
		}
		return r.msg, nil
	case <-t.C:
		s.cancelTID(c)
		return wire.Msg{}, fmt.Errorf("dect: %v: no confirmation within %v: %w", m.Type, s.opts.RequestTimeout, ErrTimeout)
	case <-ctx.Done():
		s.cancelTID(c)
		return wire.Msg{}, ctx.Err()
	case <-s.done:
		return wire.Msg{}, fmt.Errorf("dect: %v: link down: %w", m.Type, s.err)
	}
}

func (s *session) cancelTID(c *call) {
	select {
	case s.cancel <- c:
	case <-s.done:
	}
}

// run is the engine. It returns when the session ends.
func (s *session) run(ctx context.Context) {
	defer close(s.done)
	s.err = s.loop(ctx)
	for _, c := range s.pending {
		c.reply <- result{err: fmt.Errorf("dect: %v: link down: %w", c.msg.Type, s.err)}
	}
}

func (s *session) loop(ctx context.Context) error {
	retx := time.NewTimer(time.Hour)
	retx.Stop()
	syncT := time.NewTicker(s.opts.SyncInterval)
	defer syncT.Stop()
	ka := time.NewTicker(s.opts.KeepaliveInterval)
	defer ka.Stop()
	// The stall check runs only while a partial frame waits (setPartial).
	stallT := time.NewTicker(s.opts.StallTimeout / 4)
	stallT.Stop()
	s.stallT = stallT
	defer stallT.Stop()
	syncDeadline := time.Now().Add(s.opts.BootTimeout)
	if err := s.sendSync(); err != nil {
		return err
	}
	var reqs chan *call // nil until up
	for {
		// Indications wait in indQ until the driver's logic takes them, so
		// the engine never blocks on a busy consumer (during start-up the
		// logic is not reading yet, but confirmations must still flow).
		if s.isUp && reqs == nil {
			reqs = s.reqs // SYNC-ACK handled (in whichever case took its chunk)
		}
		var indOut chan wire.Msg
		var next wire.Msg
		if len(s.indQ) > 0 {
			indOut, next = s.inds, s.indQ[0]
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case indOut <- next:
			s.indQ[0] = wire.Msg{}
			s.indQ = s.indQ[1:]
		case chunk := <-s.in:
			if err := s.feed(chunk, retx); err != nil {
				return err
			}
		case <-stallT.C:
			seen, err := s.observe(retx)
			if err != nil {
				return err
			}
			if err := s.checkStall(seen); err != nil {
				return err
			}
		case <-syncT.C:
			if s.isUp {
				syncT.Stop()
				continue
			}
			seen, err := s.observe(retx)
			if err != nil {
				return err
			}
			if s.isUp {
				continue // the SYNC-ACK was waiting unread
			}
			if seen.After(syncDeadline) {
				return errNoSync
			}
			if err := s.sendSync(); err != nil {
				return err
			}
		case c := <-reqs:
			if len(s.pending) >= 250 {
				c.reply <- result{err: fmt.Errorf("dect: %v: %w: %d requests outstanding", c.msg.Type, ErrBusy, len(s.pending))}
				continue
			}
			s.tid++
			for s.tid == 0 || s.pending[s.tid] != nil {
				s.tid++
			}
			c.tid = s.tid
			c.msg.TID = s.tid
			p, err := c.msg.Append(nil)
			if err != nil {
				c.reply <- result{err: fmt.Errorf("dect: %v: %w", c.msg.Type, err)}
				continue
			}
			s.pending[c.tid] = c
			s.queue = append(s.queue, outFrame{payload: p, tid: c.tid})
			if !s.inflight {
				if err := s.transmit(retx); err != nil {
					return err
				}
			}
		case c := <-s.cancel:
			if s.pending[c.tid] == c {
				delete(s.pending, c.tid)
			}
		case <-retx.C:
			if !s.inflight {
				continue
			}
			seq := s.txSeq
			seen, err := s.observe(retx)
			if err != nil {
				return err
			}
			if !s.inflight || s.txSeq != seq {
				continue // its ACK was waiting unread (and the next frame may be out)
			}
			// A retransmission counts towards giving up only if the
			// reader has looked at the line since the last one was sent:
			// while the reader is starved the ACK may be waiting unread.
			if seen.After(s.lastTx) {
				s.retries++
			}
			if s.retries > s.opts.MaxRetries {
				return fmt.Errorf("%w (%v, %d retransmissions)", errLinkRetries, s.queue[0].kind(), s.opts.MaxRetries)
			}
			s.Retransmits++
			if err := s.writeFrame(wire.CtrlData, s.txSeq, s.queue[0].payload); err != nil {
				return err
			}
			s.lastTx = time.Now()
			retx.Reset(s.opts.AckTimeout)
		case <-ka.C:
			if !s.isUp {
				continue
			}
			seen, err := s.observe(retx)
			if err != nil {
				return err
			}
			limit := s.opts.KeepaliveInterval * time.Duration(s.opts.KeepaliveMisses)
			if quiet := seen.Sub(s.heard); quiet > limit {
				return fmt.Errorf("%w: nothing valid from it for %v (limit %v; the serial reader last looked %v ago)",
					errModuleSilent, quiet.Round(time.Millisecond), limit, time.Since(seen).Round(time.Millisecond))
			}
			if lag := time.Since(seen); lag > limit && time.Since(s.starvedLog) > 10*time.Second {
				// The module may well be answering: its bytes wait for
				// the reader, which the scheduler has not run. Say so, so
				// a slow link is not mistaken for a silent module.
				s.starvedLog = time.Now()
				s.log.Warn("dect: serial reader starved (host overloaded); link timeouts wait for it", "lag", lag.Round(time.Millisecond))
			}
			if len(s.pending) >= 250 {
				continue // the link is saturated; silence is still detected above
			}
			// Internal keepalive: no caller waits for it.
			s.kaCount++
			s.tid++
			for s.tid == 0 || s.pending[s.tid] != nil {
				s.tid++
			}
			m := wire.Msg{Type: wire.TKeepalive, TID: s.tid, Counter: s.kaCount}
			p, _ := m.Append(nil)
			s.pending[s.tid] = &call{msg: m, reply: make(chan result, 1), tid: s.tid}
			s.queue = append(s.queue, outFrame{payload: p, tid: s.tid})
			if !s.inflight {
				if err := s.transmit(retx); err != nil {
					return err
				}
			}
		}
	}
}

// feed hands a chunk from the reader to the decoder and acts on the frames
// it completes.
func (s *session) feed(chunk []byte, retx *time.Timer) error {
	for len(chunk) > 0 {
		n := s.dec.Feed(chunk)
		chunk = chunk[n:]
		if err := s.drain(); err != nil {
			return err
		}
	}
	// A partial frame's age is judged on the stall tick (checkStall),
	// after the reader's pending chunks are taken.
	if s.dec.Buffered() == 0 {
		s.setPartial(time.Time{})
	} else if s.partialSince.IsZero() {
		s.setPartial(time.Now())
	}
	if s.isUp && !s.inflight && len(s.queue) > 0 {
		return s.transmit(retx)
	}
	return nil
}

// observe takes every chunk the reader has handed over and returns the
// time up to which the line has been looked at: nothing the module sent
// before it is still unread. Timeouts are judged against it.
func (s *session) observe(retx *time.Timer) (time.Time, error) {
	seen := s.seen() // before draining: the chunks it covers are in s.in
	for {
		select {
		case chunk := <-s.in:
			if err := s.feed(chunk, retx); err != nil {
				return seen, err
			}
		default:
			return seen, nil
		}
	}
}

func (s *session) sendSync() error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], s.nonce)
	return s.writeFrame(wire.CtrlSync, 0, b[:])
}

func (s *session) transmit(retx *time.Timer) error {
	if len(s.queue) == 0 {
		return nil
	}
	s.inflight = true
	s.retries = 0
	if err := s.writeFrame(wire.CtrlData, s.txSeq, s.queue[0].payload); err != nil {
		return err
	}
	s.lastTx = time.Now()
	retx.Reset(s.opts.AckTimeout)
	s.retxTimer = retx
	return nil
}

func (s *session) writeFrame(c wire.Ctrl, seq byte, p []byte) error {
	b, err := wire.AppendFrame(s.txBuf[:0], c, seq, p)
	if err != nil {
		return fmt.Errorf("unexpected: encode frame: %w", err)
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write to module: %w", err)
	}
	return nil
}

// checkStall abandons a partial frame that has waited longer than
// StallTimeout for its remaining bytes: a corrupted length field can make a
// candidate claim up to 512 bytes, and while the peer keeps retransmitting
// the line is never idle, so only the age of the candidate reveals it. The
// candidate's first byte is dropped and the buffered bytes are scanned again,
// which finds the good frames queued behind it. The age is measured up to
// seen (how far the reader has looked), so a frame whose rest waits unread
// behind a starved reader is not abandoned.
func (s *session) checkStall(seen time.Time) error {
	if s.dec.Buffered() == 0 {
		s.setPartial(time.Time{})
		return nil
	}
	if s.partialSince.IsZero() {
		s.setPartial(time.Now())
		return nil
	}
	if seen.Sub(s.partialSince) < s.opts.StallTimeout {
		return nil
	}
	s.dec.Stall()
	s.partialSince = time.Now()
	if err := s.drain(); err != nil {
		return err
	}
	if s.dec.Buffered() == 0 {
		s.setPartial(time.Time{})
	}
	return nil
}

// setPartial records since when a partial frame waits (zero: none) and
// runs the stall check's ticker only meanwhile: an idle line wakes no one.
func (s *session) setPartial(t time.Time) {
	was := !s.partialSince.IsZero()
	s.partialSince = t
	switch {
	case s.stallT == nil:
	case t.IsZero() && was:
		s.stallT.Stop()
	case !t.IsZero() && !was:
		s.stallT.Reset(s.opts.StallTimeout / 4)
	}
}

// drain handles every complete frame in the decoder.
func (s *session) drain() error {
	for {
		f, ok := s.dec.Next()
		if !ok {
			return nil
		}
		if err := s.handleFrame(f); err != nil {
			return err
		}
	}
}

func (s *session) handleFrame(f wire.Frame) error {
	switch f.Ctrl {
	case wire.CtrlSyncAck:
		if !s.isUp && len(f.Payload) == 4 && binary.BigEndian.Uint32(f.Payload) == s.nonce {
			s.isUp = true
			s.heard = time.Now()
			close(s.up)
		}
		return nil
	case wire.CtrlSync:
		if len(f.Payload) != 4 {
			return nil
		}
		n := binary.BigEndian.Uint32(f.Payload)
		if !s.isUp {
			// Still syncing (our own SYNC is on its way): remember the
			// module's boot nonce so a late duplicate is not taken for a
			// new reset.
			s.bootNonces = append(s.bootNonces, n)
			return nil
		}
		for _, b := range s.bootNonces {
			if b == n {
				return nil
			}
		}
		return errModuleReset
	}
	if !s.isUp {
		return nil
	}
	s.heard = time.Now()
	switch f.Ctrl {
	case wire.CtrlAck:
		if s.inflight && f.Seq == s.txSeq {
			s.inflight = false
			s.txSeq++
			s.queue = s.queue[1:]
			if s.retxTimer != nil {
				s.retxTimer.Stop()
			}
			if len(s.queue) > 0 {
				return s.transmit(s.retxTimer)
			}
		}
	case wire.CtrlData:
		if f.Seq != s.rxNext {
			if f.Seq == s.rxNext-1 {
				s.Duplicates++
				return s.writeFrame(wire.CtrlAck, f.Seq, nil)
			}
			return nil // out of order: the sender retransmits
		}
		m, err := wire.Decode(f.Payload)
		// Acknowledge even an undecodable message: the link delivered it
		// intact; retransmitting it would not make it valid.
		if aerr := s.writeFrame(wire.CtrlAck, f.Seq, nil); aerr != nil {
			return aerr
		}
		s.rxNext++
		if err != nil {
			s.log.Warn("dect: undecodable message from module", "err", err, "payload", fmt.Sprintf("% x", f.Payload))
			return nil
		}
		s.dispatch(m)
	}
	return nil
}

func (s *session) dispatch(m wire.Msg) {
	switch {
	case m.Type.IsConfirm():
		c := s.pending[m.TID]
		if c == nil || c.msg.Type != m.Type&^wire.CnfBit {
			s.log.Debug("dect: confirmation without a request", "type", m.Type, "tid", m.TID)
			return
		}
		delete(s.pending, m.TID)
		c.reply <- result{msg: m}
	case m.Type.IsIndication():
		if len(s.indQ) >= maxIndQueue {
			s.log.Error("dect: indication queue overflow; indication dropped", "type", m.Type, "handset", m.Handset)
			return
		}
		s.indQ = append(s.indQ, m)
	default:
		s.log.Warn("dect: module sent a request type", "type", m.Type)
	}
}
