package proslic

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Line monitor registers and their units (Si3210 data sheet, direct
// registers 78–81; docs/line-test.md).
const (
	regLoopVSense = 78 // |Vtip−Vring|, 1.5 V/LSB in bits 5:0 (bit 6: ring above tip)
	regLoopISense = 79 // loop current, 1.25 mA/LSB in bits 5:0 (bit 6: reverse)
	regTipVSense  = 80 // tip voltage, 0.376 V/LSB, 0 to −95.88 V
	regRingVSense = 81 // ring voltage, same
)

// Units of the monitor registers.
const (
	WireVoltLSB    = 0.376   // V per LSB of regs 80/81 (negative voltages)
	LoopCurrentLSB = 1.25e-3 // A per LSB of reg 79
	// WireFullScale is the most negative voltage regs 80/81 can show.
	WireFullScale = 255 * WireVoltLSB
	// DefaultSenseOhms is the DC sense resistance of each wire to −VCM
	// that the leakage measurement assumes (a board value to calibrate;
	// docs/line-test.md).
	DefaultSenseOhms = 800e3
	// RENOhms is the impedance of one ringer equivalence at 20 Hz (6930 Ω
	// in series with 8 µF).
	RENOhms = 7001.0
	// MaxLeakOhms is the largest leakage the measurement reports; more
	// reads as MaxLeakOhms ("open").
	MaxLeakOhms = 10e6
)

// Loopback is the audio loopback mode (reg 8).
type Loopback uint8

const (
	LoopbackOff Loopback = 0
	// LoopbackDigital (DLM, reg 8 bit 0): the PCM RX slot comes back on
	// the TX slot after the codec.
	LoopbackDigital Loopback = 0x01
)

// ErrLineTest wraps failures of a line measurement.
var ErrLineTest = errors.New("proslic: line measurement")

// SetLoopback sets the audio loopback mode (reg 8).
func (d *Dev) SetLoopback(l Loopback) error {
	if l != LoopbackOff && l != LoopbackDigital {
		return fmt.Errorf("%s: %w: loopback %#02x", d, ErrInvalidValue, uint8(l))
	}
	return d.WriteReg(regLoopback, uint8(l))
}

// Ring returns the ring generator's configuration as last programmed.
func (d *Dev) Ring() RingConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts.Ring
}

// LineSense is one reading of the line monitor.
type LineSense struct {
	TipVolts, RingVolts float64 // to ground (≤ 0; 0 also for a positive voltage)
	LoopAmps            float64 // positive forward (tip to ring through the load)
	TipRaw, RingRaw     uint8   // regs 80/81 (255 = over range)
}

// SenseLine reads the tip and ring voltages and the loop current.
func (d *Dev) SenseLine() (LineSense, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.senseLine()
}

func (d *Dev) senseLine() (LineSense, error) {
	var s LineSense
	var err error
	if s.TipRaw, err = d.readReg(regTipVSense); err != nil {
		return s, err
	}
	if s.RingRaw, err = d.readReg(regRingVSense); err != nil {
		return s, err
	}
	i, err := d.readReg(regLoopISense)
	if err != nil {
		return s, err
	}
	s.TipVolts = -float64(s.TipRaw) * WireVoltLSB
	s.RingVolts = -float64(s.RingRaw) * WireVoltLSB
	s.LoopAmps = float64(i&0x3F) * LoopCurrentLSB
	if i&0x40 != 0 {
		s.LoopAmps = -s.LoopAmps
	}
	return s, nil
}

// TestSession holds the chip for a line test: Begin saved the registers the
// measurements change and masked the interrupts; End puts them all back,
// the linefeed last. Its methods are not safe for concurrent use.
type TestSession struct {
	d *Dev
	// Settle is the wait after a linefeed or feed-voltage change before
	// reading (default 100 ms).
	Settle time.Duration
	// SenseOhms is the wire sense resistance the leakage solve assumes
	// (default DefaultSenseOhms).
	SenseOhms float64

	saved    [11]struct{ reg, v uint8 }
	nsaved   int
	ring     RingConfig
	linefeed uint8
}

