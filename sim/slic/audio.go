package slic

import (
	"context"
	"math"
	"time"

	"basestation/hal"
)

// Run drives the PCM frame clock: every 10 ms it plays one frame from the
// daemon to the line and captures one frame from the phone. It returns nil
// when ctx ends.
func (m *Model) Run(ctx context.Context) error {
	t := time.NewTicker(hal.FrameDuration)
	defer t.Stop()
	var down, up [frameSamples]int16
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		m.tick(&down, &up)
	}
}

// tick is one PCM frame.
func (m *Model) tick(down, up *[frameSamples]int16) {
	var frame [frameSamples]int16
	got := false
	select {
	case frame = <-m.pcm.playout:
		got = true
	default:
	}
	m.mu.Lock()
	if !got {
		m.stats.PCMUnderruns++
	}
	rxOK, txOK, law := m.pcmPathLocked()
	toPhone := m.audioToPhoneLocked()
	for i := range down {
		var s int16
		if rxOK && got {
			s = law.roundTrip(frame[i])
		}
		down[i] = s
	}
	// Digital loopback (reg 8 bit 0, DLM): the TX slot carries the RX slot
	// as it left the codec; the line gets nothing from the PCM path then.
	dlm := m.reg[8]&0x01 != 0 && !m.inReset
	var loop [frameSamples]int16
	if dlm {
		m.loopbackLocked(down[:], loop[:])
		*down = [frameSamples]int16{}
	}
	m.mixTonesLocked(down[:])
	if !toPhone {
		*down = [frameSamples]int16{}
	}
	m.mu.Unlock()

	*up = [frameSamples]int16{}
	m.deliverMu.Lock()
	m.deliverPendingLocked()
	if m.term != nil {
		m.term.Audio(down[:], up[:])
	}
	m.deliverMu.Unlock()

	m.mu.Lock()
	micOK := txOK && m.loopClosed && m.fedLocked() && !m.inReset
	var capt [frameSamples]int16
	switch {
	case dlm && txOK:
		capt = loop
	case micOK && !dlm:
		for i := range capt {
			capt[i] = law.roundTrip(up[i])
		}
	}
	m.mu.Unlock()
	if m.pcm.capture(capt) {
		m.mu.Lock()
		m.stats.PCMOverruns++
		m.mu.Unlock()
	}
}

// audioToPhoneLocked: does the line carry audio to the phone now?
func (m *Model) audioToPhoneLocked() bool {
	if m.inReset || !m.poweredLocked() {
		return false
	}
	switch m.lfs {
	case 2, 6:
		return true
	case 1, 5:
		return m.loopClosed
	}
	return false
}

// pcmPathLocked reports whether the RX (to line) and TX (to highway) slots
// match the board's expectations, and the companding law.
func (m *Model) pcmPathLocked() (rx, tx bool, law companding) {
	r1 := m.reg[1]
	if m.inReset || r1&0x20 == 0 {
		return false, false, lawLinear
	}
	switch (r1 >> 3) & 3 {
	case 0:
		law = lawALaw
	case 1:
		law = lawULaw
	case 3:
		law = lawLinear
		if r1&0x04 != 0 {
			m.stats.UnsupportedFeatures++
			return false, false, law
		}
	default:
		return false, false, lawLinear // reserved
	}
	txStart := int(m.reg[2]) | int(m.reg[3]&3)<<8
	rxStart := int(m.reg[4]) | int(m.reg[5]&3)<<8
	return rxStart == m.cfg.SlotStart, txStart == m.cfg.SlotStart, law
}

// mixTonesLocked adds the tone oscillators routed to the phone.
func (m *Model) mixTonesLocked(buf []int16) {
	fs := 8000.0
	if m.cfg.Part.family3215() {
		fs = 16000
	}
	for i := 0; i < 2; i++ {
		c := m.osc[i]
		ctrl := m.reg[32+i]
		if !c.running || !c.on || ctrl&0x03 != 2 {
			continue
		}
		coef := float64(int16(m.irNamed(13+3*i))) / 32768
		x := float64(m.irNamed(14 + 3*i))
		if coef <= -1 || coef >= 1 {
			continue
		}
		k := 8192 * math.Sqrt((1-coef)/(1+coef))
		amp := x / k * 32767
		step := math.Acos(coef) * fs / 8000
		ph := m.oscPhase[i]
		for n := range buf {
			v := float64(buf[n]) + amp*math.Sin(ph)
			ph += step
			buf[n] = clip16(v)
		}
		m.oscPhase[i] = math.Mod(ph, 2*math.Pi)
	}
}

func clip16(v float64) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(math.Round(v))
}
