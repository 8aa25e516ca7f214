// Package fleet is the simulated hardware of one base in a fleet of many
// in one process (cmd/basefleet): the ProSLIC model with no phone on its
// line and a slow PCM channel (SlowPCM) in place of its 10 ms clock, the
// DECT module emulated on an in-memory line instead of a pseudo-terminal,
// the LEDs and the button. What wakes up while the base is idle: the slow
// PCM clock and the emulated module's line watch; the rest is the
// daemon's own periodic work (the SLIC's interrupt poll, the radio link's
// keepalive, the panel's LEDs).
//
// Like package sim it imports hal and sim's parts, never the daemon's rooms.
package fleet

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"basestation/hal"
	"basestation/sim"
	"basestation/sim/radio"
	"basestation/sim/slic"
)

// Hardware is one fleet base's simulated board.
type Hardware struct {
	SLIC   *slic.Model
	PCM    *SlowPCM
	Radio  *radio.Emulator
	LEDs   map[string]*sim.LED
	Button *sim.Button
}

// Options shape one base's hardware.
type Options struct {
	// Index numbers the base in its fleet: it makes the radio's identity
	// (RFPI) unique.
	Index int
	// ModuleState, if set, keeps the emulated module's device table in
	// this file (as its flash); empty: in memory.
	ModuleState string
	// PCMPace is the phone port's PCM frame interval (default 100 ms; at
	// least hal.FrameDuration, which is the real clock).
	PCMPace time.Duration
	Log     *slog.Logger
}

// New builds one base's hardware. Its radio module runs at once; Close
// stops it and the PCM channel.
func New(o Options) (*Hardware, error) {
	if o.Index < 0 || int64(o.Index) >= 1<<32 {
		return nil, fmt.Errorf("fleet: base index %d is outside 0..2^32-1", o.Index)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PCMPace == 0 {
		o.PCMPace = 100 * time.Millisecond
	}
	pcm, err := NewSlowPCM(hal.RateNarrowband, o.PCMPace)
	if err != nil {
		return nil, err
	}
	m := slic.New(slic.Config{Logger: o.Log.With("sim", "slic")})
	rfpi := [5]byte{0x01, byte(o.Index >> 24), byte(o.Index >> 16), byte(o.Index >> 8), byte(o.Index)}
	emu, err := radio.NewInMemory(&radio.Options{RFPI: rfpi, StatePath: o.ModuleState, Logger: o.Log.With("sim", "radio")})
	if err != nil {
		return nil, fmt.Errorf("fleet: DECT module emulator: %w", err)
	}
	h := &Hardware{SLIC: m, PCM: pcm, Radio: emu, LEDs: map[string]*sim.LED{}, Button: sim.NewButton()}
	for _, n := range []string{hal.LEDPower, hal.LEDCloud, hal.LEDRegistration, hal.LEDLine, hal.LEDFault} {
		h.LEDs[n] = sim.NewLED(n)
	}
	return h, nil
}

// HAL returns the board as the daemon sees it. Its radio has no device
// path: the daemon opens it with OpenPort (dect.Options.OpenPort).
func (h *Hardware) HAL() *hal.Board {
	leds := map[string]hal.LED{}
	for n, l := range h.LEDs {
		leds[n] = l
	}
	sl := h.SLIC.HAL()
	sl.PCM = h.PCM
	return &hal.Board{Name: "fleet", SLIC: sl, Radio: h.Radio.Radio(), LEDs: leds, Button: h.Button, Closer: h.Radio}
}

// OpenPort opens the radio module's in-memory UART, reads timing out after
// readTimeout, for dect.Options.OpenPort.
func (h *Hardware) OpenPort(readTimeout time.Duration) func() (io.ReadWriteCloser, error) {
	return h.Radio.OpenPort(readTimeout)
}

// Close stops the radio module and the PCM channel.
func (h *Hardware) Close() error {
	h.PCM.Close()
	return h.Radio.Close()
}
