package provisioning

import "math"

// Call quality in the contract (docs/mqtt-api.md §3.2 call_quality and
// sip_dscp, §6 call-quality and call-quality-alert): the RFC 6035 metric
// names of a call's reception, measured on the base (RTCP XR VoIP
// Metrics, RFC 3611 §4.7).

// EvCallQualityAlert is the event of a call's quality crossing a
// threshold of system.call_quality (Event.Alert).
const EvCallQualityAlert = "call-quality-alert"

// Reports of a call-quality event (CallQuality.Report).
const (
	QualityInterval = "interval" // every call_quality.interval_s during a call
	QualityEnd      = "end"      // the whole call, when it ends
)

// QualityMetrics are a call's reception figures over a period, named as
// in RFC 6035 (lower case). Rates and densities in percent, durations
// and delays in milliseconds.
type QualityMetrics struct {
	NLR   float64 `json:"nlr"`             // network packet loss rate
	JDR   float64 `json:"jdr"`             // jitter buffer discard rate
	BLD   float64 `json:"bld"`             // burst loss density
	BD    int     `json:"bd"`              // mean burst duration
	GLD   float64 `json:"gld"`             // gap loss density
	GD    int     `json:"gd"`              // mean gap duration
	GMin  int     `json:"gmin"`            // Gmin of the burst/gap split (16)
	RTD   int     `json:"rtd,omitempty"`   // round trip (RTCP); absent: not measured
	ESD   int     `json:"esd"`             // end system delay
	IAJ   float64 `json:"iaj"`             // mean interarrival jitter (RFC 3550)
	JBN   int     `json:"jbn"`             // jitter buffer nominal delay
	JBM   int     `json:"jbm"`             // jitter buffer maximum delay reached
	JBX   int     `json:"jbx"`             // jitter buffer absolute maximum
	RCQ   float64 `json:"rcq,omitempty"`   // R factor (conversational, E-model)
	MOSLQ float64 `json:"moslq,omitempty"` // MOS listening quality; absent for G.722
	MOSCQ float64 `json:"moscq,omitempty"` // MOS conversational quality; absent for G.722
}

// QualityAlert is a call-quality-alert: Metric (an RFC 6035 name: MOSLQ,
// RCQ, NLR, IAJ, RTD) crossed Threshold ("raised") or came back
// ("cleared") in the window checked (Metrics).
type QualityAlert struct {
	CallID    string          `json:"call_id"`
	Metric    string          `json:"metric"`
	State     string          `json:"state"`
	Value     float64         `json:"value"`
	Threshold float64         `json:"threshold"`
	Metrics   *QualityMetrics `json:"metrics,omitempty"`
}

// CallQualitySettings are system.call_quality: the report period and the
// alert thresholds. Absent or 0 means the default.
type CallQualitySettings struct {
	// IntervalS is the period of interval reports (5..3600, default 30);
	// unlike the other fields an explicit 0 switches them off.
	IntervalS *int `json:"interval_s,omitempty"`
	// MinMOSLQ (1..4.5, default 3.5; G.711 calls), MinR (1..100, default
	// 70): alert below. MaxLossPct (0.1..100, default 3; loss heard:
	// network + discards), MaxJitterMs (1..1000, default 40), MaxRTTMs
	// (1..5000, default 400): alert above.
	MinMOSLQ    float64 `json:"min_mos_lq,omitempty"`
	MinR        float64 `json:"min_r,omitempty"`
	MaxLossPct  float64 `json:"max_loss_pct,omitempty"`
	MaxJitterMs int     `json:"max_jitter_ms,omitempty"`
	MaxRTTMs    int     `json:"max_rtt_ms,omitempty"`
}

// Defaults of system.call_quality and system.sip_dscp.
const (
	DefaultQualityIntervalS = 30
	DefaultMinMOSLQ         = 3.5
	DefaultMinR             = 70
	DefaultMaxLossPct       = 3
	DefaultMaxJitterMs      = 40
	DefaultMaxRTTMs         = 400
	DefaultSIPDSCP          = 24 // CS3
)

// QualitySettings returns system.call_quality with the defaults filled
// in (IntervalS never nil).
func (s System) QualitySettings() CallQualitySettings {
	var q CallQualitySettings
	if s.CallQuality != nil {
		q = *s.CallQuality
	}
	iv := DefaultQualityIntervalS
	if q.IntervalS != nil {
		iv = *q.IntervalS
	}
	q.IntervalS = &iv
	if q.MinMOSLQ == 0 {
		q.MinMOSLQ = DefaultMinMOSLQ
	}
	if q.MinR == 0 {
		q.MinR = DefaultMinR
	}
	if q.MaxLossPct == 0 {
		q.MaxLossPct = DefaultMaxLossPct
	}
	if q.MaxJitterMs == 0 {
		q.MaxJitterMs = DefaultMaxJitterMs
	}
	if q.MaxRTTMs == 0 {
		q.MaxRTTMs = DefaultMaxRTTMs
	}
	return q
}

// SIPDSCPValue returns system.sip_dscp, default CS3 (24).
func (s System) SIPDSCPValue() int {
	if s.SIPDSCP == nil {
		return DefaultSIPDSCP
	}
	return *s.SIPDSCP
}

func validateQuality(c *checker, s *System) {
	if s.SIPDSCP != nil && (*s.SIPDSCP < 0 || *s.SIPDSCP > 63) {
		c.add("system.sip_dscp", "%d is out of range (0 to 63; absent means 24, CS3)", *s.SIPDSCP)
	}
	q := s.CallQuality
	if q == nil {
		return
	}
	const p = "system.call_quality."
	if q.IntervalS != nil && *q.IntervalS != 0 && (*q.IntervalS < 5 || *q.IntervalS > 3600) {
		c.add(p+"interval_s", "%d is out of range (5 to 3600, or 0: no interval reports; absent means 30)", *q.IntervalS)
	}
	checkFloat := func(name string, v, lo, hi float64) {
		if v != 0 && (math.IsNaN(v) || v < lo || v > hi) {
			c.add(p+name, "%g is out of range (%g to %g; 0 or absent means the default)", v, lo, hi)
		}
	}
	checkFloat("min_mos_lq", q.MinMOSLQ, 1, 4.5)
	checkFloat("min_r", q.MinR, 1, 100)
	checkFloat("max_loss_pct", q.MaxLossPct, 0.1, 100)
	checkRange(c, p+"max_jitter_ms", q.MaxJitterMs, 1, 1000)
	checkRange(c, p+"max_rtt_ms", q.MaxRTTMs, 1, 5000)
}
