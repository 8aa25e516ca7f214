package sipua

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"basestation/sipua/media"
)

// QualityConfig sets the call-quality reports and alerts. Zero fields take
// the defaults in brackets; a negative threshold is never crossed.
type QualityConfig struct {
	// Interval is the period of the interval reports during a call
	// [30s]; negative: no interval reports (the end-of-call report is
	// always sent).
	Interval time.Duration
	// Window is how often, and over how long a window, the thresholds
	// are checked during a call [5s, or Interval when shorter].
	Window time.Duration
	// MinMOSLQ alerts when a window's MOS-LQ falls below it [3.5]; G.711
	// calls only (G.722 has no MOS-LQ: MinR applies).
	MinMOSLQ float64
	// MinR alerts when a window's R factor falls below it [70].
	MinR float64
	// MaxLossPct alerts when a window's packet loss heard (network loss
	// + jitter-buffer discards, percent) rises above it [3].
	MaxLossPct float64
	// MaxJitter alerts when a window's mean interarrival jitter rises
	// above it [40ms].
	MaxJitter time.Duration
	// MaxRoundTrip alerts when the RTCP round trip rises above it [400ms].
	MaxRoundTrip time.Duration
}

// Quality defaults.
const (
	DefaultQualityInterval = 30 * time.Second
	DefaultQualityWindow   = 5 * time.Second
	DefaultMinMOSLQ        = 3.5
	DefaultMinR            = 70
	DefaultMaxLossPct      = 3
	DefaultMaxJitter       = 40 * time.Millisecond
	DefaultMaxRoundTrip    = 400 * time.Millisecond
)

func (q QualityConfig) withDefaults() QualityConfig {
	if q.Interval == 0 {
		q.Interval = DefaultQualityInterval
	}
	if q.Window <= 0 {
		q.Window = DefaultQualityWindow
		if q.Interval > 0 && q.Interval < q.Window {
			q.Window = q.Interval
		}
	}
	f := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	f(&q.MinMOSLQ, DefaultMinMOSLQ)
	f(&q.MinR, DefaultMinR)
	f(&q.MaxLossPct, DefaultMaxLossPct)
	if q.MaxJitter == 0 {
		q.MaxJitter = DefaultMaxJitter
	}
	if q.MaxRoundTrip == 0 {
		q.MaxRoundTrip = DefaultMaxRoundTrip
	}
	return q
}

// validate names every field out of range.
func (q QualityConfig) validate() error {
	var errs []error
	if q.Interval > 0 && q.Interval < time.Second {
		errs = append(errs, fmt.Errorf("quality interval %v: must be at least 1s (or negative: off)", q.Interval))
	}
	if q.Window < 0 || (q.Window > 0 && q.Window < time.Second) {
		errs = append(errs, fmt.Errorf("quality window %v: must be at least 1s", q.Window))
	}
	if d := q.withDefaults(); d.Interval > 0 && d.Window > d.Interval {
		errs = append(errs, fmt.Errorf("quality window %v: longer than the interval %v", d.Window, d.Interval))
	}
	if q.MinMOSLQ > 4.5 || math.IsNaN(q.MinMOSLQ) {
		errs = append(errs, fmt.Errorf("quality min MOS-LQ %v: must be at most 4.5", q.MinMOSLQ))
	}
	if q.MinR > 100 || math.IsNaN(q.MinR) {
		errs = append(errs, fmt.Errorf("quality min R %v: must be at most 100", q.MinR))
	}
	if q.MaxLossPct > 100 || math.IsNaN(q.MaxLossPct) {
		errs = append(errs, fmt.Errorf("quality max loss %v %%: must be at most 100", q.MaxLossPct))
	}
	return errors.Join(errs...)
}

// QualityReport says which report a QualityEvent is.
type QualityReport string

const (
	QualityInterval QualityReport = "interval" // during the call, every QualityConfig.Interval
	QualityEnd      QualityReport = "end"      // the whole call, when it ends
)

// QualityAlertEvent reports a quality figure of a call crossing its
// threshold (State "raised") and coming back (State "cleared"), checked
// every QualityConfig.Window over that window. A metric is raised once
// until it has cleared.
type QualityAlertEvent struct {
	Extension string
	CallID    string
	// Metric is the RFC 6035 name of the figure: "MOSLQ", "RCQ", "NLR"
	// (here network loss + discards, percent), "IAJ" (ms) or "RTD" (ms).
	Metric    string
	State     string // "raised" or "cleared"
	Value     float64
	Threshold float64
	Metrics   media.Metrics // the window checked
	Time      time.Time
}

func (*QualityAlertEvent) event() {}

// alertMetric is one threshold check.
type alertMetric struct {
	name  string
	value func(m media.Metrics) (v float64, ok bool)
	limit float64
	below bool // alert when the value falls below the limit (else rises above)
}

