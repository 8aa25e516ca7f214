package phone

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"basestation/sim/slic"
)

// BenchmarkPhoneAudioFrame is the phone's cost per 10 ms frame: tone
// analysis, FSK receiver, ear history (line audio = dial tone).
func BenchmarkPhoneAudioFrame(b *testing.B) {
	p := New(&fakeLine{}, Config{Logger: quiet(), EarHistory: time.Second})
	p.OffHook()
	tone := synth(nil, 8000, []float64{350, 440}, []float64{peakFromDBm0(-13), peakFromDBm0(-13)})
	var mic [frameLen]int16
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i * frameLen) % (len(tone) - frameLen)
		p.Audio(tone[off:off+frameLen], mic[:])
	}
}

// BenchmarkFSKDemodFrame is the Bell 202 demodulator alone per frame.
func BenchmarkFSKDemodFrame(b *testing.B) {
	x := synth(nil, 8000, []float64{1200}, []float64{8000})
	var d fskDemod
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i * frameLen) % (len(x) - frameLen)
		d.push(x[off : off+frameLen])
	}
}

// TestSpeakReachesDaemon: audio fed to the microphone arrives unchanged on
// the daemon's side of a linear PCM slot, in order and on time.
func TestSpeakReachesDaemon(t *testing.T) {
	speech := make([]int16, 8000)
	for i := range speech {
		// A chirp-like test signal, not a tone the ear would name.
		f := 300 + 2500*float64(i)/8000
		speech[i] = int16(6000 * math.Cos(2*math.Pi*f*float64(i)/8000))
	}
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: quiet()})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		h := newChip(t, m)
		h.up(0x38, 1)
		p := New(m, Config{Logger: quiet()})
		p.OffHook()
		time.Sleep(50 * time.Millisecond)
		var d daemonSide
		go d.run(ctx, m.PCM())
		if err := p.SpeakWait(ctx, speech); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		got := d.samples()
		first := -1
		for i, s := range got {
			if s != 0 {
				first = i
				break
			}
		}
		if first < 0 || len(got)-first < len(speech) {
			t.Fatalf("daemon got %d samples, speech starts at %d", len(got), first)
		}
		for i, s := range speech {
			if got[first+i] != s {
				t.Fatalf("sample %d: daemon %d, mic %d", i, got[first+i], s)
			}
		}
		cancel()
	})
}
