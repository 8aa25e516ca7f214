package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"basestation/provisioning"
)

// The portal's administrator flows (shared/product), built on Client.

// RegisterDevice puts the base in registration mode (Register New Device)
// for window (0: the base's default) with pin (empty: "0000") and waits
// for the outcome. progress sees the accepted result (with ClosesAt) and
// the final one.
func (c *Client) RegisterDevice(ctx context.Context, base string, window time.Duration, pin string, progress func(provisioning.Result)) (*provisioning.Result, error) {
	args := provisioning.RegisterDeviceArgs{WindowS: int(window / time.Second), PIN: pin}
	return c.Command(ctx, base, provisioning.CmdRegisterDevice, args, progress)
}

// ExtensionDevices lists the devices assigned to extension number in the
// desired configuration, with their types from the base's report.
func (c *Client) ExtensionDevices(ctx context.Context, base, number string) ([]provisioning.Device, error) {
	cfg, err := c.Desired(ctx, base)
	if err != nil {
		return nil, err
	}
	e := cfg.Extension(number)
	if e == nil {
		return nil, fmt.Errorf("cloud: base %s has no extension %s", base, number)
	}
	var names map[string]provisioning.Device
	if st, err := c.State(ctx, base); err == nil {
		names = map[string]provisioning.Device{}
		for _, d := range st.Devices {
			names[d.ID] = d
		}
	}
	var out []provisioning.Device
	for _, t := range []provisioning.DeviceType{provisioning.DevicePort, provisioning.DeviceLinx, provisioning.DeviceHeadset} {
		id := e.Devices.Get(t)
		if id == "" {
			continue
		}
		d := provisioning.Device{ID: id, Type: t, Extension: number}
		if n, ok := names[id]; ok {
			d.Name = n.Name
		}
		out = append(out, d)
	}
	return out, nil
}

// AssignDevice assigns a device the base knows to an extension, as the
// portal's "Add device": the device's type comes from the base's report;
// an extension that already has a device of that type, or a device that
// belongs to another extension, is an error naming both.
func (c *Client) AssignDevice(ctx context.Context, base, number, deviceID string) (*provisioning.Config, error) {
	st, err := c.State(ctx, base)
	if err != nil {
		return nil, err
	}
	var dev *provisioning.Device
	for i := range st.Devices {
		if st.Devices[i].ID == deviceID {
			dev = &st.Devices[i]
		}
	}
	if dev == nil {
		return nil, fmt.Errorf("cloud: base %s does not know device %s (register it first)", base, deviceID)
	}
	cfg, _, err := c.Update(ctx, base, func(cfg *provisioning.Config) error {
		e := cfg.Extension(number)
		if e == nil {
			return fmt.Errorf("cloud: base %s has no extension %s", base, number)
		}
		if other := cfg.ExtensionOf(deviceID); other != nil {
			if other.Number == number {
				return fmt.Errorf("cloud: device %s is already assigned to extension %s", deviceID, number)
			}
			return fmt.Errorf("cloud: device %s is assigned to extension %s; remove it there first", deviceID, other.Number)
		}
		if cur := e.Devices.Get(dev.Type); cur != "" {
			return fmt.Errorf("cloud: extension %s already has a %s (%s): a user has at most one device of each type", number, dev.Type, cur)
		}
		return e.Devices.Set(dev.Type, deviceID)
	})
	return cfg, err
}

// UnassignDevice takes a device away from an extension (the portal's trash
// icon on the user's Devices tab); the device stays paired with the base.
func (c *Client) UnassignDevice(ctx context.Context, base, number, deviceID string) (*provisioning.Config, error) {
	cfg, _, err := c.Update(ctx, base, func(cfg *provisioning.Config) error {
		e := cfg.Extension(number)
		if e == nil {
			return fmt.Errorf("cloud: base %s has no extension %s", base, number)
		}
		for _, t := range []provisioning.DeviceType{provisioning.DevicePort, provisioning.DeviceLinx, provisioning.DeviceHeadset} {
			if e.Devices.Get(t) == deviceID {
				return e.Devices.Set(t, "")
			}
		}
		return fmt.Errorf("cloud: device %s is not assigned to extension %s", deviceID, number)
	})
	return cfg, err
}

// RemoveDevice deregisters a device from the base's radio and then
// publishes the next configuration version without it, if the desired
// configuration still assigned it. It returns the command's result.
func (c *Client) RemoveDevice(ctx context.Context, base, deviceID string) (*provisioning.Result, error) {
	r, err := c.Command(ctx, base, provisioning.CmdRemoveDevice, provisioning.RemoveDeviceArgs{Device: deviceID}, nil)
	if err != nil || r.Status != provisioning.StatusSucceeded {
		return r, err
	}
	cfg, err := c.Desired(ctx, base)
	if errors.Is(err, ErrNoDesired) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if cfg.ExtensionOf(deviceID) == nil {
		return r, nil
	}
	_, _, err = c.Update(ctx, base, func(cfg *provisioning.Config) error {
		cfg.Unassign(deviceID)
		return nil
	})
	return r, err
}

// SetExtension changes an extension's settings (caller ID, display name,
// voicemail number, account) through modify, as the portal's Settings
// dialog.
func (c *Client) SetExtension(ctx context.Context, base, number string, modify func(*provisioning.Extension) error) (*provisioning.Config, error) {
	cfg, _, err := c.Update(ctx, base, func(cfg *provisioning.Config) error {
		e := cfg.Extension(number)
		if e == nil {
			return fmt.Errorf("cloud: base %s has no extension %s", base, number)
		}
		return modify(e)
	})
	return cfg, err
}

// AddExtension adds a user's extension (the portal's "Add User") and waits
// until the base applies it.
func (c *Client) AddExtension(ctx context.Context, base string, e provisioning.Extension) (*provisioning.Config, error) {
	cfg, _, err := c.Update(ctx, base, func(cfg *provisioning.Config) error {
		if cfg.Extension(e.Number) != nil {
			return fmt.Errorf("cloud: base %s already has extension %s", base, e.Number)
		}
		cfg.Extensions = append(cfg.Extensions, e)
		return nil
	})
	return cfg, err
}

// DeleteExtension removes an extension (the portal's "delete a user"); its
// devices stay paired and become unassigned. A call in progress on it
// defers the change until the call ends.
func (c *Client) DeleteExtension(ctx context.Context, base, number string) (*provisioning.Config, error) {
	cfg, _, err := c.Update(ctx, base, func(cfg *provisioning.Config) error {
		for i := range cfg.Extensions {
			if cfg.Extensions[i].Number == number {
				cfg.Extensions = append(cfg.Extensions[:i], cfg.Extensions[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("cloud: base %s has no extension %s", base, number)
	})
	return cfg, err
}
