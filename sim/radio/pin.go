package radio

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// ResetPin is the module's active-low reset line. Driving it low holds the
// emulated module in reset (silent, calls dropped); driving it high again
// boots it.
type ResetPin struct {
	e     *Emulator
	mu    sync.Mutex
	level gpio.Level
}

var _ gpio.PinOut = (*ResetPin)(nil)

func (p *ResetPin) String() string   { return "DECT_RESET (emulated)" }
func (p *ResetPin) Name() string     { return "DECT_RESET" }
func (p *ResetPin) Number() int      { return -1 }
func (p *ResetPin) Function() string { return "Out" }

// Halt releases the module from reset.
func (p *ResetPin) Halt() error { return p.Out(gpio.High) }

// Out drives the line.
func (p *ResetPin) Out(l gpio.Level) error {
	p.mu.Lock()
	prev := p.level
	p.level = l
	p.mu.Unlock()
	if prev == l {
		return nil
	}
	if l == gpio.Low {
		p.e.holdReset()
	} else {
		p.e.releaseReset()
	}
	return nil
}

// PWM is not supported on a reset line.
func (p *ResetPin) PWM(gpio.Duty, physic.Frequency) error {
	return fmt.Errorf("%s: PWM not supported", p)
}
