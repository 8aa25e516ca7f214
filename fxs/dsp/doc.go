// Package dsp is the signal processing of the analog phone port (FXS): pure
// code, samples in and events out, with no goroutines, no clocks and no
// package-level mutable state. The fxs line state machine drives it one PCM
// frame (hal.FrameDuration, 80 samples at 8 kHz or 160 at 16 kHz) at a time.
//
// It owns:
//
//   - call-progress tones from a tone plan ([TonePlan], [USPlan], [CAPlan])
//     played (or mixed over audio) by a [ToneGenerator], which also plays
//     DTMF digits received from the network (RFC 4733); the plan includes the
//     CIDCW alerting tones SAS and CAS;
//   - DTMF detection ([DTMFDetector]);
//   - Bell 202 FSK caller ID and message waiting: message builders
//     ([CallerID], [VMWI]) and the modulator ([FSKTransmitter]) for Type I
//     (on-hook) and Type II (off-hook, CIDCW) delivery;
//   - the Bell 202 receiver ([FSKReceiver]): demodulator, byte framer and
//     message with its checksum, for the port's caller-ID self-test;
//   - the hook-switch classifier ([HookClassifier]): pulse (rotary) digits,
//     hook flash and hang-up from timed hook transitions.
//
// Every generator writes into caller-owned frames and every detector appends
// events to a caller-owned slice, so none of them allocates per frame.
//
// It imports nothing of the project except basestation/hal (for
// hal.HookState); it must never import other fxs packages, dect, sipua,
// provisioning, board or sim.
//
// Specifications followed (numbers as collected in the project's
// reference/telephony.md): the North American Precise Tone Plan and NANP SIT
// (§3); ITU-T Q.23 DTMF frequencies and the Bellcore/AT&T detection
// requirements as used by open detectors (spandsp, Asterisk) (§4); Telcordia
// GR-30 / TIA-777 Bell 202 caller ID, SDMF and MDMF, VMWI, and SR-TSV-002476
// CIDCW (CAS 2130+2750 Hz) (§5); pulse dialing and hook-flash timing (§2).
//
// Levels are in dBm0 with the G.711 convention used by spandsp: a full-scale
// 16-bit sine (peak 32767) is +3.14 dBm0.
package dsp
