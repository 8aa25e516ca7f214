package media

import (
	"fmt"
	"time"

	"github.com/pion/rtp"

	"basestation/sipua/media/g711"
	"basestation/sipua/media/g722"
)

// encoder encodes one 10 ms frame at the codec rate.
type encoder interface {
	encode(dst []byte, pcm []int16) int
}

type decoder interface {
	decode(dst []int16, data []byte) int
}

type ulaw struct{}

func (ulaw) encode(dst []byte, pcm []int16) int { return g711.EncodeUlawFrame(dst, pcm) }

func (ulaw) decode(dst []int16, data []byte) int { return g711.DecodeUlawFrame(dst, data) }

type alaw struct{}

func (alaw) encode(dst []byte, pcm []int16) int { return g711.EncodeAlawFrame(dst, pcm) }

func (alaw) decode(dst []int16, data []byte) int { return g711.DecodeAlawFrame(dst, data) }

type g722enc struct{ e *g722.Encoder }

func (g g722enc) encode(dst []byte, pcm []int16) int { return g.e.Encode(dst, pcm) }

type g722dec struct{ d *g722.Decoder }

func (g g722dec) decode(dst []int16, data []byte) int { return g.d.Decode(dst, data) }

// SendDigit queues an RFC 4733 telephone event ('0'-'9', '*', '#', 'A'-'D',
// 'F' flash) of the given duration (0 means 100 ms; 40 ms to 8 s). It is
// sent after the digits already queued, replacing audio meanwhile.
func (s *Session) SendDigit(digit rune, d time.Duration) error {
	ev, err := EventCode(digit)
	if err != nil {
		return err
	}
	if d == 0 {
		d = 100 * time.Millisecond
	}
	if d < 40*time.Millisecond || d > 8*time.Second {
		return fmt.Errorf("media: digit duration %v out of range (40 ms to 8 s)", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case !s.applied:
		return ErrNotApplied
	case !s.neg.Direction.Sends() || s.neg.EventPT == 0:
		return ErrNotSending
	case s.dtmfLen == len(s.dtmfQ):
		return fmt.Errorf("media: digit queue full (%d digits)", len(s.dtmfQ))
	}
	s.dtmfQ[(s.dtmfHead+s.dtmfLen)%len(s.dtmfQ)] = pendingDigit{ev, d}
	s.dtmfLen++
	return nil
}

// toCodec converts a port frame to a codec-rate frame (s.mu held).
func (s *Session) toCodec(in []int16) []int16 {
	cr := s.neg.Codec.SampleRate()
	switch {
	case cr == s.portRate:
		return in
	case cr > s.portRate:
		s.up.up(s.codecFrame, in)
	default:
		s.down.down(s.codecFrame, in)
	}
	return s.codecFrame
}

// sendTick encodes one captured frame and sends a packet when a packet
// time is complete (s.mu held).
func (s *Session) sendTick(in []int16) {
	pcm := s.toCodec(in)
	frames := int(s.neg.PTime / (10 * time.Millisecond))
	sending := s.neg.Direction.Sends() && s.dest.IsValid() && !s.dest.Addr().IsUnspecified() && s.dest.Port() != 0
	if sending {
		s.payN += s.enc.encode(s.payload[s.payN:], pcm)
	}
	s.chunks++
	if s.chunks < frames {
		return
	}
	s.chunks = 0
	ticks := uint32(frames * frameTicks)
	switch {
	case !sending:
		s.marker = true // the next packet sent starts a talkspurt
		s.dtmfTx.active = false
		s.dtmfLen = 0
	case s.dtmfTx.active || s.dtmfLen > 0:
		s.sendEvent(ticks)
	default:
		s.writeRTP(s.neg.PayloadType, s.marker, s.ts, s.payload[:s.payN])
		s.marker = false
	}
	// Timestamps follow the sample count, sent or not (hold, events).
	s.ts += ticks
	s.payN = 0
}

// sendEvent sends the next RFC 4733 packet in place of an audio packet.
func (s *Session) sendEvent(ticks uint32) {
	tx := &s.dtmfTx
	if !tx.active {
		d := s.dtmfQ[s.dtmfHead]
		s.dtmfHead = (s.dtmfHead + 1) % len(s.dtmfQ)
		s.dtmfLen--
		*tx = dtmfTx{active: true, event: d.event, ts: s.ts, total: uint32(d.dur * 8000 / time.Second), first: true, endsLeft: 3}
	}
	var b [4]byte
	e := TelephoneEvent{Event: tx.event, Volume: 10}
	if tx.sent < tx.total {
		tx.sent += ticks
		if tx.sent >= tx.total {
			tx.sent = tx.total
		}
	}
	e.Duration = uint16(tx.sent)
	if tx.sent >= tx.total {
		e.End = true
		tx.endsLeft--
	}
	e.MarshalTo(b[:])
	s.writeRTP(s.neg.EventPT, tx.first, tx.ts, b[:])
	tx.first = false
	if e.End && tx.endsLeft == 0 {
		tx.active = false
		s.marker = true // audio resumes as a new talkspurt
	}
}

// writeRTP marshals and sends one packet (s.mu held).
func (s *Session) writeRTP(pt uint8, marker bool, ts uint32, payload []byte) {
	h := &s.pkt.Header
	*h = rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc}
	n, err := h.MarshalTo(s.sendBuf[:])
	if err != nil {
		return
	}
	n += copy(s.sendBuf[n:], payload)
	buf := s.sendBuf[:n]
	if s.srtpOut != nil {
		enc, err := s.srtpOut.EncryptRTP(s.srtpBuf.enc[:0], buf, h)
		if err != nil {
			s.log.Warn("media: SRTP encrypt", "err", err)
			return
		}
		buf = enc
	}
	s.seq++
	if _, err := s.rtpConn.WriteToUDPAddrPort(buf, s.dest); err != nil {
		s.badPackets++ // counted, not fatal: ICMP unreachable until the peer listens
		return
	}
	s.sentPkts++
	s.sentBytes += uint64(len(payload))
	s.lastSRRTP = ts
}
