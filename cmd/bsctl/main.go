package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"basestation/internal/buildinfo"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := newApp(os.Stdout, os.Stderr)
	// After a first Ctrl-C, register closes registration mode; a second
	// one then ends bsctl at once.
	a.releaseSignals = stop
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit codes (listed by `bsctl help` and in docs/mqtt-api.md §9).
const (
	exitOK          = 0
	exitFailed      = 1 // the base or the broker refused or failed the operation
	exitUsage       = 2 // unknown command, bad flag or argument
	exitConnect     = 3 // the broker could not be reached
	exitPending     = 4 // the base deferred the change until a call ends
	exitTimeout     = 5 // no answer within --timeout
	exitInterrupted = 130
)

// exitCodes is the table the help prints.
func exitCodes() []struct {
	code int
	text string
} {
	return []struct {
		code int
		text string
	}{
		{exitOK, "done"},
		{exitFailed, "failed: the base refused or failed it, or the base is unknown or offline"},
		{exitUsage, "usage: unknown command, bad flag or argument"},
		{exitConnect, "the broker could not be reached"},
		{exitPending, "pending: the change is published; the base applies it when the call it would drop ends"},
		{exitTimeout, "no answer from the broker or the base within --timeout"},
		{exitInterrupted, "interrupted (Ctrl-C); register closes registration mode first"},
	}
}

// progressEvery is how often a wait with no news prints a progress line.
const progressEvery = 5 * time.Second

// globals are the flags every command takes (before or after its name).
type globals struct {
	broker, base, topicRoot   string
	caFile, certFile, keyFile string
	username, password        string
	jsonOut                   bool
	timeout                   time.Duration
	verbose                   bool
	version                   bool
}

// register declares the global flags on fs; env supplies their defaults
// from the environment (the help passes one that returns nothing, so it
// never prints a password).
func (g *globals) register(fs *flag.FlagSet, env func(string) string) {
	broker := env("BSCTL_BROKER")
	if broker == "" {
		broker = "tcp://127.0.0.1:1883"
	}
	fs.StringVar(&g.broker, "broker", broker, "the broker `URL`: tcp://host:port or ssl://host:port (env BSCTL_BROKER)")
	fs.StringVar(&g.base, "base", env("BSCTL_BASE"), "base station `id` (env BSCTL_BASE); bsctl bases lists them")
	fs.StringVar(&g.topicRoot, "topic-root", env("BSCTL_TOPIC_ROOT"), "root of the bases' MQTT `topic` tree, as the bases' mqtt.topic_root (default bs/v1; env BSCTL_TOPIC_ROOT)")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "give up waiting for the broker or the base after this long")
	fs.BoolVar(&g.jsonOut, "json", false, "print JSON instead of tables")
	fs.StringVar(&g.caFile, "cafile", env("BSCTL_CAFILE"), "PEM `file` of the CA certificate that signs the broker's certificate (env BSCTL_CAFILE)")
	fs.StringVar(&g.certFile, "cert", env("BSCTL_CERT"), "PEM `file` of the client certificate for mutual TLS (env BSCTL_CERT)")
	fs.StringVar(&g.keyFile, "key", env("BSCTL_KEY"), "PEM `file` of the client key for mutual TLS (env BSCTL_KEY)")
	fs.StringVar(&g.username, "username", env("BSCTL_USERNAME"), "MQTT user `name` (env BSCTL_USERNAME)")
	fs.StringVar(&g.password, "password", env("BSCTL_PASSWORD"), "MQTT `password` (env BSCTL_PASSWORD)")
	fs.BoolVar(&g.verbose, "v", false, "log MQTT activity to stderr")
	fs.BoolVar(&g.version, "version", false, "print the version and build, then exit")
}

// app is one invocation.
type app struct {
	g      globals
	out    io.Writer
	errOut io.Writer
	env    func(string) string
	// tick is how often a wait with no news prints a progress line (0:
	// never).
	tick time.Duration
	// releaseSignals, when set, gives Ctrl-C its default effect back.
	releaseSignals func()
	// stopWaiting ends the progress lines of the running command.
	stopWaiting func()
	pend        deferral
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{out: stdout, errOut: stderr, env: os.Getenv, tick: progressEvery, stopWaiting: func() {}}
}

// run is main without the process: testable in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).run(ctx, args)
}

// Errors that choose the exit code.
var (
	// errPending: the result (deferred by the base) is printed already.
	errPending = errors.New("pending")
	// errInterrupted: Ctrl-C; what was done about it is printed already.
	errInterrupted = errors.New("interrupted")
)

