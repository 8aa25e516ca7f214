package health

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A loop is waiting until its first beat, and stale once it has not beaten
// for longer than the limit.
func TestHealthStaleAndWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHealth()
		if got := h.Waiting(); !slices.Equal(got, []string{LoopLine, LoopRadio, LoopSIP, LoopMQTT}) {
			t.Fatalf("Waiting = %v", got)
		}
		for _, n := range []string{LoopLine, LoopRadio, LoopSIP} {
			h.Loop(n).Beat()
		}
		if h.Started() || !slices.Equal(h.Waiting(), []string{LoopMQTT}) {
			t.Fatalf("Started with mqtt silent; Waiting = %v", h.Waiting())
		}
		h.Loop(LoopMQTT).Beat()
		if !h.Started() || len(h.Stale(time.Now(), 15*time.Second)) != 0 {
			t.Fatal("not started or stale right after every beat")
		}
		time.Sleep(10 * time.Second)
		for _, n := range []string{LoopRadio, LoopSIP, LoopMQTT} {
			h.Loop(n).Beat()
		}
		time.Sleep(6 * time.Second)
		if got := h.Stale(time.Now(), 15*time.Second); !slices.Equal(got, []string{LoopLine}) {
			t.Fatalf("Stale after 16 s without a line beat = %v", got)
		}
	})
}

func TestLoopbackOf(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:5060": "127.0.0.1:5060", "[::]:5062": "[::1]:5062", "192.0.2.7:5060": "192.0.2.7:5060", "127.0.0.1:0": "", "": "",
	} {
		got := ""
		if a := loopbackOf(in); a != nil {
			got = a.String()
		}
		if got != want {
			t.Errorf("loopbackOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// The line's loop beats for every ping it answers and goes stale when it
// stops answering (a stuck loop), with the production probe interval.
func TestProbeLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHealth()
		var stuck atomic.Bool
		ping := func(ctx context.Context) error {
			if stuck.Load() {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.ProbeLine(ctx, ping) }()
		time.Sleep(h.ProbeEvery + time.Millisecond)
		if slices.Contains(h.Stale(time.Now(), h.ProbeEvery), LoopLine) {
			t.Error("line loop stale while it answers its pings")
		}
		stuck.Store(true)
		time.Sleep(10 * h.ProbeEvery)
		if !slices.Contains(h.Stale(time.Now(), 5*h.ProbeEvery), LoopLine) {
			t.Error("line loop not stale while its pings go unanswered")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ProbeLine: %v", err)
		}
	})
}
