package media

// G.711 µ-law and A-law, written from ITU-T G.711 (segment/mantissa form, the
// same arithmetic as spandsp's g711.h) independently of the daemon's codec,
// so a bug there cannot hide behind a shared implementation.

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// ULawEncode converts one 16-bit linear sample to a µ-law octet.
func ULawEncode(x int16) byte {
	v := int(x)
	mask := byte(0xFF)
	if v < 0 {
		v = -v - 1 // one's-complement magnitude, as G.711 appendix code does
		mask = 0x7F
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	seg := 0
	for t := v >> 8; t > 0 && seg < 7; t >>= 1 {
		seg++
	}
	code := byte(seg<<4) | byte((v>>(seg+3))&0x0F)
	return code ^ mask
}

// ULawDecode converts a µ-law octet to a 16-bit linear sample.
func ULawDecode(u byte) int16 {
	u = ^u
	t := ((int(u&0x0F) << 3) + ulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// ALawEncode converts one 16-bit linear sample to an A-law octet.
func ALawEncode(x int16) byte {
	v := int(x)
	mask := byte(0xD5) // sign bit set (positive) + even-bit inversion
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	v >>= 3 // 13-bit domain
	if v > 0xFFF {
		v = 0xFFF
	}
	var code byte
	if v < 32 {
		code = byte(v >> 1)
	} else {
		seg := 1
		for t := v >> 6; t > 0; t >>= 1 {
			seg++
		}
		code = byte(seg<<4) | byte((v>>seg)&0x0F)
	}
	return code ^ mask
}

// ALawDecode converts an A-law octet to a 16-bit linear sample.
func ALawDecode(a byte) int16 {
	a ^= 0x55
	m := int(a & 0x0F)
	seg := int(a&0x70) >> 4
	var t int
	if seg == 0 {
		t = (m << 4) + 8
	} else {
		t = ((m << 4) + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