// failure is an operation that reached the base and failed there, or that
// cannot be done; its message is for people.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func (a *app) run(ctx context.Context, args []string) int {
	gfs := flag.NewFlagSet("bsctl", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	gfs.Usage = func() {}
	a.g.register(gfs, a.env)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.out)
			return exitOK
		}
		fmt.Fprintf(a.errOut, "bsctl: %v\n(bsctl help lists the commands and the global flags)\n", flagError(err, gfs))
		return exitUsage
	}
	if a.g.version {
		fmt.Fprintln(a.out, buildinfo.String("bsctl"))
		return exitOK
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		a.usage(a.errOut)
		return exitUsage
	}
	if rest[0] == "help" {
		return a.help(rest[1:])
	}
	cmd, ok := lookup(rest[0])
	if !ok {
		a.unknownCommand(rest[0])
		return exitUsage
	}
	fs := flag.NewFlagSet("bsctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	a.g.register(fs, a.env)
	// Keep values given before the command name: register() reset them to
	// their defaults, so parse the global arguments again.
	_ = fs.Parse(args[:len(args)-len(rest)])
	body := cmd.new()
	body.flags(fs)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandHelp(a.out, cmd)
			return exitOK
		}
		fmt.Fprintf(a.errOut, "bsctl %s: %v\n", cmd.name, flagError(err, fs))
		a.synopsis(a.errOut, cmd)
		return exitUsage
	}
	if cmd.needBase && a.g.base == "" {
		fmt.Fprintf(a.errOut, "bsctl %s: --base is required (or set BSCTL_BASE); bsctl bases lists the bases\n", cmd.name)
		return exitUsage
	}
	if a.g.base != "" && !provisioning.ValidBaseID(a.g.base) {
		fmt.Fprintf(a.errOut, "bsctl: --base %q is not a base id (%s); bsctl bases lists the bases\n", a.g.base, provisioning.BaseIDRule)
		return exitUsage
	}
	if err := body.check(fs.Args()); err != nil {
		fmt.Fprintf(a.errOut, "bsctl %s: %v\n", cmd.name, err)
		a.synopsis(a.errOut, cmd)
		return exitUsage
	}
	if a.g.timeout <= 0 {
		fmt.Fprintf(a.errOut, "bsctl: --timeout %v is not a positive duration\n", a.g.timeout)
		return exitUsage
	}
	var tlsCfg *tls.Config
	if a.g.caFile != "" || a.g.certFile != "" || a.g.keyFile != "" {
		c, err := provisioning.LoadTLS(a.g.caFile, a.g.certFile, a.g.keyFile)
		if err != nil {
			fmt.Fprintf(a.errOut, "bsctl: %v\n", err)
			return exitUsage
		}
		tlsCfg = c
	}
	client, err := a.dial(ctx, tlsCfg)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(a.errOut, "bsctl: interrupted")
		return exitInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(a.errOut, "bsctl: cannot reach the broker: %s did not answer within %v (--timeout)\n", a.g.broker, a.g.timeout)
		return exitConnect
	case err != nil:
		fmt.Fprintf(a.errOut, "bsctl: cannot reach the broker: %v\n", err)
		return exitConnect
	}
	defer client.Close()
	if !cmd.follows {
		what := "the broker"
		if a.g.base != "" && cmd.needBase {
			what = "base " + a.g.base
		}
		a.stopWaiting = a.waiting(ctx, what)
	}
	if cmd.needBase {
		err = a.checkBase(ctx, client)
	}
	if err == nil {
		err = body.run(ctx, a, client, fs.Args())
	}
	a.stopWaiting()
	return a.exit(ctx, cmd, err)
}

// exit prints err for people and chooses the exit code.
func (a *app) exit(ctx context.Context, cmd *command, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPending):
		return exitPending
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case ctx.Err() != nil:
		fmt.Fprintf(a.errOut, "bsctl %s: interrupted\n", cmd.name)
		return exitInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		if cmd.needBase {
			fmt.Fprintf(a.errOut, "bsctl %s: base %s did not answer within %v (--timeout); bsctl bases shows whether it is online\n", cmd.name, a.g.base, a.g.timeout)
		} else {
			fmt.Fprintf(a.errOut, "bsctl %s: the broker did not answer within %v (--timeout)\n", cmd.name, a.g.timeout)
		}
		if a.g.verbose {
			fmt.Fprintf(a.errOut, "  (%v)\n", err)
		}
		return exitTimeout
	default:
		fmt.Fprintf(a.errOut, "bsctl %s: %v\n", cmd.name, err)
		return exitFailed
	}
}

// dial connects to the broker within --timeout. Paho gives up on a broker
// that accepts the connection but never answers after its own connect
// timeout; bsctl tries again until --timeout, so that it is what counts.
func (a *app) dial(ctx context.Context, tlsCfg *tls.Config) (*cloud.Client, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if a.g.verbose {
		log = slog.New(slog.NewTextHandler(a.errOut, nil))
	}
	dctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	stop := a.waiting(dctx, "the broker "+a.g.broker)
	defer stop()
	o := cloud.Options{Brokers: []string{a.g.broker}, TopicRoot: a.g.topicRoot, TLS: tlsCfg, Username: a.g.username, Password: a.g.password,
		Logger: log, OnPending: a.onPending}
	for {
		c, err := cloud.Dial(dctx, o)
		if err == nil {
			return c, nil
		}
		var ne net.Error
		if dctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() {
			if dctx.Err() != nil && ctx.Err() == nil {
				return nil, dctx.Err()
			}
			return nil, err
		}
		a.debug("broker did not answer in time; trying again", "err", err)
	}
}

func (a *app) debug(msg string, args ...any) {
	if a.g.verbose {
		slog.New(slog.NewTextHandler(a.errOut, nil)).Info(msg, args...)
	}
}

// timed bounds one operation by --timeout.
func (a *app) timed(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.g.timeout)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) table() *tabwriter.Writer { return tabwriter.NewWriter(a.out, 2, 8, 2, ' ', 0) }

func noArgs(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	return nil
}

// required is a check for commands that take flags only: no arguments, and
// ok must hold after parsing, else the error says what is required.
func required(rest []string, what string, ok bool) error {
	if err := noArgs(rest); err != nil {
		return err
	}
	if !ok {
		return errors.New(what + " required")
	}
	return nil
}
