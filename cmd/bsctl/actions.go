package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Commands that are one command to the base and its result: page,
// resync, reboot, close-registration.

// simpleCmd sends the command name, without arguments.
type simpleCmd struct {
	noFlags
	name string
}

func (s *simpleCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	r, err := c.Command(ctx, a.g.base, s.name, nil, nil)
	if err != nil {
		return err
	}
	return a.showResult(r)
}

type pageCmd struct{ d time.Duration }

func (p *pageCmd) flags(fs *flag.FlagSet) {
	fs.DurationVar(&p.d, "duration", 30*time.Second, "how long to page (1s..60s)")
}

func (p *pageCmd) check(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if p.d < time.Second || p.d > 60*time.Second {
		return fmt.Errorf("--duration %v is outside 1s..60s", p.d)
	}
	return nil
}

func (p *pageCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	r, err := c.Command(ctx, a.g.base, provisioning.CmdPage, provisioning.PageArgs{DurationS: int(p.d / time.Second)}, nil)
	if err != nil {
		return err
	}
	return a.showResult(r)
}

// resultErr turns a final result other than succeeded into an error.
func resultErr(r *provisioning.Result) error {
	if r.Status == provisioning.StatusSucceeded {
		return nil
	}
	msg := r.Status
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return &failure{msg: msg}
}

func (a *app) showResult(r *provisioning.Result) error {
	if a.g.jsonOut {
		if err := a.printJSON(r); err != nil {
			return err
		}
		return resultErr(r)
	}
	if err := resultErr(r); err != nil {
		return err
	}
	msg := r.Name + ": " + r.Status
	if r.Reason != "" {
		msg += " (" + r.Reason + ")"
	}
	if r.Duplicate {
		msg += " [already done earlier; not run again]"
	}
	fmt.Fprintln(a.out, msg)
	return nil
}
