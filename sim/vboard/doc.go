// Package vboard serves a simulated board's hardware (a *hal.Board, as
// sim.Board.HAL builds it) on a Unix socket, so that a daemon in another
// process drives it through board/virtual. The protocol is
// docs/virtual-board.md; the wire format is basestation/hal/vboard.
//
// The server owns the hardware, not the connection: a client that
// disconnects or dies leaves every device as it was (a ringing line keeps
// ringing), and the next client takes over.
//
// It imports hal and hal/vboard only (sim's rule: never fxs, dect, sipua
// or endpoint).
package vboard
