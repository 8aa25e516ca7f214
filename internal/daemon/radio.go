package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/provisioning"
)

// radioAdapter is the DECT driver as provisioning.Radio.
type radioAdapter Daemon

func deviceOf(info dect.DeviceInfo) provisioning.Device {
	t := provisioning.DeviceLinx
	if info.Type == dect.Headset {
		t = provisioning.DeviceHeadset
	}
	return provisioning.Device{ID: dectID(info.IPEI), Type: t, Name: fmt.Sprintf("%s (handset %d)", info.Model, info.Handset)}
}

func (r *radioAdapter) OpenRegistration(ctx context.Context, window time.Duration, pin string) (<-chan provisioning.Pairing, error) {
	d := (*Daemon)(r)
	ch := make(chan provisioning.Pairing, 1)
	d.mu.Lock()
	if d.pairing != nil {
		d.mu.Unlock()
		return nil, provisioning.ErrRegistrationBusy
	}
	d.pairing = ch
	d.mu.Unlock()
	// Just after start-up (or a module reset) the radio module may still
	// be booting: give it a moment rather than refusing the administrator.
	d.waitRadioReady(ctx, 5*time.Second)
	if err := d.radio.OpenRegistration(ctx, window, pin); err != nil {
		d.mu.Lock()
		d.pairing = nil
		d.mu.Unlock()
		return nil, err
	}
	return ch, nil
}

func (r *radioAdapter) CloseRegistration(ctx context.Context) error {
	return (*Daemon)(r).radio.CloseRegistration(ctx)
}

func (r *radioAdapter) Devices() []provisioning.Device {
	d := (*Daemon)(r)
	var out []provisioning.Device
	for _, info := range d.radio.Devices() {
		dev := deviceOf(info)
		dev.Extension = d.extensionOf(dev.ID)
		out = append(out, dev)
	}
	return out
}

func (r *radioAdapter) handsetOf(id string) (int, bool) {
	for _, info := range (*Daemon)(r).radio.Devices() {
		if dectID(info.IPEI) == id {
			return info.Handset, true
		}
	}
	return 0, false
}

func (r *radioAdapter) RemoveDevice(ctx context.Context, id string) error {
	d := (*Daemon)(r)
	h, ok := r.handsetOf(id)
	if !ok {
		return fmt.Errorf("%w %q", provisioning.ErrUnknownDevice, id)
	}
	// Stop it ringing for its extension at once, before the radio round
	// trip: a removed device must not answer a call.
	d.detach(id)
	return d.radio.Deregister(ctx, h)
}

func (r *radioAdapter) Page(ctx context.Context, dur time.Duration) error {
	d := (*Daemon)(r)
	if err := d.radio.Page(ctx, true); err != nil {
		return err
	}
	time.AfterFunc(dur, func() {
		cctx, cancel := context.WithTimeout(context.Background(), pageStopTimeout)
		defer cancel()
		_ = d.radio.Page(cctx, false)
	})
	return nil
}

// radioEvents follows the DECT driver: pairing outcomes, removed devices,
// devices coming and going, module recovery.
func (d *Daemon) radioEvents(ctx context.Context) error {
	// Pump the events of the devices paired before start.
	for _, info := range d.radio.Devices() {
		d.startDevicePump(ctx, info)
	}
	for {
		var ev dect.Event
		select {
		case <-ctx.Done():
			return nil
		case ev = <-d.radio.Events():
		}
		d.log.Info("radio", "event", ev.String())
		switch ev.Kind {
		case dect.EventPaired:
			dev := deviceOf(ev.Device)
			d.startDevicePump(ctx, ev.Device)
			if !d.deliverPairing(provisioning.Pairing{Device: dev}) {
				// Opened from the button: nobody waits, tell the cloud.
				d.agent.Post(provisioning.Event{Type: provisioning.EvDevicePaired, Device: &dev})
			}
			// A device paired again with an id the configuration names
			// gets its extension back.
			d.reattach()
		case dect.EventRegistrationClosed:
			switch ev.Reason {
			case "paired":
			case "timeout":
				d.deliverPairing(provisioning.Pairing{Err: provisioning.ErrRegistrationTimeout})
			default:
				d.deliverPairing(provisioning.Pairing{Err: fmt.Errorf("%w (%s)", provisioning.ErrRegistrationClosed, ev.Reason)})
			}
			d.agent.StateChanged()
		case dect.EventRegistrationRefused:
			d.deliverPairing(provisioning.Pairing{Err: fmt.Errorf("registration refused: %s", ev.Reason)})
		case dect.EventDeregistered, dect.EventOrphan:
			id := dectID(ev.Device.IPEI)
			if ev.Kind == dect.EventOrphan {
				id = dectID(ev.IPEI)
			}
			d.detach(id)
			d.stopDevicePump(ev.Device.Handset)
			d.mu.Lock()
			delete(d.dectEP, id)
			d.mu.Unlock()
			dev := provisioning.Device{ID: id, Type: provisioning.DeviceLinx}
			if ev.Device.Type == dect.Headset {
				dev.Type = provisioning.DeviceHeadset
			}
			d.agent.Post(provisioning.Event{Type: provisioning.EvDeviceRemoved, Device: &dev, Reason: ev.Reason})
			d.agent.StateChanged()
		case dect.EventDeviceAttached:
			// Back in range (or authenticated after a module reset): a
			// call ringing for its extension now rings it too.
			d.refreshAttachment(dectID(ev.Device.IPEI))
			d.agent.StateChanged()
		case dect.EventModuleReady, dect.EventModuleLost, dect.EventDeviceDetached:
			d.agent.StateChanged()
		}
	}
}

