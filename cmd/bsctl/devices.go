package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Devices: list, assign, unassign, remove (register is in register.go).

type devicesCmd struct{ ext string }

func (d *devicesCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&d.ext, "ext", "", "list only the devices assigned to this extension `N`")
}

func (*devicesCmd) check(args []string) error { return noArgs(args) }

func (d *devicesCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	var ds []provisioning.Device
	var err error
	if d.ext != "" {
		ds, err = c.ExtensionDevices(ctx, a.g.base, d.ext)
	} else {
		var st *provisioning.State
		st, err = c.State(ctx, a.g.base)
		if st != nil {
			ds = st.Devices
		}
	}
	if err != nil {
		return err
	}
	if a.g.jsonOut {
		if ds == nil {
			ds = []provisioning.Device{}
		}
		return a.printJSON(ds)
	}
	if len(ds) == 0 && d.ext != "" {
		fmt.Fprintf(a.out, "extension %s has no devices on base %s\n", d.ext, a.g.base)
		return nil
	}
	sort.SliceStable(ds, func(i, j int) bool { return typeOrder(ds[i].Type) < typeOrder(ds[j].Type) })
	a.deviceTable(ds)
	return nil
}

func typeOrder(t provisioning.DeviceType) int {
	switch t {
	case provisioning.DevicePort:
		return 0
	case provisioning.DeviceLinx:
		return 1
	}
	return 2
}

func (a *app) deviceTable(ds []provisioning.Device) {
	tw := a.table()
	fmt.Fprintln(tw, "DEVICE\tTYPE\tNAME\tEXTENSION")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Type, d.Name, dash(d.Extension))
	}
	tw.Flush()
}

// extDeviceCmd is a command taking --ext and --device that changes the
// desired configuration with op and waits until the base applied it:
// assign and unassign.
type extDeviceCmd struct {
	waitFlag
	ext, dev string
	op       func(*cloud.Client, context.Context, string, string, string) (*provisioning.Config, error)
	// done is the message once applied, with the device and the
	// extension.
	done string
}

func (e *extDeviceCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&e.ext, "ext", "", "extension number `N`")
	fs.StringVar(&e.dev, "device", "", "device `ID` (bsctl devices lists them)")
	e.waitFlag.flags(fs)
}

func (e *extDeviceCmd) check(args []string) error {
	return required(args, "--ext and --device are", e.ext != "" && e.dev != "")
}

func (e *extDeviceCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, finish := a.change(ctx, e.wait)
	cfg, err := e.op(c, ctx, a.g.base, e.ext, e.dev)
	return a.outcome(finish(), cfg, err, fmt.Sprintf(e.done, e.dev, e.ext))
}

type removeCmd struct {
	waitFlag
	dev string
}

func (r *removeCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.dev, "device", "", "device `ID` (bsctl devices lists them)")
	r.waitFlag.flags(fs)
}

func (r *removeCmd) check(args []string) error {
	return required(args, "--device is", r.dev != "")
}

func (r *removeCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, finish := a.change(ctx, r.wait)
	res, err := c.RemoveDevice(ctx, a.g.base, r.dev)
	if p := finish(); p != nil {
		// Off the radio; taking it away from its extension waits.
		return a.pending(p, fmt.Sprintf("device %s, already off the radio, taken away from its extension", r.dev))
	}
	if err != nil {
		return describe(err)
	}
	if a.g.jsonOut || resultErr(res) != nil {
		return a.showResult(res)
	}
	msg := fmt.Sprintf("Device %s removed from base %s", r.dev, a.g.base)
	if len(res.Unassigned) > 0 {
		msg += " and from extension " + strings.Join(res.Unassigned, ", ")
	}
	fmt.Fprintln(a.out, msg)
	return nil
}
