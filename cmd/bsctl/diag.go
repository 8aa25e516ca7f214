package main

import (
	"context"
	"encoding/json"
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
	log      int
	types    string
	lineTest bool
	selfTest bool
}

func (d *diagCmd) flags(fs *flag.FlagSet) {
	fs.IntVar(&d.log, "log", 20, "how many recent events to show (1-256; 0: no log)")
	fs.StringVar(&d.types, "types", "", "only these event types, comma-separated (e.g. line-fault,restart)")
	fs.BoolVar(&d.lineTest, "line-test", false, "also run the analog line test (GR-909; the port must be idle)")
	fs.BoolVar(&d.selfTest, "self-test", false, "also run the caller-ID self-test (the port must be idle)")
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
	Radio    []provisioning.Device `json:"radio"`
	Events   []provisioning.Event  `json:"events,omitempty"`
	LineTest json.RawMessage       `json:"line_test,omitempty"`
	SelfTest json.RawMessage       `json:"self_test,omitempty"`
}

// The line test's and the self-test's results as the contract gives them
// (docs/mqtt-api.md §5.5), for printing.
type lineTestView struct {
	Pass  bool `json:"pass"`
	Tests []struct {
		Name         string `json:"name"`
		Pass         bool   `json:"pass"`
		Skipped      string `json:"skipped"`
		Measurements []struct {
			Name      string  `json:"name"`
			Value     float64 `json:"value"`
			Unit      string  `json:"unit"`
			Limit     string  `json:"limit"`
			Threshold float64 `json:"threshold"`
			Pass      bool    `json:"pass"`
			Detail    string  `json:"detail"`
		} `json:"measurements"`
	} `json:"tests"`
}

type selfTestView struct {
	Pass    bool   `json:"pass"`
	Failure string `json:"failure"`
	Stages  []struct {
		Name     string `json:"name"`
		Pass     bool   `json:"pass"`
		Skipped  string `json:"skipped"`
		Expected string `json:"expected"`
		Got      string `json:"got"`
	} `json:"stages"`
}

// job runs a diagnostic job and returns its final result (an error for a
// refusal or failure).
func diagJob(ctx context.Context, a *app, c *cloud.Client, name string) (*provisioning.Result, error) {
	if !a.g.jsonOut {
		fmt.Fprintf(a.errOut, "bsctl: running %s on %s...\n", name, a.g.base)
	}
	r, err := c.Command(ctx, a.g.base, name, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := resultErr(r); err != nil {
		if r.Detail != "" {
			return nil, &failure{msg: err.Error() + ": " + r.Detail}
		}
		return nil, err
	}
	return r, nil
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
	if d.lineTest {
		r, err := diagJob(ctx, a, c, provisioning.CmdLineTest)
		if err != nil {
			return err
		}
		rep.LineTest = r.LineTest
	}
	if d.selfTest {
		r, err := diagJob(ctx, a, c, provisioning.CmdCallerIDSelfTest)
		if err != nil {
			return err
		}
		rep.SelfTest = r.SelfTest
	}
	if a.g.jsonOut {
		return a.printJSON(rep)
	}
	if rep.LineTest != nil {
		if err := a.printLineTest(rep.LineTest); err != nil {
			return err
		}
	}
	if rep.SelfTest != nil {
		if err := a.printSelfTest(rep.SelfTest); err != nil {
			return err
		}
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

func verdict(pass bool) string {
	if pass {
		return "pass"
	}
	return "FAIL"
}

func (a *app) printLineTest(raw json.RawMessage) error {
	var v lineTestView
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("line test result: %w", err)
	}
	fmt.Fprintf(a.out, "Line test: %s\n", verdict(v.Pass))
	tw := a.table()
	fmt.Fprintln(tw, "  TEST\tMEASUREMENT\tVALUE\tLIMIT\tRESULT")
	for _, t := range v.Tests {
		if t.Skipped != "" {
			fmt.Fprintf(tw, "  %s\t-\t-\t-\tskipped: %s\n", t.Name, t.Skipped)
			continue
		}
		for _, m := range t.Measurements {
			res := verdict(m.Pass)
			if m.Detail != "" {
				res += " (" + m.Detail + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%g %s\t%s %g\t%s\n", t.Name, m.Name, m.Value, m.Unit, m.Limit, m.Threshold, res)
		}
	}
	tw.Flush()
	fmt.Fprintln(a.out)
	return nil
}

func (a *app) printSelfTest(raw json.RawMessage) error {
	var v selfTestView
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("self-test result: %w", err)
	}
	head := verdict(v.Pass)
	if v.Failure != "" {
		head += ": " + v.Failure
	}
	fmt.Fprintf(a.out, "Caller-ID self-test: %s\n", head)
	for _, st := range v.Stages {
		switch {
		case st.Skipped != "":
			fmt.Fprintf(a.out, "  %-8s skipped: %s\n", st.Name, st.Skipped)
		case st.Pass:
			fmt.Fprintf(a.out, "  %-8s pass\n", st.Name)
		default:
			fmt.Fprintf(a.out, "  %-8s FAIL: sent %s, got %s\n", st.Name, st.Expected, st.Got)
		}
	}
	fmt.Fprintln(a.out)
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
