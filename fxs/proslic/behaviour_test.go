package proslic

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"

	"periph.io/x/conn/v3/gpio/gpiotest"
)

func newModelDev(t *testing.T) (*Dev, *model) {
	t.Helper()
	m := newModel(0x03)
	d, err := New(hal.SLIC{Name: "SPI0.0", Port: m, IRQ: m.irq, Reset: &gpiotest.Pin{N: "RESET"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

func TestModelInitState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, m := newModelDev(t)
		if m.reg[14] != 0 || m.reg[64] != 0 || m.reg[1] != 0x38 || m.reg[34] != 0x18 {
			t.Fatalf("regs 14=%#x 64=%#x 1=%#x 34=%#x", m.reg[14], m.reg[64], m.reg[1], m.reg[34])
		}
		if m.ind[20] != 0x7EFD || m.ind[13] != 0x7B30 {
			t.Fatalf("indirect 20=%#x 13=%#x", m.ind[20], m.ind[13])
		}
		for _, lf := range []Linefeed{LFForward, LFForwardOHT, LFRinging, LFReverse, LFOpen} {
			if err := d.SetLinefeed(lf); err != nil {
				t.Fatal(err)
			}
			got, err := d.Linefeed()
			if err != nil || got != lf {
				t.Fatalf("linefeed %v, want %v (%v)", got, lf, err)
			}
		}
		if err := d.SetLinefeed(9); err == nil {
			t.Fatal("linefeed 9 accepted")
		}
		v, err := d.ReadIndirect(21)
		if err != nil || v != 0x1C8 {
			t.Fatalf("ReadIndirect(21) = %#x, %v", v, err)
		}
	})
}

func TestRunEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, m := newModelDev(t)
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var got []Event
		done := make(chan error, 1)
		go func() {
			done <- d.Run(ctx, func(e Event) { mu.Lock(); got = append(got, e); mu.Unlock() })
		}()
		_ = d.SetLinefeed(LFForward)
		m.setHook(true)
		time.Sleep(20 * time.Millisecond)
		m.raise(1, 1<<3) // power alarm Q2
		time.Sleep(20 * time.Millisecond)
		m.raise(0, irq1RingActive)
		time.Sleep(20 * time.Millisecond)
		m.setHook(false)
		time.Sleep(200 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []struct {
			k EventKind
			h hal.HookState
		}{{EvHook, hal.OffHook}, {EvPowerAlarm, 0}, {EvRingActive, 0}, {EvHook, hal.OnHook}}
		if len(got) != len(want) {
			t.Fatalf("events %+v", got)
		}
		for i, w := range want {
			if got[i].Kind != w.k || (w.k == EvHook && got[i].Hook != w.h) {
				t.Fatalf("event %d = %+v, want %v %v", i, got[i], w.k, w.h)
			}
		}
		if got[1].Alarm != 0x02 {
			t.Fatalf("alarm mask %#x", got[1].Alarm)
		}
		if lf, _ := d.Linefeed(); lf != LFOpen {
			t.Fatalf("Run left linefeed %v", lf)
		}
		if m.reg[19] != 0 || m.reg[18] != 0 {
			t.Fatal("interrupts not cleared")
		}
	})
}

func TestRegisterAccessAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := newModelDev(t)
		n := testing.AllocsPerRun(100, func() {
			_, _ = d.ReadReg(68)
			_ = d.WriteReg(64, 1)
		})
		if n != 0 {
			t.Fatalf("%v allocs per register access", n)
		}
	})
}

func BenchmarkReadReg(b *testing.B) {
	m := newModel(0x03)
	d, err := New(hal.SLIC{Name: "SPI0.0", Port: m}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.ReadReg(68)
	}
}
