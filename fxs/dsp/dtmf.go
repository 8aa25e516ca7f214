package dsp

import (
	"math"
	"strings"
	"time"
)

// DTMFOpts tunes a DTMFDetector. A zero field takes the default shown.
type DTMFOpts struct {
	// NormalTwist is how much stronger, in dB, the row (low-group) tone may
	// be than the column tone. Default 8 dB (Bellcore; spandsp, Asterisk).
	NormalTwist float64
	// ReverseTwist is how much stronger, in dB, the column (high-group)
	// tone may be than the row tone. Default 4 dB.
	ReverseTwist float64
	// MinLevel is the weakest tone accepted, in dBm0 per tone. Default
	// -42 dBm0 (spandsp's threshold).
	MinLevel float64
	// MaxFreqDev is the largest accepted deviation of each tone from its
	// nominal frequency, as a fraction. Default 0.025: ±1.5 % must be
	// detected and ±3.5 % rejected, and 2.5 % sits midway.
	MaxFreqDev float64
}

// DefaultDTMFOpts returns the defaults used for zero fields of DTMFOpts.
func DefaultDTMFOpts() DTMFOpts {
	return DTMFOpts{NormalTwist: 8, ReverseTwist: 4, MinLevel: -42, MaxFreqDev: 0.025}
}

// DTMFEvent is the start or the end of a detected digit. Times count from the
// first sample given to the detector (or to Reset), at its sample rate; the
// edges are placed to within half an analysis block (6.4 ms).
type DTMFEvent struct {
	Digit byte // '0'-'9', '*', '#', 'A'-'D'
	End   bool // false: the digit started; true: it ended
	// At is when the tone started (for both events).
	At time.Duration
	// Duration is how long the tone lasted (end events only).
	Duration time.Duration
}

// Detector constants (reference telephony.md §4.2-4.3).
const (
	dtmfBlockTime = 12750 * time.Microsecond // 102 samples at 8 kHz, as spandsp
	dtmfRelPeak   = 6.309573                 // 8 dB: every other row/column that much below the peak
	dtmfToTotal   = 0.822243                 // -0.85 dB: the two tones carry this share of the energy
	// dtmfTwistAllowance is added to the twist limits: the twist measured
	// over one 12.75 ms block is off by up to about ±1.5 dB (each tone
	// leaks into the other's filter), so a tone pair exactly at the limit
	// would otherwise be lost on some blocks.
	dtmfTwistAllowance = 1.5
	// dtmfHalfToTotal is the energy share asked of a half block when
	// placing a digit's edges (its filters leak more than the block's).
	dtmfHalfToTotal = 0.6
	dtmfMaxHalf     = 102 // half-block samples at 16 kHz
)

// DTMFDetector finds DTMF digits in PCM audio. It runs eight Goertzel
// filters over blocks of 12.75 ms (102 samples at 8 kHz, 204 at 16 kHz) and
// accepts a block when the strongest row and column tones
//
//   - are each at least MinLevel,
//   - are within MaxFreqDev of their nominal frequency (measured from the
//     phase advance between half blocks, so ±3.5 % tones are rejected even
//     though they fall inside the Goertzel filters' pass band),
//   - respect the normal and reverse twist limits (plus a 1.5 dB allowance
//     for the block's measurement error, so a pair exactly at a limit is
//     always accepted and one 4 dB beyond it never),
//   - stand 8 dB above every other row and column, and
//   - carry at least 82 % (-0.85 dB) of the block's energy,
//
// where levels are corrected for the filter's roll-off at the measured
// frequency. A digit starts after two consecutive blocks agree and ends after
// two blocks that do not show it, so tones of 40 ms or more are detected and
// tones of 20 ms or less never are (a block is accepted only when the tone
// fills over 82 % of it). The half blocks next to the first and last
// accepted blocks place the digit's edges to within about 6 ms.
//
// The per-sample work is the eight filters plus the block energy; on amd64
// it runs in SSE (goertzel_amd64.s, bit-identical to the Go code used on
// other architectures). The detector keeps two blocks of state, never
// allocates, and is not safe for concurrent use.
type DTMFDetector struct {
	rate   int
	n, m   int // block and half-block length in samples
	opts   DTMFOpts
	minPow float64 // |X|² of a tone at MinLevel
	twistN float64 // power ratios
	twistR float64

	coef       [8]float32 // 2 cos w
	cosw, sinw [8]float32
	rotR, rotI [8]float32 // e^{-j w m}
	cosMaxDev  [8]float64 // cos of the phase advance over m samples at MaxFreqDev

	fill   int  // samples of the current half block seen
	second bool // filling the block's second half
	s1, s2 [8]float32
	y1r    [8]float32 // first-half output of this block
	y1i    [8]float32
	y2r    [8]float32 // second-half output of this block
	y2i    [8]float32
	pr, pi [8]float32 // second-half output of the previous block
	energy int64      // sum of squares over the block

	e1 int64 // energy of the block's first half

	block    int64   // index of the block being filled
	last     byte    // candidate of the previous block
	cur      byte    // digit in progress
	startS   int64   // its first sample
	lastHead halfPow // first half of the previous block
	lastTail halfPow // second half of the previous block
	prevTail halfPow // second half of the block before
}

