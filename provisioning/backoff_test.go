package provisioning

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The production policy: from 2 s, doubling, capped at 30 s, each wait in
// the upper half of its step.
func TestBackoffDelays(t *testing.T) {
	o := Options{BaseID: "bs-1", Brokers: []string{"tcp://127.0.0.1:1"}, StateDir: t.TempDir(), Applier: nopApplier{}, Radio: nopRadio{}, Logger: quiet()}
	a, err := NewAgent(o)
	if err != nil {
		t.Fatal(err)
	}
	steps := []time.Duration{2, 4, 8, 16, 30, 30, 30}
	for _, r := range []float64{0, 0.5, 0.999999} {
		b := backoff{first: a.o.ConnectRetryInterval, max: a.o.MaxReconnectInterval, rand: func() float64 { return r }}
		for n, s := range steps {
			full := s * time.Second
			want := full/2 + time.Duration(r*float64(full-full/2))
			if got := b.delay(n); got != want {
				t.Errorf("rand %v: delay(%d) = %v, want %v", r, n, got, want)
			}
		}
	}
	if got := (backoff{first: 2 * time.Second, max: 30 * time.Second, rand: func() float64 { return 0 }}).delay(1000); got != 15*time.Second {
		t.Errorf("delay after 1000 failures %v", got)
	}
}

// keepConnected, in virtual time with the production defaults: the first
// connection attempts back off 2 s, 4 s, ... up to 30 s (they used to be
// every 2 s forever), jittered; after a lost connection it reconnects
// after a short jittered wait and backs off again; it stops when ctx ends.
func TestKeepConnectedBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		succeedAt := -1 // the attempt that succeeds
		connect := func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Now())
			if len(at)-1 == succeedAt {
				return nil
			}
			return errors.New("connection refused")
		}
		draws := []float64{0.1, 0.9, 0.3, 0.7, 0.5, 0.2, 0.8, 0.4, 0.6}
		i := 0
		rnd := func() float64 { i++; return draws[(i-1)%len(draws)] }
		b := backoff{first: 2 * time.Second, max: 30 * time.Second, rand: rnd}
		lost := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); keepConnected(ctx, b, connect, lost, quiet()) }()

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		mu.Lock()
		gaps := gapsOf(at)
		succeedAt = len(at) // the next attempt succeeds
		mu.Unlock()
		// 2 s, 4 s, 8 s, 16 s, then 30 s steps; each in its upper half.
		steps := []time.Duration{2, 4, 8, 16, 30, 30}
		if len(gaps) < 5 {
			t.Fatalf("only %d retries in 2 minutes: %v", len(gaps), gaps)
		}
		distinct := map[time.Duration]bool{}
		for n, g := range gaps {
			full := steps[min(n, len(steps)-1)] * time.Second
			if g < full/2 || g > full {
				t.Errorf("wait %d: %v, want within [%v, %v] (all: %v)", n, g, full/2, full, gaps)
			}
			if n >= 4 {
				distinct[g] = true
			}
		}
		if len(distinct) < 2 {
			t.Errorf("the 30 s waits are not jittered: %v", gaps)
		}

		// Connected; then the broker goes away.
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		connectedAt, n := at[len(at)-1], len(at)
		mu.Unlock()
		time.Sleep(5 * time.Minute) // a connection that lasted: the back-off starts again
		lost <- errors.New("EOF")
		lostAt := time.Now()
		time.Sleep(40 * time.Second)
		synctest.Wait()
		mu.Lock()
		after := append([]time.Time{lostAt}, at[n:]...)
		mu.Unlock()
		if connectedAt.IsZero() || len(after) < 4 {
			t.Fatalf("no reconnection attempts after the loss: %v", after)
		}
		for n, g := range gapsOf(after)[:3] {
			full := steps[n] * time.Second
			if g < full/2 || g > full {
				t.Errorf("reconnect wait %d: %v, want within [%v, %v]", n, g, full/2, full)
			}
		}
		cancel()
		<-done
	})
}

func gapsOf(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// The agent's first connection backs off too (paho's own first-connection
// retry, used before, has a fixed interval: every 2 s forever). A listener
// that refuses MQTT by closing counts the attempts: with the jitter drawn
// at its minimum they come at 0 s, 1 s, 3 s (then 7 s). One attempt is up
// to two TCP connections (paho tries MQTT 3.1.1, then 3.1).
func TestAgentFirstConnectionBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var at []time.Time
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if now := time.Now(); len(at) == 0 || now.Sub(at[len(at)-1]) > 300*time.Millisecond {
				at = append(at, now)
			}
			mu.Unlock()
			c.Close()
		}
	}()
	a, err := NewAgent(Options{BaseID: "bs-1", Brokers: []string{"tcp://" + ln.Addr().String()}, StateDir: t.TempDir(),
		Applier: nopApplier{}, Radio: nopRadio{}, Logger: quiet(), ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a.rand = func() float64 { return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(6500 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	gaps := gapsOf(at)
	if len(at) != 3 {
		t.Fatalf("%d connection attempts in 6.5 s (gaps %v), want 3 (at 0 s, 1 s, 3 s)", len(at), gaps)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if gaps[i] < want-100*time.Millisecond || gaps[i] > want+900*time.Millisecond {
			t.Errorf("wait %d: %v, want about %v", i, gaps[i], want)
		}
	}
}
