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
	scanStep = 5.0 // guard below Nyquist
	// minSamples is the shortest block analysed (20 ms at 8 kHz).
	minSamples = 160
	// silenceRMS is the level under which a block counts as silence
	// (about -60 dBFS).
	silenceRMS = 23.0
)

// Analyse finds the dominant frequency between 100 and 3900 Hz of samples
// taken at rate Hz: the strongest bin of a Hann-windowed FFT, refined with a
// Goertzel scan at 0.5 Hz steps around it and parabolic interpolation.
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
	// Coarse: the strongest FFT bin in range (zero-padded to a power of
	// two); fine: Goertzel at 0.5 Hz steps within one bin either side, then
	// parabolic interpolation.
	high := math.Min(scanHigh, float64(rate)/2-scanStep)
	size := 1
	for size < n {
		size <<= 1
	}
	re := make([]float64, size)
	im := make([]float64, size)
	copy(re, x)
	fft(re, im)
	binHz := float64(rate) / float64(size)
	best, bestP := -1, 0.0
	for k := int(math.Ceil(scanLow / binHz)); float64(k)*binHz <= high && k < size/2; k++ {
		if p := re[k]*re[k] + im[k]*im[k]; best < 0 || p > bestP {
			best, bestP = k, p
		}
	}
	if best < 0 {
		return a
	}
	const fine = 0.5
	lo := math.Max(scanLow, float64(best-1)*binHz)
	hi := math.Min(high, float64(best+1)*binHz)
	nb := int((hi-lo)/fine) + 1
	pw := make([]float64, nb)
	bi := 0
	for k := range pw {
		pw[k] = goertzelPower(x, lo+float64(k)*fine, float64(rate))
		if pw[k] > pw[bi] {
			bi = k
		}
	}
	f := lo + float64(bi)*fine
	peak := pw[bi]
	if bi > 0 && bi < nb-1 {
		l, c, r := math.Sqrt(pw[bi-1]), math.Sqrt(pw[bi]), math.Sqrt(pw[bi+1])
		if d := l - 2*c + r; d != 0 {
			if delta := 0.5 * (l - r) / d; delta > -1 && delta < 1 {
				f += delta * fine
			}
		}
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

// fft is an in-place iterative radix-2 complex FFT; len(re) must be a power
// of two.
func fft(re, im []float64) {
	n := len(re)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		ang := -2 * math.Pi / float64(size)
		wr, wi := math.Cos(ang), math.Sin(ang)
		for start := 0; start < n; start += size {
			cr, ci := 1.0, 0.0
			for k := 0; k < size/2; k++ {
				a, b := start+k, start+k+size/2
				tr := re[b]*cr - im[b]*ci
				ti := re[b]*ci + im[b]*cr
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
				cr, ci = cr*wr-ci*wi, cr*wi+ci*wr
			}
		}
	}
}
