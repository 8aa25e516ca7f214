package fxs

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"
)

var dtmfHz = []float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

// voiceAndDigits is what the phone says: a 300 Hz "voice" for 200 ms, 60
// ms of silence, a DTMF digit of 80..180 ms starting 7 samples later than
// the one before (relative to the 10 ms frames and the detector's 102-sample
// blocks), 60 ms of silence, for each digit; then voice again.
func voiceAndDigits(digits string) []int16 {
	var x []int16
	voice := func(ms int) {
		n := ms * 8
		for i := 0; i < n; i++ {
			x = append(x, int16(3000*math.Sin(2*math.Pi*300*float64(len(x))/8000)))
		}
	}
	for i := 0; i < len(digits); i++ {
		voice(200)
		x = append(x, make([]int16, 480+i*7)...) // the onset wanders over the frames and blocks
		x = append(x, testDTMF(digits[i], time.Duration(80+i%11*10)*time.Millisecond, 60*time.Millisecond)...)
	}
	voice(300)
	return x
}

// dtmfWindows returns the start (in samples) of every 10 ms window, 5 ms
// apart, in which some DTMF frequency reaches -36 dBm0 (an independent
// Goertzel, not the port's detector).
func dtmfWindows(x []int16) []int {
	thr := math.Pow(22756*math.Pow(10, -36.0/20), 2) / 2
	var out []int
	for i := 0; i+80 <= len(x); i += 40 {
		for _, f := range dtmfHz {
			if goertzelPower(x[i:i+80], f) > thr {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// upRecorder reads the phone's audio from the call's audio path.
type upRecorder struct {
	mu  sync.Mutex
	got []int16
}

func (u *upRecorder) run(ctx context.Context, a hal.PCM) {
	buf := make([]int16, 80)
	for a.ReadFrame(ctx, buf) == nil {
		u.mu.Lock()
		u.got = append(u.got, buf...)
		u.mu.Unlock()
	}
}

func (u *upRecorder) samples() []int16 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]int16(nil), u.got...)
}

// With in-band DTMF suppressed (RFC 4733 in use), the digits the phone
// keys during a call are reported as EvDigit and none of their tone
// reaches the call layer's audio, from the first sample on, whatever the
// tone's alignment to frames and detector blocks; the voice around them
// passes, 40 ms late. Without suppression the tones pass (they are the
// digits' only way to the far end).
func TestInBandDTMFSuppressed(t *testing.T) {
	const digits = "5190*#3D1234567890ABCD*#9876543210"
	for _, suppress := range []bool{true, false} {
		t.Run(fmt.Sprint("suppress=", suppress), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, DefaultConfig())
				defer r.stop()
				r.inCall()
				a, err := r.p.ConnectAudio()
				if err != nil {
					t.Fatal(err)
				}
				a.(interface{ SuppressInBandDTMF(bool) }).SuppressInBandDTMF(suppress)
				ctx, cancel := context.WithCancel(context.Background())
				var rec upRecorder
				done := make(chan struct{})
				go func() { defer close(done); rec.run(ctx, a.(hal.PCM)) }()
				time.Sleep(100 * time.Millisecond)
				r.clearEvents()
				say := voiceAndDigits(digits)
				r.ph.say(say)
				time.Sleep(time.Duration(len(say))*time.Second/8000 + 200*time.Millisecond)
				cancel()
				<-done
				_ = a.(io.Closer).Close()

				var got []byte
				for _, e := range r.events() {
					if e.Kind == EvDigit {
						got = append(got, e.Digit)
					}
				}
				if string(got) != digits {
					t.Fatalf("EvDigit %q, want %q", got, digits)
				}
				up := rec.samples()
				leaks := dtmfWindows(up)
				if !suppress {
					if len(leaks) < 8*len(digits) {
						t.Fatalf("without suppression only %d windows carry DTMF", len(leaks))
					}
					return
				}
				if len(leaks) > 0 {
					t.Errorf("%d windows of the phone's audio carry DTMF, first at %v: %v", len(leaks), samplesDur(leaks[0]), leaks)
				}
				// The voice passes: 300 Hz in most of the 200 ms stretches.
				voiced := 0
				for i := 0; i+80 <= len(up); i += 80 {
					if goertzelPower(up[i:i+80], 300) > 1e6 {
						voiced++
					}
				}
				if want := len(digits) * 15; voiced < want {
					t.Errorf("only %d frames of voice came through, want ≥ %d", voiced, want)
				}
			})
		})
	}
}

func TestFrameAllocsCallAudioSuppressing(t *testing.T) {
	p, err := NewWithSLIC(nopSLIC{}, nopPCM{}, DefaultConfig(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	_ = p.l.start(time.Now())
	now := time.Now()
	p.l.setState(StateRinging) // answer: off-hook while ringing
	p.l.offHook(now, true)
	a := newCallAudio(8000)
	a.SuppressInBandDTMF(true)
	p.l.audio = a
	x := voiceAndDigits("123")
	far := make([]int16, 80)
	ctx := context.Background()
	i := 0
	n := testing.AllocsPerRun(200, func() {
		copy(p.l.in, x[(i*80)%(len(x)-80):])
		_ = a.WriteFrame(ctx, far)
		now = now.Add(hal.FrameDuration)
		p.l.frame(now)
		i++
	}) // the phone's audio is not read: the oldest frame is dropped
	if n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