// NewDTMFDetector returns a detector for rate (8000 or 16000 Hz); opts may be
// nil for the defaults.
func NewDTMFDetector(rate int, opts *DTMFOpts) (*DTMFDetector, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	o := DefaultDTMFOpts()
	if opts != nil {
		if opts.NormalTwist != 0 {
			o.NormalTwist = opts.NormalTwist
		}
		if opts.ReverseTwist != 0 {
			o.ReverseTwist = opts.ReverseTwist
		}
		if opts.MinLevel != 0 {
			o.MinLevel = opts.MinLevel
		}
		if opts.MaxFreqDev != 0 {
			o.MaxFreqDev = opts.MaxFreqDev
		}
	}
	switch {
	case !(o.NormalTwist > 0 && o.NormalTwist <= 20):
		return nil, fmtErr(ErrOptions, "DTMF normal twist %v dB outside (0, 20]", o.NormalTwist)
	case !(o.ReverseTwist > 0 && o.ReverseTwist <= 20):
		return nil, fmtErr(ErrOptions, "DTMF reverse twist %v dB outside (0, 20]", o.ReverseTwist)
	case !(o.MinLevel >= -70 && o.MinLevel <= 0):
		return nil, fmtErr(ErrOptions, "DTMF minimum level %v dBm0 outside [-70, 0]", o.MinLevel)
	case !(o.MaxFreqDev > 0 && o.MaxFreqDev <= 0.03):
		return nil, fmtErr(ErrOptions, "DTMF frequency deviation %v outside (0, 0.03]", o.MaxFreqDev)
	}
	d := &DTMFDetector{rate: rate, opts: o}
	d.n = durSamples(dtmfBlockTime, rate)
	d.m = d.n / 2
	a := amplitude(o.MinLevel) * float64(d.n) / 2
	d.minPow = a * a
	d.twistN = math.Pow(10, (o.NormalTwist+dtmfTwistAllowance)/10)
	d.twistR = math.Pow(10, (o.ReverseTwist+dtmfTwistAllowance)/10)
	rows, cols := dtmfRowHz(), dtmfColHz()
	for i := range 8 {
		f := rows[i%4]
		if i >= 4 {
			f = cols[i-4]
		}
		w := 2 * math.Pi * f / float64(rate)
		d.cosMaxDev[i] = math.Cos(2 * math.Pi * f * o.MaxFreqDev * float64(d.m) / float64(rate))
		d.coef[i] = float32(2 * math.Cos(w))
		d.cosw[i], d.sinw[i] = float32(math.Cos(w)), float32(math.Sin(w))
		d.rotR[i], d.rotI[i] = float32(math.Cos(w*float64(d.m))), float32(-math.Sin(w*float64(d.m)))
	}
	return d, nil
}

// Rate returns the sample rate the detector was built for.
func (d *DTMFDetector) Rate() int { return d.rate }

// Reset forgets all state, as if newly built; times restart at 0.
func (d *DTMFDetector) Reset() {
	d.fill, d.second, d.energy = 0, false, 0
	d.s1, d.s2 = [8]float32{}, [8]float32{}
	d.pr, d.pi = [8]float32{}, [8]float32{}
	d.block, d.last, d.cur, d.startS = 0, 0, 0, 0
	d.e1, d.lastHead, d.lastTail, d.prevTail = 0, halfPow{}, halfPow{}, halfPow{}
}

// Process analyses samples (any count; typically one frame) and appends the
// digit starts and ends it finds to dst, returning it. With cap(dst) of 4 or
// more per 10 ms frame it never allocates.
func (d *DTMFDetector) Process(samples []int16, dst []DTMFEvent) []DTMFEvent {
	for len(samples) > 0 {
		k := min(len(samples), d.m-d.fill)
		x := samples[:k]
		d.energy += goertzel8(x, &d.coef, &d.s1, &d.s2)
		d.fill += k
		samples = samples[k:]
		if d.fill == d.m {
			d.fill = 0
			d.half()
			if !d.second {
				d.e1 = d.energy
			}
			if d.second {
				dst = d.decide(dst)
			}
			d.second = !d.second
		}
	}
	return dst
}

