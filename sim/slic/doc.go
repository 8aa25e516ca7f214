// Package slic is a register-level model of a Silicon Labs ProSLIC Si3210 /
// Si3215 ("Si321x") subscriber-line interface chip, the chip behind the Base
// Station's analog phone port, for the simulator and for tests of the
// daemon's ProSLIC driver.
//
// What it owns: the chip side of the SPI port (spi.Port / spi.Conn with the
// Si321x byte protocol), the active-low interrupt line (gpio.PinIn), the
// active-low reset line (gpio.PinOut), the chip's PCM time slot as a
// hal.PCM paced by the hardware frame clock, and the electrical state of the
// line: linefeed, battery, loop closure, ring trip, ring voltage and the
// cadence timers, alarms. A Terminal (the simulated phone of package
// sim/phone) hangs on the line.
//
// The line behind the monitor registers 78–81 is a DC model with faults
// (SetLineConditions: foreign voltages, leakages, REN); reg 8 bit 0 is the
// digital loopback (SetLoopbackFault corrupts it) and SetRingTimerError
// skews the ring timer, so the daemon's line test and caller-ID self-test
// can be shown to pass and fail (docs/line-test.md, linemodel.go).
//
// What it must not import: fxs, dect, sipua (nor anything but hal of the
// project). The model follows the chip, never the driver, so a driver bug
// cannot hide in a shared helper.
//
// Spec followed: /work/shared/reference/telephony.md §1 (SPI access protocol
// §1.1, direct registers §1.2, interrupt bits §1.3, linefeed codes §1.4,
// indirect registers and oscillator math §1.5), §2 (line timing), which cite
// the Silicon Labs ProSLIC API (si321x_intf.c, si321x_constants.c) and
// DAHDI's wctdm.c / proslic.h.
//
// # Wiring
//
//	m := slic.New(slic.Config{})
//	go m.Run(ctx)                 // the PCM frame clock (10 ms frames)
//	board.SLIC = m.HAL()          // Port, IRQ, Reset, PCM
//	ph := phone.New(m, phone.Config{})
//
// # Modelling choices (where the reference is silent or unconfirmed)
//
//   - SPI: 8-bit words, MSB first, SPI mode 0 or 3 (the chip samples on the
//     rising edge; modes 1/2, LSB-first, half duplex and no-CS are refused by
//     Connect). The chip is a byte state machine that persists across chip
//     select toggles: control byte (bit7 = read, bits6:0 = address), then one
//     data byte. During a control byte and whenever the chip does not drive
//     SDO (reset, not addressed), the bus reads 0xFF (pulled-up, tri-stated).
//     Daisy-chain mode (reg 0 bit7 written 1) prefixes every access with a
//     channel byte; this chip is channel 0 (bit0, or 0xFF broadcast).
//   - Indirect access: writing IDA_HI (29) arms a write; the next write of
//     IAA (30) writes IDA to that address, otherwise the IAA write starts a
//     read that loads IDA_LO/HI (28/29). I_STATUS (31) bit0 reads 1 while
//     the access is in progress; it completes after 125 µs (one 8 kHz frame)
//     or as soon as the driver has seen the busy flag once, whichever is
//     first, and then raises interrupt 20 bit1. Touching 28–30 while busy
//     is a protocol violation: the access is dropped and counted.
//   - Si3215/16 use the remapped indirect addresses of §1.1; the model keeps
//     one indirect RAM in the chip's own numbering and reads the ring and
//     tone parameters from the addresses the part really uses.
//   - Register 67 bits: bit0 auto-open on power alarm, bit1 auto-active on
//     loop closure in on-hook transmission, bit2 auto-active on ring trip,
//     bit3 automatic battery switching (default 0x1F). Reg 69/70 debounce
//     intervals are 1.25 ms per LSB (datasheet unit; §1.2 marks it
//     unconfirmed).
//   - Power: writing reg 14 = 0 (DC-DC on) ramps VBAT (reg 82, 0.376 V/LSB)
//     to VBATH (reg 74, 1.5 V/LSB) over Config.PowerUpTime; 0x10 powers it
//     down with a slow decay. The line carries no loop current, no ring
//     voltage and no audio while VBAT is below 70 % of its target.
//     Calibration (reg 96 ≠ 0, reg 93 bit7) completes after Config.CalTime
//     and only with the battery up; reg 96 then reads 0.
//   - Audio to the phone passes in forward/reverse active (1/5) when the
//     phone is off-hook, and in on-hook transmission (2/6) in either hook
//     state. Ringing (4) with the chip's cadence timers puts the line in
//     on-hook transmission during the silent period (the shadow, reg 64
//     bits6:4, reads 2), so FSK sent then reaches the phone; open, tip-open
//     and ring-open carry nothing. Mic audio reaches the PCM slot only with
//     the loop closed on a fed line.
//   - Ring voltage: frequency = acos(RCO/32768)·1000/2π Hz, peak =
//     RNGX / (8192·sqrt((1−c)/(1+c))) · 96 V, capped by VBATH (this matches
//     the API's US preset 0x7EFD/0x0155 = 20 Hz, 63.6 Vpk = 45 Vrms).
//     Tone oscillators (reg 32/33, IR 13–18) are generated at
//     A = X / (8192·sqrt((1−c)/(1+c))) of full scale (350 Hz, X = 0x63 gives
//     −18 dBm0, as §1.5 states) and mixed toward the phone when routed
//     there (bits1:0 = 2).
//   - PCM: hal.PCM is linear by contract. With µ-law or A-law selected
//     (reg 1 PCMF) both directions go through a G.711 encode/decode so the
//     audio carries exactly the quantisation the real slot would; 16-bit
//     linear passes unchanged. PCM disabled (reg 1 bit5 = 0), a TX/RX start
//     count (regs 2–5) other than Config.SlotStart, or wideband mode leaves
//     the slot empty: the daemon reads silence and the phone hears nothing
//     from it. The on-chip DTMF decoder (reg 24), FSK generator (reg 52),
//     the analog loopbacks (reg 8 bits 1/2),
//     gains and impedance synthesis are stored but not modelled.
package slic
