package media

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/pion/rtcp"
)

// RTCP XR VoIP Metrics (RFC 3611 §4.7), built and read with pion/rtcp's
// ExtendedReport:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     BT=7      |   reserved    |       block length = 8        |
//	|                        SSRC of source                         |
//	|   loss rate   | discard rate  | burst density |  gap density  |
//	|       burst duration          |         gap duration          |
//	|     round trip delay          |       end system delay        |
//	| signal level  |  noise level  |     RERL      |     Gmin      |
//	|   R factor    | ext. R factor |    MOS-LQ     |    MOS-CQ     |
//	|   RX config   |   reserved    |          JB nominal           |
//	|          JB maximum           |          JB abs max           |
//
// Rates and densities are fractions ×256, durations and delays ms, MOS
// ×10 (10..50), R 0..100; 127 is "unavailable" in the level, R and MOS
// octets. The session sends one block about the stream it receives with
// every RTCP report, and keeps the last block the peer sent about ours.

// ErrInvalidXR is wrapped by the errors of DecodeVoIPMetrics.
var ErrInvalidXR = errors.New("media: invalid RTCP XR VoIP metrics")

const xrUnavailable = 127

// RX config (RFC 3611 §4.7.6): PLC enhanced (G.711 Appendix I), jitter
// buffer adaptive, adjustment rate unspecified.
const (
	rxPLCEnhanced  = 3 << 6
	rxJBAdaptive   = 3 << 4
	rxConfigOurOwn = rxPLCEnhanced | rxJBAdaptive
)

// RemoteMetrics are the figures the far end reported about the stream we
// send (its RTCP XR VoIP Metrics block), with when they arrived.
type RemoteMetrics struct {
	At      time.Time // zero: none received
	Sender  uint32    // the reporter's SSRC
	Metrics Metrics
}

// RemoteQuality returns the last VoIP Metrics the peer reported about our
// stream (At zero: none yet).
func (s *Session) RemoteQuality() RemoteMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q.remote
}

// VoIPMetricsBlock encodes m as an RFC 3611 VoIP Metrics block about the
// source ssrc.
func (m Metrics) VoIPMetricsBlock(ssrc uint32) *rtcp.VoIPMetricsReportBlock {
	b := &rtcp.VoIPMetricsReportBlock{
		SSRC:           ssrc,
		LossRate:       frac256(m.LossRate),
		DiscardRate:    frac256(m.DiscardRate),
		BurstDensity:   frac256(m.BurstDensity),
		GapDensity:     frac256(m.GapDensity),
		BurstDuration:  ms16(m.BurstDuration),
		GapDuration:    ms16(m.GapDuration),
		RoundTripDelay: ms16(m.RoundTrip),
		EndSystemDelay: ms16(m.EndSystemDelay),
		SignalLevel:    xrUnavailable,
		NoiseLevel:     xrUnavailable,
		RERL:           xrUnavailable,
		Gmin:           uint8(max(1, min(255, m.Gmin))),
		RFactor:        xrUnavailable,
		ExtRFactor:     xrUnavailable,
		MOSLQ:          mos10(m.MOSLQ),
		MOSCQ:          mos10(m.MOSCQ),
		RXConfig:       rxConfigOurOwn,
		JBNominal:      ms16(m.JBNominal),
		JBMaximum:      ms16(m.JBMax),
		JBAbsMax:       ms16(m.JBAbsMax),
	}
	if m.Expected > 0 {
		b.RFactor = uint8(math.Round(max(0, min(100, m.RFactor))))
	}
	return b
}

// frac256 turns a percentage into RFC 3611's fraction ×256 (saturating at
// 255).
func frac256(pct float64) uint8 {
	return uint8(max(0, min(255, math.Floor(pct*256/100))))
}

func ms16(d time.Duration) uint16 {
	return uint16(max(0, min(65535, d.Milliseconds())))
}

func mos10(m float64) uint8 {
	if m < 1 {
		return xrUnavailable
	}
	return uint8(max(10, min(50, math.Round(m*10))))
}

