package slic

import (
	"fmt"
	"math"
	"time"
)

// The line's DC model behind the chip's monitor registers (docs/line-test.md
// lists what is datasheet fact and what is modelled here).
//
//   - A driven wire is a stiff source: forward active/OHT (1/2) hold tip at
//     −VCM (reg 73) and ring at −(VCM+VOC) (reg 72); reverse (5/6) swaps
//     them. The loop current is limited to ILIM (reg 71, 20 mA + 3 mA/LSB):
//     above it the tip-ring voltage collapses until the load draws ILIM.
//   - Tip open (3) drives ring at −(VCM+VOC) and leaves tip floating; ring
//     open (7) drives tip at −(VCM+VOC) and leaves ring floating (modelled:
//     the remaining wire carries the whole open-circuit voltage). Open (0),
//     an unpowered chip, or reset leave both floating.
//   - A floating wire is held by the chip's DC sense network, SenseOhms to
//     −VCM (modelled), by the leakages, and, when a foreign voltage is set on
//     it, by that source alone (a foreign source is stiff).
//   - The off-hook phone is a diode bridge (1.4 V) and 200 Ω across tip and
//     ring; the ringers (REN) block DC. While ringing, each REN draws
//     Vring/7 kΩ (6.93 kΩ + 8 µF at 20 Hz; phase ignored).
//
// Registers: 80/81 tip/ring voltage, 0.376 V/LSB of a negative voltage
// (a positive voltage reads 0, beyond −95.9 V reads 255); 78 loop voltage
// |Vtip−Vring| 1.5 V/LSB in bits 5:0, bit 6 set when ring is above tip; 79
// loop current 1.25 mA/LSB in bits 5:0, bit 6 set when it flows in reverse.
const (
	// SenseOhms is the modelled DC sense resistance of each wire to −VCM.
	SenseOhms     = 800e3
	phoneOhms     = 200.0
	phoneDiode    = 1.4
	renOhms       = 7001.0 // |6930 Ω + 1/(j·2π·20 Hz·8 µF)|
	loopVoltLSB   = 1.5
	loopCurLSB    = 1.25e-3
	defaultACHz   = 60
	maxForeignV   = 1000
	maxREN        = 40
	minLeakOhms   = 1
	lbDropEvery   = 400 // samples (50 ms) between loopback dropouts
	lbDropSamples = 24  // 3 ms
)

// LineConditions are what is on the line besides the phone's hook switch
// (SetLoop): foreign voltages to ground, leakage resistances and the ringers.
// A zero resistance means no leakage; a zero voltage no foreign source.
type LineConditions struct {
	TipDCVolts     float64 `json:"tip_dc_volts"` // foreign DC voltage to ground
	RingDCVolts    float64 `json:"ring_dc_volts"`
	TipACVrms      float64 `json:"tip_ac_vrms"` // foreign AC voltage to ground (rms)
	RingACVrms     float64 `json:"ring_ac_vrms"`
	ACHz           float64 `json:"ac_hz"`            // frequency of the foreign AC; 0 means 60 Hz
	TipRingOhms    float64 `json:"tip_ring_ohms"`    // leakage tip–ring
	TipGroundOhms  float64 `json:"tip_ground_ohms"`  // leakage tip–ground
	RingGroundOhms float64 `json:"ring_ground_ohms"` // leakage ring–ground
	REN            float64 `json:"ren"`              // ringer equivalence of what hangs on the line (New: 1)
}

// Validate checks the conditions are physical.
func (c LineConditions) Validate() error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"tip DC", c.TipDCVolts}, {"ring DC", c.RingDCVolts}, {"tip AC", c.TipACVrms}, {"ring AC", c.RingACVrms}} {
		if math.IsNaN(v.v) || math.Abs(v.v) > maxForeignV {
			return fmt.Errorf("slic: foreign %s voltage %v V outside ±%d V", v.name, v.v, maxForeignV)
		}
	}
	if c.TipACVrms < 0 || c.RingACVrms < 0 {
		return fmt.Errorf("slic: negative AC voltage (rms) %v/%v V", c.TipACVrms, c.RingACVrms)
	}
	if math.IsNaN(c.ACHz) || c.ACHz < 0 || c.ACHz > 1000 {
		return fmt.Errorf("slic: foreign AC frequency %v Hz outside 0..1000", c.ACHz)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"tip-ring", c.TipRingOhms}, {"tip-ground", c.TipGroundOhms}, {"ring-ground", c.RingGroundOhms}} {
		if math.IsNaN(r.v) || r.v < 0 || (r.v > 0 && r.v < minLeakOhms) {
			return fmt.Errorf("slic: %s leakage %v Ω (want 0 for none, or ≥ %d Ω)", r.name, r.v, minLeakOhms)
		}
	}
	if math.IsNaN(c.REN) || c.REN < 0 || c.REN > maxREN {
		return fmt.Errorf("slic: REN %v outside 0..%d", c.REN, maxREN)
	}
	return nil
}

