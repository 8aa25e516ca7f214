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

// qualityEvent is the cloud event of a quality report or alert; the
// figures are sipua's in RFC 6035's units, which are the contract's.
func qualityEvent(e sipua.Event) (provisioning.Event, bool) {
	vq := func(m media.Metrics) *provisioning.QualityMetrics {
		q := provisioning.QualityMetrics(m.VQ())
		return &q
	}
	switch e := e.(type) {
	case *sipua.QualityEvent:
		m, v := e.Metrics, e.Metrics.VQ()
		q := &provisioning.CallQuality{CallID: e.CallID, Report: string(e.Report), Codec: m.Codec.String(),
			DurationS: math.Round(m.End.Sub(m.Start).Seconds()), PacketsRx: m.Expected - m.Lost, PacketsLost: m.Lost,
			LossPct: v.NLR, JitterMs: v.IAJ, RTTMs: media.Millis(m.RoundTrip), MOS: m.MOSLQ, Metrics: vq(m)}
		if !e.Remote.At.IsZero() {
			q.Remote = vq(e.Remote.Metrics)
		}
		return provisioning.Event{Type: provisioning.EvCallQuality, Extension: e.Extension, Quality: q}, true
	case *sipua.QualityAlertEvent:
		return provisioning.Event{Type: provisioning.EvCallQualityAlert, Extension: e.Extension, Alert: &provisioning.QualityAlert{
			CallID: e.CallID, Metric: e.Metric, State: e.State, Value: e.Value, Threshold: e.Threshold, Metrics: vq(e.Metrics)}}, true
	}
	return provisioning.Event{}, false
}
