package dsp

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// segment is a stretch of sound or silence found in generated audio.
type segment struct {
	on         bool
	start, len int // samples
}

// segments splits x into sound and silence: silence is a run of at least
// minRun samples with |x| <= thr (a sine or a sum of sines never stays that
// small for that long).
func segments(x []int16, thr int16, minRun int) []segment {
	var segs []segment
	add := func(on bool, start, end int) {
		if end <= start {
			return
		}
		if n := len(segs); n > 0 && segs[n-1].on == on {
			segs[n-1].len = end - segs[n-1].start
			return
		}
		segs = append(segs, segment{on, start, end - start})
	}
	runStart := -1
	last := 0 // end of what has been classified
	for i := 0; i <= len(x); i++ {
		quiet := i < len(x) && x[i] <= thr && x[i] >= -thr
		if quiet && runStart < 0 {
			runStart = i
		}
		if !quiet && runStart >= 0 {
			if i-runStart >= minRun {
				add(true, last, runStart)
				add(false, runStart, i)
				last = i
			}
			runStart = -1
		}
	}
	add(true, last, len(x))
	return segs
}

// hannPower is the power of x at f through a Hann window (test-local DTFT;
// the phasor is rotated per sample and re-anchored every 256 samples).
func hannPower(x []int16, rate int, f float64) float64 {
	var re, im, wsum float64
	n := float64(len(x))
	w0 := 2 * math.Pi * f / float64(rate)
	sr, si := math.Sincos(-w0)
	var pr, pi float64
	for i, v := range x {
		if i%256 == 0 {
			pi, pr = math.Sincos(-w0 * float64(i))
		}
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
		re += w * float64(v) * pr
		im += w * float64(v) * pi
		wsum += w
		pr, pi = pr*si-pi*sr, pr*sr+pi*si
	}
	return (re*re + im*im) / (wsum * wsum) // = (A/2)² for a sine of amplitude A
}

// peakNear finds the frequency of the strongest response within ±3 % of f.
func peakNear(x []int16, rate int, f float64) (float64, float64) {
	best, bestP := f, -1.0
	for d := -0.03; d <= 0.03; d += 0.001 {
		if p := hannPower(x, rate, f*(1+d)); p > bestP {
			best, bestP = f*(1+d), p
		}
	}
	// refine
	step := f * 0.001
	for range 16 {
		step /= 2
		for _, c := range []float64{best - step, best + step} {
			if p := hannPower(x, rate, c); p > bestP {
				best, bestP = c, p
			}
		}
	}
	return best, bestP
}

// toneSpec is what a step of a tone must sound like, written out again
// from reference telephony.md §3 (not read from the plan).
type toneSpec struct {
	freqs []float64
	dBm0  float64
	ms    int // 0: until the end of the rendering
}

func on(ms int, dBm0 float64, f ...float64) toneSpec { return toneSpec{f, dBm0, ms} }
func off(ms int) toneSpec                            { return toneSpec{nil, 0, ms} }
func times(n int, s ...toneSpec) []toneSpec {
	var out []toneSpec
	for range n {
		out = append(out, s...)
	}
	return out
}

