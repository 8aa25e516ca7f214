package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"basestation/hal"
	"basestation/sim/phone"
	"basestation/sim/radio"
	"basestation/sim/slic"
)

// Config shapes a simulated board.
type Config struct {
	// SLIC configures the ProSLIC model (zero: an Si3210 rev E).
	SLIC slic.Config
	// Phone configures the analog phone on the port.
	Phone phone.Config
	// Radio configures the emulated DECT module.
	Radio radio.Options
	Log   *slog.Logger
}

// Board is the simulated Base Station hardware: the ProSLIC model with an
// analog phone on its line, the DECT module emulated behind a
// pseudo-terminal with the simulated devices around it, the LEDs and the
// button. HAL returns it as the daemon sees it.
type Board struct {
	SLIC   *slic.Model
	Phone  *phone.Phone
	Radio  *radio.Emulator
	LEDs   map[string]*LED
	Button *Button

	mu      sync.Mutex
	devices map[string]*radio.Device // by simulator name: linx1, headset1, …
	counts  map[string]int
}

// NewBoard builds the simulated hardware. Run must be called for the PCM
// clock to tick.
func NewBoard(cfg Config) (*Board, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SLIC.Logger == nil {
		cfg.SLIC.Logger = cfg.Log.With("sim", "slic")
	}
	if cfg.Phone.Logger == nil {
		cfg.Phone.Logger = cfg.Log.With("sim", "phone")
	}
	if cfg.Radio.Logger == nil {
		cfg.Radio.Logger = cfg.Log.With("sim", "radio")
	}
	m := slic.New(cfg.SLIC)
	ph := phone.New(m, cfg.Phone)
	emu, err := radio.New(&cfg.Radio)
	if err != nil {
		return nil, fmt.Errorf("sim: DECT module emulator: %w", err)
	}
	b := &Board{
		SLIC:    m,
		Phone:   ph,
		Radio:   emu,
		LEDs:    map[string]*LED{},
		Button:  NewButton(),
		devices: map[string]*radio.Device{},
		counts:  map[string]int{},
	}
	for _, n := range []string{hal.LEDPower, hal.LEDCloud, hal.LEDRegistration, hal.LEDLine, hal.LEDFault} {
		b.LEDs[n] = NewLED(n)
	}
	return b, nil
}

// Run ticks the simulated PCM clock until ctx ends.
func (b *Board) Run(ctx context.Context) error { return b.SLIC.Run(ctx) }

// HAL returns the board as the daemon's hal.Board.
func (b *Board) HAL() *hal.Board {
	leds := map[string]hal.LED{}
	for n, l := range b.LEDs {
		leds[n] = l
	}
	return &hal.Board{
		Name:   "sim",
		SLIC:   b.SLIC.HAL(),
		Radio:  b.Radio.Radio(),
		LEDs:   leds,
		Button: b.Button,
		Closer: b.Radio,
	}
}

// Close releases the pseudo-terminal.
func (b *Board) Close() error { return b.Radio.Close() }

// ErrNoDevice is returned for a simulated device name that does not exist.
var ErrNoDevice = errors.New("no such simulated device")

// AddDevice powers on a new simulated DECT device of kind "linx" or
// "headset" and returns its simulator name (linx1, headset2, …).
func (b *Board) AddDevice(kind string, o radio.DeviceOptions) (string, *radio.Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var d *radio.Device
	switch kind {
	case "linx":
		d = b.Radio.NewLinx(o)
	case "headset":
		d = b.Radio.NewHeadset(o)
	default:
		return "", nil, fmt.Errorf("device kind %q is not linx or headset", kind)
	}
	d.PowerOn()
	b.counts[kind]++
	name := fmt.Sprintf("%s%d", kind, b.counts[kind])
	b.devices[name] = d
	return name, d, nil
}

// Device returns the simulated device with the given name.
func (b *Board) Device(name string) (*radio.Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.devices[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("%w %q (have %v)", ErrNoDevice, name, b.deviceNamesLocked())
	}
	return d, nil
}

// DeviceNames lists the simulated devices, sorted.
func (b *Board) DeviceNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deviceNamesLocked()
}

func (b *Board) deviceNamesLocked() []string {
	n := make([]string, 0, len(b.devices))
	for k := range b.devices {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LEDStates returns every LED's state by name.
func (b *Board) LEDStates() map[string]string {
	out := map[string]string{}
	for n, l := range b.LEDs {
		out[n] = l.State().String()
	}
	return out
}

// PressButton presses the base's button for held.
func (b *Board) PressButton(held time.Duration) error {
	if held <= 0 || held > time.Minute {
		return fmt.Errorf("button hold %v is outside 0..60s", held)
	}
	if !b.Button.Press(held) {
		return errors.New("button presses are queueing up: the daemon is not reading the button")
	}
	return nil
}
