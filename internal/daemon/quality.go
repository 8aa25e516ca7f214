package daemon

import (
	"math"
	"time"

	"basestation/provisioning"
	"basestation/sipua"
	"basestation/sipua/media"
)

// sipSettings puts the system's SIP settings into the user agent's
// configuration: failback, the signalling class, the quality reports and
// alert thresholds.
func sipSettings(s provisioning.SIPSettings, c *sipua.Config) {
	c.Timing.Failback = s.Failback
	q := s.Quality
	iv := time.Duration(*q.IntervalS) * time.Second
	if *q.IntervalS == 0 {
		iv = -1 // interval reports off
	}
	c.Quality = sipua.QualityConfig{Interval: iv, MinMOSLQ: q.MinMOSLQ, MinR: q.MinR, MaxLossPct: q.MaxLossPct,
		MaxJitter: time.Duration(q.MaxJitterMs) * time.Millisecond, MaxRoundTrip: time.Duration(q.MaxRTTMs) * time.Millisecond}
	c.SIPDSCP = s.DSCP
	if c.SIPDSCP == 0 {
		c.SIPDSCP = -1 // DSCP 0: unmarked
	}
}

func r2(v float64) float64         { return math.Round(v*100) / 100 }
func msOf(d time.Duration) float64 { return r2(float64(d) / float64(time.Millisecond)) }
func msInt(d time.Duration) int    { return int(d.Milliseconds()) }

func qualityMetrics(m media.Metrics) *provisioning.QualityMetrics {
	return &provisioning.QualityMetrics{NLR: r2(m.LossRate), JDR: r2(m.DiscardRate), BLD: r2(m.BurstDensity), BD: msInt(m.BurstDuration),
		GLD: r2(m.GapDensity), GD: msInt(m.GapDuration), GMin: m.Gmin, RTD: msInt(m.RoundTrip),
		ESD: msInt(m.EndSystemDelay), IAJ: msOf(m.Jitter), JBN: msInt(m.JBNominal), JBM: msInt(m.JBMax),
		JBX: msInt(m.JBAbsMax), RCQ: m.RFactor, MOSLQ: m.MOSLQ, MOSCQ: m.MOSCQ}
}

// qualityEvent is the cloud event of a quality report or alert.
func qualityEvent(e sipua.Event) (provisioning.Event, bool) {
	switch e := e.(type) {
	case *sipua.QualityEvent:
		m := e.Metrics
		q := &provisioning.CallQuality{CallID: e.CallID, Report: string(e.Report), Codec: m.Codec.String(),
			DurationS: math.Round(m.End.Sub(m.Start).Seconds()), PacketsRx: m.Expected - m.Lost, PacketsLost: m.Lost,
			LossPct: r2(m.LossRate), JitterMs: msOf(m.Jitter), RTTMs: msOf(m.RoundTrip), MOS: m.MOSLQ, Metrics: qualityMetrics(m)}
		if !e.Remote.At.IsZero() {
			q.Remote = qualityMetrics(e.Remote.Metrics)
		}
		return provisioning.Event{Type: provisioning.EvCallQuality, Extension: e.Extension, Quality: q}, true
	case *sipua.QualityAlertEvent:
		return provisioning.Event{Type: provisioning.EvCallQualityAlert, Extension: e.Extension, Alert: &provisioning.QualityAlert{
			CallID: e.CallID, Metric: e.Metric, State: e.State, Value: e.Value, Threshold: e.Threshold, Metrics: qualityMetrics(e.Metrics)}}, true
	}
	return provisioning.Event{}, false
}
