package fxs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"basestation/fxs/proslic"
	"basestation/hal"
)

// Errors of the line test and the caller-ID self-test.
var (
	// ErrLineBusy: the line is in use (off-hook, ringing, in a call, in a
	// fault or sending message waiting); the test is refused.
	ErrLineBusy = errors.New("fxs: line busy")
	// ErrTesting: a test holds the line; the call layer's actions are
	// refused until it ends.
	ErrTesting = errors.New("fxs: line test in progress")
	// ErrTestUnsupported: the SLIC has no line measurement.
	ErrTestUnsupported = errors.New("fxs: the SLIC cannot test the line")
)

// LineTester is what the tests need from the SLIC beyond SLIC;
// *proslic.Dev has it.
type LineTester interface {
	BeginLineTest() (*proslic.TestSession, error)
	SetLoopback(proslic.Loopback) error
}

// Limits of the line test (GR-909 as vendors' line-test engines apply it,
// docs/line-test.md).
const (
	HazardACVrms    = 50.0  // V rms, tip or ring to ground
	HazardDCVolts   = 135.0 // V
	ForeignACVrms   = 10.0  // V rms
	ForeignDCVolts  = 6.0   // V
	MinLeakOhms     = 150e3 // Ω, tip-ring, tip-ground, ring-ground
	MaxROHNonlinear = 25.0  // %: more is a telephone's diode bridge
	MaxREN          = 5.0
	MinREN          = 0.175 // less: no ringer on the line
)

// Limit says how a measurement's value is judged against its threshold.
type Limit string

const (
	LimitMax    Limit = "max"     // pass when value ≤ threshold
	LimitMin    Limit = "min"     // pass when value ≥ threshold
	LimitAbsMax Limit = "abs_max" // pass when |value| ≤ threshold
)

// Measurement is one measured quantity with its verdict.
type Measurement struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Limit     Limit   `json:"limit"`
	Threshold float64 `json:"threshold"`
	Pass      bool    `json:"pass"`
	Detail    string  `json:"detail,omitempty"`
}

func measure(name string, v float64, unit string, lim Limit, th float64) Measurement {
	m := Measurement{Name: name, Value: v, Unit: unit, Limit: lim, Threshold: th}
	switch lim {
	case LimitMax:
		m.Pass = v <= th
	case LimitMin:
		m.Pass = v >= th
	case LimitAbsMax:
		m.Pass = math.Abs(v) <= th
	}
	return m
}

// LineTestCase is one test of the GR-909 set, named as TR-104's test
// selector names it.
type LineTestCase struct {
	Name         string        `json:"name"`
	Pass         bool          `json:"pass"`
	Skipped      string        `json:"skipped,omitempty"` // why it was not run
	Measurements []Measurement `json:"measurements,omitempty"`
}

// Line test names (TR-104 VoiceService PhyInterface Tests TestSelector).
const (
	TestHazardPotential = "hazard_potential"
	TestForeignVoltage  = "foreign_voltage"
	TestResistiveFaults = "resistive_faults"
	TestOffHook         = "off_hook"
	TestREN             = "ren"
)

// LineTestResult is the outcome of LineTest.
type LineTestResult struct {
	Pass       bool           `json:"pass"`
	StartedAt  time.Time      `json:"started_at"`
	DurationMS int64          `json:"duration_ms"`
	Tests      []LineTestCase `json:"tests"`
}

func (r *LineTestResult) add(c LineTestCase) {
	if c.Skipped == "" {
		c.Pass = true
		for _, m := range c.Measurements {
			c.Pass = c.Pass && m.Pass
		}
	}
	r.Tests = append(r.Tests, c)
}