func TestTonePlanCadenceAndFrequencies(t *testing.T) {
	dial := []float64{350, 440}
	cases := []struct {
		name   ToneName
		render time.Duration
		want   []toneSpec
	}{
		{ToneDial, 3 * time.Second, []toneSpec{on(0, -13, dial...)}},
		{ToneStutterDial, 3 * time.Second, append(times(10, on(100, -13, dial...), off(100)), on(0, -13, dial...))},
		{ToneRecallDial, 2 * time.Second, append(times(3, on(100, -13, dial...), off(100)), on(0, -13, dial...))},
		{ToneConfirmation, 2 * time.Second, append(times(3, on(100, -13, dial...), off(100))[:5], off(0))},
		{ToneRingback, 13 * time.Second, append(times(2, on(2000, -19, 440, 480), off(4000)), on(0, -19, 440, 480))},
		{ToneBusy, 3250 * ms, append(times(3, on(500, -24, 480, 620), off(500)), on(0, -24, 480, 620))},
		{ToneReorder, 1625 * ms, append(times(3, on(250, -24, 480, 620), off(250)), on(0, -24, 480, 620))},
		{ToneCallWaiting, 10500 * ms, []toneSpec{on(300, -13, 440), off(9700), on(300, -13, 440), off(0)}},
		{ToneHowler, 1050 * ms, append(times(5, on(100, -9, 1400, 2060, 2450, 2600), off(100)), on(0, -9, 1400, 2060, 2450, 2600))},
		{ToneSITIntercept, 2 * time.Second, []toneSpec{on(274, -13, 913.8), on(274, -13, 1370.6), on(380, -13, 1776.7), off(0)}},
		{ToneSITVacant, 2 * time.Second, []toneSpec{on(380, -13, 985.2), on(274, -13, 1370.6), on(380, -13, 1776.7), off(0)}},
		{ToneSITReorder, 2 * time.Second, []toneSpec{on(274, -13, 913.8), on(380, -13, 1428.5), on(380, -13, 1776.7), off(0)}},
		{ToneSITNoCircuit, 2 * time.Second, []toneSpec{on(380, -13, 985.2), on(380, -13, 1428.5), on(380, -13, 1776.7), off(0)}},
		{ToneCAS, 500 * ms, []toneSpec{on(80, -15, 2130, 2750), off(0)}},
		{ToneSAS, 500 * ms, []toneSpec{on(300, -13, 440), off(0)}},
	}
	for _, plan := range []*TonePlan{USPlan(), CAPlan()} {
		for _, rate := range rates {
			if plan.Region == "CA" && rate == 16000 {
				continue // the same plan; 8 kHz shows it is complete
			}
			g, err := NewToneGenerator(plan, rate)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				name := plan.Region + "/" + string(c.name) + "/" + map[int]string{8000: "8k", 16000: "16k"}[rate]
				if err := g.Play(c.name); err != nil {
					t.Fatal(err)
				}
				x := make([]int16, int(c.render.Seconds()*float64(rate)))
				frame := rate / 100
				for i := 0; i < len(x); i += frame {
					g.Fill(x[i:min(i+frame, len(x))])
				}
				checkTone(t, name, x, rate, c.want)
			}
		}
	}
}

func checkTone(t *testing.T, name string, x []int16, rate int, want []toneSpec) {
	t.Helper()
	// merge consecutive "on" specs into the segments the envelope shows
	type span struct {
		on         bool
		start, len int
		parts      []toneSpec
	}
	var spans []span
	pos := 0
	for _, w := range want {
		n := w.ms * rate / 1000
		if w.ms == 0 {
			n = len(x) - pos
		}
		isOn := w.freqs != nil
		if k := len(spans); k > 0 && spans[k-1].on == isOn && isOn {
			spans[k-1].len += n
			spans[k-1].parts = append(spans[k-1].parts, w)
		} else {
			spans = append(spans, span{isOn, pos, n, []toneSpec{w}})
		}
		pos += n
	}
	segs := segments(x, 2, rate/1000)
	if len(segs) != len(spans) {
		t.Errorf("%s: %d on/off segments, want %d: %+v", name, len(segs), len(spans), segs)
		return
	}
	for i, s := range spans {
		g := segs[i]
		if g.on != s.on {
			t.Errorf("%s: segment %d on=%v, want %v", name, i, g.on, s.on)
			continue
		}
		last := i == len(spans)-1
		if !last && math.Abs(float64(g.len-s.len)) > 0.02*float64(s.len) {
			t.Errorf("%s: segment %d lasts %v, want %v ±2%%", name, i, dur(g.len, rate), dur(s.len, rate))
		}
		if !s.on {
			continue
		}
		// frequencies and levels of each part of the segment
		off := g.start
		for _, p := range s.parts {
			n := p.ms * rate / 1000
			if p.ms == 0 {
				n = g.start + g.len - off
			}
			part := x[off+n/10 : off+n-n/10] // skip the edges
			if len(part) > rate/10 {
				part = part[:rate/10] // 100 ms: ±0.5 % is resolved with the Hann peak
			}
			off += n
			var sum float64
			for _, f := range p.freqs {
				pf, pw := peakNear(part, rate, f)
				if math.Abs(pf-f) > 0.005*f {
					t.Errorf("%s: %v Hz component measured at %.2f Hz (PTP tolerance ±0.5%%)", name, f, pf)
				}
				lvl := 20*math.Log10(2*math.Sqrt(pw)/32767) + 3.14
				if math.Abs(lvl-p.dBm0) > 0.3 {
					t.Errorf("%s: %v Hz at %.2f dBm0, want %v", name, f, lvl, p.dBm0)
				}
				sum += 2 * pw
			}
			// Hann-weighted mean power, comparable with hannPower
			var energy, wsum float64
			for i, v := range part {
				w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(part)))
				energy += w * float64(v) * float64(v)
				wsum += w
			}
			energy /= wsum
			if sum < 0.98*energy {
				t.Errorf("%s: the expected frequencies carry only %.1f%% of the power", name, 100*sum/energy)
			}
		}
	}
}

