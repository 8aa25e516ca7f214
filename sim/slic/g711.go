package slic

// companding is the law the chip's codec applies on the PCM highway.
type companding int

const (
	lawLinear companding = iota
	lawULaw
	lawALaw
)

// roundTrip returns what a linear sample becomes after crossing the slot
// in this law: encoded by one side, decoded by the other.
func (c companding) roundTrip(s int16) int16 {
	switch c {
	case lawULaw:
		return ulawToLinear(linearToULaw(s))
	case lawALaw:
		return alawToLinear(linearToALaw(s))
	}
	return s
}

// G.711 as in spandsp g711.h (telephony.md §6.1).
const ulawBias = 0x84

func topBit(v int) int {
	n := -1
	for v > 0 {
		v >>= 1
		n++
	}
	return n
}

func linearToULaw(s int16) byte {
	x := int(s)
	mask := byte(0xFF)
	if x < 0 {
		x = ulawBias - x - 1
		mask = 0x7F
	} else {
		x = ulawBias + x
	}
	seg := topBit(x|0xFF) - 7
	var u byte
	if seg >= 8 {
		u = 0x7F ^ mask
	} else {
		u = byte(seg<<4|(x>>(seg+3))&0xF) ^ mask
	}
	return u
}

func ulawToLinear(u byte) int16 {
	u = ^u
	t := ((int(u&0x0F) << 3) + ulawBias) << ((int(u) & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

func linearToALaw(s int16) byte {
	x := int(s)
	mask := byte(0x55 | 0x80)
	if x < 0 {
		mask = 0x55
		x = -x - 1
	}
	seg := topBit(x|0xFF) - 7
	if seg >= 8 {
		return 0x7F ^ mask
	}
	shift := 4
	if seg != 0 {
		shift = seg + 3
	}
	return byte(seg<<4|(x>>shift)&0x0F) ^ mask
}

func alawToLinear(a byte) int16 {
	a ^= 0x55
	i := int(a&0x0F) << 4
	seg := (int(a) & 0x70) >> 4
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
