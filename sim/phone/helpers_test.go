package phone

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/slic"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeLine records hook-switch changes; the test feeds audio directly.
type fakeLine struct {
	mu    sync.Mutex
	t     slic.Terminal
	loops []loopChange
}

type loopChange struct {
	closed bool
	at     time.Time
}

func (l *fakeLine) Attach(t slic.Terminal) { l.t = t }
func (l *fakeLine) SetLoop(closed bool) {
	l.mu.Lock()
	l.loops = append(l.loops, loopChange{closed, time.Now()})
	l.mu.Unlock()
}

// feed plays samples to the phone frame by frame at the frame clock (call
// inside a synctest bubble) and returns what the phone sent back.
func feed(p *Phone, samples []int16) []int16 {
	var mic []int16
	for off := 0; off < len(samples); off += frameLen {
		var in, out [frameLen]int16
		copy(in[:], samples[off:])
		time.Sleep(10 * time.Millisecond)
		p.Audio(in[:], out[:])
		mic = append(mic, out[:]...)
	}
	return mic
}

func silence(d time.Duration) []int16 { return make([]int16, int(d.Seconds()*sampleRate)) }

func s16le(x []int16) []byte {
	b := make([]byte, 2*len(x))
	for i, s := range x {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

func fromS16le(b []byte) []int16 {
	x := make([]int16, len(b)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return x
}

// run runs a peer with a bounded time and returns stdout.
func run(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes(), err
}

// buildC compiles a spandsp harness from testdata.
func buildC(t *testing.T, name string) string {
	t.Helper()
	gcc := testpeer.Require(t, "gcc")[0]
	testpeer.RequireFile(t, "/usr/include/spandsp/adsi.h")
	src, err := filepath.Abs(filepath.Join("testdata", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-o", bin, src, "-lspandsp", "-lm").CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}

// tonePart is a piece of a sox-generated signal.
type tonePart struct {
	freqs []float64
	dur   float64 // seconds
	vol   float64 // per-frequency amplitude, fraction of full scale
}

// soxSignal builds parts with sox (tones mixed with -m) and returns the
// 8 kHz samples, repeated n times.
func soxSignal(t *testing.T, n int, parts ...tonePart) []int16 {
	t.Helper()
	sox := testpeer.Require(t, "sox")[0]
	dir := t.TempDir()
	fmtArgs := []string{"-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}
	var files []string
	for i, p := range parts {
		out := filepath.Join(dir, fmt.Sprintf("p%d.wav", i))
		var args []string
		switch len(p.freqs) {
		case 0:
			args = append(append([]string{"-n"}, fmtArgs...), out, "trim", "0", fmt.Sprint(p.dur))
		default:
			var comps []string
			for k, f := range p.freqs {
				c := filepath.Join(dir, fmt.Sprintf("p%d_%d.wav", i, k))
				a := append(append([]string{"-n"}, fmtArgs...), c, "synth", fmt.Sprint(p.dur), "sine", fmt.Sprint(f), "vol", fmt.Sprint(p.vol))
				if o, err := exec.Command(sox, a...).CombinedOutput(); err != nil {
					t.Fatalf("sox %v: %v %s", a, err, o)
				}
				comps = append(comps, "-v", "1", c)
			}
			if len(comps) == 3 {
				args = []string{comps[2], out}
			} else {
				args = append(append([]string{"-m"}, comps...), out)
			}
		}
		if o, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
			t.Fatalf("sox %v: %v %s", args, err, o)
		}
		files = append(files, out)
	}
	var one []int16
	for _, f := range files {
		x, err := ReadWAV(f)
		if err != nil {
			t.Fatal(err)
		}
		one = append(one, x...)
	}
	var all []int16
	for range n {
		all = append(all, one...)
	}
	return all
}

// cidSpandsp generates a caller-ID burst with spandsp's adsi_tx.
func cidSpandsp(t *testing.T, bin string, seizure, marks int, msg []byte) []int16 {
	t.Helper()
	out, err := run(t, nil, bin, fmt.Sprint(seizure), fmt.Sprint(marks), fmt.Sprintf("%x", msg))
	if err != nil {
		t.Fatal(err)
	}
	return fromS16le(out)
}

// writeFile is os.WriteFile failing the test.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
