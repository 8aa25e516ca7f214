package radio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"basestation/hal"
)

// pcmEnd is one side of an in-memory, clock-paced, full-duplex PCM slot:
// what one end writes, the other reads, one 10 ms frame per tick.
type pcmEnd struct {
	rate  int
	in    chan []int16 // frames the peer wrote, waiting to be read
	peer  *pcmEnd
	start time.Time
	mu    sync.Mutex
	n     int // frames read so far (pacing)
	done  chan struct{}
	once  *sync.Once
}

var _ hal.PCM = (*pcmEnd)(nil)

// newPCMPair returns two connected ends. Closing either closes both.
func newPCMPair(rate int) (a, b *pcmEnd) {
	done := make(chan struct{})
	once := &sync.Once{}
	now := time.Now()
	a = &pcmEnd{rate: rate, in: make(chan []int16, 8), start: now, done: done, once: once}
	b = &pcmEnd{rate: rate, in: make(chan []int16, 8), start: now, done: done, once: once}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pcmEnd) Rate() int { return p.rate }

func (p *pcmEnd) check(buf []int16) error {
	if len(buf) != hal.FrameSamples(p.rate) {
		return fmt.Errorf("radio: pcm frame of %d samples, want %d", len(buf), hal.FrameSamples(p.rate))
	}
	select {
	case <-p.done:
		return hal.ErrClosed
	default:
		return nil
	}
}

// ReadFrame waits for the next 10 ms tick and returns the frame the peer
// wrote for it, or silence.
func (p *pcmEnd) ReadFrame(ctx context.Context, dst []int16) error {
	if err := p.check(dst); err != nil {
		return err
	}
	p.mu.Lock()
	p.n++
	due := p.start.Add(time.Duration(p.n) * hal.FrameDuration)
	if late := time.Since(due); late > 5*hal.FrameDuration {
		// The reader fell far behind: resynchronise the clock instead of
		// bursting.
		p.start = time.Now()
		p.n = 0
		due = p.start
	}
	p.mu.Unlock()
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return hal.ErrClosed
		}
	}
	select {
	case f := <-p.in:
		copy(dst, f)
	default:
		clear(dst)
	}
	return nil
}

// WriteFrame queues a frame for the peer; it blocks while the queue (8
// frames) is full.
func (p *pcmEnd) WriteFrame(ctx context.Context, src []int16) error {
	if err := p.check(src); err != nil {
		return err
	}
	f := append([]int16(nil), src...)
	select {
	case p.peer.in <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return hal.ErrClosed
	}
}

func (p *pcmEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pcmEnd) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
