package fleet

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"
)

// TestSlowPCMPace: with the production default (100 ms) frames come
// 100 ms apart, a reader that falls behind gets no burst, and Close ends a
// blocked read.
func TestSlowPCMPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewSlowPCM(hal.RateNarrowband, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]int16, hal.FrameSamples(hal.RateNarrowband))
		buf[3] = 7
		ctx := context.Background()
		t0 := time.Now()
		for i := 0; i < 5; i++ {
			if err := p.ReadFrame(ctx, buf); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(t0); el != 400*time.Millisecond || buf[3] != 0 {
			t.Fatalf("5 frames took %v (want 400ms: the first at once), sample %d", el, buf[3])
		}
		time.Sleep(time.Second) // the reader falls behind
		t1 := time.Now()
		for i := 0; i < 3; i++ {
			if err := p.ReadFrame(ctx, buf); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(t1); el != 200*time.Millisecond {
			t.Fatalf("after a pause 3 frames took %v, want 200ms (no catching up)", el)
		}
		if err := p.WriteFrame(ctx, buf); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- p.ReadFrame(ctx, buf) }()
		synctest.Wait()
		p.Close()
		if err := <-done; !errors.Is(err, hal.ErrClosed) {
			t.Fatalf("read across Close: %v", err)
		}
		if err := p.WriteFrame(ctx, buf); !errors.Is(err, hal.ErrClosed) {
			t.Fatalf("write after Close: %v", err)
		}
	})
}

func TestSlowPCMRefusesBadInput(t *testing.T) {
	if _, err := NewSlowPCM(11025, time.Second); err == nil {
		t.Error("rate 11025 accepted")
	}
	if _, err := NewSlowPCM(hal.RateNarrowband, time.Millisecond); err == nil {
		t.Error("a pace under one frame accepted")
	}
	p, _ := NewSlowPCM(hal.RateWideband, hal.FrameDuration)
	if p.Rate() != hal.RateWideband {
		t.Error(p.Rate())
	}
	if err := p.ReadFrame(context.Background(), make([]int16, 80)); err == nil {
		t.Error("80 samples read at 16 kHz")
	}
	if err := p.WriteFrame(context.Background(), make([]int16, 80)); err == nil {
		t.Error("80 samples written at 16 kHz")
	}
}

// TestHardware: a fleet base's board has no radio device path but an
// in-memory port, the slow PCM on its line chip, every LED and the button.
func TestHardware(t *testing.T) {
	if _, err := New(Options{Index: -1}); err == nil {
		t.Fatal("index -1 accepted")
	}
	a, err := New(Options{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Options{Index: 2, PCMPace: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := a.HAL()
	if h.Radio.Device != "" || h.SLIC.PCM != a.PCM || len(h.LEDs) != 5 || h.Button == nil || a.OpenPort(0) == nil {
		t.Fatalf("board: %+v", h)
	}
	port, err := a.OpenPort(20 * time.Millisecond)()
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	if b.PCM.pace != 50*time.Millisecond || a.PCM.pace != 100*time.Millisecond {
		t.Fatalf("paces %v %v", a.PCM.pace, b.PCM.pace)
	}
	if a.Radio.String() == "" {
		t.Fatal("no name")
	}
}