func (d *Daemon) deliverPairing(p provisioning.Pairing) bool {
	d.mu.Lock()
	ch := d.pairing
	d.pairing = nil
	d.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- p
	return true
}

func (d *Daemon) startDevicePump(ctx context.Context, info dect.DeviceInfo) {
	dev := d.radio.Device(info.Handset)
	if dev == nil {
		return
	}
	id := dectID(info.IPEI)
	d.mu.Lock()
	if d.pumps == nil {
		d.pumps = map[int]context.CancelFunc{}
	}
	if stop, ok := d.pumps[info.Handset]; ok {
		stop()
	}
	pctx, stop := context.WithCancel(ctx)
	d.pumps[info.Handset] = stop
	d.dectEP[id] = dev
	d.mu.Unlock()
	go func() {
		for {
			select {
			case <-pctx.Done():
				return
			case ev, ok := <-dev.Events():
				if !ok {
					return
				}
				d.handleDeviceEvent(id, dev, ev)
			}
		}
	}()
}

func (d *Daemon) stopDevicePump(handset int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if stop, ok := d.pumps[handset]; ok {
		stop()
		delete(d.pumps, handset)
	}
}

func (d *Daemon) handleDeviceEvent(id string, dev *dect.Device, ev dect.DeviceEvent) {
	d.mu.Lock()
	a := d.attached[id]
	d.mu.Unlock()
	if a == nil {
		if ev.Kind == dect.OffHook || ev.Kind == dect.Dialed {
			_ = dev.PlayTone(endpoint.SIT)
		}
		return
	}
	if sev, ok := ev.Endpoint(); ok {
		a.report(sev)
	}
	d.agent.StateChanged()
}

var errNotOnBase = errors.New("not a device of this base")

// endpointFor returns the endpoint of a device id on this base.
func (d *Daemon) endpointFor(id string) (endpoint.Endpoint, error) {
	if id == PortID {
		return d.port, nil
	}
	if !strings.HasPrefix(id, "dect-") {
		return nil, fmt.Errorf("device %q: %w", id, errNotOnBase)
	}
	d.mu.Lock()
	dev := d.dectEP[id]
	d.mu.Unlock()
	if dev == nil {
		return nil, fmt.Errorf("device %q: %w", id, errNotOnBase)
	}
	return dev, nil
}

// waitRadioReady waits up to max (or ctx) for the DECT module to be ready.
func (d *Daemon) waitRadioReady(ctx context.Context, max time.Duration) {
	if d.radio.Ready() {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(max)
	for !d.radio.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-t.C:
		}
	}
}

// refreshAttachment attaches an idle device to its extension again so the
// call layer offers it what is ringing now.
func (d *Daemon) refreshAttachment(id string) {
	d.mu.Lock()
	a := d.attached[id]
	dev := d.dectEP[id]
	fault := d.faults[id]
	d.mu.Unlock()
	if a == nil || dev == nil || busy(dev, fault) {
		return
	}
	if err := d.ua.Detach(a.ep); err != nil {
		d.log.Warn("re-attach", "device", id, "error", err)
	}
	rep, err := d.ua.Attach(a.ext, a.ep)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		delete(d.attached, id)
		d.log.Warn("re-attach", "device", id, "extension", a.ext, "error", err)
		return
	}
	d.attached[id] = &attachment{ext: a.ext, ep: a.ep, report: rep}
}

// pageStopTimeout bounds the request that ends paging.
const pageStopTimeout = 3 * time.Second
