package fxs

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/hal"
)

// countingPCM counts the port's frame reads and writes.
type countingPCM struct {
	hal.PCM
	reads, writes atomic.Int64
}

func (c *countingPCM) ReadFrame(ctx context.Context, dst []int16) error {
	c.reads.Add(1)
	return c.PCM.ReadFrame(ctx, dst)
}

func (c *countingPCM) WriteFrame(ctx context.Context, src []int16) error {
	c.writes.Add(1)
	return c.PCM.WriteFrame(ctx, src)
}

func newCountingRig(t *testing.T, cfg Config) (*rig, *countingPCM) {
	t.Helper()
	c := &countingPCM{}
	r := newRigWrapped(t, cfg, func(h hal.SLIC) hal.SLIC {
		c.PCM = h.PCM
		h.PCM = c
		return h
	})
	return r, c
}

// An idle line sleeps: on-hook for a minute it reads and writes no PCM,
// touches the chip not at all, and wakes at most a few times (the SLIC's
// IRQ recheck is the SLIC loop's, not the port's).
func TestIdleLineReadsNoPCM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCountingRig(t, DefaultConfig())
		defer r.stop()
		time.Sleep(time.Second)
		reads, writes, wakes := c.reads.Load(), c.writes.Load(), r.p.wakeups.Load()
		spi := r.m.Stats().SPIBytes
		time.Sleep(60 * time.Second)
		if n := c.reads.Load() - reads; n != 0 {
			t.Errorf("idle minute: %d PCM reads, want 0", n)
		}
		if n := c.writes.Load() - writes; n != 0 {
			t.Errorf("idle minute: %d PCM writes, want 0", n)
		}
		if n := r.p.wakeups.Load() - wakes; n != 0 {
			t.Errorf("idle minute: the port woke %d times, want 0", n)
		}
		if n := r.m.Stats().SPIBytes - spi; n != 0 {
			t.Errorf("idle minute: %d SPI bytes to the chip, want 0", n)
		}
	})
}

// Off-hook, the line reads the clock; back on-hook it stops again.
func TestOffHookReadsPCMThenSleeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCountingRig(t, DefaultConfig())
		defer r.stop()
		r.ph.offHook()
		r.mustEvent(EvOffHook, 200*time.Millisecond)
		reads := c.reads.Load()
		time.Sleep(time.Second)
		if n := c.reads.Load() - reads; n < 95 || n > 105 {
			t.Errorf("off-hook second: %d PCM reads, want ≈100 (one per 10 ms frame)", n)
		}
		r.ph.onHook()
		r.mustEvent(EvOnHook, 2*time.Second)
		time.Sleep(100 * time.Millisecond)
		reads = c.reads.Load()
		time.Sleep(10 * time.Second)
		if n := c.reads.Load() - reads; n != 0 {
			t.Errorf("on-hook again: %d PCM reads in 10 s, want 0", n)
		}
	})
}

// Ringing with caller ID reads PCM until the burst has gone out; the rest
// of the ringing, and ringing without caller ID, runs on timers alone.
func TestRingingSleepsAfterCallerID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCountingRig(t, DefaultConfig())
		defer r.stop()
		reads, t0 := c.reads.Load(), time.Now()
		if err := r.p.Ring(endpoint.CallerID{Number: "6135550123", Name: "ALICE"}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second) // first ring, the burst, the second ring
		if n := c.reads.Load() - reads; n == 0 {
			t.Fatal("caller ID sent without reading PCM")
		}
		if rec, _ := r.ph.recording(t0); len(segments(rec, 200, 80)) != 1 {
			t.Error("no caller-ID burst on the line between the rings")
		}
		reads = c.reads.Load()
		time.Sleep(12 * time.Second) // two more cadences
		if n := c.reads.Load() - reads; n != 0 {
			t.Errorf("ringing after caller ID: %d PCM reads, want 0", n)
		}
		if r.p.State() != StateRinging {
			t.Fatalf("state %v, want ringing", r.p.State())
		}
		r.ph.offHook() // ring trip: answered
		e := r.mustEvent(EvOffHook, time.Second)
		if !e.Answer {
			t.Error("off-hook while ringing not reported as answer")
		}
		if err := r.p.StopRinging(); err != nil {
			t.Error(err)
		}
	})
}

// The sleeping line answers a ping (the watchdog's liveness probe) at once,
// and the ping reads no PCM.
func TestIdleLineAnswersPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c := newCountingRig(t, DefaultConfig())
		defer r.stop()
		time.Sleep(time.Second)
		reads := c.reads.Load()
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if err := r.p.Ping(ctx); err != nil {
			t.Fatalf("Ping of the idle line: %v", err)
		}
		if n := c.reads.Load() - reads; n != 0 {
			t.Errorf("the ping read %d PCM frames", n)
		}
	})
}
