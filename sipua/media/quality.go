package media

import (
	"math"
	"time"
)

// Metrics are the quality figures of a session's reception over a period
// (the whole call, or one report interval), as RFC 3611 §4.7 (VoIP
// Metrics) and RFC 6035 (SIP quality reports) define them. Rates and
// densities are percentages; zero durations are unknown or none.
type Metrics struct {
	Codec Codec
	// Start and End bound the period.
	Start, End time.Time
	// Expected is the RTP packets expected in the period (RFC 3550 A.3);
	// Lost never arrived; Discarded arrived after their playout time.
	Expected, Lost, Discarded uint64
	// LossRate (RFC 6035 NLR) and DiscardRate (JDR), percent of Expected.
	LossRate, DiscardRate float64
	// BurstDensity (BLD) and GapDensity (GLD): percent of the packets in
	// bursts / gaps that were lost or discarded; BurstDuration (BD) and
	// GapDuration (GD) their mean length (RFC 3611 §4.7.2, Gmin 16).
	BurstDensity, GapDensity   float64
	BurstDuration, GapDuration time.Duration
	Gmin                       int
	// RoundTrip (RTD) from RTCP SR/RR LSR and DLSR (0: not measured yet).
	RoundTrip time.Duration
	// EndSystemDelay (ESD): the packet time (accumulation and encoding)
	// + the jitter buffer's nominal delay + one 10 ms playout frame.
	EndSystemDelay time.Duration
	// Jitter (IAJ): the RFC 3550 interarrival jitter averaged over the
	// packets of the period.
	Jitter time.Duration
	// JBNominal (JBN): the adaptive jitter buffer's current target delay;
	// JBMax (JBM) the largest it reached in the call; JBAbsMax (JBX) the
	// largest it may reach (Config.JitterMax).
	JBNominal, JBMax, JBAbsMax time.Duration
	// RFactor (RFC 6035 RCQ, RFC 3611 R factor) is the E-model's
	// conversational R with delay (see EModel). MOSLQ is the listening
	// quality MOS (the E-model without the delay impairment) and MOSCQ
	// the conversational one; both are 0 (not estimated) for G.722, which
	// the narrowband E-model does not score on a MOS scale.
	RFactor      float64
	MOSLQ, MOSCQ float64
	// Signal, noise and residual echo levels are not measured by this
	// session: RFC 3611's "unavailable" (127) on the wire.
}

// QualitySnapshot is a session's reception counters at one moment. The
// Metrics of a period are the difference of two snapshots (Metrics).
type QualitySnapshot struct {
	At       time.Time
	Codec    Codec
	PTime    time.Duration
	expected uint64
	lost     uint64
	late     uint64
	jitSum   float64 // sum of the RFC 3550 jitter (ticks) after each packet
	jitN     uint64
	jitNow   float64 // current jitter, ticks
	bursts   burstCounts
	rtt      time.Duration
	jbTarget time.Duration
	jbPeak   time.Duration
	jbAbsMax time.Duration
}

// qualityState is the session's accounting for Metrics (s.mu held).
type qualityState struct {
	bg     burstGap
	jitSum float64
	jitN   uint64
	jbPeak int // largest target delay, frames
	remote RemoteMetrics
	flush  bool // stream ended: decide the pending window
}

// qualityPacket accounts one packet of the stream after the jitter buffer saw
// it (s.mu held).
func (s *Session) qualityPacket(seq uint16, late bool) {
	q := &s.q
	q.bg.packet(seq, late)
	q.jitSum += s.jb.st.jitter
	q.jitN++
	q.jbPeak = max(q.jbPeak, s.jb.target)
}

// QualitySnapshot returns the reception counters now.
func (s *Session) QualitySnapshot() QualitySnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qualitySnapshotLocked(time.Now())
}

func (s *Session) qualitySnapshotLocked(now time.Time) QualitySnapshot {
	st := &s.jb.st
	q := &s.q
	if q.flush {
		q.bg.flush()
		q.flush = false
	}
	sn := QualitySnapshot{
		At: now, Codec: s.neg.Codec, PTime: s.neg.PTime,
		late: st.late, jitSum: q.jitSum, jitN: q.jitN, jitNow: st.jitter,
		bursts: q.bg.counts(), rtt: s.rtt,
		jbTarget: time.Duration(s.jb.target) * 10 * time.Millisecond,
		jbPeak:   time.Duration(max(q.jbPeak, s.jb.target)) * 10 * time.Millisecond,
		jbAbsMax: time.Duration(s.jb.maxFrames) * 10 * time.Millisecond,
	}
	if st.received > 0 {
		sn.expected = uint64(st.expected())
		sn.lost = uint64(st.lost())
	}
	return sn
}

