package media

import "testing"

// Vectors from reference/telephony.md §6.1 (spandsp algorithm, cross-checked
// with CPython audioop).
func TestG711Vectors(t *testing.T) {
	enc := []struct {
		lin  int16
		u, a byte
	}{
		{0, 0xFF, 0xD5}, {-1, 0x7F, 0x55}, {100, 0xF2, 0xD3}, {1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A}, {16000, 0x90, 0xBA}, {32767, 0x80, 0xAA}, {-32768, 0x00, 0x2A},
	}
	for _, v := range enc {
		if got := ULawEncode(v.lin); got != v.u {
			t.Errorf("ULawEncode(%d) = %#02x, want %#02x", v.lin, got, v.u)
		}
		if got := ALawEncode(v.lin); got != v.a {
			t.Errorf("ALawEncode(%d) = %#02x, want %#02x", v.lin, got, v.a)
		}
	}
	udec := map[byte]int16{0x00: -32124, 0x80: 32124, 0xFF: 0, 0x7F: 0, 0x0F: -16764, 0x8F: 16764, 0x70: -120, 0xF0: 120}
	for c, want := range udec {
		if got := ULawDecode(c); got != want {
			t.Errorf("ULawDecode(%#02x) = %d, want %d", c, got, want)
		}
	}
	adec := map[byte]int16{0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256, 0x80: 5504, 0xD4: 24, 0x00: -5504}
	for c, want := range adec {
		if got := ALawDecode(c); got != want {
			t.Errorf("ALawDecode(%#02x) = %d, want %d", c, got, want)
		}
	}
}

// Every code decodes to a value that encodes back to the same code (except
// µ-law's negative zero 0x7F, which is +0's twin).
func TestG711RoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		if c != 0x7F {
			if got := ULawEncode(ULawDecode(byte(c))); got != byte(c) {
				t.Errorf("µ-law %#02x -> %d -> %#02x", c, ULawDecode(byte(c)), got)
			}
		}
		if got := ALawEncode(ALawDecode(byte(c))); got != byte(c) {
			t.Errorf("A-law %#02x -> %d -> %#02x", c, ALawDecode(byte(c)), got)
		}
	}
}
