package media

import "math"

// halfband is a 2:1 resampler between 8 and 16 kHz: a 31-tap windowed-sinc
// low-pass (cut-off 3.8 kHz) with its own history, so that 10 ms blocks
// join seamlessly.
type halfband struct {
	taps [31]float32
	hist [31]float32
	pos  int
}

func newHalfband() *halfband {
	h := &halfband{}
	const n = len(h.taps)
	fc := 3800.0 / 16000.0
	var sum float64
	for i := range n {
		m := float64(i - (n-1)/2)
		var v float64
		if m == 0 {
			v = 2 * fc
		} else {
			v = math.Sin(2*math.Pi*fc*m) / (math.Pi * m)
		}
		w := 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		h.taps[i] = float32(v * w)
		sum += v * w
	}
	for i := range h.taps {
		h.taps[i] = float32(float64(h.taps[i]) / sum)
	}
	return h
}

func (h *halfband) step(x float32) float32 {
	h.hist[h.pos] = x
	var acc float32
	j := h.pos
	for _, t := range h.taps {
		acc += t * h.hist[j]
		j--
		if j < 0 {
			j = len(h.hist) - 1
		}
	}
	h.pos++
	if h.pos == len(h.hist) {
		h.pos = 0
	}
	return acc
}

func sat16(v float32) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// up writes 2*len(src) samples at 16 kHz into dst.
func (h *halfband) up(dst, src []int16) {
	for i, s := range src {
		dst[2*i] = sat16(2 * h.step(float32(s)))
		dst[2*i+1] = sat16(2 * h.step(0))
	}
}

// down writes len(src)/2 samples at 8 kHz into dst.
func (h *halfband) down(dst, src []int16) {
	for i := 0; i+1 < len(src); i += 2 {
		h.step(float32(src[i]))
		dst[i/2] = sat16(h.step(float32(src[i+1])))
	}
}
