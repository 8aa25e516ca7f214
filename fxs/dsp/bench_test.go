package dsp

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"basestation/hal"
)

// benchSignal is 10 s of 8 kHz audio: digits, pauses and noise, the same
// for our detector and spandsp's.
func benchSignal(rate int) []int16 {
	r := rand.New(rand.NewPCG(42, 42))
	var sig []float64
	for len(sig) < 10*rate {
		for i := 0; i < len(allDigits); i++ {
			sig = concat(sig, dtmfTone(r, rate, allDigits[i], 80*ms, 0, 0, -10, -10), silence(rate, 80*ms))
		}
	}
	addNoise(r, sig, -50)
	return toPCM(sig[:10*rate])
}

func benchDTMF(b *testing.B, rate int) {
	pcm := benchSignal(rate)
	d, err := NewDTMFDetector(rate, nil)
	if err != nil {
		b.Fatal(err)
	}
	frame := rate / 100
	ev := make([]DTMFEvent, 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	off := 0
	for b.Loop() {
		if off+frame > len(pcm) {
			off = 0
		}
		ev = d.Process(pcm[off:off+frame], ev[:0])
		off += frame
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(frame), "ns/sample")
}

// BenchmarkDTMFDetect8k is one 10 ms frame (80 samples) through the
// detector; next to it, spandsp's dtmf_rx on the same signal, timed by the
// C harness itself (ns/sample-spandsp).
func BenchmarkDTMFDetect8k(b *testing.B) {
	benchDTMF(b, 8000)
	if bin := buildCMaybe(b, "dtmf_rx"); bin != "" {
		pcm := benchSignal(8000)
		out, err := exec.Command(bin, "-bench", "50", writeRaw(b, pcm)).Output()
		if err != nil {
			b.Fatalf("dtmf_rx -bench: %v", err)
		}
		f := strings.Fields(string(out))
		if len(f) < 4 || f[0] != "ns/sample" || f[2] != "min" {
			b.Fatalf("dtmf_rx -bench printed %q", out)
		}
		mean, err1 := strconv.ParseFloat(f[1], 64)
		best, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("dtmf_rx -bench printed %q", out)
		}
		b.ReportMetric(mean, "ns/sample-spandsp")
		b.ReportMetric(best, "ns/sample-spandsp-min")
		b.ReportMetric(bestPass(pcm), "ns/sample-min")
	}
}

// bestPass times our detector over the whole signal 50 times, as the C
// harness does for spandsp, and returns the best pass in ns/sample: on a
// shared machine the best pass is the least disturbed.
func bestPass(pcm []int16) float64 {
	d, _ := NewDTMFDetector(8000, nil)
	ev := make([]DTMFEvent, 0, 8)
	used := len(pcm) - len(pcm)%80
	best := math.Inf(1)
	for range 50 {
		t0 := time.Now()
		for i := 0; i+80 <= len(pcm); i += 80 {
			ev = d.Process(pcm[i:i+80], ev[:0])
		}
		best = min(best, float64(time.Since(t0).Nanoseconds())/float64(used))
	}
	return best
}

func BenchmarkDTMFDetect16k(b *testing.B) { benchDTMF(b, 16000) }

func buildCMaybe(b *testing.B, name string) string {
	return buildC(b, name)
}

func BenchmarkToneFill8k(b *testing.B)  { benchTone(b, 8000, ToneDial) }
func BenchmarkToneFill16k(b *testing.B) { benchTone(b, 16000, ToneDial) }
func BenchmarkHowlerFill8k(b *testing.B) {
	benchTone(b, 8000, ToneHowler)
}

func benchTone(b *testing.B, rate int, name ToneName) {
	g, err := NewToneGenerator(USPlan(), rate)
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Play(name); err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, rate/100)
	b.ReportAllocs()
	for b.Loop() {
		g.Fill(frame)
	}
}

// BenchmarkFSKFill8k is one 10 ms frame of a Type I caller-ID burst.
func BenchmarkFSKFill8k(b *testing.B) {
	c := CallerID{Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Number: "5551234567", Name: "ALICE SMITH"}
	msg, err := c.MDMF()
	if err != nil {
		b.Fatal(err)
	}
	f, err := NewFSKTransmitter(8000, nil)
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, 80)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Active() {
			_ = f.Start(TypeI, msg)
		}
		f.Fill(frame)
	}
}

// BenchmarkHookTransition is one hook transition through the classifier.
func BenchmarkHookTransition(b *testing.B) {
	h, err := NewHookClassifier(nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := make([]HookEvent, 0, 4)
	now := time.Duration(0)
	st := hal.OffHook
	b.ReportAllocs()
	for b.Loop() {
		now += 50 * time.Millisecond
		ev, _ = h.Transition(st, now, ev[:0])
		st = 1 - st
	}
}
