package phone

import "math"

// Signal helpers of the phone's own DSP (independent of fxs/dsp).

const (
	sampleRate = 8000
	frameLen   = 80
	// dBm0 reference: a sine of +3.17 dBm0 reaches the G.711 µ-law peak
	// (32124), so 0 dBm0 is a sine of peak 32124·10^(−3.17/20) ≈ 22 300.
	dbm0Peak = 32124.0 / 1.44046
)

// peakFromDBm0 returns the peak amplitude of a sine at level dBm0.
func peakFromDBm0(dbm0 float64) float64 { return dbm0Peak * math.Pow(10, dbm0/20) }

// dBm0FromPower returns the level of a signal with the given mean square.
func dBm0FromPower(ms float64) float64 {
	if ms <= 0 {
		return -200
	}
	// A 0 dBm0 sine has mean square peak²/2.
	return 10 * math.Log10(ms/(dbm0Peak*dbm0Peak/2))
}

// toneEnergy converts a Goertzel power over n samples to the energy (sum
// of squares) of the sinusoid it measures: A ≈ 2|X|/n, energy n·A²/2.
func toneEnergy(p float64, n int) float64 { return 2 * p / float64(n) }

// DTMF keypad frequencies (ITU-T Q.23, telephony.md §4.1).
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]byte{{'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}}
)

// dtmfFreqs returns the row and column frequency of a key.
func dtmfFreqs(key byte) (row, col float64, ok bool) {
	if key >= 'a' && key <= 'd' {
		key -= 'a' - 'A'
	}
	for r := range dtmfKeys {
		for c := range dtmfKeys[r] {
			if dtmfKeys[r][c] == key {
				return dtmfRows[r], dtmfCols[c], true
			}
		}
	}
	return 0, 0, false
}

// synth appends n samples of the sum of sines (freq, peak) to dst.
func synth(dst []int16, n int, freqs []float64, peaks []float64) []int16 {
	for i := 0; i < n; i++ {
		var v float64
		for k, f := range freqs {
			v += peaks[k] * math.Sin(2*math.Pi*f*float64(i)/sampleRate)
		}
		dst = append(dst, clip16(v))
	}
	return dst
}

func clip16(v float64) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(math.Round(v))
}
