package dsp

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// ToneName names a tone of a plan.
type ToneName string

// The tones every plan built by this package has. A plan may hold others.
const (
	ToneDial         ToneName = "dial"          // 350+440 Hz continuous
	ToneStutterDial  ToneName = "stutter-dial"  // message waiting: 10 × (0.1 on, 0.1 off), then dial (GR-506 count unconfirmed; Panasonic uses 10)
	ToneRecallDial   ToneName = "recall-dial"   // after a hook flash: 3 × (0.1 on, 0.1 off), then dial
	ToneRingback     ToneName = "ringback"      // 440+480 Hz, 2 s on, 4 s off
	ToneBusy         ToneName = "busy"          // 480+620 Hz, 0.5 on, 0.5 off
	ToneReorder      ToneName = "reorder"       // 480+620 Hz, 0.25 on, 0.25 off
	ToneCallWaiting  ToneName = "call-waiting"  // SAS: 440 Hz 0.3 s, repeated every 10 s
	ToneHowler       ToneName = "howler"        // receiver off-hook: 1400+2060+2450+2600 Hz, 0.1 on, 0.1 off
	ToneConfirmation ToneName = "confirmation"  // 350+440 Hz, 3 × (0.1 on, 0.1 off), then silence
	ToneSITIntercept ToneName = "sit-intercept" // SIT IC (vacant number / out of service): 913.8, 1370.6, 1776.7 Hz
	ToneSITVacant    ToneName = "sit-vacant"    // SIT VC (vacant code)
	ToneSITReorder   ToneName = "sit-reorder"   // SIT RO (reorder)
	ToneSITNoCircuit ToneName = "sit-no-circuit"
	ToneSAS          ToneName = "sas" // subscriber alerting signal: 440 Hz, 300 ms, once (before the CAS of CIDCW)
	ToneCAS          ToneName = "cas" // CIDCW CPE alerting signal: 2130+2750 Hz, 80 ms, once
)

// Component is one sine of a tone.
type Component struct {
	Freq  float64 // Hz, 0 < Freq < rate/2
	Level float64 // dBm0 (0 dBm0 = a sine of peak 22756 in 16-bit PCM)
}

// Step is one segment of a cadence: the listed components together for
// Duration, or silence if Components is empty. Duration 0 means "forever"
// and is allowed only for the last step of a tone that does not repeat.
type Step struct {
	Duration   time.Duration
	Components []Component
}

// Tone is a named cadence: Steps played in order, the whole sequence
// Repeat times (0 = forever), then the tone named Next ("" = silence).
type Tone struct {
	Steps  []Step
	Repeat int
	Next   ToneName
}

// MaxComponents is the largest number of simultaneous frequencies in a step.
const MaxComponents = 4

// TonePlan is a region's set of tones.
type TonePlan struct {
	Region string // ISO 3166 alpha-2, e.g. "US"
	Tones  map[ToneName]Tone
}

// Validate checks every tone of the plan for a generator at rate.
func (p *TonePlan) Validate(rate int) error {
	if err := checkRate(rate); err != nil {
		return err
	}
	if p == nil || len(p.Tones) == 0 {
		return fmtErr(ErrTonePlan, "plan has no tones")
	}
	names := make([]ToneName, 0, len(p.Tones))
	for n := range p.Tones {
		names = append(names, n)
	}
	slices.Sort(names) // report the same error every time
	for _, n := range names {
		if err := p.validateTone(n, p.Tones[n], rate); err != nil {
			return err
		}
	}
	return nil
}

func (p *TonePlan) validateTone(name ToneName, t Tone, rate int) error {
	if name == "" {
		return fmtErr(ErrTonePlan, "tone with empty name")
	}
	if len(t.Steps) == 0 {
		return fmtErr(ErrTonePlan, "tone %q has no steps", name)
	}
	if t.Repeat < 0 {
		return fmtErr(ErrTonePlan, "tone %q: repeat %d < 0", name, t.Repeat)
	}
	for i, s := range t.Steps {
		if s.Duration < 0 {
			return fmtErr(ErrTonePlan, "tone %q step %d: negative duration %v", name, i, s.Duration)
		}
		if s.Duration == 0 && (i != len(t.Steps)-1 || t.Repeat != 1) {
			return fmtErr(ErrTonePlan, "tone %q step %d: endless step must be the last of a tone played once (repeat 1)", name, i)
		}
		if s.Duration > 0 && durSamples(s.Duration, rate) == 0 {
			return fmtErr(ErrTonePlan, "tone %q step %d: duration %v shorter than one sample", name, i, s.Duration)
		}
		if len(s.Components) > MaxComponents {
			return fmtErr(ErrTonePlan, "tone %q step %d: %d components (max %d)", name, i, len(s.Components), MaxComponents)
		}
		peak := 0.0
		for _, c := range s.Components {
			peak += amplitude(c.Level)
			if !(c.Freq > 0 && c.Freq < float64(rate)/2) {
				return fmtErr(ErrTonePlan, "tone %q step %d: frequency %v Hz outside (0, %d) at %d Hz", name, i, c.Freq, rate/2, rate)
			}
			if math.IsNaN(c.Level) || c.Level > maxSineDBm0 || c.Level < -90 {
				return fmtErr(ErrTonePlan, "tone %q step %d: level %v dBm0 outside [-90, %v]", name, i, c.Level, maxSineDBm0)
			}
		}
		if peak > 32767 {
			return fmtErr(ErrTonePlan, "tone %q step %d: components sum to a peak of %.0f, beyond 16-bit full scale", name, i, peak)
		}
	}
	if t.Next != "" {
		if t.Repeat == 0 {
			return fmtErr(ErrTonePlan, "tone %q repeats forever but names next tone %q", name, t.Next)
		}
		if _, ok := p.Tones[t.Next]; !ok {
			return fmtErr(ErrTonePlan, "tone %q: next tone %q not in plan", name, t.Next)
		}
	}
	return nil
}

