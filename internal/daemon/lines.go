package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/fxs"
	"basestation/provisioning"
	"basestation/sipua"
)

// The devices are the call layer's endpoints themselves (fxs and dect
// assert it); lines gives them to extensions by the contract's device ids.
var (
	_ provisioning.Attachments = (*lines)(nil)
	_ provisioning.LineSetup   = (*lines)(nil)
	_ provisioning.Accounts    = (*reporter)(nil)
)

// lines is the base's devices: the analog port and the paired DECT
// devices, and the port's fault
// (provisioning.Attachments, provisioning.LineSetup; which extension each
// is attached to is the user agent's to know). Its Run forwards the port's
// events to the port's extension.
type lines struct {
	port  *fxs.Port
	radio paired
	ua    *sipua.UA
	log   *slog.Logger
	// Set in New before anything runs, read-only after.
	agent      *provisioning.Agent
	registered func(ext string) bool

	mu        sync.Mutex
	portFault string // the analog line's fault, "" if none
}

// paired is the radio's table of paired devices (dect.Driver), the one
// list of the DECT devices on this base.
type paired interface {
	Devices() []dect.DeviceInfo
	Device(handset int) *dect.Device
	SetLocation(*time.Location)
}

// lineDev is a device's endpoint with what its line is doing.
type lineDev interface {
	endpoint.Endpoint
	Activity() endpoint.Activity
}

// dect finds the paired DECT device whose contract id is id.
func (l *lines) dect(id string) (dect.DeviceInfo, bool) {
	for _, info := range l.radio.Devices() {
		if dectID(info.IPEI) == id {
			return info, true
		}
	}
	return dect.DeviceInfo{}, false
}

// endpoint returns the endpoint of a device id on this base (nil: none).
func (l *lines) endpoint(id string) lineDev {
	if id == PortID {
		return l.port
	}
	if info, ok := l.dect(id); ok {
		if dev := l.radio.Device(info.Handset); dev != nil {
			return dev
		}
	}
	return nil
}

// Attach gives the device to ext in the call layer.
func (l *lines) Attach(id, ext string) error {
	ep := l.endpoint(id)
	if ep == nil {
		return fmt.Errorf("device %q: not a device of this base", id)
	}
	if _, err := l.ua.Attach(ext, ep); err != nil {
		return err
	}
	l.agent.StateChanged()
	return nil
}

// Detach takes a device from its extension; a ringing one stops at once.
func (l *lines) Detach(id string) {
	if ep := l.endpoint(id); ep != nil {
		l.detach(ep)
	}
}

func (l *lines) detach(ep lineDev) {
	if l.ua.ExtensionOf(ep) == "" {
		return
	}
	if err := l.ua.Detach(ep); err != nil {
		l.log.Warn("detach", "device", fmt.Sprint(ep), "error", err)
	}
	_ = ep.StopRinging()
	l.agent.StateChanged()
}

func (l *lines) fault() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.portFault
}

// Idle reports whether no line has a call up or being set up (update.Lines).
func (l *lines) Idle() bool {
	for _, ln := range l.Lines() {
		if ln.Busy() {
			return false
		}
	}
	return true
}

// CheckLine reports what the port would refuse in s.
func (l *lines) CheckLine(s provisioning.LineSettings) error {
	c := l.port.Config().WithSystem(s.Region, s.DialPlan, s.InterDigit, s.Location)
	return c.Validate()
}

// SetLine puts s in force on the port and the devices' clocks.
func (l *lines) SetLine(s provisioning.LineSettings) error {
	l.radio.SetLocation(s.Location)
	return l.port.SetConfig(l.port.Config().WithSystem(s.Region, s.DialPlan, s.InterDigit, s.Location))
}

// Lines reports the port and every DECT device paired now, by device id.
// A device removed after the radio's snapshot is left out (Device is nil),
// never read after it is gone. Each line's extension and activity are read
// from the user agent and the device.
func (l *lines) Lines() []provisioning.Line {
	infos := l.radio.Devices()
	sort.Slice(infos, func(i, j int) bool { return dectID(infos[i].IPEI) < dectID(infos[j].IPEI) })
	port := provisioning.Line{Device: PortID, Extension: l.ua.ExtensionOf(l.port), State: "fault", Fault: l.fault()}
	if port.Fault == "" {
		port.State = string(l.port.Activity())
	}
	out := []provisioning.Line{port}
	for _, info := range infos {
		if dev := l.radio.Device(info.Handset); dev != nil {
			out = append(out, provisioning.Line{Device: dectID(info.IPEI), Extension: l.ua.ExtensionOf(dev), State: string(dev.Activity())})
		}
	}
	return out
}

// startGrace bounds how long the port's events wait at start-up for its
// extension's registration.
const startGrace = time.Second

// Run forwards the analog port's events to its extension and reports the
// port out of service while it belongs to none, until ctx ends.
func (l *lines) Run(ctx context.Context) error {
	// A phone off-hook at start-up (a restart during a call) belongs to
	// the extension of the stored configuration: wait until it is applied.
	select {
	case <-ctx.Done():
		return nil
	case <-l.agent.Booted():
	}
	// Its REGISTER went out with the configuration; give it up to
	// startGrace, or that phone gets the out-of-service intercept (SIT,
	// then reorder) for a registration that completes milliseconds later.
	for deadline := time.Now().Add(startGrace); time.Now().Before(deadline); {
		if ext := l.ua.ExtensionOf(l.port); ext == "" || l.registered(ext) {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	each(ctx, l.port.Events(), nil, l.portEvent)
	return nil
}

func (l *lines) portEvent(ev fxs.Event) {
	l.log.Debug("port event", "event", ev.String())
	port, ext := &provisioning.Device{ID: PortID, Type: provisioning.DevicePort}, l.ua.ExtensionOf(l.port)
	switch ev.Kind {
	case fxs.EvFault, fxs.EvFaultCleared:
		msg := ""
		if ev.Kind == fxs.EvFault {
			msg = "line fault"
			if ev.Err != nil {
				msg = ev.Err.Error()
			}
		}
		l.mu.Lock()
		l.portFault = msg
		l.mu.Unlock()
		if msg != "" {
			l.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: port, Extension: ext, Fault: msg})
		}
	default:
		sev, ok := ev.Endpoint()
		switch {
		case ext == "" && ev.Kind == fxs.EvOffHook:
			// No extension has this port: the line is out of service.
			_ = l.port.PlayTone(endpoint.SIT)
			l.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: port, Fault: "out-of-service: the phone port is assigned to no extension"})
		case ext != "" && ev.Kind == fxs.EvOffHook && !ev.Answer && !l.registered(ext):
			l.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: port, Extension: ext, Fault: "out-of-service: extension " + ext + " is not registered"})
		}
		if ok {
			l.ua.Report(l.port, sev)
		}
	}
	l.agent.StateChanged() // the line went dialing or idle all the same (soak F2)
}
