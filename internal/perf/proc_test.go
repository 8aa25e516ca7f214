package perf

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

const statLine = "4242 (basestation d) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 129 0 0 20 0 9 0 12345 1234567 3456 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	u, s, err := ParseStat([]byte(statLine))
	if err != nil || u != 731 || s != 129 {
		t.Fatalf("ParseStat = %d, %d, %v; want 731, 129", u, s, err)
	}
	// A command name with ") (" in it: fields count after the last ')'.
	tricky := strings.Replace(statLine, "(basestation d)", "(a) S 1 2 (b)", 1)
	if u, s, err := ParseStat([]byte(tricky)); err != nil || u != 731 || s != 129 {
		t.Fatalf("tricky name: %d, %d, %v", u, s, err)
	}
	for name, in := range map[string]string{
		"no name":     "4242 S 1 2 3",
		"short":       "1 (x) S 1 2 3 4",
		"bad utime":   strings.Replace(statLine, " 731 ", " 7x1 ", 1),
		"bad state":   strings.Replace(statLine, ") S ", ") SS ", 1),
		"empty":       "",
		"paren order": ") 1 (x",
	} {
		if _, _, err := ParseStat([]byte(in)); err == nil {
			t.Errorf("%s: no error for %q", name, in)
		}
	}
}

const statusText = "Name:\tbasestationd\nState:\tS (sleeping)\nVmPeak:\t  1290000 kB\nVmRSS:\t   16172 kB\nRssAnon:\t    4192 kB\nRssFile:\t   11980 kB\nThreads:\t9\n"

func TestParseStatus(t *testing.T) {
	r, a, err := ParseStatus([]byte(statusText))
	if err != nil || r != 16172 || a != 4192 {
		t.Fatalf("ParseStatus = %d, %d, %v", r, a, err)
	}
	for name, in := range map[string]string{
		"no rss":    strings.Replace(statusText, "VmRSS", "VmXXX", 1),
		"no anon":   strings.Replace(statusText, "RssAnon", "RssXXXX", 1),
		"twice":     statusText + "VmRSS:\t 1 kB\n",
		"unit":      strings.Replace(statusText, "16172 kB", "16172 MB", 1),
		"not a num": strings.Replace(statusText, "4192 kB", "-4192 kB", 1),
	} {
		if _, _, err := ParseStatus([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadUsageOfThisProcess(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSSKiB < 1024 || u.AnonKiB == 0 || u.AnonKiB > u.RSSKiB {
		t.Fatalf("implausible usage of this process: %+v", u)
	}
	if _, err := ReadUsage(-1); err == nil {
		t.Fatal("no error for pid -1")
	}
}

func TestMeasureWindowSeesBusyCPU(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // burn CPU in this process during the window
		x := 0.0
		for ctx.Err() == nil {
			for i := range 100000 {
				x += math.Sqrt(float64(i))
			}
		}
		_ = x
	}()
	w, err := MeasureWindow(ctx, os.Getpid(), 300*time.Millisecond, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if w.Samples < 2 || w.Seconds < 0.25 || w.CPUms <= 0 || w.RSSKiB <= 0 {
		t.Fatalf("window %+v", w)
	}
	if _, err := MeasureWindow(ctx, os.Getpid(), time.Second, 2*time.Second); err == nil {
		t.Fatal("interval longer than the window accepted")
	}
}

func TestLeastSquaresAndMedian(t *testing.T) {
	f, err := LeastSquares([]float64{0, 1, 2, 3, 4}, []float64{100, 120, 140, 160, 180})
	if err != nil || math.Abs(f.Slope-20) > 1e-9 || math.Abs(f.Intercept-100) > 1e-9 {
		t.Fatalf("fit %+v, %v", f, err)
	}
	// Noise around slope 2: least squares, not the end points.
	f, _ = LeastSquares([]float64{0, 1, 2, 3}, []float64{0, 3, 3, 6})
	if math.Abs(f.Slope-1.8) > 1e-9 {
		t.Fatalf("slope %v, want 1.8", f.Slope)
	}
	for _, bad := range [][2][]float64{{{1}, {1}}, {{1, 1}, {2, 3}}, {{1, 2}, {1}}} {
		if _, err := LeastSquares(bad[0], bad[1]); err == nil {
			t.Errorf("no error for %v", bad)
		}
	}
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Fatalf("median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Fatal("median of nothing")
	}
}

// burnForProfile spends d of CPU time on its own thread (not d of wall
// time: on a loaded machine a wall-clock burn may get a few ms of CPU and
// leave the profile nearly empty). It gives up after a minute of wall time.
//
//go:noinline
func burnForProfile(d time.Duration) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	x := 0.0
	start, deadline := threadCPU(), time.Now().Add(time.Minute)
	for threadCPU()-start < d && time.Now().Before(deadline) {
		for i := range 10000 {
			x += math.Sqrt(float64(i))
		}
	}
	return x
}

// A real CPU profile of this process, written by runtime/pprof, is read
// back: the busy function dominates, and every sample lands in a bucket.
func TestCPUByStackOnARealProfile(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("CPU profiling unavailable: %v", err) // another profile is running (go test -cpuprofile)
	}
	burnForProfile(400 * time.Millisecond)
	pprof.StopCPUProfile()
	tot, err := CPUByStack(buf.Bytes(), func(stack []string) string {
		for _, f := range stack {
			if strings.HasSuffix(f, ".burnForProfile") {
				return "burn"
			}
		}
		return "other"
	})
	if err != nil {
		t.Fatal(err)
	}
	if tot["burn"] < int64(100*time.Millisecond) || tot["burn"] < tot["other"] {
		t.Fatalf("profile split %v: burnForProfile should dominate with ≥100 ms", tot)
	}
	if _, err := CPUByStack([]byte("not gzip"), part); err == nil {
		t.Fatal("no error for a non-gzip profile")
	}
	if _, err := ByStack(buf.Bytes(), "inuse_space", part); err == nil {
		t.Fatal("a CPU profile has no inuse_space, and no error said so")
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte{0x0a, 0x05, 0x08}) // sample_type with a truncated length
	zw.Close()
	if _, err := CPUByStack(z.Bytes(), part); err == nil {
		t.Fatal("no error for a truncated profile")
	}
}

//go:noinline
func keepForHeapProfile(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 64<<10)
	}
	return out
}

