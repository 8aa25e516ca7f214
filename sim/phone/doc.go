// Package phone is a simulated analog telephone on the simulated line of
// package sim/slic: hook switch, DTMF keypad, rotary dial, hook flash, an
// ear that names the call-progress tones it hears and measures their
// cadence, a caller-ID display (Bell 202 FSK, SDMF/MDMF, Type I on-hook and
// Type II/CIDCW off-hook with the CAS → DTMF 'D' acknowledgement), a
// message-waiting lamp, a ringer with timestamps, and WAV recording.
//
// What it owns: the phone side of the line and all its signal processing —
// Goertzel tone analysis, DTMF synthesis, the FSK demodulator and the
// caller-ID message parser are this package's own code.
//
// What it must not import: fxs (nor dect, sipua): the phone checks the
// daemon's DSP, so it must not share it. It imports hal and sim/slic only.
//
// Spec followed: /work/shared/reference/telephony.md §2 (ringer range,
// pulse dialing 10 pps 60/40, hook flash), §3 (Precise Tone Plan tones,
// SIT, howler, call waiting), §4 (DTMF frequencies, twist, timing), §5
// (Bell 202 physical layer, GR-30 Type 1 and Type 2, message types and MDMF
// parameters, VMWI).
//
// # Use
//
//	m := slic.New(slic.Config{})
//	ph := phone.New(m, phone.Config{})
//	ph.OffHook()
//	ph.Hearing()                       // "dial"
//	ph.DialDTMF(ctx, "5551234")        // or ph.DialRotary(ctx, "5551234")
//	ph.State()                         // snapshot for a console
//
// The phone is driven by the line: the model calls Audio every 10 ms and
// LineEvent on ring voltage changes; actions that take time (dialing,
// flash) block the caller until done and use the standard time package,
// so synctest tests run them in virtual time.
package phone
