package g711

import "math/bits"

// Idle (silence) octets.
const (
	UlawSilence byte = 0xFF
	AlawSilence byte = 0xD5
)

const ulawBias = 0x84

// EncodeUlaw encodes one linear sample to µ-law (spandsp linear_to_ulaw).
func EncodeUlaw(s int16) byte {
	linear := int(s)
	var mask byte
	if linear < 0 {
		linear = ulawBias - linear
		mask = 0x7F
	} else {
		linear = ulawBias + linear
		mask = 0xFF
	}
	seg := bits.Len(uint(linear|0xFF)) - 1 - 7
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return byte((seg<<4)|((linear>>(seg+3))&0x0F)) ^ mask
}

// DecodeUlaw decodes one µ-law octet (spandsp ulaw_to_linear).
func DecodeUlaw(u byte) int16 {
	u = ^u
	t := ((int(u&0x0F) << 3) + ulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

const alawAMI = 0x55

// EncodeAlaw encodes one linear sample to A-law (spandsp linear_to_alaw).
func EncodeAlaw(s int16) byte {
	linear := int(s)
	var mask byte
	if linear >= 0 {
		mask = 0x80 | alawAMI
	} else {
		mask = alawAMI
		linear = -linear - 1
	}
	seg := bits.Len(uint(linear|0xFF)) - 1 - 7
	if seg >= 8 {
		return 0x7F ^ mask
	}
	shift := 4
	if seg != 0 {
		shift = seg + 3
	}
	return byte((seg<<4)|((linear>>shift)&0x0F)) ^ mask
}

// DecodeAlaw decodes one A-law octet (spandsp alaw_to_linear).
func DecodeAlaw(a byte) int16 {
	a ^= alawAMI
	i := int(a&0x0F) << 4
	seg := int(a&0x70) >> 4
	if seg != 0 {
		i = (i + 0x108) << (seg - 1)
	} else {
		i += 8
	}
	if a&0x80 != 0 {
		return int16(i)
	}
	return int16(-i)
}

// EncodeUlawFrame encodes src into dst (len(dst) >= len(src)) and returns
// the number of octets written.
func EncodeUlawFrame(dst []byte, src []int16) int {
	dst = dst[:len(src)]
	for i, s := range src {
		dst[i] = EncodeUlaw(s)
	}
	return len(src)
}

// DecodeUlawFrame decodes src into dst (len(dst) >= len(src)) and returns
// the number of samples written.
func DecodeUlawFrame(dst []int16, src []byte) int {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = DecodeUlaw(b)
	}
	return len(src)
}

// EncodeAlawFrame is EncodeUlawFrame for A-law.
func EncodeAlawFrame(dst []byte, src []int16) int {
	dst = dst[:len(src)]
	for i, s := range src {
		dst[i] = EncodeAlaw(s)
	}
	return len(src)
}

// DecodeAlawFrame is DecodeUlawFrame for A-law.
func DecodeAlawFrame(dst []int16, src []byte) int {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = DecodeAlaw(b)
	}
	return len(src)
}
