package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"basestation/provisioning"
	"basestation/sim/radio"
)

// steady runs the steady state: the bases stay up for o.Steady while the
// registration-mode pushes, the configuration pushes and the broker
// restart run inside it. Every scenario is bounded by the steady state's
// end (and the run's timeout).
func (f *fleetRun) steady(ctx context.Context) {
	f.rec.mark("steady")
	sctx, cancel := context.WithTimeout(ctx, f.o.Steady)
	defer cancel()
	f.mu.Lock()
	bases := append([]*base(nil), f.bases...)
	f.mu.Unlock()
	var wg sync.WaitGroup
	if f.o.Pushes > 0 && len(bases) > 0 {
		wg.Go(func() { f.registrationPushes(sctx, bases) })
	}
	if f.o.Configs && len(bases) > 0 {
		wg.Go(func() { f.configPushes(sctx, bases) })
	}
	if f.o.BrokerStop != nil && f.o.BrokerStart != nil {
		wg.Go(func() { f.brokerRestart(sctx, bases) })
	}
	wg.Wait()
	<-sctx.Done()
}

// paced calls fn(i) for i in [0, n) at rate per second, each in its own
// goroutine, until ctx ends; it waits for them all.
func paced(ctx context.Context, n int, rate float64, fn func(i int)) {
	if rate <= 0 {
		rate = 10
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			return
		}
		wg.Go(func() { fn(i) })
	}
}

// registrationPushes sends register-device commands the way the cloud
// does, spread over the bases, and completes each pairing with a new
// Headset: push → window open is measured at the emulated module (it has
// opened registration mode), push → paired when the daemon lists the new
// device.
func (f *fleetRun) registrationPushes(ctx context.Context, bases []*base) {
	var mu sync.Mutex
	busy := map[*base]bool{}
	paced(ctx, f.o.Pushes, f.o.PushRate, func(i int) {
		// A stride that visits every base before any twice.
		b := bases[(i*7919)%len(bases)]
		mu.Lock()
		if busy[b] {
			mu.Unlock()
			f.rec.errorf("push-skipped", "%s: a push to it is still in flight", b.ID)
			return
		}
		busy[b] = true
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(busy, b)
			mu.Unlock()
		}()
		f.registrationPush(ctx, b, i)
	})
}

func (f *fleetRun) registrationPush(ctx context.Context, b *base, i int) {
	hs := b.hw.Radio.NewHeadset(radio.DeviceOptions{IPEI: 0x200000000 + uint64(b.Index)<<8 + uint64(i&0xFF)})
	hs.PowerOn()
	defer hs.PowerOff()
	pin := fmt.Sprintf("%04d", 1000+i%9000)
	args, _ := json.Marshal(provisioning.RegisterDeviceArgs{WindowS: 30, PIN: pin})
	cmd := provisioning.Command{Schema: provisioning.SchemaVersion, ID: f.cl.NewCommandID(), Base: b.ID,
		Name: provisioning.CmdRegisterDevice, Args: args}
	payload, err := json.Marshal(cmd)
	if err != nil {
		f.rec.errorf("push-send", "%s: %v", b.ID, err)
		return
	}
	// The window must be closed before the push, or its opening is not
	// this push's effect (a window from an earlier pairing closes when
	// the module confirms the host's REG-CLOSE).
	closedBy := time.Now().Add(2 * time.Second)
	for b.hw.Radio.RegistrationOpen() {
		if time.Now().After(closedBy) || ctx.Err() != nil {
			f.rec.errorf("push-window-already-open", "%s: registration mode still open 2 s before the push", b.ID)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if err := f.cl.PublishRaw(ctx, provisioning.TopicsFor(b.ID).Commands, payload, false); err != nil {
		f.rec.errorf("push-send", "%s: %v", b.ID, err)
		return
	}
	// The window: the module has registration mode open.
	deadline := t0.Add(5 * time.Second)
	for !b.hw.Radio.RegistrationOpen() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.rec.errorf("push-no-window", "%s: registration mode not open %v after the push", b.ID, time.Since(t0).Round(time.Millisecond))
			return
		}
		time.Sleep(time.Millisecond)
	}
	f.rec.add("push→window", time.Since(t0))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := hs.Pair(pctx, pin); err != nil {
		f.rec.errorf("push-pair", "%s: %v", b.ID, err)
		return
	}
	want := fmt.Sprintf("dect-%09x", hs.IPEI())
	for {
		if b.knows(want) {
			break
		}
		if pctx.Err() != nil {
			f.rec.errorf("push-pair", "%s: paired at the module, the daemon does not list %s", b.ID, want)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.rec.add("push→paired", time.Since(t0))
}

// knows reports whether the daemon lists device id.
func (b *base) knows(id string) bool {
	for _, d := range b.d.Radio().Devices() {
		if dectIDOf(d) == id {
			return true
		}
	}
	return false
}

// configPushes publishes a new configuration version to every base (the
// extensions' display names change) and waits for each to report it
// applied: push → applied.
func (f *fleetRun) configPushes(ctx context.Context, bases []*base) {
	paced(ctx, len(bases), f.o.CfgRate, func(i int) {
		b := bases[i]
		cfg := b.nextConfig(f.o.Registrar, " (pushed)")
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		t0 := time.Now()
		if _, err := f.cl.Push(pctx, cfg, nil); err != nil {
			f.rec.errorf("config-push", "%s: %v", b.ID, err)
			return
		}
		f.rec.add("config push→applied", time.Since(t0))
	})
}

// brokerRestart stops the broker at RestartAt into the steady state,
// waits until the bases have seen it gone (at most 15 s), starts it again
// and measures how long until every base is connected again.
func (f *fleetRun) brokerRestart(ctx context.Context, bases []*base) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(f.o.RestartAt):
	}
	f.rec.mark("restart")
	if err := f.o.BrokerStop(ctx); err != nil {
		f.rec.errorf("broker-restart", "stop: %v", err)
		return
	}
	gone := time.Now().Add(15 * time.Second)
	for _, b := range bases {
		for b.d.Status().CloudConnected && time.Now().Before(gone) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t0 := time.Now()
	if err := f.o.BrokerStart(ctx); err != nil {
		f.rec.errorf("broker-restart", "start: %v", err)
		return
	}
	pending := map[*base]bool{}
	for _, b := range bases {
		pending[b] = true
	}
	for len(pending) > 0 {
		if ctx.Err() != nil {
			f.rec.errorf("reconnect", "%d bases not connected again %v after the broker came back", len(pending), time.Since(t0).Round(time.Millisecond))
			return
		}
		for b := range pending {
			if b.d.Status().CloudConnected {
				delete(pending, b)
			}
		}
		f.connected.Store(int64(len(bases) - len(pending)))
		time.Sleep(100 * time.Millisecond)
	}
	f.rec.reconnected(time.Since(t0))
	f.rec.mark("steady")
}
