package update

import (
	"context"
	"errors"
	"sort"
	"strings"
)

// Checks is the trial boot's health (Health): what must hold before a new
// firmware is marked good. Each check is asked of the room that knows it;
// internal/daemon wires them. A nil check passes.
type Checks struct {
	// Connected reports whether the cloud connection (MQTT) is up.
	Connected func() bool
	// Unregistered describes every SIP account in force that is not
	// registered.
	Unregistered func() []string
	// LineFault is the analog line's (the SLIC's) fault, "" if none.
	LineFault func() string
	// RadioReady reports whether the DECT module is up.
	RadioReady func() bool
}

var _ Health = Checks{}

// Healthy reports every failed check, sorted and joined with "; ".
func (c Checks) Healthy(context.Context) error {
	var bad []string
	if c.Unregistered != nil {
		bad = append(bad, c.Unregistered()...)
	}
	if c.Connected != nil && !c.Connected() {
		bad = append(bad, "MQTT not connected")
	}
	if c.LineFault != nil {
		if f := c.LineFault(); f != "" {
			bad = append(bad, "SLIC: "+f)
		}
	}
	if c.RadioReady != nil && !c.RadioReady() {
		bad = append(bad, "radio not ready")
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return errors.New(strings.Join(bad, "; "))
}
