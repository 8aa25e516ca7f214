package dsp

import (
	"time"
)

// DTMF transmit levels used by PlayDTMF: low group -10 dBm0, high group
// -8 dBm0 (2 dB of normal twist, as telephones send; spandsp's dtmf_tx
// default is -10 dBm0).
const (
	DTMFLowLevel  = -10.0
	DTMFHighLevel = -8.0
)

// ToneDTMF is what Playing reports while a PlayDTMF digit sounds.
const ToneDTMF ToneName = "dtmf"

// MaxDTMFDuration bounds PlayDTMF.
const MaxDTMFDuration = time.Minute

// dtmfKeys lists the keypad row by row; row i uses dtmfRowHz[i], column j
// dtmfColHz[j] (ITU-T Q.23).
const dtmfKeys = "123A456B789C*0#D"

func dtmfRowHz() [4]float64 { return [4]float64{697, 770, 852, 941} }
func dtmfColHz() [4]float64 { return [4]float64{1209, 1336, 1477, 1633} }

// DTMFFreqs returns the row (low) and column (high) frequencies of a DTMF
// digit (0-9, *, #, A-D; a-d are accepted too).
func DTMFFreqs(digit byte) (low, high float64, err error) {
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	for i := 0; i < len(dtmfKeys); i++ {
		if dtmfKeys[i] == digit {
			return dtmfRowHz()[i/4], dtmfColHz()[i%4], nil
		}
	}
	return 0, 0, fmtErr(ErrDigit, "%q", digit)
}

// cStep is a Step compiled for one sample rate.
type cStep struct {
	n      int // samples; 0 = forever
	nc     int
	amp    [MaxComponents]float64
	cr, ci [MaxComponents]float64
}

type cTone struct {
	name   ToneName
	steps  []cStep
	repeat int
	next   *cTone
}

// ToneGenerator plays the tones of a plan into PCM frames, sample-accurately
// across frame boundaries and phase-continuous. It is not safe for
// concurrent use; the line that owns it calls it from one goroutine.
type ToneGenerator struct {
	rate  int
	tones map[ToneName]*cTone

	dtmf      cTone
	dtmfStep  [1]cStep
	dtmfDigit byte
	dtmfDone  int // samples of the digit already played

	cur    *cTone
	step   int // index in cur.steps
	left   int // samples left in the step (when its n > 0)
	passes int // completed passes over cur.steps
	osc    [MaxComponents]osc

	scratch [renormEvery]int16 // Mix renders here first
}

// NewToneGenerator validates plan for rate (8000 or 16000) and returns a
// silent generator. The plan is compiled: later changes to it have no effect.
func NewToneGenerator(plan *TonePlan, rate int) (*ToneGenerator, error) {
	if err := plan.Validate(rate); err != nil {
		return nil, err
	}
	g := &ToneGenerator{rate: rate, tones: make(map[ToneName]*cTone, len(plan.Tones))}
	for name, t := range plan.Tones {
		ct := &cTone{name: name, repeat: t.Repeat, steps: make([]cStep, len(t.Steps))}
		for i, s := range t.Steps {
			ct.steps[i] = g.compileStep(s.Duration, s.Components...)
		}
		g.tones[name] = ct
	}
	for name, t := range plan.Tones {
		if t.Next != "" {
			g.tones[name].next = g.tones[t.Next]
		}
	}
	g.dtmf = cTone{name: ToneDTMF, steps: g.dtmfStep[:], repeat: 1}
	return g, nil
}

func (g *ToneGenerator) compileStep(d time.Duration, cs ...Component) cStep {
	st := cStep{n: durSamples(d, g.rate), nc: len(cs)}
	for j, c := range cs {
		var o osc
		o.setFreq(c.Freq, g.rate)
		st.cr[j], st.ci[j] = o.cr, o.ci
		st.amp[j] = amplitude(c.Level)
	}
	return st
}

// Rate returns the sample rate the generator was built for.
func (g *ToneGenerator) Rate() int { return g.rate }

// Play starts the named tone from the beginning of its cadence, replacing
// whatever was playing.
func (g *ToneGenerator) Play(name ToneName) error {
	t, ok := g.tones[name]
	if !ok {
		return fmtErr(ErrUnknownTone, "%q", name)
	}
	g.start(t)
	return nil
}

