package dsp

import (
	"math/rand/v2"
	"testing"
	"time"
)

const ms = time.Millisecond

func dtmfTone(r *rand.Rand, rate int, digit byte, dur time.Duration, rowDev, colDev, rowDB, colDB float64) []float64 {
	f := testDTMFFreqs[digit]
	return synth(r, rate, dur, sine{f[0] * (1 + rowDev), rowDB}, sine{f[1] * (1 + colDev), colDB})
}

// countDigits runs one digit-case per digit through the detector, each
// padded with silence, and returns the detected string.
func runDigits(t *testing.T, rate int, opts *DTMFOpts, mk func(r *rand.Rand, digit byte) []float64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(rate), 7))
	var sig []float64
	for i := 0; i < len(allDigits); i++ {
		// random lead-in so the tone falls anywhere against the blocks
		lead := time.Duration(60+r.IntN(40)) * ms
		sig = concat(sig, silence(rate, lead), mk(r, allDigits[i]), silence(rate, 80*ms))
	}
	return digitsOf(t, detectAll(t, rate, opts, toPCM(sig)))
}

var rates = []int{8000, 16000}

func TestDTMFAllDigitsNominal(t *testing.T) {
	for _, rate := range rates {
		got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
			return dtmfTone(r, rate, d, 100*ms, 0, 0, -10, -10)
		})
		if got != allDigits {
			t.Errorf("%d Hz: got %q want %q", rate, got, allDigits)
		}
	}
}

func TestDTMFFrequencyDeviation(t *testing.T) {
	type dev struct{ row, col float64 }
	accept := []dev{{0.015, 0.015}, {-0.015, -0.015}, {0.015, -0.015}, {-0.015, 0.015}}
	reject := []dev{{0.035, 0}, {-0.035, 0}, {0, 0.035}, {0, -0.035}, {0.035, 0.035}, {-0.035, -0.035}, {0.035, -0.035}, {-0.035, 0.035}}
	for _, rate := range rates {
		for _, dv := range accept {
			got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
				return dtmfTone(r, rate, d, 60*ms, dv.row, dv.col, -10, -10)
			})
			if got != allDigits {
				t.Errorf("%d Hz, deviation %+.1f%%/%+.1f%%: got %q, want all digits", rate, 100*dv.row, 100*dv.col, got)
			}
		}
		for _, dv := range reject {
			got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
				return dtmfTone(r, rate, d, 100*ms, dv.row, dv.col, -10, -10)
			})
			if got != "" {
				t.Errorf("%d Hz, deviation %+.1f%%/%+.1f%%: detected %q, want nothing", rate, 100*dv.row, 100*dv.col, got)
			}
		}
	}
}

func TestDTMFTwist(t *testing.T) {
	cases := []struct {
		name         string
		rowDB, colDB float64
		want         bool
	}{
		{"normal 8 dB", -6, -14, true},
		{"reverse 4 dB", -14, -10, true},
		{"normal 8 dB weak", -26, -34, true},
		{"reverse 4 dB with 1.5% off", -14, -10, true},
		// The limits carry a 1.5 dB measurement allowance (see
		// dtmfTwistAllowance); 4 dB beyond them is never accepted.
		{"normal 12 dB", -4, -16, false},
		{"reverse 8 dB", -18, -10, false},
		{"normal 14 dB", -2, -16, false},
	}
	for _, rate := range rates {
		for _, c := range cases {
			dev := 0.0
			if c.name == "reverse 4 dB with 1.5% off" {
				dev = 0.015
			}
			got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
				return dtmfTone(r, rate, d, 60*ms, dev, -dev, c.rowDB, c.colDB)
			})
			if c.want && got != allDigits {
				t.Errorf("%d Hz %s: got %q, want all digits", rate, c.name, got)
			}
			if !c.want && got != "" {
				t.Errorf("%d Hz %s: detected %q, want nothing", rate, c.name, got)
			}
		}
	}
}

func TestDTMFDurations(t *testing.T) {
	for _, rate := range rates {
		// 40 ms tones with 50 ms pauses, at every alignment against the
		// 12.75 ms blocks (lead-ins step through one block in 1 ms steps).
		r := rand.New(rand.NewPCG(3, 3))
		for lead := 0 * ms; lead < 13*ms; lead += ms {
			sig := silence(rate, lead)
			for i := 0; i < len(allDigits); i++ {
				sig = concat(sig, dtmfTone(r, rate, allDigits[i], 40*ms, 0.01, -0.01, -12, -10), silence(rate, 50*ms))
			}
			if got := digitsOf(t, detectAll(t, rate, nil, toPCM(sig))); got != allDigits {
				t.Errorf("%d Hz, 40 ms on / 50 ms off, lead %v: got %q want %q", rate, lead, got, allDigits)
			}
		}
		for _, short := range []time.Duration{10 * ms, 15 * ms, 20 * ms} {
			for lead := 0 * ms; lead < 13*ms; lead += ms {
				sig := silence(rate, lead)
				for i := 0; i < len(allDigits); i++ {
					sig = concat(sig, dtmfTone(r, rate, allDigits[i], short, 0, 0, -6, -6), silence(rate, 60*ms))
				}
				if got := digitsOf(t, detectAll(t, rate, nil, toPCM(sig))); got != "" {
					t.Errorf("%d Hz, %v tones, lead %v: detected %q, want nothing", rate, short, lead, got)
				}
			}
		}
	}
}