// durSamples converts d to a whole number of samples at rate (rounded).
func durSamples(d time.Duration, rate int) int {
	return int((int64(d)*int64(rate) + int64(time.Second)/2) / int64(time.Second))
}

func comps(levelDBm0 float64, freqs ...float64) []Component {
	c := make([]Component, len(freqs))
	for i, f := range freqs {
		c[i] = Component{Freq: f, Level: levelDBm0}
	}
	return c
}

func onOff(on, off time.Duration, c []Component) []Step {
	return []Step{{Duration: on, Components: c}, {Duration: off}}
}

func sit(f1 float64, d1 time.Duration, f2 float64, d2 time.Duration) Tone {
	// NANP SIT: three segments, the third always 1776.7 Hz for 380 ms; short
	// segments 274 ms, long 380 ms; no gap between segments. Played once.
	const lvl = -13 // dBm0; GR-1162 level not confirmed
	return Tone{Repeat: 1, Steps: []Step{
		{Duration: d1, Components: comps(lvl, f1)},
		{Duration: d2, Components: comps(lvl, f2)},
		{Duration: 380 * time.Millisecond, Components: comps(lvl, 1776.7)},
	}}
}

// northAmerica builds the Precise Tone Plan (reference telephony.md §3).
func northAmerica(region string) *TonePlan {
	ms := time.Millisecond
	dial := comps(-13, 350, 440)
	const short, long = 274 * time.Millisecond, 380 * time.Millisecond
	return &TonePlan{Region: region, Tones: map[ToneName]Tone{
		ToneDial:         {Repeat: 1, Steps: []Step{{Components: dial}}},
		ToneStutterDial:  {Repeat: 10, Next: ToneDial, Steps: onOff(100*ms, 100*ms, dial)},
		ToneRecallDial:   {Repeat: 3, Next: ToneDial, Steps: onOff(100*ms, 100*ms, dial)},
		ToneConfirmation: {Repeat: 3, Steps: onOff(100*ms, 100*ms, dial)},
		ToneRingback:     {Steps: onOff(2000*ms, 4000*ms, comps(-19, 440, 480))},
		ToneBusy:         {Steps: onOff(500*ms, 500*ms, comps(-24, 480, 620))},
		ToneReorder:      {Steps: onOff(250*ms, 250*ms, comps(-24, 480, 620))},
		ToneCallWaiting:  {Steps: onOff(300*ms, 9700*ms, comps(-13, 440))},
		// GR-506 asks 0 dBm0 per frequency, which four sines cannot reach in
		// 16-bit PCM without clipping; -9 dBm0 each is the loudest that fits
		// (the SLIC's analog gain makes up the rest).
		ToneHowler:       {Steps: onOff(100*ms, 100*ms, comps(-9, 1400, 2060, 2450, 2600))},
		ToneSITIntercept: sit(913.8, short, 1370.6, short),
		ToneSITVacant:    sit(985.2, long, 1370.6, short),
		ToneSITReorder:   sit(913.8, short, 1428.5, long),
		ToneSITNoCircuit: sit(985.2, long, 1428.5, long),
		ToneSAS:          {Repeat: 1, Steps: []Step{{Duration: 300 * ms, Components: comps(-13, 440)}}},
		ToneCAS:          {Repeat: 1, Steps: []Step{{Duration: 80 * ms, Components: comps(-15, 2130, 2750)}}},
	}}
}

// USPlan returns a new copy of the United States tone plan (North American
// Precise Tone Plan).
func USPlan() *TonePlan { return northAmerica("US") }

// CAPlan returns a new copy of the Canadian tone plan: Canada uses the same
// North American plan (no Canadian deviation is known).
func CAPlan() *TonePlan { return northAmerica("CA") }

// PlanFor returns a new copy of the plan for an ISO 3166 alpha-2 region.
func PlanFor(region string) (*TonePlan, error) {
	switch region {
	case "US", "us":
		return USPlan(), nil
	case "CA", "ca":
		return CAPlan(), nil
	}
	return nil, fmt.Errorf("%w: no tone plan for region %q (have US, CA)", ErrTonePlan, region)
}
