package daemon

import (
	"basestation/dect"
	"basestation/endpoint"
	"basestation/fxs"
)

// The devices are the call layer's endpoints themselves; the daemon only
// attaches them to extensions, forwards their events and reads what their
// lines are doing.
var (
	_ endpoint.Endpoint = (*fxs.Port)(nil)
	_ endpoint.Endpoint = (*dect.Device)(nil)
	_ lineDev           = (*fxs.Port)(nil)
	_ lineDev           = (*dect.Device)(nil)
)

// lineDev is a device's line as the daemon reports it.
type lineDev interface {
	Activity() endpoint.Activity
}

// lineState is the state reported for a line: "fault" while the device
// has one, else its activity ("idle", "ringing", "dialing", "talking").
func lineState(l lineDev, fault string) string {
	if fault != "" {
		return "fault"
	}
	return string(l.Activity())
}

// busy reports whether a line has a call up or being set up.
func busy(l lineDev, fault string) bool {
	return fault == "" && l.Activity() != endpoint.Idle
}
