// Package vboard is the wire format of the virtual board
// (docs/virtual-board.md): the messages between the simulator's board
// server (sim/vboard) and the daemon's virtual board (board/virtual). It
// uses the standard library only, so both ends share one implementation.
//
// Like hal, it imports nothing of the project; it must not import sim or
// board (the daemon's side may not carry the simulator).
package vboard
