package dsp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"basestation/hal"
)

// hookRun feeds transitions (state flips at the given times, starting from
// on-hook: off, on, off, ...) and ticks every 10 ms up to end, as a line
// driver polling the SLIC would; it returns the events as text.
func hookRun(t *testing.T, opts *HookOpts, flips []time.Duration, end time.Duration) string {
	t.Helper()
	h, err := NewHookClassifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ev []HookEvent
	state := hal.OnHook
	tick := time.Duration(0)
	for _, at := range flips {
		for ; tick < at; tick += 10 * ms {
			if ev, err = h.Tick(tick, ev); err != nil {
				t.Fatal(err)
			}
		}
		state = 1 - state
		if ev, err = h.Transition(state, at, ev); err != nil {
			t.Fatal(err)
		}
	}
	for ; tick <= end; tick += 10 * ms {
		if ev, err = h.Tick(tick, ev); err != nil {
			t.Fatal(err)
		}
	}
	return hookText(ev)
}

func hookText(ev []HookEvent) string {
	var b strings.Builder
	for _, e := range ev {
		switch e.Kind {
		case HookDigit:
			fmt.Fprintf(&b, "digit %c@%v ", e.Digit, e.At)
		case HookFlash:
			fmt.Fprintf(&b, "flash@%v/%v ", e.At, e.Duration)
		case HookBadDigit:
			fmt.Fprintf(&b, "bad %d@%v ", e.Pulses, e.At)
		default:
			fmt.Fprintf(&b, "%v@%v ", e.Kind, e.At)
		}
	}
	return strings.TrimSpace(b.String())
}

// pulseTrain appends the flips of n pulses at pps with the given break
// ratio, starting at t (off-hook), and returns the flips and the time the
// last make begins.
func pulseTrain(flips []time.Duration, t time.Duration, n int, pps, breakRatio float64) ([]time.Duration, time.Duration) {
	period := time.Duration(float64(time.Second) / pps)
	brk := time.Duration(float64(period) * breakRatio)
	for range n {
		flips = append(flips, t, t+brk)
		t += period
	}
	return flips, t - period + brk
}

func TestHookPulseDigits(t *testing.T) {
	for _, pps := range []float64{8, 10, 12} {
		for _, ratio := range []float64{0.58, 0.60, 0.64} {
			flips := []time.Duration{100 * ms} // off-hook
			t0 := 1000 * ms
			var want strings.Builder
			want.WriteString("off-hook@100ms")
			for n := 1; n <= 10; n++ {
				var last time.Duration
				start := t0
				flips, last = pulseTrain(flips, t0, n, pps, ratio)
				fmt.Fprintf(&want, " digit %c@%v", byte('0'+n%10), start)
				t0 = last + 600*ms // inter-digit pause
			}
			got := hookRun(t, nil, flips, t0+time.Second)
			if got != want.String() {
				t.Errorf("%v pps %.0f%% break:\n got %s\nwant %s", pps, 100*ratio, got, want.String())
			}
		}
	}
}

