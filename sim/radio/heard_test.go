package radio

import (
	"math"
	"testing"
)

func TestCrossingsHz(t *testing.T) {
	for _, tc := range []struct {
		rate int
		hz   float64
	}{{8000, 1000}, {8000, 440}, {16000, 1700}, {16000, 6000}} {
		x := make([]int16, tc.rate/5)
		for i := range x {
			x[i] = int16(8000 * math.Sin(2*math.Pi*tc.hz*float64(i)/float64(tc.rate)+0.3))
		}
		if got := crossingsHz(x, tc.rate); math.Abs(got-tc.hz) > tc.hz*0.01 {
			t.Errorf("%v Hz at %d: estimated %v", tc.hz, tc.rate, got)
		}
	}
	if got := crossingsHz(make([]int16, 1600), 8000); got != 0 {
		t.Errorf("silence: %v Hz", got)
	}
	if got := crossingsHz(nil, 0); got != 0 {
		t.Errorf("nothing: %v Hz", got)
	}
}