// SetLineConditions replaces the line's faults and ringer load.
func (m *Model) SetLineConditions(c LineConditions) error {
	if err := c.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	m.cond = c
	m.mu.Unlock()
	m.log.Info("line conditions", "conditions", fmt.Sprintf("%+v", c))
	return nil
}

// LineConditions returns the line's faults and ringer load.
func (m *Model) LineConditions() LineConditions {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cond
}

// LoopbackFault corrupts the chip's digital loopback path (reg 8 bit 0), so
// that the daemon's caller-ID self-test can be shown to fail.
type LoopbackFault int

const (
	// LoopbackClean: the loopback returns what the daemon sent.
	LoopbackClean LoopbackFault = iota
	// LoopbackSilent: the loopback returns silence (a dead FSK path).
	LoopbackSilent
	// LoopbackDropout: 3 ms of every 50 ms are lost (a corrupted FSK path).
	LoopbackDropout
	// LoopbackSpaceBurst: every 50 ms one 1200 bit/s bit time (7 samples)
	// is replaced by a 2200 Hz burst at the signal's level, so that some
	// mark bits arrive as spaces (bit errors with the carrier intact).
	LoopbackSpaceBurst
)

// SetLoopbackFault sets how the digital loopback corrupts the audio.
func (m *Model) SetLoopbackFault(f LoopbackFault) {
	m.mu.Lock()
	m.lbFault, m.lbCount = f, 0
	m.mu.Unlock()
}

// SetRingTimerError makes the chip's ring active timer (regs 48/49) run
// scale times the programmed time (1 = exact), so that a cadence check can
// be shown to fail. scale must be in (0, 10].
func (m *Model) SetRingTimerError(scale float64) error {
	if !(scale > 0 && scale <= 10) {
		return fmt.Errorf("slic: ring timer scale %v outside (0, 10]", scale)
	}
	m.mu.Lock()
	m.ringScale = scale
	m.mu.Unlock()
	return nil
}

// loopbackLocked returns the frame the TX slot carries in digital loopback:
// the RX frame as it left the codec, with the configured fault.
func (m *Model) loopbackLocked(down, capt []int16) {
	switch m.lbFault {
	case LoopbackSilent:
		clear(capt)
		return
	case LoopbackDropout:
		for i := range capt {
			if m.lbCount%lbDropEvery < lbDropSamples {
				capt[i] = 0
			} else {
				capt[i] = down[i]
			}
			m.lbCount++
		}
		return
	}
	if m.lbFault == LoopbackSpaceBurst {
		var peak float64
		for _, v := range down {
			peak = math.Max(peak, math.Abs(float64(v)))
		}
		for i := range capt {
			k := m.lbCount % lbDropEvery
			if k < 7 {
				capt[i] = clip16(peak * math.Sin(2*math.Pi*2200*float64(k)/8000))
			} else {
				capt[i] = down[i]
			}
			m.lbCount++
		}
		return
	}
	copy(capt, down)
}

// wires is the solved state of the line now.
type wires struct {
	vt, vr float64 // volts to ground
	i      float64 // loop current, amperes, positive tip→ring through the load
}

func cond(r float64) float64 {
	if r <= 0 {
		return 0
	}
	return 1 / r
}

// foreignLocked returns the foreign voltage on tip (or ring) now and
// whether a source is present.
func (m *Model) foreignLocked(ring bool) (float64, bool) {
	dc, ac := m.cond.TipDCVolts, m.cond.TipACVrms
	if ring {
		dc, ac = m.cond.RingDCVolts, m.cond.RingACVrms
	}
	if dc == 0 && ac == 0 {
		return 0, false
	}
	hz := m.cond.ACHz
	if hz == 0 {
		hz = defaultACHz
	}
	t := time.Since(m.t0).Seconds()
	return dc + ac*math.Sqrt2*math.Sin(2*math.Pi*hz*t), true
}

// loadCurrent is the DC current the line's load draws at tip-ring voltage
// v (ring relative to tip, signed).
func (m *Model) loadCurrent(v float64) float64 {
	i := v * cond(m.cond.TipRingOhms)
	if m.loopClosed {
		if a := math.Abs(v); a > phoneDiode {
			i += math.Copysign((a-phoneDiode)/phoneOhms, v)
		}
	}
	return i
}

