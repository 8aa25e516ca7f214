package dsp

import (
	"math/rand/v2"
	"testing"
)

// TestGoertzel8Implementations checks that goertzel8 (SSE on amd64) and the
// portable Go version give bit-identical states and energies.
func TestGoertzel8Implementations(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	d, _ := NewDTMFDetector(8000, nil)
	for it := range 500 {
		x := make([]int16, r.IntN(120))
		for i := range x {
			x[i] = int16(r.Uint32())
		}
		if it%3 == 0 {
			copy(x, toPCM(dtmfTone(r, 8000, '9', 15*ms, 0, 0, 0, 0)))
		}
		var a1, a2, b1, b2 [8]float32
		for i := range 8 {
			a1[i] = float32(r.NormFloat64() * 1000)
			b1[i] = float32(r.NormFloat64() * 1000)
		}
		a2, b2 = a1, b1
		e1 := goertzel8(x, &d.coef, &a1, &b1)
		e2 := goertzel8Go(x, &d.coef, &a2, &b2)
		if e1 != e2 || a1 != a2 || b1 != b2 {
			t.Fatalf("len %d: goertzel8 %v %v %v, Go %v %v %v", len(x), e1, a1, b1, e2, a2, b2)
		}
	}
}