// PlayDTMF plays a DTMF digit (0-9 * # A-D) for d (at most MaxDTMFDuration)
// at DTMFLowLevel/DTMFHighLevel, then silence. Called again with the digit
// that is still sounding, it moves the digit's end to d after its start
// without a phase jump (an RFC 4733 update that extends the event); if that
// end has already passed the digit stops at once.
func (g *ToneGenerator) PlayDTMF(digit byte, d time.Duration) error {
	lo, hi, err := DTMFFreqs(digit)
	if err != nil {
		return err
	}
	n := durSamples(d, g.rate)
	if d <= 0 || d > MaxDTMFDuration || n == 0 {
		return fmtErr(ErrDuration, "DTMF duration %v outside (0, %v]", d, MaxDTMFDuration)
	}
	if g.cur == &g.dtmf && g.dtmfDigit == digit {
		g.left = max(n-g.dtmfDone, 0)
		if g.left == 0 {
			g.cur = nil
		}
		return nil
	}
	g.dtmfStep[0] = g.compileStep(d, Component{lo, DTMFLowLevel}, Component{hi, DTMFHighLevel})
	g.dtmfDigit = digit
	g.dtmfDone = 0
	g.start(&g.dtmf)
	return nil
}

// Stop silences the generator.
func (g *ToneGenerator) Stop() { g.cur = nil }

// Playing returns the tone now sounding or in its cadence (ToneDTMF for a
// digit), or "" when the generator is silent for good.
func (g *ToneGenerator) Playing() ToneName {
	if g.cur == nil {
		return ""
	}
	return g.cur.name
}

func (g *ToneGenerator) start(t *cTone) {
	g.cur = t
	g.passes = 0
	g.startStep(0)
}

func (g *ToneGenerator) startStep(i int) {
	g.step = i
	st := &g.cur.steps[i]
	g.left = st.n
	for j := 0; j < st.nc; j++ {
		g.osc[j] = osc{re: 1, cr: st.cr[j], ci: st.ci[j]}
	}
}

func (g *ToneGenerator) advance() {
	if g.step+1 < len(g.cur.steps) {
		g.startStep(g.step + 1)
		return
	}
	g.passes++
	if g.cur.repeat > 0 && g.passes >= g.cur.repeat {
		if g.cur.next == nil {
			g.cur = nil
			return
		}
		g.start(g.cur.next)
		return
	}
	g.startStep(0)
}

// Fill writes the next len(dst) samples of the tone into dst (silence when
// nothing plays). It never allocates.
func (g *ToneGenerator) Fill(dst []int16) { g.run(dst, false) }

// Mix adds the next len(dst) samples of the tone to the audio already in dst,
// saturating at full scale (a call-waiting tone over the conversation). It
// never allocates.
func (g *ToneGenerator) Mix(dst []int16) { g.run(dst, true) }

func (g *ToneGenerator) run(dst []int16, mix bool) {
	for len(dst) > 0 {
		if g.cur == nil {
			if !mix {
				clear(dst)
			}
			return
		}
		st := &g.cur.steps[g.step]
		n := min(len(dst), renormEvery)
		if st.n > 0 {
			n = min(n, g.left)
		}
		if mix {
			out := g.scratch[:n]
			g.render(st, out)
			for i, v := range out {
				dst[i] = clip16(float64(dst[i]) + float64(v))
			}
		} else {
			g.render(st, dst[:n])
		}
		dst = dst[n:]
		if g.cur == &g.dtmf {
			g.dtmfDone += n
		}
		if st.n > 0 {
			g.left -= n
			if g.left == 0 {
				g.advance()
			}
		}
	}
}

func (g *ToneGenerator) render(st *cStep, dst []int16) {
	// The oscillators are copied to locals so that their state stays in
	// registers for the loop.
	switch st.nc {
	case 0:
		clear(dst)
	case 1:
		o, a := g.osc[0], st.amp[0]
		for i := range dst {
			dst[i] = clip16(a * o.next())
		}
		o.renorm()
		g.osc[0] = o
	case 2:
		o0, o1, a0, a1 := g.osc[0], g.osc[1], st.amp[0], st.amp[1]
		for i := range dst {
			dst[i] = clip16(a0*o0.next() + a1*o1.next())
		}
		o0.renorm()
		o1.renorm()
		g.osc[0], g.osc[1] = o0, o1
	default:
		oscs := g.osc[:st.nc]
		for i := range dst {
			v := 0.0
			for j := range oscs {
				v += st.amp[j] * oscs[j].next()
			}
			dst[i] = clip16(v)
		}
		for j := range oscs {
			oscs[j].renorm()
		}
	}
}
