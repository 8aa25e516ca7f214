package slic

import (
	"context"
	"fmt"
	"sync"

	"basestation/hal"
)

// pcmSlot is the chip's PCM time slot as a hal.PCM: 8 kHz linear frames of
// 10 ms, paced by Model.Run (the frame clock).
type pcmSlot struct {
	m         *Model
	playout   chan [frameSamples]int16
	captureCh chan [frameSamples]int16
	closed    chan struct{}
	closeOnce sync.Once
}

func newPCMSlot(m *Model) *pcmSlot {
	return &pcmSlot{
		m:         m,
		playout:   make(chan [frameSamples]int16, playoutFrames),
		captureCh: make(chan [frameSamples]int16, captureFrames),
		closed:    make(chan struct{}),
	}
}

func (p *pcmSlot) String() string { return p.m.name + " PCM" }

// Rate is 8000: the Si321x slot is narrowband.
func (p *pcmSlot) Rate() int { return hal.RateNarrowband }

// ReadFrame returns the next frame captured from the line (the phone's
// microphone through the chip's codec), blocking until the frame clock
// delivers it.
func (p *pcmSlot) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst) != frameSamples {
		return fmt.Errorf("%s: ReadFrame: %d samples, want %d", p, len(dst), frameSamples)
	}
	select {
	case <-p.closed:
		return hal.ErrClosed
	default:
	}
	select {
	case f := <-p.captureCh:
		copy(dst, f[:])
		return nil
	case <-p.closed:
		return hal.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteFrame queues one frame for the line; it blocks while the playout
// queue (4 frames) is full.
func (p *pcmSlot) WriteFrame(ctx context.Context, src []int16) error {
	if len(src) != frameSamples {
		return fmt.Errorf("%s: WriteFrame: %d samples, want %d", p, len(src), frameSamples)
	}
	select {
	case <-p.closed:
		return hal.ErrClosed
	default:
	}
	var f [frameSamples]int16
	copy(f[:], src)
	select {
	case p.playout <- f:
		return nil
	case <-p.closed:
		return hal.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the channel; blocked and later calls return hal.ErrClosed.
func (p *pcmSlot) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

// capture hands a frame to the reader side, dropping the oldest frame when
// nobody reads (as a hardware ring buffer would). It reports a drop.
func (p *pcmSlot) capture(f [frameSamples]int16) (dropped bool) {
	for {
		select {
		case p.captureCh <- f:
			return dropped
		default:
		}
		select {
		case <-p.captureCh:
			dropped = true
		default:
		}
	}
}

// flushLocked empties the playout queue (chip reset).
func (p *pcmSlot) flushLocked() {
	for {
		select {
		case <-p.playout:
		default:
			return
		}
	}
}

var _ hal.PCM = (*pcmSlot)(nil)
