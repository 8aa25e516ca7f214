package phone

import (
	"fmt"
	"math"
	"time"
)

// Tone names the ear uses.
const (
	ToneSilence       = "silence"
	ToneDial          = "dial"
	ToneStutterDial   = "stutter-dial"
	ToneRingback      = "ringback"
	ToneBusy          = "busy"
	ToneReorder       = "reorder"
	ToneBusyOrReorder = "busy/reorder" // 480+620 whose cadence is not yet known
	// LabelBusyTone is the Segment label of 480+620 Hz (busy and reorder
	// share it; the cadence tells them apart).
	LabelBusyTone   = "busy-tone"
	ToneCallWaiting = "call-waiting"
	ToneCAS         = "cas"
	ToneHowler      = "howler"
	ToneSIT         = "sit"
	ToneDTMF        = "dtmf" // Segment.Digit / "dtmf-5" in Hearing
	ToneFSK         = "fsk"
	ToneOther       = "other"
	toneSITPrefix   = "sit:"
	analysisWindow  = 320 // 40 ms: resolves 440 vs 480 Hz
	dtmfWindow      = 160 // 20 ms
	silenceDBm0     = -45.0
	explainedEnough = 0.6
	memberBalance   = 0.15 // weakest member ≥ this × strongest (≈ 8 dB twist)
	segmentHistory  = 512
	confirmHops     = 2
)

// sitFreqs are the NANP SIT segment frequencies (telephony.md §3).
var sitFreqs = []float64{913.8, 985.2, 1370.6, 1428.5, 1776.7}

type pattern struct {
	label string
	freqs []float64
	idx   []int // into analysisFreqs
}

// analysisFreqs are the distinct frequencies of all patterns with their
// Goertzel coefficients 2·cos(2πf/8000).
var _, analysisCoefs = func() ([]float64, []float64) {
	var fs, cs []float64
	for _, p := range patterns {
		for _, f := range p.freqs {
			dup := false
			for _, g := range fs {
				dup = dup || g == f
			}
			if !dup {
				fs = append(fs, f)
				cs = append(cs, 2*math.Cos(2*math.Pi*f/sampleRate))
			}
		}
	}
	for i := range patterns {
		for _, f := range patterns[i].freqs {
			for k, g := range fs {
				if g == f {
					patterns[i].idx = append(patterns[i].idx, k)
				}
			}
		}
	}
	return fs, cs
}()

// goertzelBank stores in out the tone energy of x at each coefficient,
// running four independent filters per pass (they pipeline; one filter is
// latency-bound).
func goertzelBank(x []float64, coefs []float64, out []float64) {
	for k := 0; k < len(coefs); k += 4 {
		var c [4]float64
		n := copy(c[:], coefs[k:])
		var a1, a2, b1, b2, c1, c2, d1, d2 float64
		for _, v := range x {
			a1, a2 = v+c[0]*a1-a2, a1
			b1, b2 = v+c[1]*b1-b2, b1
			c1, c2 = v+c[2]*c1-c2, c1
			d1, d2 = v+c[3]*d1-d2, d1
		}
		p := [4]float64{
			a1*a1 + a2*a2 - c[0]*a1*a2,
			b1*b1 + b2*b2 - c[1]*b1*b2,
			c1*c1 + c2*c2 - c[2]*c1*c2,
			d1*d1 + d2*d2 - c[3]*d1*d2,
		}
		for i := range n {
			out[k+i] = toneEnergy(p[i], len(x))
		}
	}
}

