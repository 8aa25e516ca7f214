package main

import (
	"math"
	"time"
)

// toneSamples is a sine at hz, 8 kHz, about -12 dBFS.
func toneSamples(hz float64, d time.Duration) []int16 {
	n := int(d.Seconds() * 8000)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return out
}

// dominantHz scans 200-3400 Hz in 5 Hz steps with a Goertzel filter over
// the last n samples of x and returns the strongest frequency (0 when the
// audio is silent).
func dominantHz(x []int16, n int) float64 {
	if len(x) > n {
		x = x[len(x)-n:]
	}
	if len(x) < 80 {
		return 0
	}
	best, bestP := 0.0, 0.0
	for f := 200.0; f <= 3400; f += 5 {
		k := 2 * math.Cos(2*math.Pi*f/8000)
		var s1, s2 float64
		for _, v := range x {
			s := float64(v) + k*s1 - s2
			s2, s1 = s1, s
		}
		p := s1*s1 + s2*s2 - k*s1*s2
		if p > bestP {
			best, bestP = f, p
		}
	}
	if bestP < float64(len(x))*float64(len(x))*100 {
		return 0
	}
	return best
}
