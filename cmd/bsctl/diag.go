package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Diagnostics: the radio table and the event log (issue 16), and locate.

type diagCmd struct {
	log   int
	types string
}

func (d *diagCmd) flags(fs *flag.FlagSet) {
	fs.IntVar(&d.log, "log", 20, "how many recent events to show (1-256; 0: no log)")
	fs.StringVar(&d.types, "types", "", "only these event types, comma-separated (e.g. line-fault,restart)")
}

func (d *diagCmd) check(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if d.log < 0 || d.log > provisioning.DefaultEventLogSize {
		return fmt.Errorf("--log %d is outside 0..%d", d.log, provisioning.DefaultEventLogSize)
	}
	return nil
}

// diagReport is diag's --json output.
type diagReport struct {
	Radio  []provisioning.Device `json:"radio"`
	Events []provisioning.Event  `json:"events,omitempty"`
}

func (d *diagCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	st, err := c.State(ctx, a.g.base)
	if err != nil {
		return err
	}
	var rep diagReport
	for _, dev := range st.Devices {
		if dev.Type != provisioning.DevicePort {
			rep.Radio = append(rep.Radio, dev)
		}
	}
	if d.log > 0 {
		args := provisioning.EventLogArgs{Limit: d.log}
		if d.types != "" {
			args.Types = strings.Split(d.types, ",")
		}
		r, err := c.Command(ctx, a.g.base, provisioning.CmdEventLog, args, nil)
		if err != nil {
			return err
		}
		if err := resultErr(r); err != nil {
			return err
		}
		rep.Events = r.Events
	}
	if a.g.jsonOut {
		return a.printJSON(rep)
	}
	fmt.Fprintln(a.out, "Radio")
	if len(rep.Radio) == 0 {
		fmt.Fprintln(a.out, "  no DECT device paired")
	} else {
		tw := a.table()
		fmt.Fprintln(tw, "  DEVICE\tTYPE\tEXT\tLINK\tSIGNAL\tQUALITY\tBATTERY\tFIRMWARE\tLAST SEEN")
		for _, dev := range rep.Radio {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", dev.ID, dev.Type, orDash(dev.Extension), radioCols(dev.Radio))
		}
		tw.Flush()
	}
	if d.log > 0 {
		fmt.Fprintln(a.out, "\nRecent events (newest first)")
		if len(rep.Events) == 0 {
			fmt.Fprintln(a.out, "  none")
		}
		for _, ev := range rep.Events {
			fmt.Fprintf(a.out, "  %s  %-20s %s\n", ev.Time.Local().Format(time.DateTime), ev.Type, eventText(ev))
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// radioCols renders a device's radio health as the table's columns.
func radioCols(h *provisioning.RadioHealth) string {
	if h == nil {
		return "unknown\t-\t-\t-\t-\t-"
	}
	sig, q, batt, seen := "-", "-", "-", "-"
	if h.RSSIdBm != 0 {
		sig = fmt.Sprintf("%d dBm", h.RSSIdBm)
	}
	if h.LinkQualityPct >= 0 {
		q = fmt.Sprintf("%d%%", h.LinkQualityPct)
	}
	if h.BatteryPct >= 0 {
		batt = fmt.Sprintf("%d%%", h.BatteryPct)
	}
	if h.LastSeen != nil {
		seen = h.LastSeen.Local().Format(time.DateTime)
	}
	return strings.Join([]string{h.Link, sig, q, batt, orDash(h.Firmware), seen}, "\t")
}

type locateCmd struct{ off bool }

func (l *locateCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&l.off, "off", false, "stop ringing it")
}

func (l *locateCmd) check(args []string) error {
	if len(args) != 1 {
		return errors.New("one DEVICE (a paired DECT device id, see `bsctl devices`) required")
	}
	return nil
}

func (l *locateCmd) run(ctx context.Context, a *app, c *cloud.Client, args []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	on := !l.off
	r, err := c.Command(ctx, a.g.base, provisioning.CmdLocate, provisioning.LocateArgs{Device: args[0], On: &on}, nil)
	if err != nil {
		return err
	}
	return a.showResult(r)
}