// qualityMonitor turns a call's media snapshots into interval reports
// and alerts. It is driven by the media session's goroutine (OnQuality)
// and holds no clock of its own.
type qualityMonitor struct {
	u           *UA
	ext, callID string
	cfg         QualityConfig
	checks      []alertMetric

	mu         sync.Mutex
	lastReport media.QualitySnapshot
	lastCheck  media.QualitySnapshot
	nextReport time.Time
	raised     map[string]bool
}

func newQualityMonitor(u *UA, ext, callID string, cfg QualityConfig) *qualityMonitor {
	cfg = cfg.withDefaults()
	m := &qualityMonitor{u: u, ext: ext, callID: callID, cfg: cfg, raised: map[string]bool{}}
	heard := func(x media.Metrics) (float64, bool) { return x.LossRate + x.DiscardRate, x.Expected > 0 }
	m.checks = []alertMetric{
		{name: "MOSLQ", limit: cfg.MinMOSLQ, below: true, value: func(x media.Metrics) (float64, bool) {
			return x.MOSLQ, x.Expected > 0 && x.MOSLQ > 0
		}},
		{name: "RCQ", limit: cfg.MinR, below: true, value: func(x media.Metrics) (float64, bool) { return x.RFactor, x.Expected > 0 }},
		{name: "NLR", limit: cfg.MaxLossPct, value: heard},
		{name: "IAJ", limit: ms(cfg.MaxJitter), value: func(x media.Metrics) (float64, bool) { return ms(x.Jitter), x.Expected > 0 }},
		{name: "RTD", limit: ms(cfg.MaxRoundTrip), value: func(x media.Metrics) (float64, bool) { return ms(x.RoundTrip), x.RoundTrip > 0 }},
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// begin marks the start of the call's media (its counters are zero).
func (m *qualityMonitor) begin(at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastReport = media.QualitySnapshot{At: at}
	m.lastCheck = m.lastReport
	m.nextReport = at.Add(m.cfg.Interval)
}

// observe is called every Window with the session's counters: it checks
// the thresholds on the window since the last check and emits an
// interval report when one is due.
func (m *qualityMonitor) observe(sn media.QualitySnapshot) {
	m.mu.Lock()
	window := sn.Metrics(m.lastCheck)
	m.lastCheck = sn
	events := m.judgeLocked(window, sn.At)
	// Reports keep their schedule (start + k·Interval) within half a
	// check window, however the checks drift.
	if m.cfg.Interval > 0 && !sn.At.Before(m.nextReport.Add(-m.cfg.Window/2)) {
		events = append(events, &QualityEvent{Extension: m.ext, CallID: m.callID, Report: QualityInterval,
			Metrics: sn.Metrics(m.lastReport), Time: sn.At})
		m.lastReport = sn
		m.nextReport = m.nextReport.Add(m.cfg.Interval)
		if !m.nextReport.After(sn.At) {
			m.nextReport = sn.At.Add(m.cfg.Interval)
		}
	}
	m.mu.Unlock()
	for _, e := range events {
		m.u.emit(e)
	}
}

// judgeLocked checks a window's figures against the thresholds: an alert
// is raised when a figure crosses its threshold and cleared when a later
// window is back on the good side (m.mu held). A window without packets
// (hold, media stopped) checks only the round trip.
func (m *qualityMonitor) judgeLocked(window media.Metrics, at time.Time) []Event {
	var events []Event
	for _, c := range m.checks {
		if c.limit < 0 {
			continue
		}
		v, ok := c.value(window)
		if !ok {
			continue
		}
		bad := v > c.limit
		if c.below {
			bad = v < c.limit
		}
		switch {
		case bad && !m.raised[c.name]:
			m.raised[c.name] = true
			events = append(events, m.alert(c, "raised", v, window, at))
		case !bad && m.raised[c.name]:
			delete(m.raised, c.name)
			events = append(events, m.alert(c, "cleared", v, window, at))
		}
	}
	return events
}

func (m *qualityMonitor) alert(c alertMetric, state string, v float64, w media.Metrics, at time.Time) *QualityAlertEvent {
	return &QualityAlertEvent{Extension: m.ext, CallID: m.callID, Metric: c.name, State: state,
		Value: math.Round(v*100) / 100, Threshold: c.limit, Metrics: w, Time: at}
}

// endReport is the end-of-call QualityEvent of a call's media, after it
// stopped: the whole call's Metrics, the far end's last XR report and the
// session's summary.
func (m *mediaSess) endReport(sum QualitySummary) *QualityEvent {
	return &QualityEvent{Extension: m.mon.ext, CallID: m.mon.callID, Report: QualityEnd, Summary: sum,
		Metrics: m.s.Quality(), Remote: m.s.RemoteQuality(), Time: time.Now()}
}
