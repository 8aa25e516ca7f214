package fxs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"basestation/hal"
)

// audioDepth is how many frames each direction of a call's audio path
// buffers (40 ms): enough to ride out scheduling jitter, short enough not to
// add noticeable delay.
const audioDepth = 4

// dtmfHold is how many frames the phone's audio is held back while in-band
// DTMF is suppressed (40 ms): the detector reports a digit at most about
// 2.8 analysis blocks (36 ms) after the tone began, plus the rest of the
// frame in which it decides, so the frames that carry the tone's onset are
// still here to be silenced when it does.
const dtmfHold = 4

// DTMFSuppressDelay is the delay the phone's voice takes on while in-band
// DTMF is suppressed (SuppressInBandDTMF).
const DTMFSuppressDelay = dtmfHold * hal.FrameDuration

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

	// suppress: the call layer sends digits out of band (RFC 4733), so
	// the DTMF the port detects is cut out of the phone's audio.
	suppress atomic.Bool
	// The delay line of the phone's audio while suppressing: hold[holdI]
	// is the oldest of holdN frames. Only the port's frame loop uses it.
	hold         [dtmfHold + 1][]int16
	holdI, holdN int
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
	for i := range a.hold {
		a.hold[i] = make([]int16, n)
	}
	return a
}

// SuppressInBandDTMF turns on or off the removal of in-band DTMF from the
// phone's audio (what ReadFrame returns). On, the call layer sends the
// digits the port reports (EvDigit) out of band, as RFC 4733 events, and
// the far end must not hear the tones as well: the audio is then delayed
// by dtmfHold frames (40 ms) so that, once the detector has recognised a
// digit, the frames from the tone's onset to its end are replaced with
// silence before they leave. Off (the default), the audio is not delayed
// and the tones pass: they are then the only way the digits reach the far
// end. Safe to call from any goroutine; the sipua media path calls it when
// telephone-event is negotiated.
func (a *callAudio) SuppressInBandDTMF(on bool) { a.suppress.Store(on) }

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

// pushUp hands one captured frame to the call layer: at once, or, while
// in-band DTMF is suppressed, through the delay line after silencing the
// last blank samples of it (the frames held and this one; see
// loop.dtmfBlank).
func (a *callAudio) pushUp(in []int16, blank int) {
	if !a.suppress.Load() {
		for a.holdN > 0 { // suppression just ended: release what is held
			a.send(a.hold[a.holdI])
			a.holdI = (a.holdI + 1) % len(a.hold)
			a.holdN--
		}
		a.send(in)
		return
	}
	copy(a.hold[(a.holdI+a.holdN)%len(a.hold)], in)
	a.holdN++
	for k := a.holdN - 1; k >= 0 && blank > 0; k-- {
		f := a.hold[(a.holdI+k)%len(a.hold)]
		c := min(blank, len(f))
		clear(f[len(f)-c:])
		blank -= c
	}
	if a.holdN > dtmfHold {
		a.send(a.hold[a.holdI])
		a.holdI = (a.holdI + 1) % len(a.hold)
		a.holdN--
	}
}

// send queues one frame for ReadFrame; when the call layer lags, the
// oldest frame is dropped.
func (a *callAudio) send(in []int16) {
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
