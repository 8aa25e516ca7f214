// Package radio emulates the Base Station's DECT radio module behind a
// pseudo-terminal, together with the DECT devices around it, so that the
// daemon's driver (package dect) runs unchanged against it: it opens
// Emulator.Device() with github.com/tarm/serial exactly as it opens the UART
// on the board. NewInMemory puts the module on an in-memory UART instead
// (buffered 4 KB each way like a tty, a new session each time the host
// opens it with Emulator.OpenPort, given to the driver as
// dect.Options.OpenPort): no file descriptor per module, for the thousands
// of a fleet (cmd/basefleet).
//
// The emulator implements docs/radio-protocol.md on its own (framing, CRC,
// link layer, messages, authentication); it deliberately shares no code with
// package dect, so a misreading of the specification on either side fails
// the tests instead of cancelling out.
//
// It provides: the module (its reset line as a gpio.PinOut, its own device
// table, optionally persisted like flash, its registration window, call
// control and PCM slots as in-memory paced channels); simulated Linx (an
// analog phone behind a DECT adapter) and Headset devices with user actions
// (power, range, pairing with a PIN, off-hook/answer, dial, flash, hang up)
// and what their user sees and hears; and fault injection on the serial
// link (corrupted bytes, dropped and duplicated frames, module reset, hung
// firmware).
//
// It imports only basestation/hal from the project (never dect, fxs or
// sipua).
package radio
