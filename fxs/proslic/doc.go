// Package proslic drives a Silicon Labs ProSLIC Si3210/Si3215 (Si321x)
// subscriber-line interface chip over SPI, written only against the
// hal.SLIC interfaces (periph.io conn spi.Port, gpio.PinIn for the
// active-low IRQ, gpio.PinOut for the active-low reset), so the same code
// runs on the board's spidev and on the simulated chip in basestation/sim.
//
// It follows the register protocol and start-up order summarised in
// reference/telephony.md §1 (Si321x data sheet facts as used by the Silicon
// Labs ProSLIC API and DAHDI wctdm): one byte per chip-select, bit 7 of the
// address byte = read; identity in reg 0 (and reg 1/6 for the Si3215
// family); sanity values after reset (reg 8 = 0x02, reg 11 = 0x33,
// reg 64 = 0); indirect registers through 28–31; DC-DC converter power-up
// (reg 92/93/14, VBAT in reg 82) and calibration (reg 96/97) with bounded
// waits; linefeed states in reg 64; loop closure in reg 68; ring oscillator
// (indirect 20–22) and ring cadence timers (reg 48–51, 125 µs units);
// interrupts in reg 18–20 (write 1 to clear) with enables in 21–23.
//
// Line test (docs/line-test.md): BeginLineTest saves the line setup and
// masks the interrupts; its TestSession measures foreign voltages (regs
// 80/81), leakage (tip open / ring open against the sense network),
// receiver off-hook (loop resistance at two feed voltages, reg 79), REN
// (ring current) and the ring cadence timers (reg 64 actual state), and End
// restores everything. SetLoopback drives reg 8 (digital loopback).
//
// Usage:
//
//	dev, err := proslic.New(board.SLIC, nil) // reset, probe, init; line open
//	go dev.Run(ctx, func(ev proslic.Event) { ... }) // IRQ loop
//	dev.SetLinefeed(proslic.LFForward)
//
// A register access allocates nothing. New fails with an error naming the
// bus and the value read when no chip answers (0x00/0xFF), the identity is
// not an Si321x, or the sanity checks fail.
//
// Imports: only basestation/hal of the project and periph.io/x/conn/v3.
package proslic
