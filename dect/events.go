package dect

import (
	"fmt"
	"time"

	"basestation/dect/wire"
	"basestation/endpoint"
)

// IPEI and DeviceType are the wire types, re-exported for callers.
type (
	IPEI       = wire.IPEI
	DeviceType = wire.DeviceType
)

// Device types.
const (
	Linx    = wire.Linx
	Headset = wire.Headset
)

// DeviceInfo describes one paired device.
type DeviceInfo struct {
	Handset  int // the device's number on this base, 1..MaxDevices
	IPEI     IPEI
	Type     DeviceType
	Model    string
	Wideband bool
	PairedAt time.Time
}

func (i DeviceInfo) String() string {
	return fmt.Sprintf("%v %d (%v, %s)", i.Type, i.Handset, i.IPEI, i.Model)
}

// EventKind says what happened.
type EventKind int

const (
	// EventModuleReady: the module answered the handshake and the device
	// table is reconciled. Firmware and Reason ("start" or "recovered") set.
	EventModuleReady EventKind = iota + 1
	// EventModuleLost: the link to the module ended (Reason); the driver
	// resets and re-handshakes.
	EventModuleLost
	// EventRegistrationOpened: the module confirmed the window. Until set.
	EventRegistrationOpened
	// EventPaired: a device paired. Device set.
	EventPaired
	// EventWrongPIN: a device tried to pair with a wrong PIN. IPEI, Type set.
	EventWrongPIN
	// EventRegistrationClosed: Reason is one of "paired", "timeout",
	// "closed", "lockout", "module-reset", "stopped".
	EventRegistrationClosed
	// EventRegistrationRefused: OpenRegistration refused. Reason is one of
	// "table-full", "locked-out", "module-not-ready", "invalid".
	EventRegistrationRefused
	// EventPairingRejected: a pairing attempt was rejected for a reason other
	// than the PIN ("not-open", "table-full", "storage"). IPEI set.
	EventPairingRejected
	// EventDeregistered: Device removed from module and table.
	EventDeregistered
	// EventOrphan: the module held a subscription the table does not know
	// (Handset, IPEI); it was removed from the module (Reason).
	EventOrphan
	// EventDeviceAttached / EventDeviceDetached: a paired device came into
	// range and authenticated / left. Device and Health set; a detach's
	// Reason is the link state: "out-of-range", "switched-off", or
	// "detached" when a 1.0 module does not say.
	EventDeviceAttached
	EventDeviceDetached
	// EventAuthFailed: a device was refused (Reason: "unknown-device",
	// "wrong-key", "no-response"). Handset, IPEI set.
	EventAuthFailed
	// EventTableRestored: the table file was corrupt; the backup was used.
	EventTableRestored
	// EventDeviceHealth: an attached device's signal, link quality or
	// battery changed notably (the module's LINK-IND). Device, Health set.
	EventDeviceHealth
)

var eventNames = map[EventKind]string{
	EventModuleReady: "module-ready", EventModuleLost: "module-lost",
	EventRegistrationOpened: "registration-opened", EventPaired: "paired", EventWrongPIN: "wrong-pin",
	EventRegistrationClosed: "registration-closed", EventRegistrationRefused: "registration-refused",
	EventPairingRejected: "pairing-rejected", EventDeregistered: "deregistered", EventOrphan: "orphan",
	EventDeviceAttached: "device-attached", EventDeviceDetached: "device-detached",
	EventAuthFailed: "auth-failed", EventTableRestored: "table-restored", EventDeviceHealth: "device-health",
}

func (k EventKind) String() string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something the driver reports on Events().
type Event struct {
	Kind     EventKind
	Time     time.Time
	Reason   string
	Device   DeviceInfo // EventPaired, EventDeregistered, EventDeviceAttached/Detached
	Handset  int        // EventOrphan, EventAuthFailed
	IPEI     IPEI       // EventWrongPIN, EventOrphan, EventAuthFailed, EventPairingRejected
	Type     DeviceType // EventWrongPIN, EventPairingRejected
	Until    time.Time  // EventRegistrationOpened: when the window closes
	Firmware string     // EventModuleReady
	Health   Health     // EventDeviceAttached/Detached, EventDeviceHealth
}

func (e Event) String() string {
	s := e.Kind.String()
	if e.Reason != "" {
		s += " reason=" + e.Reason
	}
	if e.Device.Handset != 0 {
		s += " device=" + e.Device.String()
	}
	if e.Handset != 0 {
		s += fmt.Sprintf(" handset=%d", e.Handset)
	}
	if e.IPEI != (IPEI{}) {
		s += " ipei=" + e.IPEI.String()
	}
	return s
}

// DeviceEventKind is what a device's user did.
type DeviceEventKind int

const (
	// OffHook: the device went off-hook to call out (Answer false) or
	// answered ringing (Answer true).
	OffHook DeviceEventKind = iota + 1
	// Dialed: the complete number (Linx only). Number set.
	Dialed
	// Digit: a key pressed after the number was complete or during an
	// answered call. Digit set.
	Digit
	// Flash: the Linx's analog phone flashed the hook (register recall).
	Flash
	// OnHook: the device hung up, declined ringing, went out of range or
	// the call was lost with the module (Reason).
	OnHook
)

// String is the kind's name in the call vocabulary (endpoint.EventKind).
func (k DeviceEventKind) String() string {
	if ev, ok := (DeviceEvent{Kind: k}).Endpoint(); ok {
		return ev.Kind.String()
	}
	return fmt.Sprintf("DeviceEventKind(%d)", int(k))
}

// DeviceEvent is reported on Device.Events().
type DeviceEvent struct {
	Kind    DeviceEventKind
	Handset int
	Answer  bool   // OffHook: answering an incoming call
	Number  string // Dialed
	Digit   byte   // Digit: 0-9 * #
	Reason  string // OnHook: "hangup", "declined", "out-of-range", "module-reset", "stopped", "released" (Device.Release)
}

func (e DeviceEvent) String() string {
	switch e.Kind {
	case Dialed:
		return fmt.Sprintf("%d dialed %s", e.Handset, e.Number)
	case Digit:
		return fmt.Sprintf("%d digit %c", e.Handset, e.Digit)
	case OffHook:
		return fmt.Sprintf("%d off-hook answer=%v", e.Handset, e.Answer)
	case OnHook:
		return fmt.Sprintf("%d on-hook %s", e.Handset, e.Reason)
	}
	return fmt.Sprintf("%d %v", e.Handset, e.Kind)
}

// Endpoint is the event as the call layer sees it (endpoint.Event); ok is
// false for none (every kind maps today).
func (e DeviceEvent) Endpoint() (ev endpoint.Event, ok bool) {
	switch e.Kind {
	case OffHook:
		return endpoint.Event{Kind: endpoint.OffHook, NotAnswer: !e.Answer}, true
	case Dialed:
		return endpoint.Event{Kind: endpoint.Dialed, Number: e.Number}, true
	case Digit:
		return endpoint.Event{Kind: endpoint.Digit, Digit: e.Digit}, true
	case Flash:
		return endpoint.Event{Kind: endpoint.Flash}, true
	case OnHook:
		return endpoint.Event{Kind: endpoint.OnHook}, true
	}
	return endpoint.Event{}, false
}
