// Package wire is the pure codec of the host–module protocol of the DECT
// radio (docs/radio-protocol.md): frames (sync, length, CRC-16/CCITT-FALSE),
// an allocation-free stream decoder that resynchronises after garbage, the
// messages with field validation, and the authentication processes
// (A11/A12/A21/A22 with AES-128).
//
// It has no goroutines, clocks or I/O, and imports nothing of the project.
package wire
