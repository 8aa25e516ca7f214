package hal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
)

// Audio sample rates of the PCM highway.
const (
	RateNarrowband = 8000  // G.711 / analog line
	RateWideband   = 16000 // G.722 / wideband DECT
)

// FrameDuration is the fixed length of one PCM frame. Every PCM channel
// delivers and accepts audio in frames of this length, paced by the
// hardware's PCM clock.
const FrameDuration = 10 * time.Millisecond

// FrameSamples returns the number of samples in one frame at rate.
func FrameSamples(rate int) int { return rate / int(time.Second/FrameDuration) }

// PCM is one full-duplex audio channel (a time slot on the board's PCM
// highway): 16-bit linear samples, mono, at Rate().
//
// ReadFrame blocks until the next frame captured from the device is
// available; the hardware clock paces it, so a caller looping on ReadFrame
// runs in real time. WriteFrame queues one frame for playout at the same
// clock; it blocks only when the playout queue is full. Both take exactly
// FrameSamples(Rate()) samples and return an error for any other length.
// Close stops the channel; blocked calls return ErrClosed.
type PCM interface {
	Rate() int
	ReadFrame(ctx context.Context, dst []int16) error
	WriteFrame(ctx context.Context, src []int16) error
	Close() error
}

// ErrClosed is returned by the operations of a closed channel or device.
var ErrClosed = errors.New("hal: closed")

// SLIC is the connection to the subscriber-line interface chip: its SPI port
// (not yet connected; the driver calls Connect once), its active-low
// interrupt line and its active-low reset line.
type SLIC struct {
	Name  string // for error messages, e.g. "SPI0.0 (ProSLIC)"
	Port  spi.Port
	IRQ   gpio.PinIn
	Reset gpio.PinOut
	// PCM is the audio channel wired to the SLIC's PCM time slot.
	PCM PCM
}

// Radio is the DECT module: the serial device the host opens (a UART on the
// board, a pseudo-terminal slave in the simulator) and its active-low reset
// line.
type Radio struct {
	Device string // path of the serial device, e.g. /dev/ttyS1 or /dev/pts/4
	Baud   int
	Reset  gpio.PinOut
	// Audio returns the PCM channel for the given slot at the given rate.
	// The module's audio slots are assigned per call.
	Audio func(slot int, rate int) (PCM, error)
}

// LEDState is what an LED shows.
type LEDState int

const (
	LEDOff LEDState = iota
	LEDOn
	LEDBlinkSlow // 1 Hz
	LEDBlinkFast // 4 Hz
)

func (s LEDState) String() string {
	switch s {
	case LEDOff:
		return "off"
	case LEDOn:
		return "on"
	case LEDBlinkSlow:
		return "blink-slow"
	case LEDBlinkFast:
		return "blink-fast"
	}
	return fmt.Sprintf("LEDState(%d)", int(s))
}

// LED is one indicator on the base. The implementation does any blinking.
type LED interface {
	Set(LEDState) error
}

// LED names on the Base Station.
const (
	LEDPower        = "power"
	LEDCloud        = "cloud"
	LEDRegistration = "registration"
	LEDLine         = "line"
	LEDFault        = "fault"
)

// ButtonPress is one press of the base's button.
type ButtonPress struct {
	Held time.Duration // how long the button was held down
}

// Button is the base's single push button.
type Button interface {
	// Wait blocks until the button is pressed and released, or ctx ends.
	Wait(ctx context.Context) (ButtonPress, error)
}

// Board is everything the daemon drives. The real board and the simulator
// each build one.
type Board struct {
	Name   string
	SLIC   SLIC
	Radio  Radio
	LEDs   map[string]LED
	Button Button
	// Closer releases the board's resources (may be nil).
	Closer io.Closer
}

// HookState is the state of an analog line's hook switch.
type HookState int

const (
	OnHook HookState = iota
	OffHook
)

func (h HookState) String() string {
	if h == OffHook {
		return "off-hook"
	}
	return "on-hook"
}
