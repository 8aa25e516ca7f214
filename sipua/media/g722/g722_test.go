package g722

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"basestation/internal/testpeer"
)

// sweep is a 16 kHz test signal: a logarithmic sweep 50 Hz → 7 kHz at
// -6 dBFS, then white noise, then full-scale square bursts (saturation).
func sweep(seconds float64) []int16 {
	n := int(seconds * 16000)
	x := make([]int16, n)
	f0, f1 := 50.0, 7000.0
	T := seconds * 0.6
	phase := 0.0
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		t := float64(i) / 16000
		switch {
		case t < T:
			f := f0 * math.Pow(f1/f0, t/T)
			phase += 2 * math.Pi * f / 16000
			x[i] = int16(16000 * math.Sin(phase))
		case t < T+seconds*0.2:
			x[i] = int16(r.NormFloat64() * 6000)
		default:
			if (i/37)%2 == 0 {
				x[i] = 32767
			} else {
				x[i] = -32768
			}
		}
	}
	return x
}

func writeS16(t *testing.T, path string, x []int16) {
	b := make([]byte, 2*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readS16(t *testing.T, path string) []int16 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]int16, len(b)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return x
}

func harness(t *testing.T) string {
	t.Helper()
	gcc := testpeer.Require(t, "gcc")[0]
	testpeer.RequireFile(t, "/usr/include/spandsp/g722.h")
	bin := filepath.Join(t.TempDir(), "g722ref")
	if b, err := exec.Command(gcc, "-O2", "-Wall", "-o", bin, filepath.Join("testdata", "g722ref.c"), "-lspandsp", "-lm").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return bin
}

// TestBitExactSpandsp encodes the same signal with spandsp and with this
// package and compares every octet; then decodes spandsp's octets (and
// random octets, which reach every code) with both and compares every
// sample.
func TestBitExactSpandsp(t *testing.T) {
	bin := harness(t)
	dir := t.TempDir()
	x := sweep(3)
	writeS16(t, filepath.Join(dir, "in.raw"), x)
	if b, err := exec.Command(bin, "enc", filepath.Join(dir, "in.raw"), filepath.Join(dir, "ref.g722")).CombinedOutput(); err != nil {
		t.Fatalf("harness enc: %v %s", err, b)
	}
	ref, err := os.ReadFile(filepath.Join(dir, "ref.g722"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(x)/2)
	e := NewEncoder()
	for i := 0; i < len(x); i += 320 { // in 20 ms frames, as RTP does
		e.Encode(got[i/2:], x[i:min(i+320, len(x))])
	}
	if len(ref) != len(got) {
		t.Fatalf("spandsp wrote %d octets, we %d", len(ref), len(got))
	}
	for i := range ref {
		if ref[i] != got[i] {
			t.Fatalf("encoder differs from spandsp first at octet %d (sample %d): got %#02x want %#02x", i, 2*i, got[i], ref[i])
		}
	}

	r := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 16000)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	for name, codes := range map[string][]byte{"encoded sweep": ref, "random octets": random} {
		if err := os.WriteFile(filepath.Join(dir, "c.g722"), codes, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(bin, "dec", filepath.Join(dir, "c.g722"), filepath.Join(dir, "out.raw")).CombinedOutput(); err != nil {
			t.Fatalf("harness dec: %v %s", err, b)
		}
		want := readS16(t, filepath.Join(dir, "out.raw"))
		d := NewDecoder()
		d.wrap = true // spandsp 0.0.6 wraps the QMF output; we saturate by default
		sat := NewDecoder()
		out := make([]int16, 2*len(codes))
		satOut := make([]int16, 2*len(codes))
		for i := 0; i < len(codes); i += 160 {
			d.Decode(out[2*i:], codes[i:min(i+160, len(codes))])
			sat.Decode(satOut[2*i:], codes[i:min(i+160, len(codes))])
		}
		for i := range out {
			// The default decoder differs only where the output clips.
			if satOut[i] != out[i] && satOut[i] != 32767 && satOut[i] != -32768 {
				t.Fatalf("%s: saturating decoder differs at sample %d (%d vs %d) without clipping", name, i, satOut[i], out[i])
			}
		}
		if len(want) != len(out) {
			t.Fatalf("%s: spandsp decoded %d samples, we %d", name, len(want), len(out))
		}
		for i := range want {
			if want[i] != out[i] {
				t.Fatalf("%s: decoder differs from spandsp first at sample %d: got %d want %d", name, i, out[i], want[i])
			}
		}
	}
}

// TestSweepSNR round-trips a swept tone (100 Hz → 6.5 kHz) and checks the
// signal-to-noise ratio after aligning for the codec's delay.
func TestSweepSNR(t *testing.T) {
	n := 32000
	x := make([]int16, n)
	phase := 0.0
	for i := range x {
		f := 100 * math.Pow(65, float64(i)/float64(n))
		phase += 2 * math.Pi * f / 16000
		x[i] = int16(12000 * math.Sin(phase))
	}
	codes := make([]byte, n/2)
	NewEncoder().Encode(codes, x)
	y := make([]int16, n)
	NewDecoder().Decode(y, codes)
	// The QMF pair delays by 22 samples; find the best lag near it.
	best, bestLag := -1e9, 0
	for lag := 0; lag < 40; lag++ {
		var sig, noise float64
		for i := 1000; i+lag < n-1000; i++ {
			d := float64(y[i+lag]) - float64(x[i])
			sig += float64(x[i]) * float64(x[i])
			noise += d * d
		}
		if snr := 10 * math.Log10(sig/noise); snr > best {
			best, bestLag = snr, lag
		}
	}
	t.Logf("G.722 round trip SNR %.1f dB at delay %d samples", best, bestLag)
	if bestLag != 22 {
		t.Errorf("codec delay %d samples, want 22 (QMF pair)", bestLag)
	}
	if best < 28 {
		t.Errorf("SNR %.1f dB, want ≥ 28 dB", best)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x00, 0xFF, 0x7F, 0x80})
	f.Add(make([]byte, 160))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder()
		out := make([]int16, 2*len(b))
		if n := d.Decode(out, b); n != 2*len(b) {
			t.Fatalf("decoded %d samples from %d octets", n, len(b))
		}
	})
}

func BenchmarkEncode20ms(b *testing.B) {
	x := sweep(0.02)
	dst := make([]byte, 160)
	e := NewEncoder()
	b.ReportAllocs()
	for b.Loop() {
		e.Encode(dst, x)
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	x := sweep(0.02)
	codes := make([]byte, 160)
	NewEncoder().Encode(codes, x)
	dst := make([]int16, 320)
	d := NewDecoder()
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(dst, codes)
	}
}
