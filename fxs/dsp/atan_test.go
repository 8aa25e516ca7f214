package dsp

import (
	"math"
	"testing"
)

func TestAtan2Approx(t *testing.T) {
	for i := 0; i < 100000; i++ {
		a := 2 * math.Pi * float64(i) / 100000
		for _, r := range []float64{1e-3, 1, 1e6} {
			y, x := r*math.Sin(a), r*math.Cos(a)
			if d := math.Abs(math.Remainder(atan2(y, x)-math.Atan2(y, x), 2*math.Pi)); d > 3e-4 {
				t.Fatalf("atan2(%v, %v) off by %v", y, x, d)
			}
		}
	}
}