// solveLocked computes the wires' voltages and the loop current now.
func (m *Model) solveLocked() wires {
	vcm := float64(m.reg[73]&0x3F) * volt15
	voc := float64(m.reg[72]&0x3F) * volt15
	lf := m.lfs
	if m.inReset || !m.poweredLocked() || m.thermal {
		lf = 0
	}
	if lf == 4 && m.ringOn {
		return m.ringingLocked()
	}
	if lf == 4 {
		lf = 2
	}
	switch lf {
	case 1, 2, 5, 6:
		ilim := 20e-3 + 3e-3*float64(m.reg[71]&7)
		v := voc
		if m.loadCurrent(v) > ilim {
			lo, hi := 0.0, voc
			for range 40 {
				mid := (lo + hi) / 2
				if m.loadCurrent(mid) > ilim {
					hi = mid
				} else {
					lo = mid
				}
			}
			v = lo
		}
		w := wires{vt: -vcm, vr: -(vcm + v), i: m.loadCurrent(v)}
		if lf >= 5 {
			w.vt, w.vr, w.i = w.vr, w.vt, -w.i
		}
		return w
	case 3: // tip open: ring driven
		vr := -(vcm + voc)
		vt := m.floatLocked(false, vr, vcm)
		return wires{vt: vt, vr: vr, i: m.loadCurrent(vt - vr)}
	case 7: // ring open: tip driven
		vt := -(vcm + voc)
		vr := m.floatLocked(true, vt, vcm)
		return wires{vt: vt, vr: vr, i: -m.loadCurrent(vr - vt)}
	}
	// Both wires floating.
	ft, tOK := m.foreignLocked(false)
	fr, rOK := m.foreignLocked(true)
	switch {
	case tOK && rOK:
		return wires{vt: ft, vr: fr, i: m.loadCurrent(ft - fr)}
	case tOK:
		vr := m.floatLocked(true, ft, vcm)
		return wires{vt: ft, vr: vr, i: m.loadCurrent(ft - vr)}
	case rOK:
		vt := m.floatLocked(false, fr, vcm)
		return wires{vt: vt, vr: fr, i: m.loadCurrent(vt - fr)}
	}
	gs := 1.0 / SenseOhms
	gtr, gtg, grg := cond(m.cond.TipRingOhms), cond(m.cond.TipGroundOhms), cond(m.cond.RingGroundOhms)
	// (gs+gtg+gtr)·vt − gtr·vr = −gs·vcm ; −gtr·vt + (gs+grg+gtr)·vr = −gs·vcm
	a, b, c, d := gs+gtg+gtr, -gtr, -gtr, gs+grg+gtr
	e := -gs * vcm
	det := a*d - b*c
	vt := (e*d - b*e) / det
	vr := (a*e - c*e) / det
	return wires{vt: vt, vr: vr, i: m.loadCurrent(vt - vr)}
}

// floatLocked solves a floating wire (ring if ring) whose other wire is at
// other volts: held by the sense network to −vcm, its leakage to ground,
// the tip-ring leakage and the off-hook phone; a foreign source on it wins.
func (m *Model) floatLocked(ring bool, other, vcm float64) float64 {
	if f, ok := m.foreignLocked(ring); ok {
		return f
	}
	gs := 1.0 / SenseOhms
	gg := cond(m.cond.TipGroundOhms)
	if ring {
		gg = cond(m.cond.RingGroundOhms)
	}
	gtr := cond(m.cond.TipRingOhms)
	v := (gs*-vcm + gtr*other) / (gs + gg + gtr)
	if m.loopClosed && math.Abs(v-other) > phoneDiode {
		gp := 1 / phoneOhms
		ref := other + math.Copysign(phoneDiode, v-other)
		v = (gs*-vcm + gtr*other + gp*ref) / (gs + gg + gtr + gp)
	}
	return v
}

// ringingLocked is the line during a ring burst: balanced ringing around
// half the battery, the ringers and the tip-ring leakage as the load.
func (m *Model) ringingLocked() wires {
	vpk, hz := m.ringParamsLocked()
	t := time.Since(m.t0).Seconds()
	v := vpk * math.Sin(2*math.Pi*hz*t) // ring relative to tip
	mid := -m.vbatLocked() / 2
	i := v * (m.cond.REN/renOhms + cond(m.cond.TipRingOhms))
	if m.loopClosed && math.Abs(v) > phoneDiode {
		i += math.Copysign((math.Abs(v)-phoneDiode)/phoneOhms, v)
	}
	return wires{vt: mid - v/2, vr: mid + v/2, i: -i}
}

// senseLocked reads monitor register a (78–81).
func (m *Model) senseLocked(a byte) byte {
	w := m.solveLocked()
	switch a {
	case 80:
		return negVolts(w.vt)
	case 81:
		return negVolts(w.vr)
	case 78:
		d := w.vt - w.vr
		v := byte(math.Min(63, math.Round(math.Abs(d)/loopVoltLSB)))
		if d < 0 {
			v |= 0x40
		}
		return v
	}
	v := byte(math.Min(63, math.Round(math.Abs(w.i)/loopCurLSB)))
	if w.i < 0 {
		v |= 0x40
	}
	return v
}

// negVolts encodes a wire voltage as regs 80/81 do: 0 to −95.88 V.
func negVolts(v float64) byte {
	return byte(math.Min(255, math.Max(0, math.Round(-v/vbatLSB))))
}
