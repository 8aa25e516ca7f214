package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// Codec is a static G.711 payload type.
type Codec uint8

// The two narrowband codecs the far end speaks.
const (
	PCMU Codec = 0
	PCMA Codec = 8
)

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("PT%d", uint8(c))
}

// Encode converts linear samples to codec octets.
func (c Codec) Encode(dst []byte, src []int16) {
	for i, s := range src {
		if c == PCMA {
			dst[i] = ALawEncode(s)
		} else {
			dst[i] = ULawEncode(s)
		}
	}
}

// Decode converts codec octets to linear samples.
func (c Codec) Decode(dst []int16, src []byte) {
	for i, b := range src {
		if c == PCMA {
			dst[i] = ALawDecode(b)
		} else {
			dst[i] = ULawDecode(b)
		}
	}
}

// Frame geometry: 20 ms at 8 kHz.
const (
	Rate          = 8000
	FrameSamples  = 160
	FrameInterval = 20 * time.Millisecond
	// digitFrames is how long one sent digit lasts (100 ms), and gapFrames
	// the silence after it (60 ms).
	digitFrames = 5
	gapFrames   = 3
)

// Source fills one frame of audio to send.
type Source func(frame []int16)

// Sender streams 20 ms G.711 frames and RFC 4733 digits to one remote
// address from a socket it does not own. Audio and events share one
// sequence space and clock, as RFC 4733 §2.2 requires.
type Sender struct {
	conn   net.PacketConn
	remote net.Addr
	codec  Codec
	dtmfPT uint8 // 0 means telephone-event was not negotiated

	mu     sync.Mutex
	digits []uint8

	pkt     rtp.Packet
	buf     [12 + FrameSamples]byte
	payload [FrameSamples]byte
	pcm     [FrameSamples]int16
}

// NewSender prepares a stream; dtmfPT 0 disables digits.
func NewSender(conn net.PacketConn, remote net.Addr, codec Codec, dtmfPT uint8) *Sender {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &Sender{conn: conn, remote: remote, codec: codec, dtmfPT: dtmfPT}
	s.pkt.Header = rtp.Header{
		Version:        2,
		PayloadType:    uint8(codec),
		SequenceNumber: binary.BigEndian.Uint16(b[0:2]) & 0x7FFF,
		Timestamp:      binary.BigEndian.Uint32(b[2:6]),
		SSRC:           binary.BigEndian.Uint32(b[2:6]) ^ 0x5EED5EED,
		Marker:         true,
	}
	return s
}

// ErrNoTelephoneEvent is returned by SendDigits when the peer did not offer
// telephone-event.
var ErrNoTelephoneEvent = errors.New("telephone-event was not negotiated")

// SendDigits queues DTMF digits to be sent as RFC 4733 events.
func (s *Sender) SendDigits(digits string) error {
	if s.dtmfPT == 0 {
		return ErrNoTelephoneEvent
	}
	codes := make([]uint8, 0, len(digits))
	for _, d := range digits {
		c, err := DigitCode(d)
		if err != nil {
			return err
		}
		codes = append(codes, c)
	}
	s.mu.Lock()
	s.digits = append(s.digits, codes...)
	s.mu.Unlock()
	return nil
}

// Pending reports how many queued digits are not yet sent.
func (s *Sender) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.digits)
}

func (s *Sender) nextDigit() (uint8, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.digits) == 0 {
		return 0, false
	}
	d := s.digits[0]
	s.digits = s.digits[1:]
	return d, true
}

