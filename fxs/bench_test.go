package fxs

import (
	"context"
	"math"
	"testing"
	"time"

	"basestation/fxs/proslic"
	"basestation/hal"
)

// nopSLIC is a line chip that accepts everything (for frame benchmarks).
type nopSLIC struct{}

func (nopSLIC) SetLinefeed(proslic.Linefeed) error { return nil }
func (nopSLIC) Hook() (hal.HookState, error)       { return hal.OnHook, nil }
func (nopSLIC) Run(ctx context.Context, _ func(proslic.Event)) error {
	<-ctx.Done()
	return nil
}

type nopPCM struct{}

func (nopPCM) Rate() int                                 { return 8000 }
func (nopPCM) ReadFrame(context.Context, []int16) error  { return nil }
func (nopPCM) WriteFrame(context.Context, []int16) error { return nil }
func (nopPCM) Close() error                              { return nil }

func benchPort(b *testing.B) *Port {
	p, err := NewWithSLIC(nopSLIC{}, nopPCM{}, DefaultConfig(), quietLog())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.l.start(time.Now()); err != nil {
		b.Fatal(err)
	}
	return p
}

// noiseFrames is speech-band test input (a sum of sines, no DTMF).
func noiseFrames(n int) [][]int16 {
	fr := make([][]int16, n)
	for i := range fr {
		fr[i] = make([]int16, 80)
		for j := range fr[i] {
			t := float64(i*80+j) / 8000
			fr[i][j] = int16(3000*math.Sin(2*math.Pi*310*t) + 2000*math.Sin(2*math.Pi*1130*t) + 1000*math.Sin(2*math.Pi*2700*t))
		}
	}
	return fr
}

// BenchmarkFrameDialTone: one 10 ms frame while off-hook with dial tone:
// DTMF detection on the phone's audio + tone generation + timers.
func BenchmarkFrameDialTone(b *testing.B) {
	p := benchPort(b)
	now := time.Now()
	p.l.offHook(now, false)
	in := noiseFrames(100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(p.l.in, in[i%len(in)])
		now = now.Add(hal.FrameDuration)
		p.l.offHookAt = now // keep dialing (no howler)
		p.l.frame(now)
		i++
	}
}

// BenchmarkFrameCallAudio: one frame of a connected call: DTMF detection,
// audio handed to and taken from the call layer.
func BenchmarkFrameCallAudio(b *testing.B) {
	p := benchPort(b)
	now := time.Now()
	p.l.setState(StateRinging) // answer: off-hook while ringing
	p.l.offHook(now, true)
	a := newCallAudio(8000)
	p.l.audio = a
	in := noiseFrames(100)
	far := make([]int16, 80)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		copy(p.l.in, in[i%len(in)])
		_ = a.WriteFrame(ctx, far)
		now = now.Add(hal.FrameDuration)
		p.l.frame(now)
		_ = a.ReadFrame(ctx, far)
		i++
	}
}

func TestFrameAllocs(t *testing.T) {
	p, err := NewWithSLIC(nopSLIC{}, nopPCM{}, DefaultConfig(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	_ = p.l.start(time.Now())
	now := time.Now()
	p.l.offHook(now, false)
	in := noiseFrames(10)
	i := 0
	n := testing.AllocsPerRun(200, func() {
		copy(p.l.in, in[i%len(in)])
		now = now.Add(hal.FrameDuration)
		p.l.offHookAt = now
		p.l.frame(now)
		i++
	})
	if n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