// Metrics returns the figures of the period from prev to q (prev the zero
// value: since the start of the session).
func (q QualitySnapshot) Metrics(prev QualitySnapshot) Metrics {
	m := Metrics{Codec: q.Codec, Start: prev.At, End: q.At, Gmin: defaultGmin}
	m.Expected = sub0(q.expected, prev.expected)
	m.Lost = sub0(q.lost, prev.lost)
	m.Discarded = sub0(q.late, prev.late)
	if m.Expected > 0 {
		m.LossRate = 100 * float64(m.Lost) / float64(m.Expected)
		m.DiscardRate = 100 * float64(m.Discarded) / float64(m.Expected)
	}
	pt := q.PTime
	if pt <= 0 {
		pt = 20 * time.Millisecond
	}
	f := q.bursts.sub(prev.bursts).figures()
	m.BurstDensity, m.GapDensity = 100*f.burstDensity, 100*f.gapDensity
	m.BurstDuration = time.Duration(f.burstPackets * float64(pt)).Round(time.Millisecond)
	m.GapDuration = time.Duration(f.gapPackets * float64(pt)).Round(time.Millisecond)
	m.RoundTrip = q.rtt
	m.JBNominal, m.JBMax, m.JBAbsMax = q.jbTarget, q.jbPeak, q.jbAbsMax
	m.EndSystemDelay = pt + q.jbTarget + 10*time.Millisecond
	jit := q.jitNow
	if n := q.jitN - prev.jitN; n > 0 && q.jitN > prev.jitN {
		jit = (q.jitSum - prev.jitSum) / float64(n)
	}
	m.Jitter = time.Duration(jit * float64(time.Second) / 8000)
	var ppl float64
	if m.Expected > 0 {
		ppl = 100 * float64(m.Lost+m.Discarded) / float64(m.Expected)
	}
	oneWay := q.rtt/2 + m.EndSystemDelay
	m.RFactor, m.MOSCQ = EModel(q.Codec, ppl, oneWay)
	_, m.MOSLQ = EModel(q.Codec, ppl, 0)
	if q.Codec == G722 {
		m.MOSLQ, m.MOSCQ = 0, 0
	}
	m.RFactor = math.Round(m.RFactor*10) / 10
	m.MOSLQ = math.Round(m.MOSLQ*100) / 100
	m.MOSCQ = math.Round(m.MOSCQ*100) / 100
	return m
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Quality returns the figures of the whole session so far.
func (s *Session) Quality() Metrics {
	return s.QualitySnapshot().Metrics(QualitySnapshot{At: s.start})
}

// VQ are a period's figures as RFC 6035 reports them (the VQSessionReport
// names): rates and densities in percent and the mean jitter in
// milliseconds, to two decimals; durations and delays in whole
// milliseconds (RTD 0: not measured).
type VQ struct {
	NLR, JDR, BLD float64
	BD            int
	GLD           float64
	GD, GMin      int
	RTD, ESD      int
	IAJ           float64
	JBN, JBM, JBX int
	RCQ           float64
	MOSLQ, MOSCQ  float64
}

// VQ returns m in RFC 6035's units.
func (m Metrics) VQ() VQ {
	return VQ{NLR: round2(m.LossRate), JDR: round2(m.DiscardRate), BLD: round2(m.BurstDensity), BD: ms(m.BurstDuration),
		GLD: round2(m.GapDensity), GD: ms(m.GapDuration), GMin: m.Gmin, RTD: ms(m.RoundTrip),
		ESD: ms(m.EndSystemDelay), IAJ: Millis(m.Jitter), JBN: ms(m.JBNominal), JBM: ms(m.JBMax),
		JBX: ms(m.JBAbsMax), RCQ: m.RFactor, MOSLQ: m.MOSLQ, MOSCQ: m.MOSCQ}
}

// Millis is d in milliseconds to two decimals.
func Millis(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func ms(d time.Duration) int   { return int(d.Milliseconds()) }
