package proslic

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"
	"basestation/sim/slic"
)

// Behaviour against the register-level chip model in sim/slic, written by
// another engineer from the same reference.

func TestSimProbeInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: discardLogger()})
		d, err := New(m.HAL(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		if id := d.Identity(); id.Part != Si3210 || id.Revision != 5 {
			t.Fatalf("identity %v", id)
		}
		st := m.Stats()
		if st.IndirectViolations != 0 || st.SPIWhileReset != 0 || st.UnsupportedFeatures != 0 {
			t.Fatalf("protocol violations: %+v", st)
		}
		if m.Reg(14) != 0 || m.Reg(96) != 0 || m.Reg(1) != 0x38 {
			t.Fatalf("after init: reg14=%#x reg96=%#x reg1=%#x", m.Reg(14), m.Reg(96), m.Reg(1))
		}
		if m.Indirect(20) != 0x7EFD {
			t.Fatalf("ring coefficient %#x", m.Indirect(20))
		}
	})
}

func TestSimSi3216(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Part: slic.Si3216, Logger: discardLogger()})
		d, err := New(m.HAL(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		if d.Identity().Part != Si3216 {
			t.Fatalf("identity %v", d.Identity())
		}
		if st := m.Stats(); st.IndirectViolations != 0 {
			t.Fatalf("violations %+v", st)
		}
	})
}

func TestSimMuteAndMissingChip(t *testing.T) {
	cases := []struct {
		cfg  slic.Config
		want error
		msg  string
	}{
		{slic.Config{Name: "SPI0.0", Mute: slic.MuteHigh}, ErrNoChip, "0xff"},
		{slic.Config{Name: "SPI0.0", Mute: slic.MuteLow}, ErrNoChip, "0x00"},
		{slic.Config{Name: "SPI0.0", Revision: 0xF, ForceRevision: true}, ErrNoChip, "0x0f"},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			c.cfg.Logger = discardLogger()
			m := slic.New(c.cfg)
			_, err := New(m.HAL(), quiet())
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "SPI0.0") {
				t.Fatalf("%+v: err %v", c.cfg, err)
			}
		})
	}
}

func TestSimEventsAndChipCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: discardLogger()})
		d, err := New(m.HAL(), quiet()) // 2 s / 4 s in the chip timers
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var evs []Event
		done := make(chan error, 1)
		go func() {
			done <- d.Run(ctx, func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
		}()
		if err := d.SetLinefeed(LFForward); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		m.SetLoop(true)
		time.Sleep(50 * time.Millisecond)
		if h, _ := d.Hook(); h != hal.OffHook {
			t.Fatal("hook not off")
		}
		m.SetLoop(false)
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		if err := d.SetLinefeed(LFRinging); err != nil {
			t.Fatal(err)
		}
		time.Sleep(12500 * time.Millisecond)
		_ = d.SetLinefeed(LFForward)
		m.InjectPowerAlarm(2)
		time.Sleep(100 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var on, off []time.Time
		for _, e := range m.Timeline() {
			if e.At.Before(t0) {
				continue
			}
			if e.Kind == slic.RingOn {
				on = append(on, e.At)
			}
			if e.Kind == slic.RingOff {
				off = append(off, e.At)
			}
		}
		if len(on) < 3 || len(off) < 2 {
			t.Fatalf("ring on %v off %v", on, off)
		}
		for i := 0; i < 2; i++ {
			if d := off[i].Sub(on[i]); d < 1960*time.Millisecond || d > 2040*time.Millisecond {
				t.Errorf("ring %d: %v", i, d)
			}
			if d := on[i+1].Sub(off[i]); d < 3920*time.Millisecond || d > 4080*time.Millisecond {
				t.Errorf("silence %d: %v", i, d)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		var kinds []string
		count := map[EventKind]int{}
		for _, e := range evs {
			kinds = append(kinds, e.Kind.String())
			count[e.Kind]++
		}
		if count[EvHook] != 2 || count[EvRingActive] < 2 || count[EvRingInactive] < 2 || count[EvPowerAlarm] != 1 {
			t.Fatalf("events %v", kinds)
		}
		if evs[0].Kind != EvHook || evs[0].Hook != hal.OffHook {
			t.Fatalf("first event %+v", evs[0])
		}
		if prog, _ := m.Linefeed(); prog != 0 {
			t.Fatalf("Run left linefeed %v", prog)
		}
	})
}

// A phone that trips the ring and opens the loop again before the
// loop-closure debounce ran out never sets LCR, so the chip raises no
// loop-status interrupt for the hang-up: Run reads the loop status
// RingTripAudit after the trip and reports the open loop as on-hook.
// (Without it the port held a call on an open line; seen when fxs's idle
// line answered a ring trip at once, in fxs TestEndpointActivity.)
func TestRingTripThenOpenLoopReportsOnHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: discardLogger()})
		d, err := New(m.HAL(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var evs []Event
		done := make(chan error, 1)
		go func() {
			done <- d.Run(ctx, func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
		}()
		if err := d.SetLinefeed(LFRinging); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		m.SetLoop(true)
		// Wait for the ring trip, then open the loop within the debounce.
		for range 200 {
			time.Sleep(time.Millisecond)
			mu.Lock()
			n := len(evs)
			mu.Unlock()
			if n > 0 {
				break
			}
		}
		m.SetLoop(false)
		time.Sleep(RingTripAudit + 50*time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, e := range evs {
			if e.Kind == EvRingTrip || e.Kind == EvHook {
				got = append(got, e.Kind.String()+":"+e.Hook.String())
			}
		}
		if s := strings.Join(got, ","); s != "ring-trip:off-hook,hook:on-hook" {
			t.Fatalf("events %s, want the ring trip then on-hook", s)
		}
	})
}
