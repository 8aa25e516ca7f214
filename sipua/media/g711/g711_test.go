package g711

import (
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"testing"

	"basestation/internal/testpeer"
)

// TestAgainstSpandsp compares every input and every code with spandsp's
// g711.h, compiled by gcc.
func TestAgainstSpandsp(t *testing.T) {
	gcc := testpeer.Require(t, "gcc")[0]
	testpeer.RequireFile(t, "/usr/include/spandsp/g711.h")
	bin := filepath.Join(t.TempDir(), "g711ref")
	if b, err := exec.Command(gcc, "-O2", "-Wall", "-o", bin, filepath.Join("testdata", "g711ref.c"), "-lspandsp", "-lm").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 65536*2+256*4 {
		t.Fatalf("harness wrote %d bytes", len(out))
	}
	bad := 0
	for i := range 65536 {
		s := int16(i - 32768)
		if u, a := EncodeUlaw(s), EncodeAlaw(s); u != out[2*i] || a != out[2*i+1] {
			if bad++; bad < 10 {
				t.Errorf("encode %d: got µ %#02x A %#02x, spandsp µ %#02x A %#02x", s, u, a, out[2*i], out[2*i+1])
			}
		}
	}
	dec := out[65536*2:]
	for c := range 256 {
		wu := int16(binary.LittleEndian.Uint16(dec[4*c:]))
		wa := int16(binary.LittleEndian.Uint16(dec[4*c+2:]))
		if u, a := DecodeUlaw(byte(c)), DecodeAlaw(byte(c)); u != wu || a != wa {
			t.Errorf("decode %#02x: got µ %d A %d, spandsp µ %d A %d", c, u, a, wu, wa)
		}
	}
}

// TestReferenceVectors checks the published values (telephony.md §6.1).
func TestReferenceVectors(t *testing.T) {
	enc := []struct {
		in   int16
		u, a byte
	}{{0, 0xFF, 0xD5}, {-1, 0x7F, 0x55}, {100, 0xF2, 0xD3}, {1000, 0xCE, 0xFA}, {-1000, 0x4E, 0x7A},
		{16000, 0x90, 0xBA}, {32767, 0x80, 0xAA}, {-32768, 0x00, 0x2A}}
	for _, v := range enc {
		if u, a := EncodeUlaw(v.in), EncodeAlaw(v.in); u != v.u || a != v.a {
			t.Errorf("encode %d = %#02x/%#02x, want %#02x/%#02x", v.in, u, a, v.u, v.a)
		}
	}
	du := map[byte]int16{0x00: -32124, 0x80: 32124, 0xFF: 0, 0x7F: 0, 0x0F: -16764, 0x8F: 16764, 0x70: -120, 0xF0: 120}
	for c, w := range du {
		if g := DecodeUlaw(c); g != w {
			t.Errorf("DecodeUlaw(%#02x) = %d, want %d", c, g, w)
		}
	}
	da := map[byte]int16{0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256, 0x80: 5504, 0xD4: 24, 0x00: -5504}
	for c, w := range da {
		if g := DecodeAlaw(c); g != w {
			t.Errorf("DecodeAlaw(%#02x) = %d, want %d", c, g, w)
		}
	}
	// Round trip: every code survives decode→encode except µ-law 0x7F (−0).
	for c := range 256 {
		if c != 0x7F && EncodeUlaw(DecodeUlaw(byte(c))) != byte(c) {
			t.Errorf("µ-law %#02x does not round-trip", c)
		}
		if EncodeAlaw(DecodeAlaw(byte(c))) != byte(c) {
			t.Errorf("A-law %#02x does not round-trip", c)
		}
	}
}

func BenchmarkEncodeUlawFrame(b *testing.B) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(i*397 - 30000)
	}
	dst := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		EncodeUlawFrame(dst, src)
	}
}

func BenchmarkDecodeUlawFrame(b *testing.B) {
	src := make([]byte, 160)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		DecodeUlawFrame(dst, src)
	}
}

func BenchmarkEncodeAlawFrame(b *testing.B) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(i*397 - 30000)
	}
	dst := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		EncodeAlawFrame(dst, src)
	}
}

func BenchmarkDecodeAlawFrame(b *testing.B) {
	src := make([]byte, 160)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		DecodeAlawFrame(dst, src)
	}
}
