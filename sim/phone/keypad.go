package phone

import (
	"fmt"
	"math"
	"time"
)

// Limits of the keypad and rotary dial settings an instrument may ask for:
// wide enough to try a detector's edges, narrow enough to stay a keypad.
const (
	MinToneLen, MaxToneLen = 5 * time.Millisecond, 2 * time.Second
	MinDBm0, MaxDBm0       = -50.0, 3.0
	MaxFreqOffset          = 0.1 // ±10 %
	MinBreak, MaxBreak     = 10 * time.Millisecond, 500 * time.Millisecond
	MaxInterDigit          = 5 * time.Second
)

func (p *Phone) dtmfDefaults(c DTMFConfig) DTMFConfig {
	d := p.cfg.DTMF
	if c.On > 0 {
		d.On = c.On
	}
	if c.Off > 0 {
		d.Off = c.Off
	}
	if c.LowDBm0 != 0 {
		d.LowDBm0 = c.LowDBm0
	}
	if c.HighDBm0 != 0 {
		d.HighDBm0 = c.HighDBm0
	}
	if c.FreqOffset != 0 {
		d.FreqOffset = c.FreqOffset
	}
	return d
}

func (p *Phone) rotaryDefaults(r RotaryConfig) RotaryConfig {
	d := p.cfg.Rotary
	if r.Break > 0 {
		d.Break = r.Break
	}
	if r.Make > 0 {
		d.Make = r.Make
	}
	if r.InterDigit > 0 {
		d.InterDigit = r.InterDigit
	}
	return d
}

// Validate checks a keypad setting is inside the limits above.
func (c DTMFConfig) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"tone", c.On}, {"gap", c.Off}} {
		if d.v != 0 && (d.v < MinToneLen || d.v > MaxToneLen) {
			return fmt.Errorf("phone: DTMF %s length %v outside %v..%v", d.name, d.v, MinToneLen, MaxToneLen)
		}
	}
	for _, l := range []struct {
		name string
		v    float64
	}{{"low-group", c.LowDBm0}, {"high-group", c.HighDBm0}} {
		if math.IsNaN(l.v) || l.v < MinDBm0 || l.v > MaxDBm0 {
			return fmt.Errorf("phone: DTMF %s level %v dBm0 outside %v..%v", l.name, l.v, MinDBm0, MaxDBm0)
		}
	}
	if math.IsNaN(c.FreqOffset) || math.Abs(c.FreqOffset) > MaxFreqOffset {
		return fmt.Errorf("phone: DTMF frequency offset %v outside ±%v", c.FreqOffset, MaxFreqOffset)
	}
	return nil
}

// Validate checks a rotary dial timing is inside the limits above.
func (r RotaryConfig) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"break", r.Break}, {"make", r.Make}} {
		if d.v < MinBreak || d.v > MaxBreak {
			return fmt.Errorf("phone: rotary %s %v outside %v..%v", d.name, d.v, MinBreak, MaxBreak)
		}
	}
	if r.InterDigit < 0 || r.InterDigit > MaxInterDigit {
		return fmt.Errorf("phone: rotary inter-digit pause %v outside 0..%v", r.InterDigit, MaxInterDigit)
	}
	return nil
}

// RotaryTiming returns the break and make of a dial turning at pps pulses
// per second with breakPct % of each pulse period open.
func RotaryTiming(pps, breakPct float64) (brk, mk time.Duration, err error) {
	if math.IsNaN(pps) || pps < 4 || pps > 30 {
		return 0, 0, fmt.Errorf("phone: rotary speed %v pps outside 4..30", pps)
	}
	if math.IsNaN(breakPct) || breakPct < 20 || breakPct > 90 {
		return 0, 0, fmt.Errorf("phone: rotary break ratio %v %% outside 20..90", breakPct)
	}
	period := time.Duration(float64(time.Second) / pps)
	brk = time.Duration(float64(period) * breakPct / 100)
	return brk, period - brk, nil
}

// DTMFSamples synthesises digits (0–9 * # A–D) at c's timing, levels and
// frequency offset, 8 kHz linear: each digit's tone then its gap. Zero
// levels or lengths are refused: c must be complete.
func DTMFSamples(digits string, c DTMFConfig) ([]int16, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.On <= 0 {
		return nil, fmt.Errorf("phone: DTMF tone length %v", c.On)
	}
	var out []int16
	f := 1 + c.FreqOffset
	for i := 0; i < len(digits); i++ {
		r, col, ok := dtmfFreqs(digits[i])
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrBadDigit, digits[i])
		}
		n := int(c.On.Seconds() * sampleRate)
		out = synth(out, n, []float64{r * f, col * f}, []float64{peakFromDBm0(c.LowDBm0), peakFromDBm0(c.HighDBm0)})
		out = append(out, make([]int16, int(c.Off.Seconds()*sampleRate))...)
	}
	return out, nil
}

// SegmentsSince returns what the ear heard from t on: the segments that
// started at or after t (the last one is still open).
func (p *Phone) SegmentsSince(t time.Time) []Segment {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.an.segs
	i := len(s)
	for i > 0 && !s[i-1].Start.Before(t) {
		i--
	}
	return append([]Segment(nil), s[i:]...)
}
