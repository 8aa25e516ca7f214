// Package hal describes what the Base Station board physically has, as small
// interfaces and the value types that cross package boundaries: the SLIC's SPI
// connection with its interrupt and reset pins, the PCM audio channels, the
// DECT radio module's serial port with its reset pin, the LEDs and the button.
//
// The real board (package board) and the simulator (package sim) both produce
// a *Board; device logic (fxs, dect) is written against these interfaces only,
// so it runs unchanged on either.
//
// hal imports nothing of the project. It uses periph.io/x/conn/v3 interfaces
// (spi.Port, gpio.PinIn, gpio.PinOut), which are interface-only by design.
// It holds no goroutines, clocks or package-level state.
package hal
