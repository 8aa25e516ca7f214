package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"basestation/hal"
)

// Options tune Open for tests and unusual installs.
type Options struct {
	// SysfsLEDs is the directory of the kernel's LED class (default
	// /sys/class/leds).
	SysfsLEDs string
}

// Open initialises periph's host drivers and opens every device in pm. The
// returned board's Closer releases them. Any missing bus, pin or device
// fails with an error naming it.
func Open(pm PinMap, opt Options) (*hal.Board, error) {
	if opt.SysfsLEDs == "" {
		opt.SysfsLEDs = "/sys/class/leds"
	}
	state, err := host.Init()
	if err != nil {
		return nil, fmt.Errorf("board %s: periph host init: %w", pm.Name, err)
	}
	var closers multiCloser
	fail := func(err error) (*hal.Board, error) {
		closers.Close()
		if state != nil && len(state.Failed) > 0 {
			err = fmt.Errorf("%w (periph drivers failed: %v)", err, state.Failed)
		}
		return nil, fmt.Errorf("board %s: %w", pm.Name, err)
	}

	port, err := spireg.Open(pm.SLICSPI)
	if err != nil {
		return fail(fmt.Errorf("SLIC SPI bus %s: %w", pm.SLICSPI, err))
	}
	closers = append(closers, port)
	irq, err := pinIn(pm.SLICIRQ, "SLIC interrupt")
	if err != nil {
		return fail(err)
	}
	rst, err := pinOut(pm.SLICReset, "SLIC reset")
	if err != nil {
		return fail(err)
	}
	slicPCM, err := OpenPCM(pm.SLICPCM, hal.RateNarrowband)
	if err != nil {
		return fail(fmt.Errorf("SLIC PCM slot: %w", err))
	}
	closers = append(closers, slicPCM)

	if _, err := os.Stat(pm.RadioUART); err != nil {
		return fail(fmt.Errorf("DECT module UART: %w", err))
	}
	radioRst, err := pinOut(pm.RadioReset, "DECT module reset")
	if err != nil {
		return fail(err)
	}

	leds := map[string]hal.LED{}
	for name, sys := range pm.LEDs {
		l, err := openLED(filepath.Join(opt.SysfsLEDs, sys))
		if err != nil {
			return fail(fmt.Errorf("LED %s: %w", name, err))
		}
		leds[name] = l
	}
	btnPin, err := pinIn(pm.Button, "button")
	if err != nil {
		return fail(err)
	}
	if err := btnPin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		return fail(fmt.Errorf("button %s: %w", pm.Button, err))
	}

	pcmFmt := pm.RadioPCMFmt
	b := &hal.Board{
		Name: pm.Name,
		SLIC: hal.SLIC{
			Name:  pm.SLICSPI + " (ProSLIC)",
			Port:  spiPort{port},
			IRQ:   irq,
			Reset: rst,
			PCM:   slicPCM,
		},
		Radio: hal.Radio{
			Device: pm.RadioUART,
			Baud:   pm.RadioBaud,
			Reset:  radioRst,
			Audio: func(slot, rate int) (hal.PCM, error) {
				if slot < 0 || slot > 31 {
					return nil, fmt.Errorf("DECT PCM slot %d out of range 0..31", slot)
				}
				return OpenPCM(fmt.Sprintf(pcmFmt, slot+1), rate)
			},
		},
		LEDs:   leds,
		Button: &button{pin: btnPin, debounce: pm.ButtonDebounce},
		Closer: &closers,
	}
	return b, nil
}

// spiPort hides the closer so the driver only sees spi.Port.
type spiPort struct{ spi.PortCloser }

func pinIn(name, what string) (gpio.PinIn, error) {
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("%s pin %s: no such GPIO line", what, name)
	}
	return p, nil
}

func pinOut(name, what string) (gpio.PinOut, error) {
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("%s pin %s: no such GPIO line", what, name)
	}
	// Release the device from reset by default: reset lines are active low.
	if err := p.Out(gpio.High); err != nil {
		return nil, fmt.Errorf("%s pin %s: %w", what, name, err)
	}
	return p, nil
}

type multiCloser []io.Closer

func (m *multiCloser) Close() error {
	var errs []error
	for i := len(*m) - 1; i >= 0; i-- {
		if err := (*m)[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	*m = nil
	return errors.Join(errs...)
}

// sysfsLED drives a kernel LED class device; blinking uses the "timer"
// trigger so it continues without the daemon.
type sysfsLED struct{ dir string }

func openLED(dir string) (*sysfsLED, error) {
	if _, err := os.Stat(filepath.Join(dir, "brightness")); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &sysfsLED{dir: dir}, nil
}

func (l *sysfsLED) write(file, v string) error {
	return os.WriteFile(filepath.Join(l.dir, file), []byte(v), 0)
}

func (l *sysfsLED) Set(s hal.LEDState) error {
	switch s {
	case hal.LEDOff, hal.LEDOn:
		if err := l.write("trigger", "none"); err != nil {
			return err
		}
		v := "0"
		if s == hal.LEDOn {
			v = "1"
		}
		return l.write("brightness", v)
	case hal.LEDBlinkSlow, hal.LEDBlinkFast:
		half := 500
		if s == hal.LEDBlinkFast {
			half = 125
		}
		if err := l.write("trigger", "timer"); err != nil {
			return err
		}
		if err := l.write("delay_on", strconv.Itoa(half)); err != nil {
			return err
		}
		return l.write("delay_off", strconv.Itoa(half))
	}
	return fmt.Errorf("LED %s: unknown state %v", l.dir, s)
}

// button measures presses on an active-low GPIO line.
type button struct {
	pin      gpio.PinIn
	debounce time.Duration
}

func (b *button) Wait(ctx context.Context) (hal.ButtonPress, error) {
	var down time.Time
	for {
		if err := ctx.Err(); err != nil {
			return hal.ButtonPress{}, err
		}
		// A finite timeout: gpioioctl treats -1 and 0 differently from
		// other drivers (see libraries.md 1.5).
		b.pin.WaitForEdge(100 * time.Millisecond)
		lvl := b.pin.Read()
		now := time.Now()
		switch {
		case lvl == gpio.Low && down.IsZero():
			down = now
		case lvl == gpio.High && !down.IsZero():
			held := now.Sub(down)
			down = time.Time{}
			if held >= b.debounce {
				return hal.ButtonPress{Held: held}, nil
			}
		}
	}
}
