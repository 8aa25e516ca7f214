package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Configuration changes and documents: how a change ends (applied,
// pending, rejected), config-get and config-push.

// deferral ends a configuration change when the base reports it pending
// (it would drop a call in progress): that is the change's result, not a
// reason to wait. The cloud client reports pending through onPending, in
// the goroutine running the change.
type deferral struct {
	mu     sync.Mutex
	cancel context.CancelFunc // nil: no change running, or --wait
	got    *provisioning.Pending
}

// onPending is told by the cloud client that the configuration it
// published waits on the base for calls to end.
func (a *app) onPending(p provisioning.Pending) {
	a.pend.mu.Lock()
	defer a.pend.mu.Unlock()
	if a.pend.cancel == nil {
		fmt.Fprintf(a.errOut, "configuration v%d is pending on the base: waiting for calls to end on extension %s\n", p.Version, strings.Join(p.WaitingFor, ", "))
		return
	}
	a.pend.got = &p
	a.pend.cancel()
}

// change bounds one configuration change by --timeout and, unless wait,
// ends it as soon as the base reports it pending. finish releases it and
// returns what the base reported pending, if anything.
func (a *app) change(ctx context.Context, wait bool) (_ context.Context, finish func() *provisioning.Pending) {
	ctx, cancel := a.timed(ctx)
	a.pend.mu.Lock()
	a.pend.got = nil
	if !wait {
		a.pend.cancel = cancel
	}
	a.pend.mu.Unlock()
	return ctx, func() *provisioning.Pending {
		a.pend.mu.Lock()
		defer a.pend.mu.Unlock()
		a.pend.cancel = nil
		cancel()
		p := a.pend.got
		a.pend.got = nil
		return p
	}
}

// waitFlag is --wait of the commands that change the configuration.
type waitFlag struct{ wait bool }

func (w *waitFlag) flags(fs *flag.FlagSet) {
	fs.BoolVar(&w.wait, "wait", false, "if the base defers the change until a call ends, wait until it applies (up to --timeout) instead of exiting 4 (pending)")
}

// outcome reports how a configuration change ended: applied (done is the
// message), pending (the base deferred it: printed as the result, exit
// code 4) or an error.
func (a *app) outcome(p *provisioning.Pending, cfg *provisioning.Config, err error, done string) error {
	if p != nil {
		return a.pending(p, done)
	}
	if err != nil {
		return describe(err)
	}
	return a.applied(cfg, done)
}

func (a *app) applied(cfg *provisioning.Config, msg string) error {
	if a.g.jsonOut {
		return a.printJSON(map[string]any{"base": cfg.Base, "status": "applied", "applied_version": cfg.Version})
	}
	fmt.Fprintf(a.out, "%s (configuration v%d applied by %s)\n", msg, cfg.Version, cfg.Base)
	return nil
}

// pending prints a deferred change as the result it is and ends bsctl
// with exitPending.
func (a *app) pending(p *provisioning.Pending, done string) error {
	if a.g.jsonOut {
		if err := a.printJSON(map[string]any{"base": a.g.base, "status": "pending", "version": p.Version,
			"waiting_for": p.WaitingFor, "reason": p.Reason}); err != nil {
			return err
		}
		return errPending
	}
	calls := "the call on extension " + strings.Join(p.WaitingFor, ", ") + " ends"
	if len(p.WaitingFor) > 1 {
		calls = "the calls on extensions " + strings.Join(p.WaitingFor, ", ") + " end"
	}
	fmt.Fprintf(a.out, "Pending: base %s applies configuration v%d (%s) when %s\n", a.g.base, p.Version, lowerFirst(done), calls)
	fmt.Fprintf(a.errOut, "(it is published: nothing more to do; bsctl state --base %s shows it, --wait waits for it)\n", a.g.base)
	return errPending
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// describe lays a validation error out one field per line.
func describe(err error) error {
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var b strings.Builder
	if errors.Is(err, cloud.ErrNotPublished) {
		fmt.Fprintf(&b, "configuration v%d is invalid and was not published:", ve.Version)
	} else {
		fmt.Fprintf(&b, "configuration v%d rejected by the base:", ve.Version)
	}
	for _, e := range ve.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", e.Path, e.Message)
	}
	return &failure{msg: b.String()}
}

type configGetCmd struct{ secrets bool }

func (g *configGetCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&g.secrets, "show-secrets", false, "print SIP passwords instead of ********")
}

func (*configGetCmd) check(args []string) error { return noArgs(args) }

func (g *configGetCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	cfg, err := c.Desired(ctx, a.g.base)
	if err != nil {
		return err
	}
	if !g.secrets {
		cfg = cfg.Redacted()
	}
	return a.printJSON(cfg)
}

type configPushCmd struct{ waitFlag }

func (*configPushCmd) check(args []string) error {
	if len(args) != 1 {
		return errors.New("one FILE is required")
	}
	return nil
}

func (p *configPushCmd) run(ctx context.Context, a *app, c *cloud.Client, args []string) error {
	file := args[0]
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	cfg, err := provisioning.DecodeConfig(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if cfg.Base == "" {
		cfg.Base = a.g.base
	}
	if cfg.Base != a.g.base {
		return fmt.Errorf("%s is for base %q, not %q", file, cfg.Base, a.g.base)
	}
	ctx, finish := a.change(ctx, p.wait)
	if cfg.Version == 0 {
		next := uint64(1)
		if cur, err := c.Desired(ctx, a.g.base); err == nil {
			next = cur.Version + 1
		}
		if st, err := c.State(ctx, a.g.base); err == nil && st.Config.AppliedVersion >= next {
			next = st.Config.AppliedVersion + 1
		}
		cfg.Version = next
	}
	var known []provisioning.Device
	if st, err := c.State(ctx, a.g.base); err == nil {
		known = st.Devices
	}
	if errs := provisioning.Validate(cfg, a.g.base, known); errs != nil {
		finish()
		return describe(fmt.Errorf("%w: %w", cloud.ErrNotPublished, &provisioning.ValidationError{Version: cfg.Version, Errors: errs}))
	}
	_, err = c.Push(ctx, cfg, a.onPending)
	return a.outcome(finish(), cfg, err, "Configuration pushed")
}
