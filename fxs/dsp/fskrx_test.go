package dsp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func fskBurst(t testing.TB, rate int, mode FSKMode, msg []byte) []int16 {
	t.Helper()
	tx, err := NewFSKTransmitter(rate, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Start(mode, msg); err != nil {
		t.Fatal(err)
	}
	lead := make([]int16, rate/10) // 100 ms of silence first
	out := append(lead, make([]int16, int(tx.Duration()*time.Duration(rate)/time.Second)+rate/50)...)
	tx.Fill(out[len(lead):])
	return out
}

func testCID(t testing.TB) []byte {
	c := CallerID{Time: time.Date(2026, 3, 14, 15, 9, 0, 0, time.UTC), Number: "6135550100", Name: "ACME Widgets"}
	msg, err := c.MDMF()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestFSKReceiverRoundTrip(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		for _, mode := range []FSKMode{TypeI, TypeII} {
			for _, msg := range [][]byte{testCID(t), VMWI(true), VMWISDMF(false)} {
				r, err := NewFSKReceiver(rate)
				if err != nil {
					t.Fatal(err)
				}
				x := fskBurst(t, rate, mode, msg)
				for off := 0; off < len(x); off += 80 {
					r.Write(x[off:min(off+80, len(x))])
				}
				got, err := r.Message()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("rate %d %v: got % X, %v; want % X", rate, mode, got, err, msg)
				}
			}
		}
	}
}

func TestFSKReceiverNoise(t *testing.T) {
	msg := testCID(t)
	x := fskBurst(t, 8000, TypeI, msg)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = clip16(float64(x[i]) + rng.NormFloat64()*300) // about 20 dB SNR
	}
	r, _ := NewFSKReceiver(8000)
	r.Write(x)
	if got, err := r.Message(); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("noisy burst: % X, %v", got, err)
	}
}

func TestFSKReceiverFailures(t *testing.T) {
	msg := testCID(t)
	cases := []struct {
		name string
		mod  func(x []int16) []int16
		want error
	}{
		{"silence", func(x []int16) []int16 { return make([]int16, len(x)) }, ErrFSKNoCarrier},
		{"cut", func(x []int16) []int16 { return x[:len(x)*3/4] }, ErrFSKTruncated},
		{"marks only", func(x []int16) []int16 {
			tx, _ := NewFSKTransmitter(8000, nil)
			_ = tx.Start(TypeII, msg)
			y := make([]int16, 400) // 50 ms: marks only
			tx.Fill(y)
			return y
		}, ErrFSKNoMessage},
		{"bit flip", func(x []int16) []int16 {
			// Replace one bit time in the body with the other tone.
			bad := append([]byte(nil), msg...)
			bad[10] ^= 0x08
			y := fskBurst(t, 8000, TypeI, msg)
			z := fskBurst(t, 8000, TypeI, append(bad[:len(bad)-1:len(bad)-1], Checksum(bad[:len(bad)-1])))
			// z has a valid checksum for bad: splice z's body into y, keep y's checksum.
			cut := len(y) - 8000/50 - (8+10)*8000/1200 // before the checksum byte
			return append(z[:cut:cut], y[cut:]...)
		}, ErrFSKChecksum},
	}
	for _, tc := range cases {
		r, _ := NewFSKReceiver(8000)
		r.Write(tc.mod(fskBurst(t, 8000, TypeI, msg)))
		if _, err := r.Message(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzFSKReceiver feeds arbitrary samples, in arbitrary chunks, to the
// receiver: it never panics, and whatever message it returns is complete:
// its length byte matches, and without an error its checksum holds.
func FuzzFSKReceiver(f *testing.F) {
	enc := func(x []int16) []byte {
		b := make([]byte, 2*len(x))
		for i, v := range x {
			b[2*i], b[2*i+1] = byte(v), byte(uint16(v)>>8)
		}
		return b
	}
	f.Add(enc(fskBurst(f, 8000, TypeI, testCID(f))), uint8(80), false)
	f.Add(enc(fskBurst(f, 16000, TypeII, VMWI(true))), uint8(160), true)
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f}, uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, wide bool) {
		rate := 8000
		if wide {
			rate = 16000
		}
		r, err := NewFSKReceiver(rate)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int16, len(data)/2)
		for i := range x {
			x[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		n := int(chunk) + 1
		for off := 0; off < len(x); off += n {
			r.Write(x[off:min(off+n, len(x))])
		}
		msg, err := r.Message()
		if msg != nil {
			if len(msg) < 3 || int(msg[1])+3 != len(msg) {
				t.Fatalf("incomplete message % X (err %v)", msg, err)
			}
			if err == nil && Checksum(msg[:len(msg)-1]) != msg[len(msg)-1] {
				t.Fatalf("message % X returned with a bad checksum", msg)
			}
		}
		if r.Carrier() == 0 && !errors.Is(err, ErrFSKNoCarrier) {
			t.Fatalf("no carrier heard but error %v", err)
		}
	})
}