// patterns the long-window analysis recognises.
var patterns = func() []pattern {
	p := []pattern{
		{label: ToneDial, freqs: []float64{350, 440}},
		{label: ToneRingback, freqs: []float64{440, 480}},
		{label: LabelBusyTone, freqs: []float64{480, 620}},
		{label: ToneCallWaiting, freqs: []float64{440}},
		{label: ToneCAS, freqs: []float64{2130, 2750}},
		{label: ToneHowler, freqs: []float64{1400, 2060, 2450, 2600}},
		{label: ToneFSK, freqs: []float64{1200, 2200}},
		{label: ToneFSK, freqs: []float64{1200}},
		{label: ToneFSK, freqs: []float64{2200}},
	}
	for _, f := range sitFreqs {
		p = append(p, pattern{label: fmt.Sprintf("%s%.1f", toneSITPrefix, f), freqs: []float64{f}})
	}
	return p
}()

// Segment is a stretch of audio the ear heard as one thing.
type Segment struct {
	Label string        `json:"label"` // a Tone* name, "busy-tone" (480+620), "sit:913.8"…
	Digit string        `json:"digit,omitempty"`
	Start time.Time     `json:"start"`
	Dur   time.Duration `json:"dur"`
	Level float64       `json:"level_dbm0"` // mean level while it lasted
}

// analyser names what the line carries, 10 ms at a time.
type analyser struct {
	win      [analysisWindow]float64
	cur      Segment // the open segment
	curE     float64 // energy sum of the open segment
	curN     int
	pend     string // candidate label not yet confirmed
	pendDig  string
	pendT    time.Time
	pendHops int
	segs     []Segment
	// active counts the samples since the sound began (0 in silence).
	active      int
	activeStart time.Time
}

// instant classifies a window of sound: label and DTMF digit.
func (a *analyser) instant(x []float64) (string, string) {
	var e float64
	for _, v := range x {
		e += v * v
	}
	// DTMF on the most recent 20 ms.
	if d := a.dtmf(x[len(x)-dtmfWindow:]); d != "" {
		return ToneDTMF, d
	}
	best, bestScore := "", 0.0
	var energies [32]float64
	goertzelBank(x, analysisCoefs, energies[:])
	for _, p := range patterns {
		var sum, mx, mn float64
		mn = math.Inf(1)
		for _, k := range p.idx {
			ef := energies[k]
			sum += ef
			mx = math.Max(mx, ef)
			mn = math.Min(mn, ef)
		}
		score := sum / e
		if mn < memberBalance*mx {
			continue
		}
		if score > bestScore {
			best, bestScore = p.label, score
		}
	}
	if bestScore >= explainedEnough {
		return best, ""
	}
	return ToneOther, ""
}

// Goertzel coefficients of the DTMF frequencies.
var dtmfRowCoefs, dtmfColCoefs = coefs(dtmfRows), coefs(dtmfCols)

func coefs(f [4]float64) (c [4]float64) {
	for i := range f {
		c[i] = 2 * math.Cos(2*math.Pi*f[i]/sampleRate)
	}
	return c
}

// dtmf looks for one row and one column tone explaining the window.
func (a *analyser) dtmf(x []float64) string {
	var e float64
	for _, v := range x {
		e += v * v
	}
	if e == 0 {
		return ""
	}
	var re, ce [4]float64
	goertzelBank(x, dtmfRowCoefs[:], re[:])
	goertzelBank(x, dtmfColCoefs[:], ce[:])
	ri, ci := 0, 0
	for i := range 4 {
		if re[i] > re[ri] {
			ri = i
		}
		if ce[i] > ce[ci] {
			ci = i
		}
	}
	r, c := re[ri], ce[ci]
	// Twist: row ≤ 8 dB stronger, column ≤ 8 dB stronger (lenient ear).
	if r < c/6.3 || c < r/6.3 {
		return ""
	}
	// Relative peak: the others at least 8 dB down.
	for i := range 4 {
		if (i != ri && re[i] > r/6.3) || (i != ci && ce[i] > c/6.3) {
			return ""
		}
	}
	if (r+c)/e < 0.5 {
		return ""
	}
	return string(dtmfKeys[ri][ci])
}

