package fxs

import (
	"context"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"basestation/hal"
	"basestation/sim/slic"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testPhone hangs on the simulated line: it records everything the line
// carries to it (with the virtual time of each frame), plays queued audio
// into its microphone and works the hook switch through the model.
type testPhone struct {
	m *slic.Model

	mu     sync.Mutex
	rec    []int16
	t0     time.Time // time of rec[0]
	mic    []int16
	events []slic.Event
}

func (ph *testPhone) LineEvent(ev slic.Event) {
	ph.mu.Lock()
	ph.events = append(ph.events, ev)
	ph.mu.Unlock()
}

func (ph *testPhone) Audio(toPhone, fromPhone []int16) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if ph.rec == nil {
		ph.t0 = time.Now()
	}
	ph.rec = append(ph.rec, toPhone...)
	n := copy(fromPhone, ph.mic)
	ph.mic = ph.mic[n:]
}

// say queues samples for the microphone.
func (ph *testPhone) say(s []int16) {
	ph.mu.Lock()
	ph.mic = append(ph.mic, s...)
	ph.mu.Unlock()
}

// recording returns what the phone heard from time from on.
func (ph *testPhone) recording(from time.Time) ([]int16, time.Time) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	i := int(from.Sub(ph.t0) * 8000 / time.Second)
	if i < 0 {
		i = 0
	}
	if i > len(ph.rec) {
		i = len(ph.rec)
	}
	return append([]int16(nil), ph.rec[i:]...), ph.t0.Add(time.Duration(i) * time.Second / 8000)
}

func (ph *testPhone) offHook() { ph.m.SetLoop(true) }
func (ph *testPhone) onHook()  { ph.m.SetLoop(false) }

// rotary dials d with 10 pps, 60/40 break/make.
func (ph *testPhone) rotary(d byte) { ph.rotaryAt(d, 60*time.Millisecond, 40*time.Millisecond) }

// rotaryAt dials d with the given break and make of each pulse.
func (ph *testPhone) rotaryAt(d byte, brk, mk time.Duration) {
	n := int(d - '0')
	if n == 0 {
		n = 10
	}
	for i := 0; i < n; i++ {
		ph.m.SetLoop(false)
		time.Sleep(brk)
		ph.m.SetLoop(true)
		time.Sleep(mk)
	}
}

// testDTMF synthesises a DTMF digit with plain sines (independent of the
// port's generator): on for dur at -10 dBm0 per tone, then gap of silence.
func testDTMF(d byte, dur, gap time.Duration) []int16 {
	rows := map[byte][2]float64{
		'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
		'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
		'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
		'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
	}
	f := rows[d]
	n := int(dur * 8000 / time.Second)
	out := make([]int16, n+int(gap*8000/time.Second))
	amp := 22756 * math.Pow(10, -10.0/20)
	for i := 0; i < n; i++ {
		t := float64(i) / 8000
		out[i] = int16(amp * (math.Sin(2*math.Pi*f[0]*t) + math.Sin(2*math.Pi*f[1]*t)))
	}
	return out
}

// rig is a port on the simulated chip with a test phone on the line.
type rig struct {
	t      *testing.T
	m      *slic.Model
	ph     *testPhone
	p      *Port
	cancel context.CancelFunc
	wg     sync.WaitGroup
	runErr error

	evMu sync.Mutex
	evs  []Event
}

func newRig(t *testing.T, cfg Config) *rig { t.Helper(); return newRigWrapped(t, cfg, nil) }

// newRigWrapped is newRig with the chip's hal.SLIC passed through wrap
// first (to inject bus failures); wrap nil leaves it as it is.
func newRigWrapped(t *testing.T, cfg Config, wrap func(hal.SLIC) hal.SLIC) *rig {
	t.Helper()
	m := slic.New(slic.Config{Logger: quietLog()})
	ph := &testPhone{m: m}
	m.Attach(ph)
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, m: m, ph: ph, cancel: cancel}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = m.Run(ctx) }()
	h := m.HAL()
	if wrap != nil {
		h = wrap(h)
	}
	p, err := New(h, cfg, quietLog())
	if err != nil {
		cancel()
		r.wg.Wait()
		t.Fatal(err)
	}
	r.p = p
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.runErr = p.Run(ctx) }()
	go func() {
		defer r.wg.Done()
		for {
			select {
			case e := <-p.Events():
				r.evMu.Lock()
				r.evs = append(r.evs, e)
				r.evMu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // line fed, first frames through
	return r
}

func (r *rig) stop() {
	r.cancel()
	r.wg.Wait()
	if r.runErr != nil {
		r.t.Errorf("Run: %v", r.runErr)
	}
}

func (r *rig) events() []Event {
	r.evMu.Lock()
	defer r.evMu.Unlock()
	return append([]Event(nil), r.evs...)
}

func (r *rig) clearEvents() {
	r.evMu.Lock()
	r.evs = nil
	r.evMu.Unlock()
}

// waitEvent waits (virtual time) for an event of kind k and returns it.
func (r *rig) waitEvent(k EventKind, within time.Duration) (Event, bool) {
	end := time.Now().Add(within)
	for {
		for _, e := range r.events() {
			if e.Kind == k {
				return e, true
			}
		}
		if !time.Now().Before(end) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Event{}, false
}

func (r *rig) mustEvent(k EventKind, within time.Duration) Event {
	r.t.Helper()
	e, ok := r.waitEvent(k, within)
	if !ok {
		r.t.Fatalf("no %v event within %v; events: %v", k, within, r.events())
	}
	return e
}

// ---- independent signal analysis (not the port's DSP) ----

// goertzelPower returns the power of frequency f in x (normalised so a
// sine of amplitude A gives about A²/2... scaled by N).
func goertzelPower(x []int16, f float64) float64 {
	w := 2 * math.Pi * f / 8000
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + c*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(x))
	return 2 * p / (n * n) // ≈ A²/2 for a sine of amplitude A
}

func meanPower(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e / float64(len(x))
}

// toneShare is the share of x's power at the given frequencies.
func toneShare(x []int16, freqs ...float64) float64 {
	var p float64
	for _, f := range freqs {
		p += goertzelPower(x, f)
	}
	return p / meanPower(x)
}

// segment is a stretch of sound.
type segment struct{ start, end int } // samples

// segments finds stretches where |x| exceeds thr, joining gaps shorter
// than minGap samples.
func segments(x []int16, thr int16, minGap int) []segment {
	var out []segment
	in := false
	last := -1 << 30
	for i, v := range x {
		if v > thr || v < -thr {
			if !in {
				if len(out) == 0 || i-last >= minGap {
					out = append(out, segment{start: i})
				}
				in = true
			}
			last = i
			out[len(out)-1].end = i + 1
		} else {
			in = false
		}
	}
	return out
}

func samplesDur(n int) time.Duration { return time.Duration(n) * time.Second / 8000 }

func within(got, want time.Duration, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}