// half keeps the complex outputs of the eight Goertzel filters at the end
// of a half block and restarts them.
func (d *DTMFDetector) half() {
	for i := range 8 {
		// y = s1 - e^{-jw} s2
		yr := d.s1[i] - d.cosw[i]*d.s2[i]
		yi := d.sinw[i] * d.s2[i]
		d.s1[i], d.s2[i] = 0, 0
		if !d.second {
			d.y1r[i], d.y1i[i] = yr, yi
		} else {
			d.y2r[i], d.y2i[i] = yr, yi
		}
	}
}

// goertzel8Go runs the row filters then the column filters over x and
// returns the energy of x. On amd64 goertzel8 is the same computation in SSE
// (goertzel_amd64.s); elsewhere it is this function.
func goertzel8Go(x []int16, c, s1, s2 *[8]float32) int64 {
	e := goertzel4(x, (*[4]float32)(c[0:4]), (*[4]float32)(s1[0:4]), (*[4]float32)(s2[0:4]))
	goertzel4(x, (*[4]float32)(c[4:8]), (*[4]float32)(s1[4:8]), (*[4]float32)(s2[4:8]))
	return e
}

// goertzel4 runs four Goertzel filters over x and returns the energy of x. Samples are converted
// in the loop, so a frame is never copied; (v-b) does not wait for the
// previous step, so the loop-carried chain is one multiply and one add, and
// the four independent filters overlap in the FPU pipelines.
func goertzel4(x []int16, c *[4]float32, s1, s2 *[4]float32) (energy int64) {
	a0, a1, a2, a3 := s1[0], s1[1], s1[2], s1[3]
	b0, b1, b2, b3 := s2[0], s2[1], s2[2], s2[3]
	for _, s := range x {
		energy += int64(s) * int64(s)
		// int16 to float32 through the bits of 1.5·2^23 + s: exact, and
		// unlike CVTSL2SS it carries no false dependency on the previous
		// iteration's register.
		v := math.Float32frombits(0x4B400000+uint32(int32(s))) - 12582912
		a0, b0 = (v-b0)+c[0]*a0, a0
		a1, b1 = (v-b1)+c[1]*a1, a1
		a2, b2 = (v-b2)+c[2]*a2, a2
		a3, b3 = (v-b3)+c[3]*a3, a3
	}
	s1[0], s1[1], s1[2], s1[3] = a0, a1, a2, a3
	s2[0], s2[1], s2[2], s2[3] = b0, b1, b2, b3
	return energy
}

// decide classifies the block just completed and runs the hit logic.
func (d *DTMFDetector) decide(dst []DTMFEvent) []DTMFEvent {
	var pow [8]float64
	for i := range 8 {
		y2r, y2i := d.y2r[i], d.y2i[i]
		xr := d.y1r[i] + d.rotR[i]*y2r - d.rotI[i]*y2i
		xi := d.y1i[i] + d.rotR[i]*y2i + d.rotI[i]*y2r
		pow[i] = float64(xr)*float64(xr) + float64(xi)*float64(xi)
	}
	cand := d.classify(&pow)
	head := halfPowers(&d.y1r, &d.y1i, d.e1)
	tail := halfPowers(&d.y2r, &d.y2i, d.energy-d.e1)
	d.pr, d.pi = d.y2r, d.y2i
	d.energy = 0

	b := int64(d.block)
	d.block++
	n, m := int64(d.n), int64(d.m)
	if d.cur != 0 && cand != d.cur && d.last != d.cur {
		// The digit's last block was b-2; if block b-1 opened with it,
		// it lasted half a block more.
		end := (b - 1) * n
		if d.halfShows(&d.lastHead, d.cur) {
			end += m
		}
		dst = append(dst, DTMFEvent{Digit: d.cur, End: true, At: d.sampleTime(d.startS), Duration: d.sampleTime(end) - d.sampleTime(d.startS)})
		d.cur = 0
	}
	if d.cur == 0 && cand != 0 && cand == d.last {
		// Blocks b-1 and b agree; if block b-2 closed with the digit, it
		// began half a block earlier.
		d.cur, d.startS = cand, (b-1)*n
		if d.halfShows(&d.prevTail, cand) {
			d.startS -= m
		}
		dst = append(dst, DTMFEvent{Digit: cand, At: d.sampleTime(d.startS)})
	}
	d.last = cand
	d.prevTail, d.lastTail, d.lastHead = d.lastTail, tail, head
	return dst
}

func (d *DTMFDetector) sampleTime(s int64) time.Duration {
	return time.Duration(s * int64(time.Second) / int64(d.rate))
}

// halfPow is what a half block's filters saw: their powers and the
// half block's energy.
type halfPow struct {
	p [8]float64
	e int64
}