// BeginLineTest saves the line setup and masks the chip's interrupts.
func (d *Dev) BeginLineTest() (*TestSession, error) {
	s := &TestSession{d: d, Settle: 100 * time.Millisecond, SenseOhms: DefaultSenseOhms}
	d.mu.Lock()
	defer d.mu.Unlock()
	lf, err := d.readReg(regLinefeed)
	if err != nil {
		return nil, err
	}
	s.linefeed = lf & 7
	s.ring = d.opts.Ring
	for _, r := range [...]uint8{regLoopILimit, regVOC, regVCM, regRingOscCtl, regLoopback,
		regRingOnLo, regRingOnHi, regRingOffLo, regRingOffHi, regIRQEn1, regIRQEn2} {
		v, err := d.readReg(r)
		if err != nil {
			return nil, err
		}
		s.saved[s.nsaved].reg, s.saved[s.nsaved].v = r, v
		s.nsaved++
	}
	for _, r := range [...]uint8{regIRQEn1, regIRQEn2} {
		if err := d.writeReg(r, 0); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// End restores what Begin saved: registers, ring generator, the interrupt
// status cleared, the enables and, last, the linefeed.
func (s *TestSession) End() error {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(d.writeReg(regLinefeed, uint8(LFOpen)))
	keep(d.setRing(s.ring))
	isEnable := func(r uint8) bool { return r == regIRQEn1 || r == regIRQEn2 }
	for _, r := range s.saved[:s.nsaved] {
		if !isEnable(r.reg) {
			keep(d.writeReg(r.reg, r.v))
		}
	}
	for _, r := range [...]uint8{regIRQ1, regIRQ2, regIRQ3} {
		keep(d.writeReg(r, 0xFF))
	}
	for _, r := range s.saved[:s.nsaved] {
		if isEnable(r.reg) {
			keep(d.writeReg(r.reg, r.v))
		}
	}
	keep(d.writeReg(regLinefeed, s.linefeed))
	return first
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// setFeed writes linefeed, VOC and VCM (volts, 1.5 V steps) and waits Settle.
func (s *TestSession) setFeed(ctx context.Context, lf Linefeed, voc, vcm float64) error {
	d := s.d
	d.mu.Lock()
	err := errors.Join(
		d.writeReg(regVOC, uint8(math.Round(voc/1.5))&0x3F),
		d.writeReg(regVCM, uint8(math.Round(vcm/1.5))&0x3F),
		d.writeReg(regLinefeed, uint8(lf)))
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return sleep(ctx, s.Settle)
}

// average reads the monitor n times, every interval, and averages.
func (s *TestSession) average(ctx context.Context, n int, interval time.Duration) (LineSense, error) {
	var sum LineSense
	for k := 0; k < n; k++ {
		r, err := s.d.SenseLine()
		if err != nil {
			return sum, err
		}
		sum.TipVolts += r.TipVolts
		sum.RingVolts += r.RingVolts
		sum.LoopAmps += r.LoopAmps
		if k+1 < n {
			if err := sleep(ctx, interval); err != nil {
				return sum, err
			}
		}
	}
	f := float64(n)
	sum.TipVolts /= f
	sum.RingVolts /= f
	sum.LoopAmps /= f
	return sum, nil
}

// WireVoltage is the foreign voltage found on one wire.
type WireVoltage struct {
	DCVolts   float64 // signed, to ground
	ACVrms    float64
	OverRange bool // the wire went beyond the sense's full scale (−95.9 V)
}

// Foreign-voltage sampling: 80 readings 1.25 ms apart (the monitor's 800 Hz
// update) span 100 ms: 6 cycles of 60 Hz and 5 of 50 Hz.
const (
	femfSamples  = 80
	femfInterval = 1250 * time.Microsecond
)

// ForeignVoltages measures the voltage on tip and ring to ground with the
// line open and VOC = VCM = 0 (the FEMF test). The monitor shows negative
// voltages only: a waveform that crosses 0 V is estimated from its
// negative peak and the share of samples clipped at 0 V, assuming a sine
// (docs/line-test.md).
func (s *TestSession) ForeignVoltages(ctx context.Context) (tip, ring WireVoltage, err error) {
	if err := s.setFeed(ctx, LFOpen, 0, 0); err != nil {
		return tip, ring, err
	}
	var tv, rv [femfSamples]uint8
	for k := range femfSamples {
		r, err := s.d.SenseLine()
		if err != nil {
			return tip, ring, err
		}
		tv[k], rv[k] = r.TipRaw, r.RingRaw
		if err := sleep(ctx, femfInterval); err != nil {
			return tip, ring, err
		}
	}
	return EstimateWireVoltage(tv[:]), EstimateWireVoltage(rv[:]), nil
}

// EstimateWireVoltage estimates DC and AC (rms, sine) from regs 80/81
// readings u = −v/0.376 V clipped to 0..255, taken at spread phases.
func EstimateWireVoltage(raw []uint8) WireVoltage {
	var w WireVoltage
	if len(raw) == 0 {
		return w
	}
	var zeros int
	var sum, max float64
	for _, r := range raw {
		if r == 255 {
			w.OverRange = true
		}
		if r == 0 {
			zeros++
		}
		u := float64(r) * WireVoltLSB
		sum += u
		max = math.Max(max, u)
	}
	n := float64(len(raw))
	if zeros == 0 {
		mean := sum / n
		var sq float64
		for _, r := range raw {
			d := float64(r)*WireVoltLSB - mean
			sq += d * d
		}
		w.DCVolts = -mean
		w.ACVrms = math.Sqrt(sq / n)
		return w
	}
	if zeros == len(raw) {
		return w // 0 V, or positive (invisible to the monitor)
	}
	// u = a − Vp·sinθ clipped at 0: the clipped share f = acos(a/Vp)/π,
	// the peak M = a + Vp.
	c := math.Cos(math.Pi * float64(zeros) / n)
	vp := max / (1 + c)
	w.DCVolts = -(max - vp)
	w.ACVrms = vp / math.Sqrt2
	return w
}

// Leakage is the resistance found between the wires and to ground;
// MaxLeakOhms means none found.
type Leakage struct {
	TipRingOhms, TipGroundOhms, RingGroundOhms float64
}

// Leakage measures the resistive faults. Each wire is left floating in turn
// (tip open, then ring open) while the other is driven, at two feed
// settings; the floating wire's voltage against the known sense resistance
// to −VCM gives two equations in the tip-ring and the wire's ground
// conductance (docs/line-test.md).
func (s *TestSession) Leakage(ctx context.Context) (Leakage, error) {
	gtr1, gtg, err := s.floatSolve(ctx, LFTipOpen)
	if err != nil {
		return Leakage{}, err
	}
	gtr2, grg, err := s.floatSolve(ctx, LFRingOpen)
	if err != nil {
		return Leakage{}, err
	}
	return Leakage{
		TipRingOhms:    ohms((gtr1 + gtr2) / 2),
		TipGroundOhms:  ohms(gtg),
		RingGroundOhms: ohms(grg),
	}, nil
}

func ohms(g float64) float64 {
	if g <= 1/MaxLeakOhms {
		return MaxLeakOhms
	}
	return 1 / g
}

// floatSolve returns the tip-ring and ground conductance seen from the
// wire lf leaves floating.
func (s *TestSession) floatSolve(ctx context.Context, lf Linefeed) (gtr, gg float64, err error) {
	gs := 1 / s.SenseOhms
	settings := [2]struct{ voc, vcm float64 }{{0, 45}, {45, 3}}
	var a, b, r [2]float64
	for k, st := range settings {
		if err := s.setFeed(ctx, lf, st.voc, st.vcm); err != nil {
			return 0, 0, err
		}
		m, err := s.average(ctx, 8, 2*time.Millisecond)
		if err != nil {
			return 0, 0, err
		}
		v := m.TipVolts
		if lf == LFRingOpen {
			v = m.RingVolts
		}
		vb, vd := -st.vcm, -(st.vcm + st.voc)
		// gtr·(v−vd) + gg·v = gs·(vb−v)
		a[k], b[k], r[k] = v-vd, v, gs*(vb-v)
	}
	det := a[0]*b[1] - a[1]*b[0]
	if math.Abs(det) < 1e-9 {
		return 0, 0, fmt.Errorf("%w: %s: singular leakage equations (wire stuck at %.1f V)", ErrLineTest, lf, b[0])
	}
	gtr = (r[0]*b[1] - r[1]*b[0]) / det
	gg = (a[0]*r[1] - a[1]*r[0]) / det
	return max(gtr, 0), max(gg, 0), nil
}

// ROH is the receiver off-hook measurement: the loop's resistance at two
// feed voltages. A telephone's diode bridge makes it fall as the voltage
// rises; a resistive fault does not.
type ROH struct {
	LowOhms, HighOhms float64 // +Inf: no loop current
	NonlinearPct      float64 // |Rlow−Rhigh|/Rlow·100 (0 without loop current)
}

// ReceiverOffHook measures the loop in forward active at VOC 3 V and 9 V
// with the current limit at 41 mA.
func (s *TestSession) ReceiverOffHook(ctx context.Context) (ROH, error) {
	if err := s.d.WriteReg(regLoopILimit, 7); err != nil {
		return ROH{}, err
	}
	var rr [2]float64
	for k, voc := range [2]float64{3, 9} {
		if err := s.setFeed(ctx, LFForward, voc, 3); err != nil {
			return ROH{}, err
		}
		m, err := s.average(ctx, 8, 2*time.Millisecond)
		if err != nil {
			return ROH{}, err
		}
		rr[k] = math.Inf(1)
		if math.Abs(m.LoopAmps) >= 2*LoopCurrentLSB {
			rr[k] = math.Abs(m.TipVolts-m.RingVolts) / math.Abs(m.LoopAmps)
		}
	}
	res := ROH{LowOhms: rr[0], HighOhms: rr[1]}
	if !math.IsInf(rr[0], 1) && !math.IsInf(rr[1], 1) {
		res.NonlinearPct = math.Abs(rr[0]-rr[1]) / rr[0] * 100
	}
	return res, nil
}

// REN rings the line for a moment with the configured ring generator and
// no cadence, and estimates the ringer load from the loop current: 200
// readings 1 ms apart give the rectified mean, π/2 of which is the peak;
// REN = Ipeak·RENOhms/Vpeak.
func (s *TestSession) REN(ctx context.Context) (float64, error) {
	d := s.d
	vpk := s.ring.PeakVolts
	if vpk <= 0 {
		return 0, fmt.Errorf("%w: ring generator not programmed", ErrLineTest)
	}
	if err := d.WriteReg(regRingOscCtl, 0); err != nil {
		return 0, err
	}
	if err := s.setFeed(ctx, LFForward, 48, 3); err != nil {
		return 0, err
	}
	if err := d.SetLinefeed(LFRinging); err != nil {
		return 0, err
	}
	if err := sleep(ctx, s.Settle); err != nil {
		return 0, err
	}
	var sum float64
	const n = 200
	for k := 0; k < n; k++ {
		v, err := d.ReadReg(regLoopISense)
		if err != nil {
			return 0, err
		}
		sum += float64(v&0x3F) * LoopCurrentLSB
		if err := sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
	if err := d.SetLinefeed(LFForward); err != nil {
		return 0, err
	}
	ipk := sum / n * math.Pi / 2
	return ipk * RENOhms / vpk, nil
}

// RingCadence runs the chip's own ring cadence timers (regs 48–51, reg 34)
// with the ring amplitude at zero, so no bell sounds, and times one ring
// burst and the silence after it from the actual linefeed state (reg 64
// bits 6:4: 4 ringing, 2 silent).
func (s *TestSession) RingCadence(ctx context.Context, on, off time.Duration) (gotOn, gotOff time.Duration, err error) {
	d := s.d
	onT, offT := cadenceTicks(on), cadenceTicks(off)
	if on <= 0 || off <= 0 || on > 8*time.Second || off > 8*time.Second {
		return 0, 0, fmt.Errorf("%w: cadence %v/%v outside (0, 8 s]", ErrInvalidValue, on, off)
	}
	d.mu.Lock()
	err = errors.Join(
		d.writeIndirect(irRingX, 0),
		d.writeReg(regRingOnLo, uint8(onT)), d.writeReg(regRingOnHi, uint8(onT>>8)),
		d.writeReg(regRingOffLo, uint8(offT)), d.writeReg(regRingOffHi, uint8(offT>>8)),
		d.writeReg(regRingOscCtl, 0x18),
		d.writeReg(regLinefeed, uint8(LFRinging)))
	d.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	deadline := start.Add(2*(on+off) + time.Second)
	var edges [2]time.Time
	n, prev := 0, uint8(4)
	for n < 2 {
		v, err := d.ReadReg(regLinefeed)
		if err != nil {
			return 0, 0, err
		}
		now := time.Now()
		act := (v >> 4) & 7
		if act != prev && (act == 2 || act == 4) {
			edges[n] = now
			n++
			prev = act
		}
		if now.After(deadline) {
			return 0, 0, fmt.Errorf("%w: ring cadence: %d of 2 transitions in %v (linefeed state %d)", ErrLineTest, n, now.Sub(start), act)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	if err := d.SetLinefeed(LFForward); err != nil {
		return 0, 0, err
	}
	return edges[0].Sub(start), edges[1].Sub(edges[0]), nil
}
