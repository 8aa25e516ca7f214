package sim

import (
	"context"
	"sync"
	"time"

	"basestation/hal"
)

// LED is a simulated indicator: it remembers its state and when it changed.
type LED struct {
	mu      sync.Mutex
	name    string
	state   hal.LEDState
	changed time.Time
	history []LEDChange
}

// LEDChange is one change of a simulated LED.
type LEDChange struct {
	At    time.Time
	State hal.LEDState
}

// NewLED returns an LED that is off.
func NewLED(name string) *LED { return &LED{name: name} }

// Set implements hal.LED.
func (l *LED) Set(s hal.LEDState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == l.state && !l.changed.IsZero() {
		return nil
	}
	l.state = s
	l.changed = time.Now()
	l.history = append(l.history, LEDChange{At: l.changed, State: s})
	if len(l.history) > 64 {
		l.history = append(l.history[:0], l.history[len(l.history)-64:]...)
	}
	return nil
}

// State returns what the LED shows now.
func (l *LED) State() hal.LEDState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// History returns the LED's recent changes, oldest first.
func (l *LED) History() []LEDChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LEDChange(nil), l.history...)
}

// Button is the simulated push button: Press queues a press that the
// daemon's Wait returns.
type Button struct {
	presses chan hal.ButtonPress
}

// NewButton returns a button with room for a few queued presses.
func NewButton() *Button { return &Button{presses: make(chan hal.ButtonPress, 8)} }

// Press presses the button for held. It returns false if presses are
// queueing up unread.
func (b *Button) Press(held time.Duration) bool {
	select {
	case b.presses <- hal.ButtonPress{Held: held}:
		return true
	default:
		return false
	}
}

// Wait implements hal.Button.
func (b *Button) Wait(ctx context.Context) (hal.ButtonPress, error) {
	select {
	case p := <-b.presses:
		return p, nil
	case <-ctx.Done():
		return hal.ButtonPress{}, ctx.Err()
	}
}
