package media

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// ntpTime converts t to the 64-bit NTP format.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

func ntpMiddle(n uint64) uint32 { return uint32(n >> 16) }

// rtcpDelay is the randomised interval to the next RTCP report (RFC 3550
// §6.3.1: 0.5 to 1.5 times the mean).
func (s *Session) rtcpDelay() time.Duration {
	return time.Duration(float64(s.cfg.RTCPInterval) * (0.5 + rand.Float64()))
}

// handleRTCPLocked processes a compound RTCP packet (s.mu held).
func (s *Session) handleRTCPLocked(b []byte, from netip.AddrPort, now time.Time) {
	if s.srtpIn != nil {
		dec, err := s.srtpIn.DecryptRTCP(nil, b, nil)
		if err != nil {
			s.badPackets++
			return
		}
		b = dec
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		s.badPackets++
		return
	}
	s.rtcpRecv++
	if from.IsValid() && from.Port() != s.local.Port() {
		s.rtcpDest = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.lsr, s.lsrAt = ntpMiddle(p.NTPTime), now
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		case *rtcp.ExtendedReport:
			s.handleXRLocked(p, now)
		}
		for _, r := range reports {
			if r.SSRC != s.ssrc {
				continue
			}
			s.remoteLoss, s.remoteLost, s.remoteJit = r.FractionLost, r.TotalLost, r.Jitter
			if r.LastSenderReport != 0 {
				rtt := ntpMiddle(ntpTime(now)) - r.LastSenderReport - r.Delay
				if rtt < 1<<31 {
					s.rtt = time.Duration(uint64(rtt) * uint64(time.Second) >> 16)
				}
			}
		}
	}
}

// sendRTCP sends a compound SR or RR + SDES + XR VoIP Metrics (once a
// packet was received; xr.go) (+ BYE when bye).
func (s *Session) sendRTCP(bye bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.applied || !s.rtcpDest.IsValid() || s.rtcpDest.Addr().IsUnspecified() || s.rtcpDest.Port() == 0 {
		return
	}
	now := time.Now()
	var reports []rtcp.ReceptionReport
	if s.haveRemote {
		st := &s.jb.st
		rr := rtcp.ReceptionReport{
			SSRC:               s.remoteSSRC,
			FractionLost:       st.fractionLost(),
			TotalLost:          uint32(min(st.lost(), 0x7FFFFF)),
			LastSequenceNumber: st.extMax,
			Jitter:             uint32(st.jitter),
		}
		if !s.lsrAt.IsZero() {
			rr.LastSenderReport = s.lsr
			rr.Delay = uint32(now.Sub(s.lsrAt) * 65536 / time.Second)
		}
		reports = append(reports, rr)
	}
	var first rtcp.Packet
	if s.sentPkts > 0 {
		first = &rtcp.SenderReport{
			SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: s.ts,
			PacketCount: uint32(s.sentPkts), OctetCount: uint32(s.sentBytes), Reports: reports,
		}
	} else {
		first = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports}
	}
	pkts := []rtcp.Packet{first, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cfg.CNAME}},
	}}}}
	if xr := s.xrPacketLocked(now); xr != nil {
		pkts = append(pkts, xr)
	}
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	if s.srtpOut != nil {
		if b, err = s.srtpOut.EncryptRTCP(nil, b, nil); err != nil {
			return
		}
	}
	_, _ = s.rtcpConn.WriteToUDPAddrPort(b, s.rtcpDest)
}
