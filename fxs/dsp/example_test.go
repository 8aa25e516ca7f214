package dsp_test

import (
	"fmt"
	"time"

	"basestation/fxs/dsp"
	"basestation/hal"
)

// A line plays a tone into its PCM channel one frame at a time and listens
// for DTMF in what it reads back.
func Example() {
	const rate = hal.RateNarrowband
	tones, err := dsp.NewToneGenerator(dsp.USPlan(), rate)
	if err != nil {
		panic(err)
	}
	det, err := dsp.NewDTMFDetector(rate, nil)
	if err != nil {
		panic(err)
	}
	frame := make([]int16, hal.FrameSamples(rate))
	events := make([]dsp.DTMFEvent, 0, 4)
	// Here the "phone" is the generator itself, keying 4, 1, 1.
	for _, d := range []byte("411") {
		if err := tones.PlayDTMF(d, 60*time.Millisecond); err != nil {
			panic(err)
		}
		for range 12 { // 120 ms: the digit, then silence
			tones.Fill(frame) // would be pcm.WriteFrame(ctx, frame)
			events = det.Process(frame, events[:0])
			for _, e := range events {
				if e.End {
					fmt.Printf("digit %c\n", e.Digit)
				}
			}
		}
	}
	// Output:
	// digit 4
	// digit 1
	// digit 1
}

// Type I caller ID goes out between the first and second ring, with the SLIC
// in on-hook transmission.
func ExampleFSKTransmitter() {
	cid := dsp.CallerID{
		Time:   time.Date(2026, 11, 22, 9, 5, 0, 0, time.Local),
		Number: "6135550123",
		Name:   "ACME CORP",
	}
	msg, err := cid.MDMF()
	if err != nil {
		panic(err) // e.g. a name longer than dsp.MaxNameLen
	}
	fsk, err := dsp.NewFSKTransmitter(hal.RateNarrowband, nil)
	if err != nil {
		panic(err)
	}
	if err := fsk.Start(dsp.TypeI, msg); err != nil {
		panic(err)
	}
	fmt.Println("burst lasts", fsk.Duration())
	frame := make([]int16, 80)
	frames := 0
	for fsk.Active() {
		fsk.Fill(frame) // pcm.WriteFrame(ctx, frame)
		frames++
	}
	fmt.Println(frames, "frames")
	// Output:
	// burst lasts 706.666666ms
	// 71 frames
}

// The line feeds hook transitions as the SLIC reports them, and ticks the
// classifier at its deadline.
func ExampleHookClassifier() {
	h, err := dsp.NewHookClassifier(nil) // 300-1000 ms flash window
	if err != nil {
		panic(err)
	}
	ms := time.Millisecond
	var ev []dsp.HookEvent
	ev, _ = h.Transition(hal.OffHook, 0, ev)
	// dial 2 at 10 pps, 60/40
	ev, _ = h.Transition(hal.OnHook, 1000*ms, ev)
	ev, _ = h.Transition(hal.OffHook, 1060*ms, ev)
	ev, _ = h.Transition(hal.OnHook, 1100*ms, ev)
	ev, _ = h.Transition(hal.OffHook, 1160*ms, ev)
	if at, ok := h.Deadline(); ok {
		ev, _ = h.Tick(at, ev) // confirms the last make
	}
	if at, ok := h.Deadline(); ok {
		ev, _ = h.Tick(at, ev) // inter-digit pause: the digit ends
	}
	// a 500 ms flash
	ev, _ = h.Transition(hal.OnHook, 3000*ms, ev)
	ev, _ = h.Transition(hal.OffHook, 3500*ms, ev)
	ev, _ = h.Tick(3600*ms, ev)
	for _, e := range ev {
		fmt.Println(e.Kind, string(rune(max(e.Digit, ' '))), e.At)
	}
	// Output:
	// off-hook   0s
	// digit 2 1s
	// flash   3s
}
