package g722

// ITU-T G.722 tables (G.722 §4 and Appendix; identical in every
// implementation that follows the recommendation).
var (
	qmfFwd = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
	qmfRev = [12]int32{-11, 53, -156, 362, -805, 3876, 951, -210, 32, 12, -11, 3}
	qm2    = [4]int32{-7408, -1616, 7408, 1616}
	qm4    = [16]int32{
		0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
		20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
	}
	qm6 = [64]int32{
		-136, -136, -136, -136, -24808, -21904, -19008, -16704,
		-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
		-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
		-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
		24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
		10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
		4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
		1688, 1360, 1040, 728, 432, 136, -432, -136,
	}
	q6 = [32]int32{
		0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
		786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
	}
	ilb = [32]int32{
		2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
		2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
	}
	iln  = [32]int32{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0}
	ilp  = [32]int32{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0}
	ihn  = [3]int32{0, 1, 0}
	ihp  = [3]int32{0, 3, 2}
	wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
	rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	wh   = [3]int32{0, -214, 798}
	rh2  = [4]int32{2, 1, 2, 1}
)

func sat16(v int32) int32 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return v
}

func sat15(v int32) int32 {
	if v > 16383 {
		return 16383
	}
	if v < -16384 {
		return -16384
	}
	return v
}

// trunc16 is C's (int16_t) conversion.
func trunc16(v int32) int32 { return int32(int16(v)) }

// signDiffers reports whether two 16-bit values have different signs.
func signDiffers(a, b int32) bool { return (a^b)&0x8000 != 0 }

// band is the ADPCM state of one sub-band.
type band struct {
	s, sz, r int32
	a, b     [6]int32 // a uses [0..1]
	p        [2]int32
	d        [7]int32
	nb, det  int32
}

// block4 is G.722 block 4 (RECONS, PARREC, UPPOL2, UPPOL1, FILTEP, UPZERO,
// DELAYA, FILTEZ, PREDIC).
func (s *band) block4(dx int32) {
	r := sat16(s.s + dx)
	p := sat16(s.sz + dx)

	// UPPOL2
	wd1 := sat16(s.a[0] << 2)
	wd32 := -wd1
	if signDiffers(p, s.p[0]) {
		wd32 = wd1
	}
	if wd32 > 32767 {
		wd32 = 32767
	}
	c := int32(128)
	if signDiffers(p, s.p[1]) {
		c = -128
	}
	wd3 := trunc16(c + (wd32 >> 7) + ((s.a[1] * 32512) >> 15))
	if wd3 > 12288 {
		wd3 = 12288
	} else if wd3 < -12288 {
		wd3 = -12288
	}
	ap1 := wd3

	// UPPOL1
	wd1 = 192
	if signDiffers(p, s.p[0]) {
		wd1 = -192
	}
	wd2 := trunc16((s.a[0] * 32640) >> 15)
	ap0 := sat16(wd1 + wd2)
	wd3 = sat16(15360 - ap1)
	if ap0 > wd3 {
		ap0 = wd3
	} else if ap0 < -wd3 {
		ap0 = -wd3
	}

	// FILTEP
	wd1 = sat16(r + r)
	wd1 = trunc16((ap0 * wd1) >> 15)
	wd2 = sat16(s.r + s.r)
	wd2 = trunc16((ap1 * wd2) >> 15)
	sp := sat16(wd1 + wd2)
	s.r = r
	s.a[1] = ap1
	s.a[0] = ap0
	s.p[1] = s.p[0]
	s.p[0] = p

	// UPZERO, DELAYA, FILTEZ
	wd1 = 128
	if dx == 0 {
		wd1 = 0
	}
	s.d[0] = dx
	var sz int32
	for i := 5; i >= 0; i-- {
		wd2 = wd1
		if signDiffers(s.d[i+1], dx) {
			wd2 = -wd1
		}
		wd3 = trunc16((s.b[i] * 32640) >> 15)
		s.b[i] = sat16(wd2 + wd3)
		wd3 = sat16(s.d[i] + s.d[i])
		sz += (s.b[i] * wd3) >> 15
		s.d[i+1] = s.d[i]
	}
	s.sz = sat16(sz)

	// PREDIC
	s.s = sat16(sp + s.sz)
}

// scale updates the log scale factor nb and the linear det (LOGSCL/SCALEL,
// LOGSCH/SCALEH).
func (s *band) scale(w, limit, shift int32) {
	nb := (s.nb*127)>>7 + w
	if nb < 0 {
		nb = 0
	} else if nb > limit {
		nb = limit
	}
	s.nb = nb
	wd1 := (nb >> 6) & 31
	wd2 := shift - (nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = ilb[wd1] << -wd2
	} else {
		wd3 = ilb[wd1] >> wd2
	}
	s.det = trunc16(wd3 << 2)
}

// qmfLine is a 12-tap delay line stored twice so that the oldest-first
// window is always contiguous: after push, line[pos:pos+12] runs from the
// oldest to the newest sample.
type qmfLine struct {
	buf [24]int32
}

func (q *qmfLine) push(pos int, v int32) {
	q.buf[pos] = v
	q.buf[pos+12] = v
}

