package phone

import (
	"math"
	"testing"
	"time"
)

// goertzelPower is the power of frequency f in x (8 kHz).
func goertzelPower(x []int16, f float64) float64 {
	k := 2 * math.Cos(2*math.Pi*f/sampleRate)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + k*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - k*s1*s2
}

func TestDTMFSamplesLevelsAndOffset(t *testing.T) {
	c := DTMFConfig{On: 100 * time.Millisecond, Off: 50 * time.Millisecond, LowDBm0: -10, HighDBm0: -4, FreqOffset: 0.02}
	s, err := DTMFSamples("5", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1200 {
		t.Fatalf("%d samples, want 800 tone + 400 gap", len(s))
	}
	tone := s[:800]
	// 5 is 770 + 1336 Hz; 2 % up.
	lo, hi := goertzelPower(tone, 770*1.02), goertzelPower(tone, 1336*1.02)
	if off := goertzelPower(tone, 770); off > lo/4 {
		t.Errorf("nominal 770 Hz as strong as the offset tone: %g vs %g", off, lo)
	}
	// The high group is 6 dB above the low: amplitude ×2, power ×4.
	if r := hi / lo; r < 3 || r > 5.3 {
		t.Errorf("twist: power ratio %.2f, want ≈ 4", r)
	}
	for _, v := range s[800:] {
		if v != 0 {
			t.Fatal("gap not silent")
		}
	}
	for _, bad := range []DTMFConfig{
		{On: time.Millisecond, Off: 50 * time.Millisecond, LowDBm0: -8, HighDBm0: -6},
		{On: 50 * time.Millisecond, LowDBm0: -80, HighDBm0: -6},
		{On: 50 * time.Millisecond, LowDBm0: -8, HighDBm0: -6, FreqOffset: 0.2},
	} {
		if _, err := DTMFSamples("1", bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := DTMFSamples("1x", c); err == nil {
		t.Error("digit x accepted")
	}
}

func TestRotaryTiming(t *testing.T) {
	for _, tc := range []struct {
		pps, pct  float64
		brk, make time.Duration
	}{{10, 60, 60 * time.Millisecond, 40 * time.Millisecond}, {8, 60, 75 * time.Millisecond, 50 * time.Millisecond}, {20, 50, 25 * time.Millisecond, 25 * time.Millisecond}} {
		b, m, err := RotaryTiming(tc.pps, tc.pct)
		if err != nil || b != tc.brk || m != tc.make {
			t.Errorf("%v pps %v %%: %v/%v %v", tc.pps, tc.pct, b, m, err)
		}
	}
	for _, bad := range [][2]float64{{2, 60}, {40, 60}, {10, 10}, {10, 95}, {math.NaN(), 60}} {
		if _, _, err := RotaryTiming(bad[0], bad[1]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
