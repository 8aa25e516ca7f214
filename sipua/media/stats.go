package media

import (
	"math"
	"time"
)

// Stats is the quality summary of a session (a snapshot; after Run returns
// it is the final summary of the call).
type Stats struct {
	Codec           Codec
	PacketsSent     uint64
	OctetsSent      uint64
	PacketsReceived uint64 // accepted RTP audio packets (no duplicates)
	Lost            int64  // RFC 3550 cumulative lost (expected − received)
	Late            uint64 // arrived after their playout time, dropped
	Duplicates      uint64
	Invalid         uint64        // undecodable, failed SRTP, unnegotiated PT
	Concealed       uint64        // 10 ms frames played from loss concealment
	Dropped         uint64        // 10 ms frames dropped to reduce delay (clock drift)
	Inserted        uint64        // 10 ms frames inserted to grow delay
	Jitter          time.Duration // RFC 3550 interarrival jitter of received RTP
	JitterDelay     time.Duration // current jitter buffer target delay
	RTT             time.Duration // round trip from RTCP (0 = unknown)
	RemoteLost      uint32        // peer's cumulative lost from its reports
	RemoteJitter    time.Duration // peer's interarrival jitter from its reports
	RTCPReceived    uint64
	// LastPacket is when the last valid RTP packet arrived (zero: none);
	// the SIP layer may end a call whose media stopped.
	LastPacket time.Time
	// RFactor and MOS are the E-model estimate (ITU-T G.107, simplified):
	// R = 93.2 − Id − Ie,eff with Ie,eff from codec Ie/Bpl and the loss
	// (lost + late), Id from the one-way delay (RTT/2 + jitter buffer +
	// packet time).
	RFactor float64
	MOS     float64
}

// Stats returns the current quality figures.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jb.st
	out := Stats{
		Codec:           s.neg.Codec,
		PacketsSent:     s.sentPkts,
		OctetsSent:      s.sentBytes,
		PacketsReceived: st.received,
		Lost:            st.lost(),
		Late:            st.late,
		Duplicates:      st.duplicates,
		Invalid:         s.badPackets + st.discarded,
		Concealed:       st.concealed,
		Dropped:         st.dropped,
		Inserted:        st.inserted,
		Jitter:          time.Duration(st.jitter * float64(time.Second) / 8000),
		JitterDelay:     time.Duration(s.jb.target) * 10 * time.Millisecond,
		RTT:             s.rtt,
		RemoteLost:      s.remoteLost,
		RemoteJitter:    time.Duration(uint64(s.remoteJit) * uint64(time.Second) / 8000),
		RTCPReceived:    s.rtcpRecv,
		LastPacket:      s.lastRecvAt,
	}
	var lossPct float64
	if exp := float64(st.received) + float64(st.lost()); exp > 0 {
		lossPct = 100 * (float64(st.lost()) + float64(st.late)) / (exp + float64(st.late))
	}
	delay := s.rtt/2 + out.JitterDelay + s.neg.PTime
	out.RFactor, out.MOS = EModel(s.neg.Codec, lossPct, delay)
	return out
}

// EModel returns the R-factor and MOS (ITU-T G.107 simplified, with random
// loss, BurstR = 1) for a codec, a packet loss in percent and a one-way
// mouth-to-ear delay. Ie and Bpl per codec from ITU-T G.113 Appendix I:
// G.711 with packet-loss concealment Ie = 0, Bpl = 25.1. G.722 is scored
// in the narrowband model with the same values (its wideband advantage is
// not represented).
func EModel(c Codec, lossPct float64, delay time.Duration) (r, mos float64) {
	ie, bpl := codecImpairment(c)
	ieEff := ie + (95-ie)*lossPct/(lossPct+bpl)
	d := float64(delay) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	r = 93.2 - id - ieEff
	r = math.Max(0, math.Min(100, r))
	switch {
	case r <= 0:
		mos = 1
	case r >= 100:
		mos = 4.5
	default:
		mos = 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
	}
	return r, mos
}

// codecImpairment returns the equipment impairment Ie and packet-loss
// robustness Bpl of a codec with this package's loss concealment.
func codecImpairment(c Codec) (ie, bpl float64) {
	switch c {
	case PCMU, PCMA:
		return 0, 25.1 // G.113 Appendix I: G.711 with Appendix I PLC, random loss
	case G722:
		// The narrowband E-model has no G.722 entry; scored like G.711 with
		// PLC (its wideband benefit is not represented).
		return 0, 25.1
	}
	return 0, 4.3 // no concealment (G.711 without PLC)
}
