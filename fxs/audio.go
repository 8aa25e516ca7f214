package fxs

import (
	"context"
	"fmt"
	"sync"

	"basestation/hal"
)

// audioDepth is how many frames each direction of a call's audio path
// buffers (40 ms): enough to ride out scheduling jitter, short enough not to
// add noticeable delay.
const audioDepth = 4

// callAudio is the PCM path handed to the call layer by ConnectAudio. Its
// ReadFrame returns the phone's voice, its WriteFrame takes the far end's
// voice; the port's frame loop moves the frames, so the port keeps
// detecting DTMF and hook flashes while audio flows. Frames circulate
// through fixed buffers: no allocation per frame.
type callAudio struct {
	rate, n int

	up, upFree     chan []int16 // phone → call layer
	down, downFree chan []int16 // call layer → phone

	closeOnce sync.Once
	closed    chan struct{}
}

func newCallAudio(rate int) *callAudio {
	n := hal.FrameSamples(rate)
	a := &callAudio{
		rate: rate, n: n,
		up: make(chan []int16, audioDepth), upFree: make(chan []int16, audioDepth),
		down: make(chan []int16, audioDepth), downFree: make(chan []int16, audioDepth),
		closed: make(chan struct{}),
	}
	for i := 0; i < audioDepth; i++ {
		a.upFree <- make([]int16, n)
		a.downFree <- make([]int16, n)
	}
	return a
}

func (a *callAudio) Rate() int { return a.rate }

func (a *callAudio) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst) != a.n {
		return fmt.Errorf("fxs audio: ReadFrame of %d samples, want %d", len(dst), a.n)
	}
	select {
	case b := <-a.up:
		copy(dst, b)
		a.upFree <- b
		return nil
	case <-a.closed:
		return hal.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *callAudio) WriteFrame(ctx context.Context, src []int16) error {
	if len(src) != a.n {
		return fmt.Errorf("fxs audio: WriteFrame of %d samples, want %d", len(src), a.n)
	}
	select {
	case b := <-a.downFree:
		copy(b, src)
		a.down <- b
		return nil
	case <-a.closed:
		return hal.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the path: blocked calls return hal.ErrClosed. The port drops
// a closed path at its next frame.
func (a *callAudio) Close() error {
	a.closeOnce.Do(func() { close(a.closed) })
	return nil
}

func (a *callAudio) isClosed() bool {
	select {
	case <-a.closed:
		return true
	default:
		return false
	}
}

// pushUp hands one captured frame to the call layer; when the call layer
// lags, the oldest frame is dropped.
func (a *callAudio) pushUp(in []int16) {
	var b []int16
	select {
	case b = <-a.upFree:
	default:
		select {
		case b = <-a.up: // drop the oldest
		default:
			return
		}
	}
	copy(b, in)
	a.up <- b
}

// pullDown fills out with the next far-end frame, or silence when none is
// queued. It reports whether a frame was there.
func (a *callAudio) pullDown(out []int16) bool {
	select {
	case b := <-a.down:
		copy(out, b)
		a.downFree <- b
		return true
	default:
		clear(out)
		return false
	}
}

var _ hal.PCM = (*callAudio)(nil)
