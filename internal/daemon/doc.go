// Package daemon is basestationd's wiring: it builds the rooms — the
// analog port (fxs), the DECT radio (dect), the SIP user agent (sipua), the
// cloud agent and configuration applier (provisioning), firmware update
// (update) — over a *hal.Board that cmd/basestationd gets from board and
// cmd/basesim from sim, and runs them. It holds no policy; each glue type
// below has its own lock (if it has state) and its own Run:
//
//   - lines: the base's devices as provisioning.Attachments and
//     provisioning.LineSetup (the port and the radio's table of paired
//     devices; attaching them is sipua's), and the port's events;
//   - reporter: the user agent as provisioning.Accounts and StateSource,
//     and its events turned into registrations and cloud events;
//   - radio: the DECT driver as provisioning.Radio, its events, and each
//     device's events to its extension;
//   - panel: the LEDs and the button (whose presses are dect's to act on);
//   - firmware: the agent's jobs to the updater (update.Open), its reports
//     and post-update self-test verdicts to the agent.
//
// Policy lives in the rooms: provisioning.ConfigApplier puts configurations
// in force, provisioning.Registrations keeps the registrations reported,
// update.Checks is the trial boot's health and update runs the self-test
// after an update, dect pages and pairs, sipua knows which device is
// attached where, how long a call talked (CallEvent.TalkTime) and its
// quality in RFC 6035's units (media.Metrics.VQ). New takes the settings
// file's settings.Config (internal/settings); the watchdog's tracker is
// internal/health.
//
// It may import every room but never board or sim (the board is handed in)
// and never cmd; only cmd/* imports it.
package daemon
