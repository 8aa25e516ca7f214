package dsp

import "math"

// maxSineDBm0 is the level of a full-scale sine in 16-bit linear PCM
// (G.711 convention, as spandsp's DBM0_MAX_SINE_POWER).
const maxSineDBm0 = 3.14

// amplitude returns the peak amplitude, in 16-bit sample units, of a sine at
// level dBm0.
func amplitude(dBm0 float64) float64 {
	return 32767 * math.Pow(10, (dBm0-maxSineDBm0)/20)
}

// osc is a recursive quadrature oscillator: the phasor (re, im) is rotated
// by (cr, ci) each sample and the output is im. Its amplitude is held at 1
// by renorm, which callers run at least every renormEvery samples, so it does
// not drift however long it runs; the frequency is fixed by the rotation and
// the phase is continuous across calls.
type osc struct {
	re, im float64
	cr, ci float64
}

// renormEvery bounds how many samples an oscillator runs between renorm
// calls (the magnitude error grows by about 1e-16 per sample).
const renormEvery = 256

func (o *osc) setFreq(freq float64, rate int) {
	w := 2 * math.Pi * freq / float64(rate)
	o.cr, o.ci = math.Cos(w), math.Sin(w)
}

// reset puts the phase at 0 (the next output sample is sin(w)).
func (o *osc) reset() { o.re, o.im = 1, 0 }

func (o *osc) next() float64 {
	re := o.re*o.cr - o.im*o.ci
	o.im = o.re*o.ci + o.im*o.cr
	o.re = re
	return o.im
}

// renorm pulls the phasor back to unit magnitude (one Newton step of
// 1/sqrt, exact enough for the tiny errors it corrects).
func (o *osc) renorm() {
	g := (3 - (o.re*o.re + o.im*o.im)) / 2
	o.re *= g
	o.im *= g
}

// clip16 rounds v to the nearest int16, saturating.
func clip16(v float64) int16 {
	if v >= 32767 {
		return 32767
	}
	if v <= -32768 {
		return -32768
	}
	if v >= 0 {
		return int16(v + 0.5)
	}
	return int16(v - 0.5)
}
