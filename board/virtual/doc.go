// Package virtual is the Base Station board reached over the simulator's
// socket (docs/virtual-board.md): Open connects to a simulator serving its
// board (basesim --serve-board PATH) and returns a *hal.Board whose SPI
// port, IRQ and reset lines, PCM channels, LEDs and button are the
// simulated hardware in the other process. The DECT module is the
// simulator's pseudo-terminal, opened by the daemon as it opens the UART.
//
// It imports hal only, so the daemon built with it carries no simulator.
package virtual
