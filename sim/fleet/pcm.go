package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"basestation/hal"
)

// SlowPCM is the phone port's PCM channel of a fleet base: silence in,
// playout discarded, one frame every Pace instead of every
// hal.FrameDuration. The analog port's loop takes its commands (a new
// configuration, say) between frames, so it must see frames; a slow clock
// makes it cost a tenth or less of the real one on a line nobody uses.
// Timing on the line (cadences, digit timeouts) is only as fine as Pace.
type SlowPCM struct {
	rate int
	pace time.Duration

	mu     sync.Mutex
	next   time.Time // when the next frame is due; guarded by mu
	closed chan struct{}
	once   sync.Once
}

// NewSlowPCM returns a channel at rate (8000 or 16000) delivering a frame
// every pace (at least hal.FrameDuration).
func NewSlowPCM(rate int, pace time.Duration) (*SlowPCM, error) {
	if rate != hal.RateNarrowband && rate != hal.RateWideband {
		return nil, fmt.Errorf("fleet: PCM rate %d is not %d or %d", rate, hal.RateNarrowband, hal.RateWideband)
	}
	if pace < hal.FrameDuration {
		return nil, fmt.Errorf("fleet: PCM pace %v is shorter than a frame (%v)", pace, hal.FrameDuration)
	}
	return &SlowPCM{rate: rate, pace: pace, closed: make(chan struct{})}, nil
}

// Rate implements hal.PCM.
func (p *SlowPCM) Rate() int { return p.rate }

// ReadFrame waits for the next frame's time and fills dst with silence.
func (p *SlowPCM) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst) != hal.FrameSamples(p.rate) {
		return fmt.Errorf("fleet PCM: ReadFrame: %d samples, want %d", len(dst), hal.FrameSamples(p.rate))
	}
	now := time.Now()
	p.mu.Lock()
	if p.next.Before(now.Add(-p.pace)) {
		p.next = now // late (or the first frame): no burst to catch up
	}
	at := p.next
	p.next = p.next.Add(p.pace)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.closed:
			return hal.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-p.closed:
		return hal.ErrClosed
	default:
	}
	clear(dst)
	return nil
}

// WriteFrame discards src.
func (p *SlowPCM) WriteFrame(ctx context.Context, src []int16) error {
	if len(src) != hal.FrameSamples(p.rate) {
		return fmt.Errorf("fleet PCM: WriteFrame: %d samples, want %d", len(src), hal.FrameSamples(p.rate))
	}
	select {
	case <-p.closed:
		return hal.ErrClosed
	default:
	}
	return ctx.Err()
}

// Close implements hal.PCM.
func (p *SlowPCM) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}
