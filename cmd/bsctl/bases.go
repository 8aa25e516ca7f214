package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// The bases: bases, state, and the check that --base names a base the
// broker knows.

// checkBase makes sure the broker holds a status or a state of --base: an
// unknown id (a typo, a base never connected) gets a clear error at once,
// with the nearest known ids and a pointer to bsctl bases, instead of a
// command that waits for --timeout for a base that is not there.
func (a *app) checkBase(ctx context.Context, c *cloud.Client) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	// The base's retained status comes back at once when there is one.
	if _, err := c.Status(ctx, a.g.base); err == nil || ctx.Err() != nil {
		return err
	}
	// Else the broker's list (a state without a status counts too).
	bases, err := c.Bases(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, b := range bases {
		if b.ID == a.g.base {
			return nil
		}
		ids = append(ids, b.ID)
	}
	msg := fmt.Sprintf("base %q is not known to the broker %s (no status or state from it)", a.g.base, a.g.broker)
	if near := nearest(a.g.base, ids); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return &failure{msg: msg + "\n  bsctl bases lists the bases this broker knows"}
}

type basesCmd struct{ noFlags }

func (*basesCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	bases, err := c.Bases(ctx)
	if err != nil {
		return err
	}
	if a.g.base != "" {
		bases = filterBases(bases, a.g.base)
	}
	if a.g.jsonOut {
		return a.printJSON(bases)
	}
	if len(bases) == 0 {
		if a.g.base != "" {
			fmt.Fprintf(a.out, "no base %s on this broker (bsctl bases without --base lists them all)\n", a.g.base)
		} else {
			fmt.Fprintln(a.out, "no bases on this broker")
		}
		return nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "BASE\tONLINE\tFIRMWARE\tCONFIG\tDEVICES\tREGISTERED\tBUSY LINES\tREG MODE\tUPTIME")
	for _, b := range bases {
		online, fw := "?", ""
		if b.Status != nil {
			online = yesNo(b.Status.Online)
			fw = b.Status.Firmware
		}
		cfg, devs, regs, busy, mode, up := "-", "-", "-", "-", "-", "-"
		if s := b.State; s != nil {
			cfg = configSummary(s.Config)
			devs = fmt.Sprint(len(s.Devices))
			n := 0
			for _, r := range s.Registrations {
				if r.State == provisioning.RegRegistered {
					n++
				}
			}
			regs = fmt.Sprintf("%d/%d", n, len(s.Registrations))
			nb := 0
			for _, l := range s.Lines {
				if l.Busy() {
					nb++
				}
			}
			busy = fmt.Sprint(nb)
			mode = "closed"
			if s.RegistrationMode.Open {
				mode = "OPEN"
			}
			up = (time.Duration(s.UptimeS) * time.Second).String()
			if fw == "" {
				fw = s.Firmware
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, online, fw, cfg, devs, regs, busy, mode, up)
	}
	return tw.Flush()
}

func filterBases(bs []cloud.BaseInfo, id string) []cloud.BaseInfo {
	var out []cloud.BaseInfo
	for _, b := range bs {
		if b.ID == id {
			out = append(out, b)
		}
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func configSummary(c provisioning.ConfigState) string {
	s := fmt.Sprintf("v%d", c.AppliedVersion)
	if c.AppliedVersion == 0 {
		s = "none"
	}
	if c.Pending != nil {
		s += fmt.Sprintf(" (v%d pending)", c.Pending.Version)
	}
	if c.Rejected != nil {
		s += fmt.Sprintf(" (v%d rejected)", c.Rejected.Version)
	}
	return s
}

type stateCmd struct{ noFlags }

func (*stateCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	st, err := c.State(ctx, a.g.base)
	if err != nil {
		return err
	}
	status, _ := c.Status(ctx, a.g.base)
	if a.g.jsonOut {
		return a.printJSON(struct {
			Status *provisioning.Status `json:"status,omitempty"`
			State  *provisioning.State  `json:"state"`
		}{status, st})
	}
	online := "unknown"
	if status != nil {
		online = yesNo(status.Online)
	}
	fmt.Fprintf(a.out, "Base %s  online: %s  firmware: %s  uptime: %s  reported: %s\n", st.Base, online, st.Firmware,
		time.Duration(st.UptimeS)*time.Second, st.Time.Local().Format(time.DateTime))
	fmt.Fprintf(a.out, "Configuration: %s\n", configSummary(st.Config))
	if p := st.Config.Pending; p != nil {
		fmt.Fprintf(a.out, "  v%d waits for calls to end on %s\n", p.Version, strings.Join(p.WaitingFor, ", "))
	}
	if r := st.Config.Rejected; r != nil {
		fmt.Fprintf(a.out, "  v%d was rejected:\n", r.Version)
		for _, e := range r.Errors {
			fmt.Fprintf(a.out, "    %s: %s\n", e.Path, e.Message)
		}
	}
	if st.RegistrationMode.Open && st.RegistrationMode.ClosesAt != nil {
		fmt.Fprintf(a.out, "Registration mode: OPEN until %s\n", st.RegistrationMode.ClosesAt.Local().Format(time.TimeOnly))
	} else {
		fmt.Fprintln(a.out, "Registration mode: closed")
	}
	fmt.Fprintln(a.out)
	a.deviceTable(st.Devices)
	fmt.Fprintln(a.out)
	tw := a.table()
	fmt.Fprintln(tw, "EXTENSION\tREGISTRATION\tREGISTRAR\tREASON")
	for _, r := range st.Registrations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Extension, r.State, r.Registrar, r.Reason)
	}
	tw.Flush()
	fmt.Fprintln(a.out)
	tw = a.table()
	fmt.Fprintln(tw, "DEVICE\tEXTENSION\tLINE\tFAULT")
	for _, l := range st.Lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Device, l.Extension, l.State, l.Fault)
	}
	return tw.Flush()
}