func dur(n, rate int) time.Duration { return time.Duration(n) * time.Second / time.Duration(rate) }

func TestToneGeneratorFrameIndependence(t *testing.T) {
	// The same cadence whatever the frame size: sample-accurate across
	// frame boundaries and phase-continuous.
	render := func(chunks []int) []int16 {
		g, err := NewToneGenerator(USPlan(), 8000)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Play(ToneStutterDial); err != nil {
			t.Fatal(err)
		}
		x := make([]int16, 24000)
		for i, k := 0, 0; i < len(x); k++ {
			n := min(chunks[k%len(chunks)], len(x)-i)
			g.Fill(x[i : i+n])
			i += n
		}
		return x
	}
	ref := render([]int{80})
	for _, ch := range [][]int{{1}, {7, 333, 13}, {1000}, {79, 81}} {
		if x := render(ch); !equal16(x, ref) {
			t.Errorf("chunks %v differ from 80-sample frames", ch)
		}
	}
}

func equal16(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestToneGeneratorNoDriftOverAnHour(t *testing.T) {
	if testing.Short() {
		t.Skip("renders an hour of tone")
	}
	g, err := NewToneGenerator(USPlan(), 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Play(ToneDial); err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 80)
	const frames = 360000 // one hour
	for range frames - 1 {
		g.Fill(frame)
	}
	g.Fill(frame)
	a := peakOf(-13)
	for i, v := range frame {
		n := int64(frames-1)*80 + int64(i) + 1 // sample n is sin(w·n)
		// 350 and 440 Hz at 8 kHz are periodic in n with period 160 and
		// 200 samples, so the ideal is exact whatever n.
		ideal := a*math.Sin(2*math.Pi*350*float64(n%160)/8000) + a*math.Sin(2*math.Pi*440*float64(n%200)/8000)
		if math.Abs(float64(v)-ideal) > 2 {
			t.Fatalf("after an hour sample %d is %d, ideal %.1f", i, v, ideal)
		}
	}
}

func TestToneGeneratorDTMF(t *testing.T) {
	g, err := NewToneGenerator(USPlan(), 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.PlayDTMF('5', 55*ms); err != nil {
		t.Fatal(err)
	}
	x := make([]int16, 1600)
	for i := 0; i < len(x); i += 80 {
		g.Fill(x[i : i+80])
	}
	segs := segments(x, 2, 8)
	if len(segs) != 2 || !segs[0].on || segs[0].len != 440 {
		t.Errorf("55 ms digit: segments %+v, want 440 samples on", segs)
	}
	if g.Playing() != "" {
		t.Errorf("still playing %q", g.Playing())
	}
	for f, lvl := range map[float64]float64{770: DTMFLowLevel, 1336: DTMFHighLevel} {
		pf, pw := peakNear(x[40:400], 8000, f)
		if math.Abs(pf-f) > 0.005*f {
			t.Errorf("digit 5: %v Hz measured at %.1f", f, pf)
		}
		if got := 20*math.Log10(2*math.Sqrt(pw)/32767) + 3.14; math.Abs(got-lvl) > 0.3 {
			t.Errorf("digit 5: %v Hz at %.2f dBm0, want %v", f, got, lvl)
		}
	}
	// RFC 4733 updates: the digit is extended while it sounds, without a
	// phase jump, and a repeated update with the same duration is harmless.
	if err := g.PlayDTMF('#', 40*ms); err != nil {
		t.Fatal(err)
	}
	y := make([]int16, 2400)
	g.Fill(y[:240])
	if err := g.PlayDTMF('#', 100*ms); err != nil {
		t.Fatal(err)
	}
	if err := g.PlayDTMF('#', 100*ms); err != nil {
		t.Fatal(err)
	}
	for i := 240; i < len(y); i += 80 {
		g.Fill(y[i : i+80])
	}
	if segs := segments(y, 2, 8); len(segs) != 2 || segs[0].len != 800 {
		t.Errorf("extended digit: %+v, want 800 samples on", segs)
	}
	if !equal16(y[:800], mustDTMF(t, '#', 100*ms)) {
		t.Error("extended digit differs from one played for 100 ms at once")
	}
	for _, bad := range []struct {
		d   byte
		dur time.Duration
		err error
	}{{'E', 50 * ms, ErrDigit}, {'5', 0, ErrDuration}, {'5', 2 * time.Minute, ErrDuration}, {'5', 10 * time.Microsecond, ErrDuration}} {
		if err := g.PlayDTMF(bad.d, bad.dur); !errors.Is(err, bad.err) {
			t.Errorf("PlayDTMF(%q, %v): %v", bad.d, bad.dur, err)
		}
	}
	if err := g.Play("nonesuch"); !errors.Is(err, ErrUnknownTone) {
		t.Errorf("unknown tone: %v", err)
	}
	g.Play(ToneDial)
	g.Stop()
	g.Fill(x[:80])
	for _, v := range x[:80] {
		if v != 0 {
			t.Fatal("Stop left sound")
		}
	}
}

func mustDTMF(t *testing.T, d byte, dur time.Duration) []int16 {
	g, err := NewToneGenerator(USPlan(), 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.PlayDTMF(d, dur); err != nil {
		t.Fatal(err)
	}
	x := make([]int16, 800)
	g.Fill(x)
	return x
}

func TestTonePlanValidation(t *testing.T) {
	c := func(f ...float64) []Component { return comps(-10, f...) }
	bad := []struct {
		tone Tone
		says string
	}{
		{Tone{}, "no steps"},
		{Tone{Repeat: 1, Steps: []Step{{Components: c(4100)}}}, "outside"},
		{Tone{Repeat: 1, Steps: []Step{{Components: c(1, 2, 3, 4, 5)}}}, "components"},
		{Tone{Repeat: 1, Steps: []Step{{Components: comps(0, 400, 500, 600, 700)}}}, "full scale"},
		{Tone{Steps: []Step{{Components: c(400)}}}, "endless step"},
		{Tone{Repeat: 1, Steps: []Step{{Components: c(400)}, {Duration: ms}}}, "endless step"},
		{Tone{Repeat: 1, Next: "missing", Steps: []Step{{Duration: ms}}}, "not in plan"},
		{Tone{Next: "dial", Steps: []Step{{Duration: ms}}}, "repeats forever"},
		{Tone{Repeat: 1, Steps: []Step{{Duration: -ms}}}, "negative"},
		{Tone{Repeat: 1, Steps: []Step{{Duration: 10 * time.Microsecond}}}, "shorter than one sample"},
		{Tone{Repeat: 1, Steps: []Step{{Duration: ms, Components: []Component{{Freq: 400, Level: math.NaN()}}}}}, "level"},
	}
	for _, b := range bad {
		p := USPlan()
		p.Tones["x"] = b.tone
		_, err := NewToneGenerator(p, 8000)
		if !errors.Is(err, ErrTonePlan) || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%+v: %v, want an error saying %q", b.tone, err, b.says)
		}
	}
	if _, err := NewToneGenerator(&TonePlan{}, 8000); !errors.Is(err, ErrTonePlan) {
		t.Errorf("empty plan: %v", err)
	}
	if _, err := NewToneGenerator(USPlan(), 22050); !errors.Is(err, ErrRate) {
		t.Errorf("22050 Hz: %v", err)
	}
	for _, r := range []string{"US", "CA"} {
		if p, err := PlanFor(r); err != nil || p.Region != r {
			t.Errorf("PlanFor(%s): %v", r, err)
		}
	}
	if _, err := PlanFor("FR"); !errors.Is(err, ErrTonePlan) {
		t.Errorf("PlanFor(FR): %v", err)
	}
}

func TestToneGeneratorMix(t *testing.T) {
	a, _ := NewToneGenerator(USPlan(), 8000)
	b, _ := NewToneGenerator(USPlan(), 8000)
	a.Play(ToneCallWaiting)
	b.Play(ToneCallWaiting)
	speech := make([]int16, 4000)
	for i := range speech {
		speech[i] = int16(1000 * math.Sin(float64(i)*0.05))
	}
	speech[100], speech[101] = 32767, -32768 // saturation at full scale
	mixed := append([]int16(nil), speech...)
	for i := 0; i < len(mixed); i += 80 {
		a.Mix(mixed[i : i+80])
	}
	tone := make([]int16, len(speech))
	for i := 0; i < len(tone); i += 80 {
		b.Fill(tone[i : i+80])
	}
	for i := range mixed {
		want := max(-32768, min(32767, int(speech[i])+int(tone[i])))
		if d := int(mixed[i]) - want; d < -1 || d > 1 {
			t.Fatalf("sample %d: mixed %d, want %d", i, mixed[i], want)
		}
	}
	// with nothing playing Mix leaves the audio alone
	a.Stop()
	before := append([]int16(nil), speech[:80]...)
	a.Mix(speech[:80])
	if !equal16(before, speech[:80]) {
		t.Error("Mix of silence changed the audio")
	}
}