func TestHookPulseWithBounce(t *testing.T) {
	// Each edge of a 10 pps train bounces: 3 ms of contact chatter.
	flips := []time.Duration{100 * ms}
	t0 := 1000 * ms
	for i := range 7 {
		b := t0 + time.Duration(i)*100*ms
		flips = append(flips, b, b+2*ms, b+3*ms, b+60*ms, b+61*ms, b+63*ms)
	}
	if got, want := hookRun(t, nil, flips, 3*time.Second), "off-hook@100ms digit 7@1s"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHookFlashWindow(t *testing.T) {
	cases := []struct {
		onHook time.Duration
		want   string
	}{
		{5 * ms, ""},   // glitch
		{250 * ms, ""}, // longer than a pulse, shorter than a flash: glitch
		{300 * ms, "flash@1s/300ms"},
		{650 * ms, "flash@1s/650ms"},
		{1000 * ms, "flash@1s/1s"},
		{1001 * ms, "hang-up@1s off-hook@2.001s"},
		{3000 * ms, "hang-up@1s off-hook@4s"},
	}
	for _, c := range cases {
		got := hookRun(t, nil, []time.Duration{100 * ms, time.Second, time.Second + c.onHook}, 6*time.Second)
		want := strings.TrimSpace("off-hook@100ms " + c.want)
		if got != want {
			t.Errorf("on-hook %v: got %q want %q", c.onHook, got, want)
		}
	}
	// a configurable window
	o := &HookOpts{FlashMin: 100 * ms, MaxBreak: 90 * ms, FlashMax: 400 * ms}
	if got := hookRun(t, o, []time.Duration{0, time.Second, time.Second + 120*ms}, 3*time.Second); got != "off-hook@0s flash@1s/120ms" {
		t.Errorf("custom window: %s", got)
	}
	if got := hookRun(t, o, []time.Duration{0, time.Second, time.Second + 500*ms}, 3*time.Second); got != "off-hook@0s hang-up@1s off-hook@1.5s" {
		t.Errorf("custom window, 500 ms: %s", got)
	}
}

func TestHookHangUpNeedsOnlyTicks(t *testing.T) {
	h, err := NewHookClassifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := h.Transition(hal.OffHook, 0, nil)
	ev, _ = h.Tick(20*ms, ev)
	ev, _ = h.Transition(hal.OnHook, 5*time.Second, ev)
	if d, ok := h.Deadline(); !ok || d != 6*time.Second+1 {
		t.Fatalf("deadline %v %v, want just after 6s", d, ok)
	}
	ev, _ = h.Tick(6*time.Second, ev)
	if hookText(ev) != "off-hook@0s" || h.Idle() {
		t.Fatalf("hung up too early: %s", hookText(ev))
	}
	ev, _ = h.Tick(6*time.Second+ms, ev)
	if hookText(ev) != "off-hook@0s hang-up@5s" || !h.Idle() {
		t.Fatalf("no hang-up: %s", hookText(ev))
	}
	if _, ok := h.Deadline(); ok {
		t.Error("idle line has a deadline")
	}
	// a digit ends on a tick after the inter-digit pause
	ev, _ = h.Transition(hal.OffHook, 10*time.Second, ev[:0])
	flips, last := pulseTrain(nil, 11*time.Second, 3, 10, 0.6)
	st := hal.OnHook
	for _, f := range flips {
		ev, _ = h.Transition(st, f, ev)
		st = 1 - st
	}
	if d, ok := h.Deadline(); !ok || d != last+10*ms {
		t.Fatalf("make confirmation deadline %v %v, want %v", d, ok, last+10*ms)
	}
	ev, _ = h.Tick(last+10*ms, ev)
	if d, ok := h.Deadline(); !ok || d != last+250*ms {
		t.Fatalf("digit deadline %v %v, want %v", d, ok, last+250*ms)
	}
	ev, _ = h.Tick(last+250*ms, ev)
	if got := hookText(ev); got != "off-hook@10s digit 3@11s" {
		t.Errorf("got %s", got)
	}
}

func TestHookErrors(t *testing.T) {
	h, _ := NewHookClassifier(nil)
	if _, err := h.Transition(hal.OffHook, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Transition(hal.OnHook, 500*ms, nil); !errors.Is(err, ErrTime) {
		t.Errorf("time going back: %v", err)
	}
	if _, err := h.Tick(999*ms, nil); !errors.Is(err, ErrTime) {
		t.Errorf("tick going back: %v", err)
	}
	if _, err := h.Transition(hal.HookState(5), 2*time.Second, nil); !errors.Is(err, ErrOptions) {
		t.Errorf("bad state: %v", err)
	}
	for _, o := range []HookOpts{
		{MinBreak: 200 * ms},
		{MaxBreak: 400 * ms},
		{FlashMin: 2 * time.Second},
		{InterDigit: 5 * ms},
		{MinMake: -1},
	} {
		if _, err := NewHookClassifier(&o); !errors.Is(err, ErrOptions) {
			t.Errorf("options %+v: %v", o, err)
		}
	}
}

func TestHookTooManyPulses(t *testing.T) {
	flips, last := pulseTrain([]time.Duration{0}, time.Second, 12, 10, 0.6)
	if got := hookRun(t, nil, flips, last+time.Second); got != "off-hook@0s bad 12@1s" {
		t.Errorf("got %s", got)
	}
}
