package dsp

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// soxDigit synthesises one DTMF digit with sox (an independent generator):
// row and column sines at the given deviation and dBm0, dur long, followed by
// gap of silence. Returns 8 kHz samples.
func soxDigit(t *testing.T, sox string, digit byte, dur, gap time.Duration, rowDev, colDev, rowDB, colDB float64) []int16 {
	t.Helper()
	f := testDTMFFreqs[digit]
	dir := t.TempDir()
	gen := func(name string, hz, dBm0 float64) string {
		p := filepath.Join(dir, name)
		vol := peakOf(dBm0) / 32768
		args := []string{"-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", p,
			"synth", fmt.Sprintf("%.4f", dur.Seconds()), "sine", fmt.Sprintf("%.3f", hz), "vol", fmt.Sprintf("%.6f", vol),
			"pad", "0", fmt.Sprintf("%.4f", gap.Seconds())}
		if b, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
			t.Fatalf("sox %v: %v\n%s", args, err, b)
		}
		return p
	}
	lo := gen("lo.s16", f[0]*(1+rowDev), rowDB)
	hi := gen("hi.s16", f[1]*(1+colDev), colDB)
	out := filepath.Join(dir, "mix.s16")
	raw := []string{"-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}
	args := append(append(append(append([]string{"-m", "-v", "1"}, raw...), lo, "-v", "1"), raw...), hi)
	args = append(append(args, raw...), out)
	if b, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
		t.Fatalf("sox %v: %v\n%s", args, err, b)
	}
	return readRaw(t, out)
}

func TestDTMFSoxGenerated(t *testing.T) {
	sox := testpeer.Require(t, "sox")[0]
	cases := []struct {
		name           string
		rowDev, colDev float64
		rowDB, colDB   float64
		dur            time.Duration
		want           bool
	}{
		{"nominal 50 ms", 0, 0, -10, -10, 50 * ms, true},
		{"+1.5%", 0.015, 0.015, -10, -10, 60 * ms, true},
		{"-1.5%", -0.015, -0.015, -10, -10, 60 * ms, true},
		{"normal twist 8 dB", 0, 0, -8, -16, 60 * ms, true},
		{"reverse twist 4 dB", 0, 0, -14, -10, 60 * ms, true},
		{"+3.5%", 0.035, 0.035, -10, -10, 100 * ms, false},
		{"-3.5% column", 0, -0.035, -10, -10, 100 * ms, false},
		{"normal twist 12 dB", 0, 0, -4, -16, 100 * ms, false},
		{"reverse twist 8 dB", 0, 0, -18, -10, 100 * ms, false},
		{"20 ms", 0, 0, -6, -6, 20 * ms, false},
	}
	for _, c := range cases {
		var pcm []int16
		for i := 0; i < len(allDigits); i++ {
			pcm = append(pcm, soxDigit(t, sox, allDigits[i], c.dur, 70*ms, c.rowDev, c.colDev, c.rowDB, c.colDB)...)
		}
		got := digitsOf(t, detectAll(t, 8000, nil, pcm))
		want := ""
		if c.want {
			want = allDigits
		}
		if got != want {
			t.Errorf("sox %s: detected %q, want %q", c.name, got, want)
		}
	}
}

// runBounded runs a peer with a time limit and bounded output.
func runBounded(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	s := out.String()
	if len(s) > 1<<16 {
		s = s[:1<<16]
	}
	return s, err
}

// spandspDigits decodes 8 kHz pcm with spandsp dtmf_rx; it returns the
// digits and their durations.
func spandspDigits(t *testing.T, bin string, pcm []int16) (string, []time.Duration) {
	t.Helper()
	out, err := runBounded(t, 30*time.Second, bin, writeRaw(t, pcm))
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("dtmf_rx: %v\n%s", err, out)
		}
	}
	var digits strings.Builder
	var durs []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		a, _ := strconv.Atoi(f[1])
		b, _ := strconv.Atoi(f[2])
		digits.WriteString(f[0])
		durs = append(durs, time.Duration(b-a)*ms)
	}
	return digits.String(), durs
}

func generateDigits(t *testing.T, rate int, digits string, on, off time.Duration) []int16 {
	t.Helper()
	g, err := NewToneGenerator(USPlan(), rate)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	frame := make([]int16, rate/100)
	for i := 0; i < len(digits); i++ {
		if err := g.PlayDTMF(digits[i], on); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < int((on+off)/(10*ms)); n++ {
			g.Fill(frame)
			pcm = append(pcm, frame...)
		}
	}
	return pcm
}

func TestDTMFGeneratorBySpandsp(t *testing.T) {
	bin := buildC(t, "dtmf_rx")
	pcm := generateDigits(t, 8000, allDigits+"0123456789", 60*ms, 60*ms)
	got, durs := spandspDigits(t, bin, pcm)
	if got != allDigits+"0123456789" {
		t.Fatalf("spandsp decoded %q from our DTMF generator", got)
	}
	for i, d := range durs {
		// spandsp reports edges with its 12.75 ms block resolution
		if d < 35*ms || d > 75*ms {
			t.Errorf("digit %d: spandsp measured %v for a 60 ms tone", i, d)
		}
	}
	// the sanity of the harness: silence gives nothing
	if got, _ := spandspDigits(t, bin, make([]int16, 8000)); got != "" {
		t.Errorf("spandsp found %q in silence", got)
	}
}

func TestDTMFGeneratorByMultimon(t *testing.T) {
	bins := testpeer.Require(t, "multimon-ng", "sox")
	for _, rate := range rates {
		pcm := generateDigits(t, rate, allDigits, 70*ms, 70*ms)
		in := writeRaw(t, pcm)
		wav := filepath.Join(t.TempDir(), "d.wav")
		if b, err := exec.Command(bins[1], "-t", "raw", "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", in, "-r", "22050", wav).CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, b)
		}
		out, err := runBounded(t, 30*time.Second, bins[0], "-q", "-a", "DTMF", "-t", "wav", wav)
		if err != nil {
			t.Fatalf("multimon-ng: %v\n%s", err, out)
		}
		var got strings.Builder
		for _, l := range strings.Split(out, "\n") {
			if d, ok := strings.CutPrefix(strings.TrimSpace(l), "DTMF: "); ok {
				got.WriteString(d)
			}
		}
		if got.String() != allDigits {
			t.Errorf("%d Hz: multimon-ng decoded %q from our generator, want %q", rate, got.String(), allDigits)
		}
	}
}

func TestDTMFGeneratorRoundTrip(t *testing.T) {
	for _, rate := range rates {
		pcm := generateDigits(t, rate, allDigits, 50*ms, 50*ms)
		if got := digitsOf(t, detectAll(t, rate, nil, pcm)); got != allDigits {
			t.Errorf("%d Hz: detector decoded %q from the generator", rate, got)
		}
	}
}
