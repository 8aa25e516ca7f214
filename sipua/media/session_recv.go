package media

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// playTick fills out with the next 10 ms to play (s.mu held).
func (s *Session) playTick(out []int16) {
	if d, ok := s.dtmfRx.tick(); ok {
		s.queueDigit(d)
	}
	cf := s.codecFrame
	st, data, skipped := s.jb.pop()
	if skipped != nil {
		s.dec.decode(cf, skipped)
	}
	switch st {
	case frameIdle:
		clear(cf)
	case frameGood:
		s.dec.decode(cf, data)
		s.plc.good(cf)
	case frameMissing:
		s.plc.conceal(cf)
	}
	if !s.neg.Direction.Receives() {
		clear(cf)
	}
	s.played++
	cr := s.neg.Codec.SampleRate()
	switch {
	case cr == s.portRate:
		copy(out, cf)
	case cr > s.portRate:
		s.down.down(out, cf)
	default:
		s.up.up(out, cf)
	}
}

func (s *Session) queueDigit(d Digit) {
	if s.pendN < len(s.pendDigits) {
		s.pendDigits[s.pendN] = d
		s.pendN++
	}
}

// maxPerTick bounds the datagrams read from one socket in one tick (a
// flood cannot starve the audio port).
const maxPerTick = 32

// receive processes the datagrams waiting on one socket (0 RTP, 1 RTCP;
// s.mu held).
func (s *Session) receive(sock int, now time.Time) {
	for range maxPerTick {
		b, from, at, ok, err := s.rx.next(sock, now)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.badPackets++ // e.g. an ICMP error surfaced on the socket
			}
			return
		}
		if !ok {
			return
		}
		if sock == 1 {
			s.handleRTCPLocked(b, from, at)
		} else {
			s.handleRTPLocked(b, from, at)
		}
	}
}

// handleRTP processes one datagram from the RTP socket.
func (s *Session) handleRTP(b []byte, from netip.AddrPort, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handleRTPLocked(b, from, now)
}

// handleRTPLocked processes one datagram from the RTP socket that arrived
// at now (s.mu held).
func (s *Session) handleRTPLocked(b []byte, from netip.AddrPort, now time.Time) {
	if !s.applied {
		return
	}
	if len(b) >= 2 && b[1] >= 200 && b[1] <= 204 {
		s.handleRTCPLocked(b, from, now) // rtcp-mux from the peer
		return
	}
	if s.srtpIn != nil {
		dec, err := s.srtpIn.DecryptRTP(s.srtpBuf.dec[:0], b, &s.rpkt.Header)
		if err != nil {
			s.badPackets++
			return
		}
		b = dec
	}
	if err := s.rpkt.Unmarshal(b); err != nil || s.rpkt.Version != 2 {
		s.badPackets++
		return
	}
	h := &s.rpkt.Header
	s.latch(from)
	s.lastRecvAt = now
	s.remoteSSRC, s.haveRemote = h.SSRC, true
	pt := h.PayloadType
	if pt != s.neg.PayloadType && (pt == s.neg.EventPT || pt == s.neg.LocalEventPT) {
		e, err := ParseTelephoneEvent(s.rpkt.Payload)
		if err != nil {
			s.badPackets++
			return
		}
		s.jb.countOnly(h.SequenceNumber, h.SSRC)
		s.qualityPacket(h.SequenceNumber, false)
		if d, ok := s.dtmfRx.packet(h.Timestamp, h.Marker, e); ok {
			s.queueDigit(d)
		}
		return
	}
	if pt == 13 && pt != s.neg.PayloadType {
		// RFC 3389 comfort noise (not negotiated by us, but some peers
		// send it): part of the stream, played as silence.
		s.jb.countOnly(h.SequenceNumber, h.SSRC)
		s.qualityPacket(h.SequenceNumber, false)
		return
	}
	if pt != s.neg.PayloadType {
		s.badPackets++ // an unnegotiated payload type
		return
	}
	arrival := int64(now.Sub(s.start) * 8000 / time.Second)
	late, dups := s.jb.st.late, s.jb.st.duplicates
	s.jb.push(h.SequenceNumber, h.Timestamp, h.SSRC, s.rpkt.Payload, arrival)
	if s.jb.st.duplicates == dups {
		s.qualityPacket(h.SequenceNumber, s.jb.st.late != late)
	}
}

// latch implements symmetric RTP: send to where the peer's packets come
// from. After Apply, packets from the signalled address latch at once;
// packets from any other source (a NAT in front of the peer) latch after 5
// consecutive ones, as does a later change of source — so stray packets
// from a previous address after a re-INVITE do not steal the stream
// (s.mu held).
func (s *Session) latch(from netip.AddrPort) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if from == s.dest {
		s.latched, s.latchCount = true, 0
		return
	}
	if !s.latched && from == s.neg.Remote {
		s.latched, s.dest, s.latchCount = true, from, 0
		return
	}
	if from != s.latchCand {
		s.latchCand, s.latchCount = from, 0
	}
	s.latchCount++
	if s.latchCount >= 5 {
		if s.latched {
			s.log.Info("media: peer address changed", "from", s.dest, "to", from)
		}
		s.latched, s.dest, s.latchCount = true, from, 0
	}
}