func halfPowers(yr, yi *[8]float32, energy int64) halfPow {
	h := halfPow{e: energy}
	for i := range 8 {
		h.p[i] = float64(yr[i])*float64(yr[i]) + float64(yi[i])*float64(yi[i])
	}
	return h
}

// halfShows reports whether a half block carried the given digit: its two
// tones above MinLevel, within the twist limits and holding most of the
// energy. The half block's filters are too wide to tell neighbouring rows
// apart, so this only places the edges of a digit the full blocks found.
func (d *DTMFDetector) halfShows(h *halfPow, digit byte) bool {
	k := strings.IndexByte(dtmfKeys, digit)
	if k < 0 {
		return false
	}
	pr, pc := h.p[k/4], h.p[4+k%4]
	if pr < d.minPow/4 || pc < d.minPow/4 || pr > pc*d.twistN || pc > pr*d.twistR {
		return false
	}
	return 2*(pr+pc) >= dtmfHalfToTotal*float64(d.m)*float64(h.e)
}

// classify returns the digit the block shows, or 0.
func (d *DTMFDetector) classify(pow *[8]float64) byte {
	br, bc := 0, 4
	for i := 1; i < 4; i++ {
		if pow[i] > pow[br] {
			br = i
		}
		if pow[4+i] > pow[bc] {
			bc = 4 + i
		}
	}
	pr, pc := pow[br], pow[bc]
	// Quick level check before any trigonometry: the roll-off correction
	// below is at most 1/0.2 (at 3 % off 1633 Hz).
	if pr < 0.2*d.minPow || pc < 0.2*d.minPow {
		return 0
	}
	for i := range 4 {
		if (i != br && pow[i]*dtmfRelPeak > pr) || (4+i != bc && pow[4+i]*dtmfRelPeak > pc) {
			return 0
		}
	}
	gr, ok := d.rolloff(br)
	if !ok {
		return 0
	}
	gc, ok := d.rolloff(bc)
	if !ok {
		return 0
	}
	pr, pc = pr/gr, pc/gc
	if pr < d.minPow || pc < d.minPow {
		return 0
	}
	if pr > pc*d.twistN || pc > pr*d.twistR {
		return 0
	}
	if 2*(pr+pc) < dtmfToTotal*float64(d.n)*float64(d.energy) {
		return 0
	}
	return dtmfKeys[br*4+bc-4]
}

// rolloff measures the frequency of the tone in bin i from the phase advance
// over consecutive half blocks, rejects it if it is further than MaxFreqDev
// from nominal, and returns the power gain of the block's Goertzel filter at
// that frequency (to correct the measured power).
func (d *DTMFDetector) rolloff(i int) (float64, bool) {
	rr, ri := float64(d.rotR[i]), float64(d.rotI[i])
	y1r, y1i := float64(d.y1r[i]), float64(d.y1i[i])
	y2r, y2i := float64(d.y2r[i]), float64(d.y2i[i])
	pr, pi := float64(d.pr[i]), float64(d.pi[i])
	// za = y2·conj(y1), zb = y1·conj(prev y2): both turn by (w+dw)·m.
	zr := y2r*y1r + y2i*y1i + y1r*pr + y1i*pi
	zi := y2i*y1r - y2r*y1i + y1i*pr - y1r*pi
	// remove the nominal w·m: z = |z|·e^{j·dw·m}
	zr, zi = zr*rr-zi*ri, zr*ri+zi*rr
	mag := math.Sqrt(zr*zr + zi*zi)
	if !(zr >= d.cosMaxDev[i]*mag) || mag == 0 {
		return 0, false // |dw·m| beyond MaxFreqDev (or no tone at all)
	}
	phi := atan2(zi, zr) // dw·m = dw·n/2
	if math.Abs(phi) < 1e-6 {
		return 1, true
	}
	// Dirichlet kernel of the n-sample block at dw:
	// sin(n·dw/2) / (n·sin(dw/2)) ≈ sin(phi)/phi, as dw/2 < 0.02 rad.
	g := (zi / mag) / phi
	return g * g, true
}

// atan2 is math.Atan2 to within 3e-4 rad, several times faster (a minimax
// polynomial on one octant); the roll-off correction needs no more.
func atan2(y, x float64) float64 {
	ax, ay := math.Abs(x), math.Abs(y)
	hi, lo := ax, ay
	if ay > ax {
		hi, lo = ay, ax
	}
	if hi == 0 {
		return 0
	}
	a := lo / hi
	s := a * a
	r := ((-0.0464964749*s+0.15931422)*s-0.327622764)*s*a + a
	if ay > ax {
		r = math.Pi/2 - r
	}
	if x < 0 {
		r = math.Pi - r
	}
	if y < 0 {
		r = -r
	}
	return r
}
