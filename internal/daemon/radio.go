package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/provisioning"
)

var (
	_ provisioning.Radio   = (*radio)(nil)
	_ provisioning.Locator = (*radio)(nil)
)

// radio is the DECT driver as the cloud agent needs it
// (provisioning.Radio). Its Run follows the driver (pairings, removals,
// devices back in range) and forwards each device's events to its
// extension.
type radio struct {
	drv     *dect.Driver
	lines   *lines
	log     *slog.Logger
	pairing provisioning.PairingSlot // the open window's outcome
	// Set in New before anything runs, read-only after.
	agent    *provisioning.Agent
	reattach func()
}

// dectID is a DECT device's id in the cloud contract: "dect-" and its
// 36-bit IPEI as 9 hex digits (stable across re-pairing, unlike the
// handset number; the printed IPEI's check character can be '*').
func dectID(ipei dect.IPEI) string {
	return fmt.Sprintf("dect-%09x", uint64(ipei.EMC)<<20|uint64(ipei.PSN&0xFFFFF))
}

// deviceRef names a device in an event: its id and type.
func deviceRef(info dect.DeviceInfo) *provisioning.Device {
	d := deviceOf(info)
	d.Name = ""
	return &d
}

func deviceOf(info dect.DeviceInfo) provisioning.Device {
	t := provisioning.DeviceLinx
	if info.Type == dect.Headset {
		t = provisioning.DeviceHeadset
	}
	return provisioning.Device{ID: dectID(info.IPEI), Type: t, Name: fmt.Sprintf("%s (handset %d)", info.Model, info.Handset)}
}

// OpenRegistration opens registration mode; the channel gets its outcome.
// A module still starting (just after boot or a reset) is given 5 s.
func (r *radio) OpenRegistration(ctx context.Context, window time.Duration, pin string) (<-chan provisioning.Pairing, error) {
	ch, err := r.pairing.Open()
	if err != nil {
		return nil, err
	}
	r.drv.WaitReady(ctx, 5*time.Second)
	if err := r.drv.OpenRegistration(ctx, window, pin); err != nil {
		r.pairing.Cancel()
		return nil, err
	}
	return ch, nil
}

// CloseRegistration closes registration mode.
func (r *radio) CloseRegistration(ctx context.Context) error { return r.drv.CloseRegistration(ctx) }

// Devices lists the paired devices with their extensions.
func (r *radio) Devices() []provisioning.Device {
	var out []provisioning.Device
	for _, info := range r.drv.Devices() {
		dev := deviceOf(info)
		if d := r.drv.Device(info.Handset); d != nil {
			dev.Extension = r.lines.ua.ExtensionOf(d)
			dev.Radio = radioHealth(d.Health())
		}
		out = append(out, dev)
	}
	return out
}

// RemoveDevice detaches the device at once (a removed device must not
// answer a call) and deregisters it.
func (r *radio) RemoveDevice(ctx context.Context, id string) error {
	info, ok := r.lines.dect(id)
	if !ok {
		return fmt.Errorf("%w %q", provisioning.ErrUnknownDevice, id)
	}
	r.lines.Detach(id)
	return r.drv.Deregister(ctx, info.Handset)
}

// Locate rings one device to be found (provisioning.Locator).
func (r *radio) Locate(ctx context.Context, id string, on bool) error {
	info, ok := r.lines.dect(id)
	if !ok {
		return fmt.Errorf("%w %q", provisioning.ErrUnknownDevice, id)
	}
	err := r.drv.Locate(ctx, info.Handset, on)
	if errors.Is(err, dect.ErrNotSupported) {
		return fmt.Errorf("%w: %v", provisioning.ErrUnsupported, err)
	}
	return err
}

// Page pages every device for dur.
func (r *radio) Page(ctx context.Context, dur time.Duration) error { return r.drv.PageFor(ctx, dur) }

// Run follows the driver until ctx ends, then waits for the device pumps.
func (r *radio) Run(ctx context.Context) error {
	var pumps sync.WaitGroup
	defer pumps.Wait()
	for _, info := range r.drv.Devices() { // the devices paired before start
		r.pump(ctx, &pumps, info)
	}
	each(ctx, r.drv.Events(), nil, func(ev dect.Event) {
		r.log.Info("radio", "event", ev.String())
		switch ev.Kind {
		case dect.EventPaired:
			dev := deviceOf(ev.Device)
			r.pump(ctx, &pumps, ev.Device)
			if !r.pairing.Deliver(provisioning.Pairing{Device: dev}) { // opened from the button
				r.agent.Post(provisioning.Event{Type: provisioning.EvDevicePaired, Device: &dev})
			}
			r.reattach() // paired again: its extension, if the configuration names it
		case dect.EventRegistrationClosed:
			if p, ok := provisioning.Closed(ev.Reason); ok {
				r.pairing.Deliver(p)
			}
		case dect.EventRegistrationRefused:
			r.pairing.Deliver(provisioning.Pairing{Err: fmt.Errorf("registration refused: %s", ev.Reason)})
			return
		case dect.EventDeregistered, dect.EventOrphan:
			dev := deviceRef(ev.Device)
			if ev.Kind == dect.EventOrphan {
				dev.ID = dectID(ev.IPEI)
			}
			r.agent.Post(provisioning.Event{Type: provisioning.EvDeviceRemoved, Device: dev, Reason: ev.Reason})
		case dect.EventDeviceAttached: // back in range: what it missed
			if dev := r.drv.Device(ev.Device.Handset); dev != nil {
				r.lines.ua.Offer(dev)
			}
			r.agent.Post(provisioning.Event{Type: provisioning.EvDeviceBackInRange, Device: deviceRef(ev.Device)})
		case dect.EventDeviceDetached:
			r.agent.Post(provisioning.Event{Type: provisioning.EvDeviceOutOfRange, Device: deviceRef(ev.Device), Reason: ev.Reason})
		case dect.EventModuleReady, dect.EventModuleLost, dect.EventDeviceHealth:
		default:
			return
		}
		r.agent.StateChanged()
	})
	return nil
}

// pump forwards a device's events to its extension (or plays SIT if it
// has none) until ctx ends or the device is gone; then its last events are
// forwarded and it is detached.
func (r *radio) pump(ctx context.Context, wg *sync.WaitGroup, info dect.DeviceInfo) {
	dev := r.drv.Device(info.Handset)
	if dev == nil {
		return
	}
	wg.Go(func() {
		gone := each(ctx, dev.Events(), dev.Gone(), func(ev dect.DeviceEvent) {
			if r.lines.ua.ExtensionOf(dev) == "" {
				if ev.Kind == dect.OffHook || ev.Kind == dect.Dialed {
					_ = dev.PlayTone(endpoint.SIT)
				}
				r.agent.StateChanged() // its line went dialing or idle all the same (soak F1)
				return
			}
			if sev, ok := ev.Endpoint(); ok {
				r.lines.ua.Report(dev, sev)
			}
			r.agent.StateChanged()
		})
		if gone {
			r.lines.detach(dev)
		}
	})
}

// each hands f every value from c until ctx ends (false) or gone (nil:
// never) is closed; then the values already queued are handed first (true).
func each[T any](ctx context.Context, c <-chan T, gone <-chan struct{}, f func(T)) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case v := <-c:
			f(v)
		case <-gone:
			for {
				select {
				case v := <-c:
					f(v)
				default:
					return true
				}
			}
		}
	}
}
