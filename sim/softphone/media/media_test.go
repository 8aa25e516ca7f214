package media

import (
	"context"
	"math"
	"net"
	"testing"
	"time"
)

func TestAnalyseTones(t *testing.T) {
	for _, hz := range []float64{350, 440, 697, 1000, 1477, 2600, 3400} {
		for _, c := range []Codec{PCMU, PCMA} {
			var g Tone
			g.Rate = Rate
			pcm := make([]int16, 1600)
			g.Fill(pcm, hz, 8000)
			// Through the codec, as the far end hears it.
			b := make([]byte, len(pcm))
			c.Encode(b, pcm)
			c.Decode(pcm, b)
			a := Analyse(pcm, Rate)
			if math.Abs(a.Freq-hz) > 3 {
				t.Errorf("%v %v Hz: measured %.1f Hz", c, hz, a.Freq)
			}
			if a.Purity < 0.9 {
				t.Errorf("%v %v Hz: purity %.2f, want a clean tone", c, hz, a.Purity)
			}
		}
	}
	// Two tones of equal level: neither has most of the power.
	var g1, g2 Tone
	g1.Rate, g2.Rate = Rate, Rate
	a, b := make([]int16, 1600), make([]int16, 1600)
	g1.Fill(a, 697, 6000)
	g2.Fill(b, 1209, 6000)
	for i := range a {
		a[i] += b[i]
	}
	if an := Analyse(a, Rate); an.Purity > 0.6 {
		t.Errorf("dual tone: purity %.2f, want < 0.6", an.Purity)
	}
	if an := Analyse(make([]int16, 1600), Rate); an.Freq != 0 {
		t.Errorf("silence: freq %.1f, want 0", an.Freq)
	}
}

func TestEventPayload(t *testing.T) {
	var b [4]byte
	Event{Code: 5, End: true, Volume: 10, Duration: 800}.MarshalTo(b[:])
	if b != [4]byte{0x05, 0x8a, 0x03, 0x20} {
		t.Fatalf("payload % x, want 05 8a 03 20 (libraries.md §4.2)", b)
	}
	e, err := ParseEvent(b[:])
	if err != nil || e != (Event{Code: 5, End: true, Volume: 10, Duration: 800}) {
		t.Fatalf("ParseEvent = %+v, %v", e, err)
	}
	if _, err := ParseEvent([]byte{17, 0, 0, 1}); err == nil {
		t.Error("event code 17 accepted")
	}
	if _, err := ParseEvent([]byte{1, 0, 0}); err == nil {
		t.Error("3-byte payload accepted")
	}
}

// A sender and a receiver on loopback: the tone arrives at its frequency and
// the digits arrive once each, in order.
func TestSenderReceiver(t *testing.T) {
	a, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rx := NewReceiver(101, nil)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				return
			}
			_ = rx.Handle(buf[:n])
		}
	}()
	tx := NewSender(a, b.LocalAddr(), PCMA, 101)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	tone := Tone{Rate: Rate}
	go func() { done <- tx.Run(ctx, func(f []int16) { tone.Fill(f, 1200, 8000) }) }()
	if err := tx.SendDigits("1*9#"); err != nil {
		t.Fatal(err)
	}
	if err := tx.SendDigits("x"); err == nil {
		t.Error("digit x accepted")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (rx.Digits() != "1*9#" || rx.Packets() < 60) {
		time.Sleep(20 * time.Millisecond)
	}
	// The tone resumes after the digits.
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rx.Digits(); got != "1*9#" {
		t.Errorf("digits %q, want 1*9#", got)
	}
	an := Analyse(rx.Recent(1600), Rate)
	if math.Abs(an.Freq-1200) > 5 {
		t.Errorf("heard %.1f Hz, want 1200", an.Freq)
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{0x05, 0x8a, 0x03, 0x20})
	f.Add([]byte{16, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvent(b)
		if err != nil {
			return
		}
		var out [4]byte
		e.MarshalTo(out[:])
		// The R bit (0x40) is ignored by receivers and not kept.
		in := [4]byte{b[0], b[1] &^ 0x40, b[2], b[3]}
		if out != in {
			t.Fatalf("round trip % x -> %+v -> % x", b, e, out)
		}
	})
}

func FuzzReceiverHandle(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff})
	f.Add([]byte{0x80, 0xe5, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 5, 0x8a, 3, 0x20})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReceiver(101, nil)
		_ = r.Handle(b)
		if n := len(r.Recent(FrameSamples * 4)); n > FrameSamples*4 {
			t.Fatalf("recent %d samples", n)
		}
	})
}

func BenchmarkSenderFrame(b *testing.B) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := NewSender(c, c.LocalAddr(), PCMU, 101)
	tone := Tone{Rate: Rate}
	b.ReportAllocs()
	for b.Loop() {
		tone.Fill(s.pcm[:], 1000, 8000)
		if err := s.sendAudio(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnalyse200ms(b *testing.B) {
	tone := Tone{Rate: Rate}
	pcm := make([]int16, 1600)
	tone.Fill(pcm, 1000, 8000)
	b.ReportAllocs()
	for b.Loop() {
		Analyse(pcm, Rate)
	}
}
