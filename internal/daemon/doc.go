// Package daemon wires basestationd together: the analog port (fxs), the
// DECT radio (dect), the SIP user agent (sipua) and the cloud agent
// (provisioning), over a *hal.Board that cmd/basestationd gets from board
// (the real hardware) and cmd/basesim gets from sim.
//
// It is the wiring that cmd/basestationd and cmd/basesim share, kept out of
// cmd so both mains can use it: it attaches the devices to their
// extensions (the fxs port and each DECT device are endpoint.Endpoints
// themselves, given their context — name, time zone — when built or
// configured) and forwards their events to the call layer, the Applier
// that turns the cloud's
// configuration into SIP accounts and device assignments, the provisioning
// Radio over the DECT driver, the base's LEDs and button, and the live
// state reported to the cloud and shown by the simulator, and the health
// tracker of the main loops' progress that the daemon's systemd watchdog
// reads (health.go; wired when Options.Health is set).
//
// It may import every device and protocol package but never board or sim
// (the board is handed in) and never cmd.
package daemon
