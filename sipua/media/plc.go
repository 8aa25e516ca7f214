package media

// plc is packet-loss concealment after ITU-T G.711 Appendix I: on a lost
// frame it repeats the last pitch period(s) found by autocorrelation over
// the recent history, joined by overlap-add, using 1, 2 then 3 periods as
// the erasure lengthens, attenuated by 20 % per 10 ms after the first
// 10 ms and silent after 60 ms; the first good frame after a loss is
// cross-faded with the continued synthetic signal. It works at the codec
// rate (8 or 16 kHz); all buffers are fixed at construction.
type plc struct {
	scale    int // 1 at 8 kHz, 2 at 16 kHz
	hist     []int16
	pitchBuf []int16 // last 3 periods + a quarter, from history at loss start
	pitch    int
	pos      int // read position inside the repeated section
	periods  int // periods in use (1..3)
	erased   int // samples concealed in this erasure
	tail     []int16
}

const (
	plcHist8     = 390 // 48.75 ms at 8 kHz, as in Appendix I
	plcPitchMin8 = 40  // 200 Hz
	plcPitchMax8 = 120 // 66.7 Hz
	plcCorrLen8  = 160 // 20 ms correlation window
)

func newPLC(rate int) *plc {
	s := rate / 8000
	nh, np, nt := plcHist8*s, (3*plcPitchMax8+plcPitchMax8/4)*s, 4*8*s
	buf := make([]int16, nh+np+nt) // one allocation for the three buffers
	return &plc{
		scale:    s,
		hist:     buf[:nh:nh],
		pitchBuf: buf[nh : nh+np : nh+np],
		tail:     buf[nh+np:],
	}
}

// good records a good frame, cross-fading its start after an erasure.
func (p *plc) good(frame []int16) {
	if p.erased > 0 {
		// Overlap-add 4 ms, plus 4 ms per further 10 ms of erasure, max 10 ms.
		ms := 4 + 4*(p.erased/(80*p.scale)-1)
		ms = min(max(ms, 4), 10)
		n := min(ms*8*p.scale, len(frame))
		if cap(p.tail) < n {
			n = cap(p.tail)
		}
		syn := p.tail[:n]
		p.synth(syn)
		for i := 0; i < n; i++ {
			w := int32(i+1) * 32768 / int32(n+1)
			frame[i] = int16((int32(frame[i])*w + int32(syn[i])*(32768-w)) >> 15)
		}
		p.erased = 0
	}
	p.push(frame)
}

func (p *plc) push(frame []int16) {
	h := p.hist
	if len(frame) >= len(h) {
		copy(h, frame[len(frame)-len(h):])
		return
	}
	copy(h, h[len(frame):])
	copy(h[len(h)-len(frame):], frame)
}

// conceal fills out with synthetic audio for a lost frame.
func (p *plc) conceal(out []int16) {
	if p.erased == 0 {
		p.startErasure()
	}
	if p.erased >= 60*8*p.scale {
		clear(out)
		p.erased += len(out)
		p.push(out)
		return
	}
	p.synth(out)
	p.push(out)
}

func (p *plc) startErasure() {
	s := p.scale
	h := p.hist
	// Pitch by normalised autocorrelation of the last 20 ms against the
	// history, coarse (step 2) then refined.
	corrLen := plcCorrLen8 * s
	end := len(h)
	best, bestLag := int64(-1<<62), plcPitchMin8*s
	score := func(lag int) int64 {
		var c, e int64
		for i := end - corrLen; i < end; i++ {
			a, b := int64(h[i]), int64(h[i-lag])
			c += a * b
			e += b * b
		}
		if e == 0 {
			return 0
		}
		// c / sqrt(e) compared through sign-preserving c*|c|/e.
		if c < 0 {
			return -(c / 1024) * (c / 1024) / (e/1024/1024 + 1)
		}
		return (c / 1024) * (c / 1024) / (e/1024/1024 + 1)
	}
	for lag := plcPitchMin8 * s; lag <= plcPitchMax8*s; lag += 2 {
		if v := score(lag); v > best {
			best, bestLag = v, lag
		}
	}
	for lag := bestLag - 1; lag <= bestLag+1; lag += 2 {
		if lag >= plcPitchMin8*s && lag <= plcPitchMax8*s {
			if v := score(lag); v > best {
				best, bestLag = v, lag
			}
		}
	}
	p.pitch = bestLag
	n := 3*bestLag + bestLag/4
	copy(p.pitchBuf[:n], h[len(h)-n:])
	// Smooth the join at the start of the repeated period: overlap-add the
	// quarter period before the last period into its end.
	q := bestLag / 4
	last := p.pitchBuf[n-bestLag : n]
	prev := p.pitchBuf[n-bestLag-q : n-bestLag]
	for i := 0; i < q; i++ {
		w := int32(i+1) * 32768 / int32(q+1)
		j := len(last) - q + i
		last[j] = int16((int32(last[j])*(32768-w) + int32(prev[i])*w) >> 15)
	}
	p.periods = 1
	p.pos = 0
}

// synth produces samples continuing the current erasure.
func (p *plc) synth(out []int16) {
	s := p.scale
	n := 3*p.pitch + p.pitch/4
	for i := range out {
		// Grow to 2 and 3 periods after 10 and 20 ms.
		want := 1 + p.erased/(80*s)
		want = min(want, 3)
		if want != p.periods {
			p.periods = want
		}
		span := p.periods * p.pitch
		if p.pos >= span {
			p.pos -= span
		}
		v := int32(p.pitchBuf[n-span+p.pos])
		p.pos++
		// Attenuate 20 % per 10 ms after the first 10 ms.
		if e := p.erased - 80*s; e > 0 {
			g := 32768 - int32(e)*6554/int32(80*s)
			if g < 0 {
				g = 0
			}
			v = v * g >> 15
		}
		out[i] = int16(v)
		p.erased++
	}
}
