package media

import "math"

// Analysis is what Analyse finds in a block of samples.
type Analysis struct {
	// Freq is the frequency of the strongest component in Hz (0 when the
	// block is silent or too short).
	Freq float64
	// RMS is the root-mean-square level in linear units (full scale 32768).
	RMS float64
	// DBFS is RMS relative to a full-scale sine (0 dBFS = 23170 RMS).
	DBFS float64
	// Purity is the share (0..1) of the block's power that the strongest
	// component accounts for: near 1 for a clean tone, low for noise or
	// several tones.
	Purity float64
}

// Analysis scan range and step.
const (
	scanLow  = 100.0
	scanHigh = 3900.0
	scanStep = 5.0
	// minSamples is the shortest block analysed (20 ms at 8 kHz).
	minSamples = 160
	// silenceRMS is the level under which a block counts as silence
	// (about -60 dBFS).
	silenceRMS = 23.0
)

// Analyse finds the dominant frequency of samples taken at rate Hz with a
// Hann-windowed Goertzel scan from 100 to 3900 Hz in 5 Hz steps, refined by
// parabolic interpolation between neighbouring bins.
func Analyse(samples []int16, rate int) Analysis {
	n := len(samples)
	if n < minSamples || rate <= 0 {
		return Analysis{}
	}
	x := make([]float64, n)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	mean := sum / float64(n)
	var ms float64
	for i, s := range samples {
		v := float64(s) - mean
		ms += v * v
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		x[i] = v * w
	}
	ms /= float64(n)
	a := Analysis{RMS: math.Sqrt(ms)}
	if a.RMS > 0 {
		a.DBFS = 20 * math.Log10(a.RMS/23170.0)
	} else {
		a.DBFS = math.Inf(-1)
	}
	if a.RMS < silenceRMS {
		return a
	}
	high := math.Min(scanHigh, float64(rate)/2-scanStep)
	nb := int((high-scanLow)/scanStep) + 1
	pw := make([]float64, nb)
	best := 0
	for k := 0; k < nb; k++ {
		pw[k] = goertzelPower(x, scanLow+float64(k)*scanStep, float64(rate))
		if pw[k] > pw[best] {
			best = k
		}
	}
	f := scanLow + float64(best)*scanStep
	peak := pw[best]
	if best > 0 && best < nb-1 {
		l, c, r := math.Sqrt(pw[best-1]), math.Sqrt(pw[best]), math.Sqrt(pw[best+1])
		if d := l - 2*c + r; d != 0 {
			delta := 0.5 * (l - r) / d
			if delta > -1 && delta < 1 {
				f += delta * scanStep
			}
		}
		// Re-measure at the refined frequency for the purity figure.
		peak = math.Max(peak, goertzelPower(x, f, float64(rate)))
	}
	a.Freq = f
	// A sine of amplitude A gives |X| = A*N/4 through a Hann window, and
	// carries power A²/2.
	tone := 8 * peak / (float64(n) * float64(n))
	a.Purity = math.Min(1, tone/ms)
	return a
}

// goertzelPower returns |X(f)|² of x at frequency f.
func goertzelPower(x []float64, f, rate float64) float64 {
	w := 2 * math.Pi * f / rate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// Tone is a sine generator with a continuous phase across frames.
type Tone struct {
	Rate  int
	phase float64
}

// Fill writes the next len(buf) samples of a sine at hz with the given peak
// amplitude (0..32767). hz <= 0 writes silence and resets the phase.
func (t *Tone) Fill(buf []int16, hz float64, amp float64) {
	if hz <= 0 {
		clear(buf)
		t.phase = 0
		return
	}
	step := 2 * math.Pi * hz / float64(t.Rate)
	for i := range buf {
		buf[i] = int16(amp * math.Sin(t.phase))
		t.phase += step
		if t.phase > 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}