func TestDTMFReportedDuration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, rate := range rates {
		for k, dur := range []time.Duration{45 * ms, 60 * ms, 100 * ms, 250 * ms, 1000 * ms, 45 * ms, 70 * ms, 130 * ms, 40 * ms, 50 * ms, 80 * ms, 90 * ms, 110 * ms} {
			lead := time.Duration(k)*ms + time.Duration(r.IntN(1000))*time.Microsecond // every alignment
			sig := concat(silence(rate, 200*ms+lead), dtmfTone(r, rate, '5', dur, 0, 0, -10, -10), silence(rate, 200*ms))
			ev := detectAll(t, rate, nil, toPCM(sig))
			if len(ev) != 2 || ev[0].End || !ev[1].End || ev[0].Digit != '5' || ev[1].Digit != '5' {
				t.Fatalf("%d Hz %v: events %+v", rate, dur, ev)
			}
			// edges are placed to within half a 12.75 ms block
			if d := ev[1].Duration - dur; d < -13*ms || d > 7*ms {
				t.Errorf("%d Hz: %v tone reported as %v", rate, dur, ev[1].Duration)
			}
			if d := ev[0].At - (200*ms + lead); d < -7*ms || d > 7*ms {
				t.Errorf("%d Hz: tone at %v reported at %v", rate, 200*ms+lead, ev[0].At)
			}
			if ev[1].At != ev[0].At {
				t.Errorf("end event At %v differs from start %v", ev[1].At, ev[0].At)
			}
		}
	}
}

func TestDTMFSingleTonesRejected(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, rate := range rates {
		var sig []float64
		for _, f := range []float64{697, 770, 852, 941, 1209, 1336, 1477, 1633, 350, 440, 480, 620, 1000, 2000} {
			for _, lvl := range []float64{0, -10, -30} {
				sig = concat(sig, synth(r, rate, 300*ms, sine{f, lvl}), silence(rate, 100*ms))
			}
		}
		// two tones of the same group
		sig = concat(sig, synth(r, rate, 300*ms, sine{697, -10}, sine{770, -10}), silence(rate, 100*ms))
		sig = concat(sig, synth(r, rate, 300*ms, sine{1209, -10}, sine{1477, -10}), silence(rate, 100*ms))
		// dial tone and busy tone
		sig = concat(sig, synth(r, rate, 500*ms, sine{350, -13}, sine{440, -13}), synth(r, rate, 500*ms, sine{480, -24}, sine{620, -24}))
		if got := digitsOf(t, detectAll(t, rate, nil, toPCM(sig))); got != "" {
			t.Errorf("%d Hz: detected %q in single tones", rate, got)
		}
	}
}

func TestDTMFNoiseAndLevels(t *testing.T) {
	for _, rate := range rates {
		// white noise alone, loud and soft
		r := rand.New(rand.NewPCG(11, uint64(rate)))
		for _, lvl := range []float64{-10, -30, -50} {
			n := silence(rate, 20*time.Second)
			addNoise(r, n, lvl)
			if got := digitsOf(t, detectAll(t, rate, nil, toPCM(n))); got != "" {
				t.Errorf("%d Hz: noise at %v dBm0 detected as %q", rate, lvl, got)
			}
		}
		// digits 26 dB attenuated from -10 dBm0 with noise 15 dB below the
		// pair (each tone -36 dBm0: pair -33 dBm0, noise -48 dBm0)
		got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
			x := dtmfTone(r, rate, d, 60*ms, 0.01, -0.01, -36, -36)
			addNoise(r, x, -48)
			return x
		})
		if got != allDigits {
			t.Errorf("%d Hz, -36 dBm0 per tone with S/N 15 dB: got %q want %q", rate, got, allDigits)
		}
		// below the -42 dBm0 threshold
		got = runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
			return dtmfTone(r, rate, d, 100*ms, 0, 0, -46, -46)
		})
		if got != "" {
			t.Errorf("%d Hz, -46 dBm0 per tone: detected %q, want nothing", rate, got)
		}
	}
}

func TestDTMFOptions(t *testing.T) {
	for _, o := range []DTMFOpts{{NormalTwist: -1}, {ReverseTwist: 30}, {MinLevel: 3}, {MaxFreqDev: 0.2}} {
		if _, err := NewDTMFDetector(8000, &o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := NewDTMFDetector(11025, nil); err == nil {
		t.Error("11025 Hz accepted")
	}
	// A stricter twist limit rejects what the default accepts.
	got := runDigits(t, 8000, &DTMFOpts{NormalTwist: 4}, func(r *rand.Rand, d byte) []float64 {
		return dtmfTone(r, 8000, d, 60*ms, 0, 0, -6, -12)
	})
	if got != "" {
		t.Errorf("6 dB twist with a 4 dB limit detected %q", got)
	}
}

func TestDTMFOverDialToneEcho(t *testing.T) {
	// The line's own dial tone comes back through the hybrid while the
	// first digit is keyed; 15 dB below the digit it must not mask it, and
	// alone it must not be taken for a digit.
	for _, rate := range rates {
		got := runDigits(t, rate, nil, func(r *rand.Rand, d byte) []float64 {
			x := dtmfTone(r, rate, d, 60*ms, 0, 0, -10, -10)
			echo := synth(r, rate, 60*ms, sine{350, -25}, sine{440, -25})
			for i := range x {
				x[i] += echo[i]
			}
			return x
		})
		if got != allDigits {
			t.Errorf("%d Hz, digits over dial-tone echo at -25 dBm0: got %q", rate, got)
		}
	}
}