// A heap profile with every allocation recorded: the live bytes of the
// function that keeps 4 MiB are found within 10 %.
func TestByStackOnAHeapProfile(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	kept := keepForHeapProfile(64)
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(kept)
	tot, err := ByStack(buf.Bytes(), "inuse_space", func(stack []string) string {
		for _, f := range stack {
			if strings.HasSuffix(f, ".keepForHeapProfile") {
				return "kept"
			}
		}
		return "other"
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := tot["kept"]; got < 4<<20*9/10 || got > 4<<20*11/10 {
		t.Fatalf("inuse_space of keepForHeapProfile = %d, want about %d (all: %v)", got, 4<<20, tot)
	}
}

func TestPartClassifiesInnermostProjectCode(t *testing.T) {
	for _, c := range []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.memmove", "basestation/sim/slic.(*Model).tick", "basestation/fxs.(*Port).run"}, "sim"},
		{[]string{"syscall.Syscall", "basestation/sipua.(*Call).send", "basestation/sim/radio.x"}, "daemon"},
		{[]string{"runtime.gcBgMarkWorker"}, "runtime"},
		{[]string{"bufio.(*Scanner).Scan", "basestation/internal/perf.serveControl"}, "harness"},
	} {
		if got := part(c.stack); got != c.want {
			t.Errorf("part(%v) = %q, want %q", c.stack, got, c.want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine))
	f.Add([]byte("1 (a) b) R 0 0 0 0 0 0 0 0 0 0 5 6"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, s, err := ParseStat(b)
		if err != nil && (u != 0 || s != 0) {
			t.Fatal("values with an error")
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(statusText))
	f.Add([]byte("VmRSS: 1 kB\nRssAnon: 2 kB"))
	f.Add([]byte("VmRSS:\nRssAnon: x kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, a, err := ParseStatus(b)
		if err != nil && (r != 0 || a != 0) {
			t.Fatal("values with an error")
		}
	})
}

func TestParseSwitches(t *testing.T) {
	v, i, err := ParseSwitches([]byte("Name:\tx\nvoluntary_ctxt_switches:\t1877\nnonvoluntary_ctxt_switches:\t33\n"))
	if err != nil || v != 1877 || i != 33 {
		t.Fatalf("ParseSwitches = %d, %d, %v", v, i, err)
	}
	for _, in := range []string{"", "voluntary_ctxt_switches: 1", "nonvoluntary_ctxt_switches: 1",
		"voluntary_ctxt_switches: x\nnonvoluntary_ctxt_switches: 1",
		"voluntary_ctxt_switches: 1\nvoluntary_ctxt_switches: 2\nnonvoluntary_ctxt_switches: 1"} {
		if _, _, err := ParseSwitches([]byte(in)); err == nil {
			t.Errorf("ParseSwitches(%q): no error", in)
		}
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil || u.VolCS == 0 {
		t.Fatalf("ReadUsage of this process: %+v %v (a running test has blocked at least once)", u, err)
	}
}

func FuzzParseSwitches(f *testing.F) {
	f.Add([]byte("voluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t6\n"))
	f.Add([]byte("voluntary_ctxt_switches:\nnonvoluntary_ctxt_switches: -1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, i, err := ParseSwitches(b)
		if err != nil && (v != 0 || i != 0) {
			t.Fatal("values with an error")
		}
	})
}

func FuzzCPUByStack(f *testing.F) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err == nil {
		burnForProfile(50 * time.Millisecond)
		pprof.StopCPUProfile()
		f.Add(buf.Bytes())
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte{0x32, 0x03, 0x12, 0x01, 0x05, 0x32, 0x03, 0x63, 0x70, 0x75})
	zw.Close()
	f.Add(z.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = CPUByStack(b, part)
		// And the raw (not gzipped) decoder on the same bytes.
		if p, err := parseProfile(b); err == nil {
			_, _ = p.byStack("cpu", part)
		}
	})
}
