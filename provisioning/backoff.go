package provisioning

import (
	"context"
	"log/slog"
	"time"
)

// backoff is the agent's reconnect policy (docs/mqtt-api.md §1): the
// delay before the next connection attempt doubles from first up to max,
// and each delay is drawn uniformly from its upper half ("equal jitter"),
// so a fleet of bases that lost the broker together does not come back in
// lockstep.
type backoff struct {
	first, max time.Duration
	rand       func() float64 // uniform in [0, 1)
}

// delay is the wait before attempt n+1 after n failures in a row (n = 0:
// the first wait).
func (b backoff) delay(n int) time.Duration {
	d := b.first
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + time.Duration(b.rand()*float64(d-half))
}

// keepConnected runs the connection for its whole life: it calls connect
// until it succeeds, waiting delay(n) after the n-th failure in a row;
// once connected it waits for lost and starts again, after a first
// (jittered) delay. A connection that lasted less than max does not reset
// the back-off, so a broker that accepts and drops at once is not
// hammered. It returns when ctx ends.
func keepConnected(ctx context.Context, b backoff, connect func(context.Context) error, lost <-chan error, log *slog.Logger) {
	fails := 0
	for {
		// A loss reported for an earlier connection is stale.
		select {
		case <-lost:
		default:
		}
		err := connect(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			up := time.Now()
			select {
			case <-ctx.Done():
				return
			case <-lost:
			}
			if time.Since(up) >= b.max {
				fails = 0
			}
		} else {
			log.Warn("provisioning: could not connect to the broker", "err", err)
		}
		d := b.delay(fails)
		fails++
		log.Info("provisioning: connecting to the broker again", "in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
