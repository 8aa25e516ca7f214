// Package fxs is the Base Station's analog phone port (FXS): the line state
// machine over the ProSLIC driver (package fxs/proslic) and the port's DSP
// (package fxs/dsp). It owns hook supervision, dial tone and call-progress
// tones, DTMF and rotary (pulse) digits with a dial plan, hook flash,
// ringing with cadences, Type I and Type II (call waiting) caller ID,
// message-waiting indication (on-hook FSK VMWI and stutter dial tone), line
// faults, and the hand-over of the call's audio path to the call layer.
//
// The Port is an endpoint.Endpoint: the call layer (sipua) drives it
// through that interface in the call vocabulary (package endpoint: caller
// ID, tones, cadences), and Event.Endpoint gives the events it takes. What
// the analog line does with them is decided here: dial tone asked for
// during a call (after a flash) collects a second number with recall dial
// tone; caller-ID times are shown in Config.Location.
//
// Imports: only basestation/hal and basestation/endpoint of the project
// (and its own subpackages); never dect, sipua, provisioning, board or sim.
//
// Specifications followed (numbers in reference/telephony.md): Si321x
// register protocol (§1); North American line timing — 20 Hz ringing,
// 2 s on / 4 s off and the GR-506 distinctive cadences, pulse dialing,
// hook flash 300–1000 ms (§2); the Precise Tone Plan and SIT (§3); DTMF
// detection (§4); Bell 202 caller ID — Type I between the first and second
// ring (≥ 500 ms after the ring, ≥ 200 ms before the next), MDMF/SDMF,
// VMWI, CIDCW with CAS and the CPE's DTMF A/D acknowledgement (§5);
// emergency numbers dial at once (§8.3, Kari's Law).
//
// The caller's name goes out as GR-30 allows it, printable ASCII of at
// most 15 characters: it is spelt in ASCII first (accents dropped by
// Unicode NFKD, ß as ss, æ as ae, ø as o, ł as l, curly quotes straight;
// other scripts as '?') and only then cut, so "Müller-Lüdenscheidt" shows
// as "Muller-Ludensch". A name with nothing readable left is sent as
// unavailable. (DECT devices get the name in UTF-8 unchanged; their
// protocol carries it.)
//
// An idle line sleeps: while the phone is on-hook and nothing sounds (no
// ringing with caller ID still to send, no VMWI burst, no tone or call
// audio, no line test), the port reads no PCM and runs no frame clock. Hook
// changes, ring trip and alarms come from the SLIC's interrupt
// (proslic.Run waits for the edge), the call layer's commands wake it at
// once, and its own timers (the ring cadence's steps, the fault retry, the
// VMWI refresh) wake it when due. When a step puts the line to work it
// gets in step with the PCM clock again and processes 10 ms frames until
// the line is idle once more (sleep.go). Ping is the watchdog's liveness
// probe of the loop.
//
// Diagnostics (docs/line-test.md): LineTest runs the GR-909 line test
// (hazardous potential, foreign voltage, resistive faults, receiver
// off-hook, REN) with the SLIC's own measurements, and CallerIDSelfTest
// sends a caller-ID burst through the chip's digital loopback to the port's
// own FSK receiver and times the chip's ring cadence. Both need the line
// idle on-hook (ErrLineBusy otherwise), hold it meanwhile (the call layer
// gets ErrTesting) and put it back as it was; their results are
// JSON-friendly (docs/mqtt-api.md §5.5).
//
// # Usage
//
//	cfg := fxs.DefaultConfig()            // US tone plan, NANP dial plan, 300–1000 ms flash
//	port, err := fxs.New(board.SLIC, cfg, log) // resets, probes and initialises the SLIC
//	go port.Run(ctx)                      // line loop; line left safe when ctx ends
//	for ev := range port.Events() {
//		switch ev.Kind {
//		case fxs.EvOffHook:  // ev.Answer: the phone answered ringing
//		case fxs.EvDialed:   // ev.Number (ev.Emergency) — place the call
//		case fxs.EvDigit:    // ev.Digit during a call (EvDigitEnd gives the duration)
//		case fxs.EvFlash:    // hook flash during a call
//		case fxs.EvOnHook:   // hang-up
//		case fxs.EvFault:    // ev.Err; the line is open, ringing off
//		}
//	}
//	port.Ring(endpoint.CallerID{Number: "6135550100", Name: "ACME"}, endpoint.Normal)
//	port.StopRinging()
//	port.PlayTone(endpoint.Ringback)      // dial, stutter-dial, busy, reorder, call-waiting, sit-intercept, …; None stops
//	audio, _ := port.ConnectAudio()       // ReadFrame = phone's voice, WriteFrame = far end
//	port.AlertCallWaiting(endpoint.CallerID{...}) // SAS + CAS, FSK after the phone's ACK
//	port.SetMessageWaiting(true)          // VMWI FSK now (on-hook) + stutter dial tone
//
// # Design
//
// Run owns all line state in one goroutine, ticked by the PCM channel: each
// 10 ms frame it applies queued actions, hook events from the SLIC's IRQ
// loop (timestamped when serviced), DTMF detection on the captured frame,
// timers (digit timeouts, cadences, flash window, caller-ID slot), and
// writes one frame of tone, FSK or far-end audio. Frames are processed in
// order and the per-frame work does not allocate. Ring cadences are timed by
// the port (linefeed ringing / on-hook transmission), so distinctive
// patterns and the caller-ID slot are exact to the frame; the chip's own
// cadence timers remain available in fxs/proslic.
//
// The line's states (State) change only through one transition table,
// lineTable: (state, LineEvent) → (actions, next state). The loop's
// handlers fire the events; an event that is no transition in the current
// state is logged and ignored. testdata/linetable.golden is the table as
// TestLineTableGolden prints it.
//
// The dial plan is an MGCP-style digit map (see DialPlan); emergency
// numbers bypass it. Hook timing is dsp.HookClassifier's: on-hook breaks of
// 20–150 ms are rotary pulses (a digit ends 250 ms after the last one), an
// on-hook of FlashMin..FlashMax is a flash, other short on-hooks are
// ignored, and an on-hook longer than FlashMax is a hang-up. Going off-hook
// from idle or ringing acts on the SLIC's (debounced) loop-closure
// interrupt at once, so dial tone reaches the line within about 30 ms.
//
// After a flash the call layer may call CollectDigits to take a second
// number (recall dial tone, then EvDialed).
//
// When the call layer sends the digits out of band (RFC 4733), it turns on
// SuppressInBandDTMF on the call's audio path: the phone's voice is then
// held back by DTMFSuppressDelay (4 frames, 40 ms: the detector decides at
// most about 36 ms after a tone begins, within a frame), and once a digit
// is recognised the held frames from its onset (less 8 ms) to its end are
// replaced with silence, so no part of the tone reaches the far end. Off,
// the voice is not delayed and the tones pass in band.
//
// A phone left off-hook ends with the receiver off-hook howler (1400 +
// 2060 + 2450 + 2600 Hz, 0.1 s on / 0.1 s off) however it got there:
// dial tone with no digit for OffHookTimeout (30 s); failed dialing,
// reorder (0.25/0.25 s) for OffHookTimeout; a failed or ended call, where
// the call layer plays busy or reorder (the howler follows after
// OffHookTimeout) or a SIT (274 + 274 + 380 ms, played once, then reorder
// and the howler OffHookTimeout later). A SIT at off-hook (out of service)
// is followed by reorder too, while digits are still taken (emergency
// numbers), and the howler comes OffHookTimeout after off-hook.
package fxs