// LineTest runs the GR-909 line test with the SLIC's own measurements:
// hazardous potential and foreign voltage (AC and DC, tip and ring to
// ground), resistive faults (tip-ring, tip-ground, ring-ground), receiver
// off-hook and ringer equivalence. A hazardous potential skips the rest; a
// foreign voltage skips the tests it would falsify. It is refused
// (ErrLineBusy) unless the line is idle on-hook; while it runs the port
// refuses the call layer's actions (ErrTesting) and ignores the hook; the
// chip and the line are put back as they were, and the hook is read again.
// Failed verdicts are in the result; an error means the test could not run.
func (p *Port) LineTest(ctx context.Context) (LineTestResult, error) {
	res := LineTestResult{StartedAt: time.Now()}
	err := p.withTestSession(ctx, func(s *proslic.TestSession) error {
		return lineTest(ctx, s, &res)
	})
	res.DurationMS = time.Since(res.StartedAt).Milliseconds()
	if err != nil {
		return LineTestResult{}, err
	}
	res.Pass = true
	for _, c := range res.Tests {
		res.Pass = res.Pass && c.Pass // a skipped test is not a pass
	}
	return res, nil
}

// withTestSession takes the line from the port's loop, opens a chip test
// session, runs f and puts everything back, whatever f returns.
func (p *Port) withTestSession(ctx context.Context, f func(*proslic.TestSession) error) (err error) {
	lt, ok := p.slic.(LineTester)
	if !ok {
		return ErrTestUnsupported
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.do(command{kind: cmdTestBegin}); err != nil {
		return err
	}
	defer func() {
		if e := p.do(command{kind: cmdTestEnd}); e != nil && err == nil {
			err = e
		}
	}()
	s, err := lt.BeginLineTest()
	if err != nil {
		return fmt.Errorf("fxs: line test: %w", err)
	}
	defer func() {
		if e := s.End(); e != nil && err == nil {
			err = fmt.Errorf("fxs: line test: restore the line: %w", e)
		}
		select {
		case <-p.done:
			// Run ended meanwhile and left the line open: End must not
			// have fed it again.
			_ = p.slic.SetLinefeed(proslic.LFOpen)
		default:
		}
	}()
	return f(s)
}

func lineTest(ctx context.Context, s *proslic.TestSession, res *LineTestResult) error {
	tip, ring, err := s.ForeignVoltages(ctx)
	if err != nil {
		return fmt.Errorf("fxs: line test: foreign voltage: %w", err)
	}
	haz := LineTestCase{Name: TestHazardPotential}
	foreign := LineTestCase{Name: TestForeignVoltage}
	for _, w := range []struct {
		name string
		v    proslic.WireVoltage
	}{{"tip_ground", tip}, {"ring_ground", ring}} {
		ac := measure(w.name+"_ac", round(w.v.ACVrms, 2), "V_rms", LimitMax, HazardACVrms)
		dc := measure(w.name+"_dc", round(w.v.DCVolts, 2), "V", LimitAbsMax, HazardDCVolts)
		if w.v.OverRange {
			dc.Pass = false
			dc.Detail = fmt.Sprintf("beyond the sense's full scale (%.1f V)", -proslic.WireFullScale)
		}
		haz.Measurements = append(haz.Measurements, ac, dc)
		foreign.Measurements = append(foreign.Measurements,
			measure(w.name+"_ac", ac.Value, "V_rms", LimitMax, ForeignACVrms),
			measure(w.name+"_dc", dc.Value, "V", LimitAbsMax, ForeignDCVolts))
	}
	res.add(haz)
	if !res.Tests[0].Pass {
		for _, n := range []string{TestForeignVoltage, TestResistiveFaults, TestOffHook, TestREN} {
			res.add(LineTestCase{Name: n, Skipped: "hazardous potential on the line"})
		}
		return nil
	}
	res.add(foreign)
	if !res.Tests[1].Pass {
		for _, n := range []string{TestResistiveFaults, TestOffHook, TestREN} {
			res.add(LineTestCase{Name: n, Skipped: "foreign voltage on the line"})
		}
		return nil
	}
	lk, err := s.Leakage(ctx)
	if err != nil {
		return fmt.Errorf("fxs: line test: resistive faults: %w", err)
	}
	res.add(LineTestCase{Name: TestResistiveFaults, Measurements: []Measurement{
		measure("tip_ring", math.Round(lk.TipRingOhms), "ohm", LimitMin, MinLeakOhms),
		measure("tip_ground", math.Round(lk.TipGroundOhms), "ohm", LimitMin, MinLeakOhms),
		measure("ring_ground", math.Round(lk.RingGroundOhms), "ohm", LimitMin, MinLeakOhms),
	}})
	roh, err := s.ReceiverOffHook(ctx)
	if err != nil {
		return fmt.Errorf("fxs: line test: receiver off-hook: %w", err)
	}
	m := measure("loop_nonlinearity", round(roh.NonlinearPct, 1), "%", LimitMax, MaxROHNonlinear)
	if !math.IsInf(roh.HighOhms, 1) {
		m.Detail = fmt.Sprintf("loop %.0f Ω at 3 V, %.0f Ω at 9 V", roh.LowOhms, roh.HighOhms)
	} else {
		m.Detail = "no DC loop"
	}
	res.add(LineTestCase{Name: TestOffHook, Measurements: []Measurement{m}})
	ren, err := s.REN(ctx)
	if err != nil {
		return fmt.Errorf("fxs: line test: REN: %w", err)
	}
	ren = round(ren, 2)
	res.add(LineTestCase{Name: TestREN, Measurements: []Measurement{
		measure("ren", ren, "REN", LimitMax, MaxREN),
		measure("ringer_present", ren, "REN", LimitMin, MinREN),
	}})
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// testMode is the loop's state while a test holds the line.
type testMode struct {
	on bool
	// FSK loopback in progress (CallerIDSelfTest).
	fsk       *fskLoopback
	fskFrames int // frames heard after the burst ended
}

// testBegin takes the line for a test if it is idle on-hook.
func (l *loop) testBegin() error {
	switch {
	case l.test.on:
		return ErrTesting
	case l.state != StateIdle:
		return fmt.Errorf("%w: line %s", ErrLineBusy, l.state)
	case l.hook != hal.OnHook:
		return fmt.Errorf("%w: phone off-hook", ErrLineBusy)
	case l.fsk != nil:
		return fmt.Errorf("%w: message waiting being sent", ErrLineBusy)
	}
	l.gen.Stop()
	l.test = testMode{on: true}
	return nil
}

// testEnd gives the line back: hook events seen during the test are
// dropped (the test moved the line) and the chip's hook is read again as
// the truth, as after a fault.
func (l *loop) testEnd(now time.Time) error {
	if !l.test.on {
		return nil
	}
	if l.test.fsk != nil {
		l.test.fsk.finish()
	}
	l.test = testMode{}
	l.drainHW()
	h, err := l.p.slic.Hook()
	switch {
	case err != nil:
		l.fault(now, fmt.Errorf("read hook after the line test: %w", err))
	case h != l.hook:
		l.hookRaw(now, h)
	}
	return nil
}

func (l *loop) drainHW() {
	for {
		select {
		case <-l.p.hw:
		default:
			return
		}
	}
}

// testCommand applies an action while a test holds the line.
func (l *loop) testCommand(now time.Time, c command) error {
	switch c.kind {
	case cmdTestEnd:
		return l.testEnd(now)
	case cmdTestFSK:
		if l.test.fsk != nil {
			return ErrTesting
		}
		l.test.fsk, l.test.fskFrames = c.fsk, 0
		return nil
	case cmdConfig:
		return l.setConfig(c.cfg, c.plan)
	case cmdMWI:
		if l.mwi != c.on {
			l.mwi = c.on
			l.p.mwiSt.Store(c.on)
			l.vmwiDue = l.p.cfg.VMWI // sent when the test has ended
		}
		return nil
	case cmdStopRing, cmdStopTone, cmdDisconnect:
		return nil
	}
	return ErrTesting
}

// testFrame is one frame while a test holds the line: no hook, DTMF or
// timers; silence to the line unless the self-test's FSK is going out.
func (l *loop) testFrame() {
	l.drainHW()
	clear(l.out)
	if f := l.test.fsk; f != nil {
		f.rx.Write(l.in)
		if f.tx.Active() {
			f.tx.Fill(l.out)
			return
		}
		// The loopback comes back a few frames late.
		if l.test.fskFrames++; l.test.fskFrames >= fskLoopbackTail {
			f.finish()
			l.test.fsk = nil
		}
	}
}