// push analyses one frame; end is the time the frame's last sample was on
// the line. Onsets and ends of sound are timed by the frame's own level
// (10 ms resolution); what the sound is comes from the analysis window,
// limited to the samples since the sound began.
// fsk says the FSK receiver is decoding clean bytes right now: modulated
// data (seizure, message) spreads beyond the two tones and would otherwise
// read as "other".
func (a *analyser) push(frame []int16, end time.Time, fsk bool) {
	copy(a.win[:], a.win[len(frame):])
	var fe float64
	for i, s := range frame {
		v := float64(s)
		a.win[analysisWindow-len(frame)+i] = v
		fe += v * v
	}
	frameStart := end.Add(-time.Duration(len(frame)) * time.Second / sampleRate)
	label, digit := ToneSilence, ""
	var at time.Time
	confirm := 1
	if dBm0FromPower(fe/float64(len(frame))) < silenceDBm0 {
		a.active = 0
		at = frameStart
	} else {
		if a.active == 0 {
			a.activeStart = frameStart
		}
		a.active += len(frame)
		n := min(a.active, analysisWindow)
		if n < dtmfWindow {
			// Too little sound yet to tell what it is.
			a.accumulate(fe, len(frame), end)
			return
		}
		label, digit = a.instant(a.win[analysisWindow-n:])
		if fsk && label == ToneOther {
			label = ToneFSK
		}
		if a.active-len(frame) < dtmfWindow {
			at = a.activeStart // the sound began with this label
		} else {
			// A change inside continuous sound: the new signal dominates
			// the window once it fills 60 % of it.
			at = end.Add(-time.Duration(float64(n)*0.6) * time.Second / sampleRate)
		}
		confirm = confirmHops
		if label == ToneOther {
			confirm = analysisWindow / frameLen // transitions between tones look like "other" briefly
		}
	}
	if a.cur.Start.IsZero() {
		a.cur = Segment{Label: label, Digit: digit, Start: at}
	}
	if label == a.cur.Label && digit == a.cur.Digit {
		a.pend, a.pendHops = "", 0
	} else {
		if label != a.pend || digit != a.pendDig {
			a.pend, a.pendDig, a.pendT, a.pendHops = label, digit, at, 0
		}
		a.pendHops++
		if a.pendHops >= confirm {
			a.closeSegment(a.pendT)
			a.cur = Segment{Label: a.pend, Digit: a.pendDig, Start: a.pendT}
			a.curE, a.curN = 0, 0
			a.pend, a.pendHops = "", 0
		}
	}
	a.accumulate(fe, len(frame), end)
}

func (a *analyser) accumulate(fe float64, n int, end time.Time) {
	a.curE += fe
	a.curN += n
	if !a.cur.Start.IsZero() {
		a.cur.Dur = end.Sub(a.cur.Start)
	}
}

func (a *analyser) closeSegment(end time.Time) {
	s := a.cur
	s.Dur = end.Sub(s.Start)
	if s.Dur <= 0 {
		return
	}
	if a.curN > 0 {
		s.Level = dBm0FromPower(a.curE / float64(a.curN))
	}
	a.segs = append(a.segs, s)
	if len(a.segs) > segmentHistory {
		a.segs = append(a.segs[:0], a.segs[len(a.segs)-segmentHistory/2:]...)
	}
}

// segments returns the closed segments plus the open one.
func (a *analyser) segments() []Segment {
	out := append([]Segment(nil), a.segs...)
	if !a.cur.Start.IsZero() {
		out = append(out, a.cur)
	}
	return out
}

