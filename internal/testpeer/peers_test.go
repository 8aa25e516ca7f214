package testpeer

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// A tone written by WriteToneWAV reads back sample for sample.
func TestWAVRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.wav")
	if err := WriteToneWAV(p, 1000, 1); err != nil {
		t.Fatal(err)
	}
	x, rate, err := ReadWAV(p)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || len(x) != 8000 {
		t.Fatalf("rate %d, %d samples", rate, len(x))
	}
	for i, v := range x {
		want := int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
		if v != want {
			t.Fatalf("sample %d = %d, want %d", i, v, want)
		}
	}
}

// Malformed files are refused with an error naming what is wrong.
func TestParseWAVRefusesMalformed(t *testing.T) {
	good := func() []byte {
		b := make([]byte, 44+6)
		copy(b, "RIFF")
		copy(b[8:], "WAVEfmt ")
		binary.LittleEndian.PutUint32(b[16:], 16)
		binary.LittleEndian.PutUint16(b[20:], 1)
		binary.LittleEndian.PutUint16(b[22:], 1)
		binary.LittleEndian.PutUint32(b[24:], 8000)
		binary.LittleEndian.PutUint16(b[34:], 16)
		copy(b[36:], "data")
		binary.LittleEndian.PutUint32(b[40:], 6)
		return b
	}
	if _, _, err := ParseWAV(good()); err != nil {
		t.Fatalf("valid file refused: %v", err)
	}
	cases := []struct {
		name string
		mod  func([]byte) []byte
		want string
	}{
		{"not RIFF", func(b []byte) []byte { copy(b, "RIFX"); return b }, "not a RIFF/WAVE"},
		{"short", func(b []byte) []byte { return b[:8] }, "not a RIFF/WAVE"},
		{"not PCM", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[20:], 3); return b }, "not PCM"},
		{"stereo", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[22:], 2); return b }, "2 channels"},
		{"8-bit", func(b []byte) []byte { binary.LittleEndian.PutUint16(b[34:], 8); return b }, "8 bits"},
		{"no data", func(b []byte) []byte { copy(b[36:], "junk"); return b }, "no data chunk"},
		{"data first", func(b []byte) []byte { copy(b[12:], "xxxx"); return b }, "data chunk before fmt"},
		{"rate 0", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 0); return b }, "sample rate 0"},
		{"tiny fmt", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 4); return b[:28] }, "fmt chunk of 4 bytes"},
	}
	for _, c := range cases {
		_, _, err := ParseWAV(c.mod(good()))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func FuzzParseWAV(f *testing.F) {
	b := make([]byte, 44+4)
	copy(b, "RIFF")
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], 4)
	f.Add(b)
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, rate, err := ParseWAV(b)
		if err != nil {
			return
		}
		if rate <= 0 {
			t.Fatalf("accepted with sample rate %d", rate)
		}
		if 2*len(x) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(x), len(b))
		}
	})
}

// The kamailio PBX configuration refuses users or caller IDs it could
// not write safely, before starting anything.
func TestSafeToken(t *testing.T) {
	for _, s := range []string{"101", "+16135550101", "alice.b", "*97"} {
		if !safeToken(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "a b", "x\";", "a$b", "a\nb", "é"} {
		if safeToken(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
