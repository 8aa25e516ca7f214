package media

import (
	"testing"
	"time"
)

// RFC 6035's units: percent and jitter to two decimals, delays in whole
// milliseconds.
func TestMetricsVQ(t *testing.T) {
	m := Metrics{LossRate: 1.23456, DiscardRate: 0.005, BurstDensity: 50, GapDensity: 0.333,
		BurstDuration: 40 * time.Millisecond, GapDuration: 1500*time.Millisecond + 700*time.Microsecond, Gmin: 16,
		RoundTrip: 81*time.Millisecond + 900*time.Microsecond, EndSystemDelay: 70 * time.Millisecond,
		Jitter: 4567 * time.Microsecond, JBNominal: 40 * time.Millisecond, JBMax: 60 * time.Millisecond,
		JBAbsMax: 200 * time.Millisecond, RFactor: 92.3, MOSLQ: 4.41, MOSCQ: 4.35}
	want := VQ{NLR: 1.23, JDR: 0.01, BLD: 50, BD: 40, GLD: 0.33, GD: 1500, GMin: 16, RTD: 81, ESD: 70,
		IAJ: 4.57, JBN: 40, JBM: 60, JBX: 200, RCQ: 92.3, MOSLQ: 4.41, MOSCQ: 4.35}
	if got := m.VQ(); got != want {
		t.Errorf("VQ\n got %+v\nwant %+v", got, want)
	}
	if got := Millis(81*time.Millisecond + 905*time.Microsecond); got != 81.91 {
		t.Errorf("Millis: %v", got)
	}
}
