package dsp

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// This file holds test-local signal tools written independently of the
// production code (plain math.Sin, no oscillator recursion, no Goertzel).

// sine is one component for synth: frequency in Hz and level in dBm0
// (full-scale 16-bit sine = +3.14 dBm0).
type sine struct {
	f, dBm0 float64
}

func peakOf(dBm0 float64) float64 { return 32767 * math.Pow(10, (dBm0-3.14)/20) }

// synth returns dur of the sum of the sines at rate, each starting at a
// random phase drawn from r, as float samples.
func synth(r *rand.Rand, rate int, dur time.Duration, comps ...sine) []float64 {
	n := int(dur.Seconds()*float64(rate) + 0.5)
	out := make([]float64, n)
	for _, c := range comps {
		ph := 2 * math.Pi * r.Float64()
		a := peakOf(c.dBm0)
		for i := range out {
			out[i] += a * math.Sin(2*math.Pi*c.f*float64(i)/float64(rate)+ph)
		}
	}
	return out
}

func silence(rate int, dur time.Duration) []float64 {
	return make([]float64, int(dur.Seconds()*float64(rate)+0.5))
}

// addNoise adds white Gaussian noise at dBm0 (RMS of a sine of that level).
func addNoise(r *rand.Rand, x []float64, dBm0 float64) {
	rms := peakOf(dBm0) / math.Sqrt2
	for i := range x {
		x[i] += rms * r.NormFloat64()
	}
}

func toPCM(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(math.Max(-32768, math.Min(32767, math.Round(v))))
	}
	return out
}

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testDTMFFreqs is the Q.23 keypad, written out again for the tests.
var testDTMFFreqs = map[byte][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

const allDigits = "123A456B789C*0#D"

// detectAll feeds pcm to a new detector in 10 ms frames and returns the
// events.
func detectAll(t testing.TB, rate int, opts *DTMFOpts, pcm []int16) []DTMFEvent {
	t.Helper()
	d, err := NewDTMFDetector(rate, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ev []DTMFEvent
	frame := rate / 100
	for len(pcm) > 0 {
		k := min(frame, len(pcm))
		ev = d.Process(pcm[:k], ev)
		pcm = pcm[k:]
	}
	// flush: half a second of silence ends any digit in progress
	ev = d.Process(make([]int16, rate/2), ev)
	return ev
}

// digitsOf returns the digits of the start events and checks every start
// has a matching end.
func digitsOf(t testing.TB, ev []DTMFEvent) string {
	t.Helper()
	var b strings.Builder
	open := byte(0)
	for _, e := range ev {
		if !e.End {
			if open != 0 {
				t.Errorf("digit %q started while %q in progress", e.Digit, open)
			}
			open = e.Digit
			b.WriteByte(e.Digit)
		} else {
			if e.Digit != open {
				t.Errorf("end of %q while %q in progress", e.Digit, open)
			}
			open = 0
		}
	}
	if open != 0 {
		t.Errorf("digit %q never ended", open)
	}
	return b.String()
}

// buildC compiles testdata/<name>.c against spandsp and returns the binary.
func buildC(t testing.TB, name string) string {
	t.Helper()
	gcc := testpeer.Require(t, "gcc")[0]
	testpeer.RequireFile(t, "/usr/include/spandsp/dtmf.h")
	testpeer.RequireFile(t, "/usr/include/spandsp/adsi.h")
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-o", out, filepath.Join("testdata", name+".c"), "-lspandsp", "-lm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return out
}

// writeRaw writes pcm as raw signed 16-bit little-endian to a temp file.
func writeRaw(t testing.TB, pcm []int16) string {
	t.Helper()
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		b[2*i] = byte(v)
		b[2*i+1] = byte(uint16(v) >> 8)
	}
	p := filepath.Join(t.TempDir(), "in.s16")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readRaw reads raw signed 16-bit little-endian samples.
func readRaw(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}
