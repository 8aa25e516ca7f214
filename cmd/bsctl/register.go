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

// Register New Device.

// registerSlack is how long past the longest window bsctl waits for the
// base's final result (on top of --timeout for the round trips).
const registerSlack = 125 * time.Second

// closeAfterInterrupt bounds the close-registration bsctl sends after
// Ctrl-C (or --timeout if shorter).
const closeAfterInterrupt = 10 * time.Second

// errNoAccept: the base did not accept register-device within --timeout.
var errNoAccept = errors.New("no accepted result")

type registerCmd struct {
	window time.Duration
	pin    string
}

func (r *registerCmd) flags(fs *flag.FlagSet) {
	fs.DurationVar(&r.window, "window", 0, "how long registration mode stays open (10s..120s; 0: the base's default, 120s)")
	fs.StringVar(&r.pin, "pin", "", "4-digit `PIN` the device must enter (default 0000)")
}

func (r *registerCmd) check(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if r.window != 0 && (r.window < 10*time.Second || r.window > 120*time.Second) {
		return fmt.Errorf("--window %v is outside 10s..120s", r.window)
	}
	if r.pin != "" && (len(r.pin) != 4 || strings.Trim(r.pin, "0123456789") != "") {
		return fmt.Errorf("--pin %q is not 4 digits", r.pin)
	}
	return nil
}

func (r *registerCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	// The base must accept within --timeout; then bsctl waits as long as
	// the window can last, plus --timeout for the round trips.
	limit := a.g.timeout + registerSlack
	octx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	actx, noAnswer := context.WithCancelCause(octx)
	defer noAnswer(nil)
	acceptBy := time.AfterFunc(a.g.timeout, func() { noAnswer(errNoAccept) })
	defer acceptBy.Stop()
	var closesAt time.Time
	stopCountdown := func() {}
	res, err := c.RegisterDevice(actx, a.g.base, r.window, r.pin, func(p provisioning.Result) {
		if p.Status != provisioning.StatusAccepted {
			return
		}
		acceptBy.Stop()
		if p.ClosesAt == nil {
			return
		}
		// The base answered: the countdown replaces "waiting for".
		a.stopWaiting()
		closesAt = *p.ClosesAt
		stopCountdown = a.countdown(actx, closesAt)
	})
	stopCountdown()
	switch {
	case err != nil && ctx.Err() != nil:
		return a.closeRegistration(ctx, c, closesAt)
	case err != nil && errors.Is(context.Cause(actx), errNoAccept):
		return fmt.Errorf("register-device: %w", context.DeadlineExceeded)
	case errors.Is(err, context.DeadlineExceeded):
		return &failure{msg: fmt.Sprintf("base %s gave no final result within %v; bsctl state shows its registration mode", a.g.base, limit)}
	case err != nil:
		return err
	}
	if a.g.jsonOut {
		if e := a.printJSON(res); e != nil {
			return e
		}
		return resultErr(res)
	}
	if err := resultErr(res); err != nil {
		if res.Status == provisioning.StatusTimedOut {
			return &failure{msg: "no device paired before registration mode closed"}
		}
		return err
	}
	fmt.Fprintf(a.out, "Paired %s %s", res.Device.Type, res.Device.ID)
	if res.Device.Name != "" {
		fmt.Fprintf(a.out, " (%s)", res.Device.Name)
	}
	fmt.Fprintf(a.out, " with base %s. Assign it with: bsctl assign --base %s --ext N --device %s\n", a.g.base, a.g.base, res.Device.ID)
	return nil
}

// closeRegistration is register's answer to Ctrl-C: registration mode it
// opened must not stay open behind the administrator's back, so it sends
// close-registration (bounded; a second Ctrl-C ends bsctl at once) and
// says what happened. closesAt is when the base said the window closes
// (zero if no answer came yet); the close is sent in any case, since the
// register-device command is out.
func (a *app) closeRegistration(ctx context.Context, c *cloud.Client, closesAt time.Time) error {
	if a.releaseSignals != nil {
		a.releaseSignals()
	}
	fmt.Fprintf(a.errOut, "bsctl register: interrupted: closing registration mode on %s...\n", a.g.base)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(a.g.timeout, closeAfterInterrupt))
	defer cancel()
	r, err := c.Command(cctx, a.g.base, provisioning.CmdCloseRegistration, nil, nil)
	if err == nil {
		err = resultErr(r)
	}
	if err != nil {
		when := "when its window ends"
		if !closesAt.IsZero() {
			when = "at " + closesAt.Local().Format(time.TimeOnly)
		}
		fmt.Fprintf(a.errOut, "bsctl register: could not close registration mode on %s (%v); it closes by itself %s, or run bsctl close-registration --base %s\n",
			a.g.base, err, when, a.g.base)
		return errInterrupted
	}
	fmt.Fprintf(a.errOut, "bsctl register: registration mode on %s closed (%s)\n", a.g.base, r.Reason)
	return errInterrupted
}
