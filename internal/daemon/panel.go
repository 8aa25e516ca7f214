package daemon

import (
	"context"
	"log/slog"
	"time"

	"basestation/dect"
	"basestation/hal"
	"basestation/provisioning"
)

// panel is the base's LEDs and button. Its Run keeps the cloud, line and
// fault LEDs true to the state and hands the button's presses to the
// radio. What the LEDs show is read and written by its Run only.
type panel struct {
	board   *hal.Board
	radio   *dect.Driver
	lines   *lines
	applier *provisioning.ConfigApplier
	log     *slog.Logger
	// Set in New before anything runs, read-only after.
	agent *provisioning.Agent
}

func (p *panel) set(name string, s hal.LEDState) {
	if l := p.board.LEDs[name]; l != nil {
		if err := l.Set(s); err != nil {
			p.log.Warn("LED", "led", name, "error", err)
		}
	}
}

// Run runs the LEDs and the button until ctx ends; the power LED is on
// meanwhile.
func (p *panel) Run(ctx context.Context) error {
	p.set(hal.LEDPower, hal.LEDOn)
	defer p.set(hal.LEDPower, hal.LEDOff)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		err := p.button(ctx)
		if err != nil {
			cancel() // the LEDs stop with it; Run reports it
		}
		errc <- err
	}()
	p.leds(ctx)
	return <-errc
}

// The LEDs follow the agent's change notifications (calls, lines, radio,
// cloud connection: provisioning.Agent.Changes). A timer re-reads them as
// well, in case a change went unannounced: every ledBusy while a line is in
// use, every ledQuiet otherwise, so an idle base sleeps.
const (
	ledBusy  = time.Second
	ledQuiet = 10 * time.Second
)

// leds reads only what the LEDs show (no Status snapshot) when the agent
// announces a change (and on the timer above), and writes an LED only when
// its state changes (the board blinks them by itself).
func (p *panel) leds(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	last := map[string]hal.LEDState{}
	set := func(name string, s hal.LEDState) {
		if old, ok := last[name]; !ok || old != s {
			last[name] = s
			p.set(name, s)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.agent.Changes():
		}
		cloud, line, fault := hal.LEDOff, hal.LEDOff, hal.LEDOff
		if p.agent.Connected() {
			cloud = hal.LEDOn
		}
		for _, l := range p.lines.Lines() {
			switch {
			case l.Fault != "":
				fault = hal.LEDOn
			case l.State == "talking" || l.State == "dialing":
				line = hal.LEDOn
			case l.State == "ringing" && line == hal.LEDOff:
				line = hal.LEDBlinkSlow
			}
		}
		if !p.radio.Ready() {
			fault = hal.LEDOn
		}
		set(hal.LEDCloud, cloud)
		set(hal.LEDLine, line)
		set(hal.LEDFault, fault)
		if line == hal.LEDOff {
			t.Reset(ledQuiet)
		} else {
			t.Reset(ledBusy)
		}
	}
}

// button hands the presses to the radio (dect.Driver.Button: a long press
// opens registration mode for the configured window with DefaultPIN, a
// short one pages every device or stops paging).
func (p *panel) button(ctx context.Context) error {
	if p.board.Button == nil {
		return nil
	}
	for {
		press, err := p.board.Button.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var win time.Duration // the radio's default
		if c := p.applier.Applied(); c != nil {
			win = time.Duration(c.System.RegistrationWindowS) * time.Second
		}
		// A module still starting (after boot or a reset) is given 5 s, as
		// the cloud's register-device is: a press is not lost to it.
		p.radio.WaitReady(ctx, 5*time.Second)
		if err := p.radio.Button(ctx, press, win, DefaultPIN); err != nil {
			p.log.Warn("button", "held", press.Held, "error", err)
		}
	}
}
