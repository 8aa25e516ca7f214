package media

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakePort is an audio port paced like a hardware clock (frame k is ready
// at start + k·10 ms; a late reader catches up without losing frames),
// producing a tone and recording what is played.
type fakePort struct {
	rate    int
	freq    float64
	amp     float64
	n       int
	mu      sync.Mutex
	played  []int16
	start   time.Time
	frames  int
	maxKeep int
}

func newFakePort(rate int, freq float64) *fakePort {
	return &fakePort{rate: rate, freq: freq, amp: 8000, maxKeep: rate * 10}
}

func (p *fakePort) Rate() int { return p.rate }

func (p *fakePort) ReadFrame(ctx context.Context, dst []int16) error {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.frames++
	if wait := time.Until(p.start.Add(time.Duration(p.frames) * 10 * time.Millisecond)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	for i := range dst {
		dst[i] = int16(p.amp * math.Sin(2*math.Pi*p.freq*float64(p.n)/float64(p.rate)))
		p.n++
	}
	return nil
}

func (p *fakePort) WriteFrame(ctx context.Context, src []int16) error {
	p.mu.Lock()
	if len(p.played) < p.maxKeep {
		p.played = append(p.played, src...)
	}
	p.mu.Unlock()
	return nil
}

func (p *fakePort) playedLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.played)
}

func (p *fakePort) snapshot() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.played...)
}

// goertzelPower is the normalised power of freq in x.
func goertzelPower(x []int16, rate int, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + k*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	return p / float64(len(x)) / float64(len(x))
}

func energy(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e / float64(len(x))
}

type pair struct {
	a, b       *Session
	na, nb     *Negotiator
	pa, pb     Negotiated
	offer, ans []byte
}

func newPair(t *testing.T, ca, cb Config, oa, ob Options) *pair {
	t.Helper()
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	if ca.Logger == nil {
		ca.Logger = quietLog()
	}
	if cb.Logger == nil {
		cb.Logger = quietLog()
	}
	if !ca.LocalAddr.IsValid() {
		ca.LocalAddr = lo
	}
	if !cb.LocalAddr.IsValid() {
		cb.LocalAddr = lo
	}
	a, err := NewSession(ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(cb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if !oa.Addr.IsValid() {
		oa.Addr = a.LocalAddr()
	}
	if !ob.Addr.IsValid() {
		ob.Addr = b.LocalAddr()
	}
	na, err := NewNegotiator(oa)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := NewNegotiator(ob)
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{a: a, b: b, na: na, nb: nb}
	if p.offer, err = na.Offer(); err != nil {
		t.Fatal(err)
	}
	if p.ans, p.pb, err = nb.Answer(p.offer); err != nil {
		t.Fatal(err)
	}
	if p.pa, err = na.ProcessAnswer(p.ans); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(p.pa); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(p.pb); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoopbackTone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec Codec
		rateA int
		rateB int
		freq  float64
		ptime time.Duration
	}{
		{"PCMU", PCMU, 8000, 8000, 1000, 20 * time.Millisecond},
		{"PCMA-10ms", PCMA, 8000, 8000, 700, 10 * time.Millisecond},
		{"G722-wideband", G722, 16000, 16000, 5000, 20 * time.Millisecond},
		{"PCMU-16k-port", PCMU, 16000, 8000, 1200, 20 * time.Millisecond},
		{"G722-8k-ports", G722, 8000, 8000, 1500, 20 * time.Millisecond},
		{"G722-10ms-mixed", G722, 8000, 16000, 800, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, Config{}, Config{},
				Options{Codecs: []Codec{tc.codec}, PTime: tc.ptime}, Options{})
			if p.pb.Codec != tc.codec {
				t.Fatalf("negotiated %v, want %v", p.pb.Codec, tc.codec)
			}
			pa := newFakePort(tc.rateA, tc.freq)
			pb := newFakePort(tc.rateB, 0)
			// Run until B has played 1.2 s of audio (about 1.2 s of wall
			// time on an idle machine; longer when the machine is loaded,
			// capped at 15 s), so a busy CI host does not cut the audio short.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { defer wg.Done(); _ = p.a.Run(ctx, pa) }()
			go func() { defer wg.Done(); _ = p.b.Run(ctx, pb) }()
			go func() {
				defer wg.Done()
				defer cancel()
				for ctx.Err() == nil && pb.playedLen() < tc.rateB*12/10 {
					time.Sleep(10 * time.Millisecond)
				}
			}()
			wg.Wait()
			got := pb.snapshot()
			// Skip the first 300 ms (prebuffer, filter start-up).
			sk := tc.rateB * 3 / 10
			if len(got) < sk+tc.rateB/2 {
				t.Fatalf("played only %d samples", len(got))
			}
			seg := got[sk:]
			pt := goertzelPower(seg, tc.rateB, tc.freq)
			po := goertzelPower(seg, tc.rateB, tc.freq*1.37)
			e := energy(seg)
			if e < 1e6 || pt < 0.2*e || po*50 > pt {
				t.Fatalf("tone %v Hz not received: energy %.0f, tone power %.0f, off-tone %.0f", tc.freq, e, pt, po)
			}
			st := p.b.Stats()
			if st.PacketsReceived == 0 || st.Codec != tc.codec {
				t.Fatalf("stats %+v", st)
			}
			t.Logf("stats B: %+v", st)
		})
	}
}

// quietLog discards session logs unless the tests run with -v.
func quietLog() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