// hearing names what is heard now, using the cadence of the recent past.
func (a *analyser) hearing(now time.Time) (name, sit string) {
	segs := a.segments()
	if len(segs) == 0 {
		return ToneSilence, ""
	}
	cur := segs[len(segs)-1]
	// The tone to name: the current one, or during a cadence's silence the
	// one before it.
	toneIdx := len(segs) - 1
	if cur.Label == ToneSilence && len(segs) >= 2 {
		prev := segs[len(segs)-2]
		gap := now.Sub(cur.Start)
		if limit, ok := cadenceGap(prev.Label); ok && gap <= limit {
			toneIdx = len(segs) - 2
		} else {
			return ToneSilence, ""
		}
	}
	s := segs[toneIdx]
	switch {
	case s.Label == ToneDTMF:
		return ToneDTMF + "-" + s.Digit, ""
	case s.Label == ToneDial:
		if a.stutterBefore(segs, toneIdx) {
			return ToneStutterDial, ""
		}
		return ToneDial, ""
	case s.Label == LabelBusyTone:
		return a.busyKind(segs, toneIdx), ""
	case len(s.Label) > len(toneSITPrefix) && s.Label[:len(toneSITPrefix)] == toneSITPrefix:
		return ToneSIT, sitVariant(segs, toneIdx)
	}
	return s.Label, ""
}

// cadenceGap is how long a silence may last inside the cadence of a tone.
func cadenceGap(label string) (time.Duration, bool) {
	switch {
	case label == ToneRingback:
		return 4200 * time.Millisecond, true
	case label == LabelBusyTone:
		return 600 * time.Millisecond, true
	case label == ToneHowler, label == ToneDial:
		return 200 * time.Millisecond, true
	case len(label) > len(toneSITPrefix) && label[:len(toneSITPrefix)] == toneSITPrefix:
		return 100 * time.Millisecond, true
	}
	return 0, false
}

// stutterBefore: the dial tone at i is (or follows) a run of ≥ 2 short
// bursts of dial tone separated by short silences.
func (a *analyser) stutterBefore(segs []Segment, i int) bool {
	bursts := 0
	if segs[i].Dur <= 150*time.Millisecond {
		bursts++
	}
	for j := i - 1; j >= 1; j -= 2 {
		gap, tone := segs[j], segs[j-1]
		if gap.Label != ToneSilence || gap.Dur > 150*time.Millisecond || tone.Label != ToneDial || tone.Dur > 150*time.Millisecond {
			break
		}
		bursts++
	}
	return bursts >= 2
}

// busyKind tells busy (0.5/0.5) from reorder (0.25/0.25 and the legacy
// 0.2/0.3, 0.3/0.2) by the last complete on-period.
func (a *analyser) busyKind(segs []Segment, i int) string {
	for j := i; j >= 0; j-- {
		s := segs[j]
		if s.Label != LabelBusyTone {
			continue
		}
		complete := j < len(segs)-1
		switch {
		case s.Dur >= 400*time.Millisecond:
			return ToneBusy
		case complete && s.Dur >= 120*time.Millisecond && s.Dur < 380*time.Millisecond:
			return ToneReorder
		}
	}
	return ToneBusyOrReorder
}

// sitVariant names the SIT from its first two segments (telephony.md §3).
func sitVariant(segs []Segment, i int) string {
	j := i
	for j > 0 && len(segs[j-1].Label) > len(toneSITPrefix) && segs[j-1].Label[:len(toneSITPrefix)] == toneSITPrefix {
		j--
	}
	if i-j < 1 {
		return ""
	}
	f1, f2 := segs[j].Label[len(toneSITPrefix):], segs[j+1].Label[len(toneSITPrefix):]
	switch {
	case f1 == "913.8" && f2 == "1370.6":
		return "IC"
	case f1 == "985.2" && f2 == "1370.6":
		return "VC"
	case f1 == "913.8" && f2 == "1428.5":
		return "RO"
	case f1 == "985.2" && f2 == "1428.5":
		return "NC"
	}
	return ""
}

// MeasureCadence returns the last complete on/off cycle of the tone
// labelled label in segs (an on-segment followed by silence and then the
// same tone again).
func MeasureCadence(segs []Segment, label string) (on, off time.Duration, ok bool) {
	for i := len(segs) - 3; i >= 0; i-- {
		if segs[i].Label == label && segs[i+1].Label == ToneSilence && segs[i+2].Label == label {
			return segs[i].Dur, segs[i+1].Dur, true
		}
	}
	return 0, 0, false
}