// Run sends one packet every 20 ms until ctx ends. Timestamps follow the
// sample count; if the ticker slips, the missed frames are sent at once.
func (s *Sender) Run(ctx context.Context, src Source) error {
	t := time.NewTicker(FrameInterval)
	defer t.Stop()
	start := time.Now()
	var sent int64
	var ev struct {
		active     bool
		code       uint8
		ts         uint32
		frame, end int
	}
	for {
		due := int64(time.Since(start)/FrameInterval) + 1
		for ; sent < due; sent++ {
			if !ev.active {
				if c, ok := s.nextDigit(); ok {
					ev.active, ev.code, ev.ts, ev.frame, ev.end = true, c, s.pkt.Timestamp, 0, 0
				}
			}
			var err error
			if ev.active {
				err = s.sendEventFrame(&ev.code, ev.ts, &ev.frame, &ev.end)
				if ev.frame >= digitFrames+gapFrames {
					ev.active = false
				}
			} else {
				src(s.pcm[:])
				err = s.sendAudio()
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("rtp send to %s: %w", s.remote, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Sender) sendAudio() error {
	s.codec.Encode(s.payload[:], s.pcm[:])
	s.pkt.PayloadType = uint8(s.codec)
	s.pkt.Payload = s.payload[:]
	err := s.write()
	s.pkt.Marker = false
	s.pkt.Timestamp += FrameSamples
	return err
}

// sendEventFrame sends the packets of one 20 ms slot of a digit: updates
// while it lasts, the end packet three times, then silence for the gap.
func (s *Sender) sendEventFrame(code *uint8, ts uint32, frame, ends *int) error {
	defer func() { *frame++ }()
	if *frame >= digitFrames {
		// Inter-digit gap: silence keeps the clock running.
		clear(s.pcm[:])
		return s.sendAudio()
	}
	f := *frame
	e := Event{Code: *code, Volume: 10, Duration: uint16((f + 1) * FrameSamples)}
	s.pkt.PayloadType = s.dtmfPT
	s.pkt.Marker = f == 0
	saveTS := s.pkt.Timestamp
	s.pkt.Timestamp = ts
	repeat := 1
	if f == digitFrames-1 {
		e.End = true
		repeat = 3
	}
	var err error
	for range repeat {
		e.MarshalTo(s.payload[:EventPayloadSize])
		s.pkt.Payload = s.payload[:EventPayloadSize]
		if err = s.write(); err != nil {
			break
		}
	}
	s.pkt.Marker = false
	s.pkt.Timestamp = saveTS + FrameSamples
	return err
}

func (s *Sender) write() error {
	n, err := s.pkt.MarshalTo(s.buf[:])
	if err != nil {
		return err
	}
	s.pkt.SequenceNumber++
	_, err = s.conn.WriteTo(s.buf[:n], s.remote)
	return err
}

// Receiver decodes received RTP: G.711 audio into a ring of the most recent
// second, telephone-events into digits.
type Receiver struct {
	mu      sync.Mutex
	dtmfPT  uint8
	ring    [Rate]int16
	pos     int
	filled  int
	packets int
	lastEv  uint32
	haveEv  bool
	digits  []rune
	onDigit func(rune)
	pcm     [FrameSamples * 2]int16
	pkt     rtp.Packet
}

// NewReceiver prepares a receiver; onDigit (may be nil) is called for each
// new digit, outside the receiver's lock.
func NewReceiver(dtmfPT uint8, onDigit func(rune)) *Receiver {
	return &Receiver{dtmfPT: dtmfPT, onDigit: onDigit}
}

// SetDTMFPayloadType changes the telephone-event payload type once the
// answer is known.
func (r *Receiver) SetDTMFPayloadType(pt uint8) {
	r.mu.Lock()
	r.dtmfPT = pt
	r.mu.Unlock()
}

// Handle processes one datagram. It returns an error naming what was wrong
// with a packet it could not use.
func (r *Receiver) Handle(b []byte) error {
	r.mu.Lock()
	if err := r.pkt.Unmarshal(b); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("rtp: %w", err)
	}
	if r.pkt.Version != 2 {
		r.mu.Unlock()
		return fmt.Errorf("rtp: version %d", r.pkt.Version)
	}
	pt := r.pkt.PayloadType
	var digit rune
	switch {
	case pt == uint8(PCMU) || pt == uint8(PCMA):
		p := r.pkt.Payload
		if len(p) > len(r.pcm) {
			p = p[:len(r.pcm)]
		}
		Codec(pt).Decode(r.pcm[:len(p)], p)
		for _, s := range r.pcm[:len(p)] {
			r.ring[r.pos] = s
			r.pos = (r.pos + 1) % len(r.ring)
		}
		r.filled = min(len(r.ring), r.filled+len(p))
		r.packets++
	case r.dtmfPT != 0 && pt == r.dtmfPT:
		e, err := ParseEvent(r.pkt.Payload)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		r.packets++
		if !r.haveEv || r.pkt.Timestamp != r.lastEv {
			r.haveEv, r.lastEv = true, r.pkt.Timestamp
			digit = CodeDigit(e.Code)
			r.digits = append(r.digits, digit)
		}
	default:
		r.mu.Unlock()
		return fmt.Errorf("rtp: unexpected payload type %d", pt)
	}
	cb := r.onDigit
	r.mu.Unlock()
	if digit != 0 && cb != nil {
		cb(digit)
	}
	return nil
}

// Recent returns a copy of the last n received samples (fewer if less was
// received).
func (r *Receiver) Recent(n int) []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n = min(n, r.filled)
	out := make([]int16, n)
	start := (r.pos - n + len(r.ring)) % len(r.ring)
	for i := range out {
		out[i] = r.ring[(start+i)%len(r.ring)]
	}
	return out
}

// Packets returns how many usable packets were received.
func (r *Receiver) Packets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

// Digits returns the digits received so far.
func (r *Receiver) Digits() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.digits)
}
