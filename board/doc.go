// Package board opens the real Base Station board's hardware and hands it to
// the daemon as a *hal.Board: the ProSLIC on its SPI bus with its interrupt
// and reset GPIO lines, the SLIC's PCM time slot, the DECT module's UART and
// reset line, the LEDs and the button.
//
// Every bus, pin and device name lives in one place, the PinMap (see
// Boards). Open checks that each one exists and answers; a missing or mute
// device fails start-up with an error that names the bus, pin or device.
// Whether the SLIC chip itself is the right one is checked by the driver in
// fxs/proslic, which probes it.
//
// board is the only package that imports periph.io/x/host/v3 and opens real
// device files. It imports hal and nothing else of the project, and is
// imported only by cmd/basestationd. It compiles for linux/arm, linux/arm64
// and linux/amd64 (so CI type-checks it).
package board
