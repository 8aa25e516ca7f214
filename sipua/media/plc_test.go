package media

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"
)

func sine(n, rate int, freq, amp float64, phase0 int) []int16 {
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i+phase0)/float64(rate)))
	}
	return x
}

// TestPLCContinuesVoicedSound: a 200 Hz tone (a voiced pitch) with 20 ms
// lost is continued by pitch repetition at nearly its level (the bin keeps
// the tone), and a long loss fades to silence by 60 ms.
func TestPLCContinuesVoicedSound(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		p := newPLC(rate)
		fs := rate / 100
		for k := range 10 {
			p.good(sine(fs, rate, 200, 10000, k*fs))
		}
		lost := make([]int16, 2*fs)
		p.conceal(lost[:fs])
		p.conceal(lost[fs:])
		pt := goertzelPower(lost, rate, 200)
		if e := energy(lost); pt < 0.3*e || e < 0.3*5e7 {
			t.Errorf("%d Hz: concealment energy %.0f, tone part %.2f", rate, e, pt/e)
		}
		// Continuity at the boundary: the first concealed sample is close
		// to where the tone would be.
		want := sine(1, rate, 200, 10000, 10*fs)[0]
		if d := math.Abs(float64(lost[0]) - float64(want)); d > 3000 {
			t.Errorf("%d Hz: discontinuity %.0f at the start of concealment", rate, d)
		}
		for range 5 {
			p.conceal(lost[:fs])
		}
		if e := energy(lost[:fs]); e != 0 {
			t.Errorf("%d Hz: still %.0f energy after 70 ms of loss", rate, e)
		}
		// Recovery: the good frame is cross-faded, not clicked in.
		g := sine(fs, rate, 200, 10000, 17*fs)
		p.good(g)
		if math.Abs(float64(g[0])) > 2000 {
			t.Errorf("%d Hz: first sample after recovery %d, want a fade-in from silence", rate, g[0])
		}
	}
}

// TestHalfbandResampler: a 1 kHz tone keeps its level and frequency through
// 8→16→8 kHz; a 6 kHz tone at 16 kHz is removed by the down-sampler.
func TestHalfbandResampler(t *testing.T) {
	up, down := newHalfband(), newHalfband()
	in := sine(8000, 8000, 1000, 10000, 0)
	mid := make([]int16, 16000)
	out := make([]int16, 8000)
	for i := 0; i < 8000; i += 80 {
		up.up(mid[2*i:2*i+160], in[i:i+80])
		down.down(out[i:i+80], mid[2*i:2*i+160])
	}
	if r := energy(mid[1600:]) / energy(in[800:]); r < 0.8 || r > 1.2 {
		t.Errorf("up-sampled energy ratio %.2f", r)
	}
	if r := energy(out[800:]) / energy(in[800:]); r < 0.8 || r > 1.2 {
		t.Errorf("round-trip energy ratio %.2f", r)
	}
	if p := goertzelPower(mid[1600:], 16000, 7000); p > 1e-3*goertzelPower(mid[1600:], 16000, 1000) {
		t.Errorf("image at 7 kHz not suppressed: %.0f", p)
	}
	d2 := newHalfband()
	hi := sine(16000, 16000, 6000, 10000, 0)
	lo := make([]int16, 8000)
	for i := 0; i < 16000; i += 160 {
		d2.down(lo[i/2:i/2+80], hi[i:i+160])
	}
	if r := energy(lo[800:]) / energy(hi[1600:]); r > 0.01 {
		t.Errorf("6 kHz leaked into 8 kHz output: ratio %.3f", r)
	}
}

func TestSessionAPIErrors(t *testing.T) {
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.LocalAddr().Port(); p%2 != 0 {
		t.Errorf("RTP port %d is odd", p)
	}
	if _, err := NewSession(Config{LocalAddr: s.LocalAddr()}); err == nil {
		t.Error("second bind on the same port succeeded")
	}
	ctx := context.Background()
	if err := s.Run(ctx, newFakePort(8000, 0)); !errors.Is(err, ErrNotApplied) {
		t.Errorf("Run before Apply: %v", err)
	}
	if err := s.SendDigit('1', 0); !errors.Is(err, ErrNotApplied) {
		t.Errorf("SendDigit before Apply: %v", err)
	}
	ok := Negotiated{Codec: PCMU, PTime: 20 * time.Millisecond, Remote: netip.MustParseAddrPort("127.0.0.1:9"), EventPT: 101}
	for _, bad := range []Negotiated{
		{Codec: 0, PTime: 20 * time.Millisecond},
		{Codec: PCMU, PTime: 30 * time.Millisecond},
		{Codec: PCMU, PTime: 20 * time.Millisecond, SRTP: &SRTPKeys{Suite: SuiteAES128SHA1_80, LocalKey: []byte{1}, RemoteKey: []byte{2}}},
		{Codec: PCMU, PTime: 20 * time.Millisecond, SRTP: &SRTPKeys{Suite: "F8_128_HMAC_SHA1_80", LocalKey: make([]byte, 30), RemoteKey: make([]byte, 30)}},
	} {
		if err := s.Apply(bad); err == nil {
			t.Errorf("Apply(%+v) accepted", bad)
		}
	}
	if err := s.Apply(ok); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx, newFakePort(44100, 0)); err == nil {
		t.Error("44.1 kHz port accepted")
	}
	if err := s.SendDigit('x', 0); err == nil {
		t.Error("digit x accepted")
	}
	if err := s.SendDigit('1', 10*time.Second); err == nil {
		t.Error("10 s digit accepted")
	}
	hold := ok
	hold.Direction = RecvOnly
	s.Apply(hold)
	if err := s.SendDigit('1', 0); !errors.Is(err, ErrNotSending) {
		t.Errorf("SendDigit on hold: %v", err)
	}
	// Close stops a running session.
	s.Apply(ok)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, newFakePort(8000, 0)) }()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop Run")
	}
	if err := s.Apply(ok); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after close: %v", err)
	}
}

func TestEModel(t *testing.T) {
	r, mos := EModel(PCMU, 0, 40*time.Millisecond)
	if r < 92 || r > 93.2 || mos < 4.3 || mos > 4.45 {
		t.Errorf("clean call: R %.1f MOS %.2f", r, mos)
	}
	// 5 % random loss with PLC: Ie,eff = 95·5/(5+25.1) ≈ 15.8.
	r5, _ := EModel(PCMA, 5, 40*time.Millisecond)
	if d := r - r5; d < 15 || d > 16.5 {
		t.Errorf("5 %% loss costs %.1f R points, want ≈ 15.8", d)
	}
	// Delay beyond 177.3 ms costs the extra 0.11/ms.
	r300, _ := EModel(G722, 0, 300*time.Millisecond)
	if want := 93.2 - 0.024*300 - 0.11*(300-177.3); r300 < want-0.01 || r300 > want+0.01 {
		t.Errorf("300 ms: R %.2f, want %.2f", r300, want)
	}
	if _, m := EModel(PCMU, 100, time.Second); m != 1 {
		t.Errorf("total loss MOS %.2f, want 1", m)
	}
}