// DecodeVoIPMetrics reads a VoIP Metrics block into Metrics (Expected and
// the packet counts, which the block does not carry, stay zero; values
// "unavailable" are zero). A value outside its range is an error naming
// the field.
func DecodeVoIPMetrics(b *rtcp.VoIPMetricsReportBlock) (Metrics, error) {
	var errs []error
	bad := func(field string, v int, want string) {
		errs = append(errs, fmt.Errorf("%w: %s %d (want %s)", ErrInvalidXR, field, v, want))
	}
	if b.XRHeader.BlockLength != 0 && b.XRHeader.BlockLength != 8 {
		bad("block length", int(b.XRHeader.BlockLength), "8")
	}
	if b.Gmin == 0 {
		bad("Gmin", 0, "1..255")
	}
	for _, f := range []struct {
		name string
		v    uint8
	}{{"R factor", b.RFactor}, {"ext. R factor", b.ExtRFactor}} {
		if f.v > 100 && f.v != xrUnavailable {
			bad(f.name, int(f.v), "0..100 or 127")
		}
	}
	for _, f := range []struct {
		name string
		v    uint8
	}{{"MOS-LQ", b.MOSLQ}, {"MOS-CQ", b.MOSCQ}} {
		if (f.v < 10 || f.v > 50) && f.v != xrUnavailable {
			bad(f.name, int(f.v), "10..50 or 127")
		}
	}
	if jba := b.RXConfig >> 4 & 3; jba == 1 { // 01 is reserved (§4.7.6)
		bad("RX config JBA", int(jba), "0, 2 or 3")
	}
	if b.JBNominal > b.JBAbsMax && b.JBAbsMax != 0 {
		bad("JB nominal", int(b.JBNominal), fmt.Sprintf("≤ JB abs max %d", b.JBAbsMax))
	}
	if err := errors.Join(errs...); err != nil {
		return Metrics{}, err
	}
	ms := func(v uint16) time.Duration { return time.Duration(v) * time.Millisecond }
	m := Metrics{
		LossRate:       100 * float64(b.LossRate) / 256,
		DiscardRate:    100 * float64(b.DiscardRate) / 256,
		BurstDensity:   100 * float64(b.BurstDensity) / 256,
		GapDensity:     100 * float64(b.GapDensity) / 256,
		BurstDuration:  ms(b.BurstDuration),
		GapDuration:    ms(b.GapDuration),
		Gmin:           int(b.Gmin),
		RoundTrip:      ms(b.RoundTripDelay),
		EndSystemDelay: ms(b.EndSystemDelay),
		JBNominal:      ms(b.JBNominal),
		JBMax:          ms(b.JBMaximum),
		JBAbsMax:       ms(b.JBAbsMax),
	}
	if b.RFactor != xrUnavailable {
		m.RFactor = float64(b.RFactor)
	}
	if b.MOSLQ != xrUnavailable {
		m.MOSLQ = float64(b.MOSLQ) / 10
	}
	if b.MOSCQ != xrUnavailable {
		m.MOSCQ = float64(b.MOSCQ) / 10
	}
	return m, nil
}

// VoIPReport is one VoIP Metrics block found in an RTCP packet.
type VoIPReport struct {
	Sender  uint32 // SSRC of the XR packet's sender
	Source  uint32 // SSRC of the stream the block is about
	Metrics Metrics
}

// ParseVoIPMetrics decodes a (compound, unencrypted) RTCP packet with
// pion/rtcp and returns its VoIP Metrics blocks, checked by
// DecodeVoIPMetrics.
func ParseVoIPMetrics(b []byte) ([]VoIPReport, error) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: rtcp: %w", ErrInvalidXR, err)
	}
	var out []VoIPReport
	for _, p := range pkts {
		xr, ok := p.(*rtcp.ExtendedReport)
		if !ok {
			continue
		}
		for _, blk := range xr.Reports {
			v, ok := blk.(*rtcp.VoIPMetricsReportBlock)
			if !ok {
				continue
			}
			m, err := DecodeVoIPMetrics(v)
			if err != nil {
				return out, err
			}
			out = append(out, VoIPReport{Sender: xr.SenderSSRC, Source: v.SSRC, Metrics: m})
		}
	}
	return out, nil
}

// xrPacketLocked is the XR packet of the next RTCP report: our VoIP
// Metrics about the stream we receive (s.mu held; nil before any packet).
func (s *Session) xrPacketLocked(now time.Time) rtcp.Packet {
	if !s.haveRemote {
		return nil
	}
	m := s.qualitySnapshotLocked(now).Metrics(QualitySnapshot{At: s.start})
	return &rtcp.ExtendedReport{SenderSSRC: s.ssrc, Reports: []rtcp.ReportBlock{m.VoIPMetricsBlock(s.remoteSSRC)}}
}

// handleXRLocked keeps the peer's VoIP Metrics about our stream (s.mu
// held). A block that does not decode counts as an invalid packet.
func (s *Session) handleXRLocked(x *rtcp.ExtendedReport, now time.Time) {
	for _, blk := range x.Reports {
		v, ok := blk.(*rtcp.VoIPMetricsReportBlock)
		if !ok || v.SSRC != s.ssrc {
			continue
		}
		m, err := DecodeVoIPMetrics(v)
		if err != nil {
			s.badPackets++
			continue
		}
		m.Codec = s.neg.Codec
		s.q.remote = RemoteMetrics{At: now, Sender: x.SenderSSRC, Metrics: m}
	}
}