// dot is the circular dot product starting at the oldest sample pos.
func (q *qmfLine) dot(pos int, c *[12]int32) int32 {
	w := q.buf[pos : pos+12 : pos+12]
	return w[0]*c[0] + w[1]*c[1] + w[2]*c[2] + w[3]*c[3] + w[4]*c[4] + w[5]*c[5] +
		w[6]*c[6] + w[7]*c[7] + w[8]*c[8] + w[9]*c[9] + w[10]*c[10] + w[11]*c[11]
}

// Encoder is a G.722 64 kbit/s (mode 1) encoder: 16 kHz linear samples in,
// one octet per sample pair out.
type Encoder struct {
	band [2]band
	x, y qmfLine
	ptr  int
}

// NewEncoder returns an encoder in its reset state.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state.
func (e *Encoder) Reset() {
	*e = Encoder{}
	e.band[0].det = 32
	e.band[1].det = 8
}

// Encode encodes len(src) samples (an even number) into dst, which must
// hold len(src)/2 octets, and returns the octets written. A trailing odd
// sample is ignored.
func (e *Encoder) Encode(dst []byte, src []int16) int {
	n := len(src) / 2
	dst = dst[:n]
	for k := range n {
		// Transmit QMF.
		e.x.push(e.ptr, int32(src[2*k]))
		e.y.push(e.ptr, int32(src[2*k+1]))
		e.ptr++
		if e.ptr >= 12 {
			e.ptr = 0
		}
		sumodd := e.x.dot(e.ptr, &qmfFwd)
		sumeven := e.y.dot(e.ptr, &qmfRev)
		xlow := trunc16((sumeven + sumodd) >> 14)
		xhigh := trunc16((sumeven - sumodd) >> 14)

		// Low band: SUBTRA, QUANTL.
		lb := &e.band[0]
		el := sat16(xlow - lb.s)
		wd := el
		if el < 0 {
			wd = ^el
		}
		// First i in 1..29 with wd < q6[i]·det/4096, else 30. The
		// thresholds grow with i, so a binary search finds the same i as
		// the recommendation's linear scan.
		lo, hi := int32(1), int32(30)
		for lo < hi {
			mid := (lo + hi) / 2
			if wd < (q6[mid]*lb.det)>>12 {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		i := lo
		var ilow int32
		if el < 0 {
			ilow = iln[i]
		} else {
			ilow = ilp[i]
		}
		ril := ilow >> 2
		dlow := trunc16((lb.det * qm4[ril]) >> 15)
		lb.scale(wl[rl42[ril]], 18432, 8)
		lb.block4(dlow)

		// High band: SUBTRA, QUANTH.
		hb := &e.band[1]
		eh := sat16(xhigh - hb.s)
		wd = eh
		if eh < 0 {
			wd = ^eh
		}
		mih := 1
		if wd >= (564*hb.det)>>12 {
			mih = 2
		}
		var ihigh int32
		if eh < 0 {
			ihigh = ihn[mih]
		} else {
			ihigh = ihp[mih]
		}
		dhigh := trunc16((hb.det * qm2[ihigh]) >> 15)
		hb.scale(wh[rh2[ihigh]], 22528, 10)
		hb.block4(dhigh)

		dst[k] = byte(ihigh<<6 | ilow)
	}
	return n
}

// Decoder is a G.722 64 kbit/s (mode 1) decoder: one octet in, two 16 kHz
// samples out.
type Decoder struct {
	band [2]band
	x, y qmfLine
	ptr  int
	// wrap makes the QMF output wrap around instead of saturating, as
	// spandsp 0.0.6 does (newer spandsp saturates); tests set it to compare
	// bit for bit with the installed library.
	wrap bool
}

// NewDecoder returns a decoder in its reset state.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state.
func (d *Decoder) Reset() {
	*d = Decoder{wrap: d.wrap}
	d.band[0].det = 32
	d.band[1].det = 8
}

// Decode decodes src into dst, which must hold 2*len(src) samples, and
// returns the samples written.
func (d *Decoder) Decode(dst []int16, src []byte) int {
	dst = dst[:2*len(src)]
	for k, code := range src {
		c := int32(code)
		lb := &d.band[0]
		wd1 := c & 0x3F
		ihigh := (c >> 6) & 0x03
		wd2 := qm6[wd1]
		wd1 >>= 2
		rlow := sat15(lb.s + (lb.det*wd2)>>15)
		dlow := trunc16((lb.det * qm4[wd1]) >> 15)
		lb.scale(wl[rl42[wd1]], 18432, 8)
		lb.block4(dlow)

		hb := &d.band[1]
		dhigh := trunc16((hb.det * qm2[ihigh]) >> 15)
		rhigh := sat15(dhigh + hb.s)
		hb.scale(wh[rh2[ihigh]], 22528, 10)
		hb.block4(dhigh)

		// Receive QMF.
		d.x.push(d.ptr, sat16(rlow+rhigh))
		d.y.push(d.ptr, sat16(rlow-rhigh))
		d.ptr++
		if d.ptr >= 12 {
			d.ptr = 0
		}
		o0 := d.y.dot(d.ptr, &qmfRev) >> 11
		o1 := d.x.dot(d.ptr, &qmfFwd) >> 11
		if !d.wrap {
			o0, o1 = sat16(o0), sat16(o1)
		}
		dst[2*k], dst[2*k+1] = int16(o0), int16(o1)
	}
	return 2 * len(src)
}
