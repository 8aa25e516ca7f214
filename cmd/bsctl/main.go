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
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the operation failed, was rejected or timed out
	exitUsage   = 2
	exitConnect = 3 // the broker could not be reached
)

// globals are the flags every command takes (before or after its name).
type globals struct {
	broker, base              string
	caFile, certFile, keyFile string
	username, password        string
	jsonOut                   bool
	timeout                   time.Duration
	verbose                   bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.broker, "broker", envOr("BSCTL_BROKER", "tcp://127.0.0.1:1883"), "broker URL: tcp://host:port or ssl://host:port (env BSCTL_BROKER)")
	fs.StringVar(&g.base, "base", os.Getenv("BSCTL_BASE"), "base station id (env BSCTL_BASE)")
	fs.StringVar(&g.caFile, "cafile", os.Getenv("BSCTL_CAFILE"), "CA certificate (PEM) that signs the broker's certificate")
	fs.StringVar(&g.certFile, "cert", os.Getenv("BSCTL_CERT"), "client certificate (PEM) for mutual TLS")
	fs.StringVar(&g.keyFile, "key", os.Getenv("BSCTL_KEY"), "client key (PEM) for mutual TLS")
	fs.StringVar(&g.username, "username", os.Getenv("BSCTL_USERNAME"), "MQTT user name")
	fs.StringVar(&g.password, "password", os.Getenv("BSCTL_PASSWORD"), "MQTT password")
	fs.BoolVar(&g.jsonOut, "json", false, "print JSON instead of tables")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "give up waiting for the broker or the base after this long")
	fs.BoolVar(&g.verbose, "v", false, "log MQTT activity to stderr")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// app is one invocation.
type app struct {
	g      globals
	out    io.Writer
	errOut io.Writer
	// pre, set by a command, checks its arguments before connecting.
	pre func(rest []string) error
}

type command struct {
	name, args, help string
	flags            func(fs *flag.FlagSet, a *app) func(ctx context.Context, c *cloud.Client, rest []string) error
	needBase         bool
}

var errUsage = errors.New("usage")

// failure is an operation that reached the base and failed there.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func commands() []command {
	return []command{
		{name: "bases", help: "list the bases the broker knows, with their state", flags: cmdBases},
		{name: "state", help: "show a base's reported state", flags: cmdState, needBase: true},
		{name: "register", args: "[--window 120s] [--pin 0000]", help: "Register New Device: open registration mode and wait for a device to pair", flags: cmdRegister, needBase: true},
		{name: "close-registration", help: "close registration mode", flags: cmdSimple(provisioning.CmdCloseRegistration), needBase: true},
		{name: "extensions", help: "list the extensions and their devices", flags: cmdExtensions, needBase: true},
		{name: "devices", args: "[--ext N]", help: "list the base's devices, or the devices of an extension", flags: cmdDevices, needBase: true},
		{name: "assign", args: "--ext N --device ID", help: "assign a device to an extension (one of each type per extension)", flags: cmdAssign, needBase: true},
		{name: "unassign", args: "--ext N --device ID", help: "take a device away from an extension (it stays paired)", flags: cmdUnassign, needBase: true},
		{name: "remove-device", args: "--device ID", help: "deregister a device from the base and from its extension", flags: cmdRemove, needBase: true},
		{name: "set", args: "--ext N [--caller-id E164] [--name N] [--voicemail-number N] [--sip-password P] [--transport T]", help: "change an extension's settings", flags: cmdSet, needBase: true},
		{name: "add-extension", args: "--ext N --name NAME --sip-user U --sip-password P --sip-domain D [--caller-id E164] [--voicemail-number N] [--transport T]", help: "add a user's extension", flags: cmdAddExtension, needBase: true},
		{name: "delete-extension", args: "--ext N", help: "delete an extension (its devices stay paired, unassigned)", flags: cmdDeleteExtension, needBase: true},
		{name: "config-get", args: "[--show-secrets]", help: "print the desired configuration document", flags: cmdConfigGet, needBase: true},
		{name: "config-push", args: "FILE", help: "publish a configuration document (version 0: next version) and wait until applied", flags: cmdConfigPush, needBase: true},
		{name: "page", args: "[--duration 30s]", help: "ring every DECT device to find it", flags: cmdPage, needBase: true},
		{name: "resync", help: "make the base republish its state and re-read its configuration", flags: cmdSimple(provisioning.CmdResync), needBase: true},
		{name: "reboot", help: "restart the base", flags: cmdSimple(provisioning.CmdReboot), needBase: true},
		{name: "events", args: "[--count N]", help: "follow events live (all bases without --base)", flags: cmdEvents},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: bsctl [global flags] <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.help)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nglobal flags (before or after the command):\n")
	fs := flag.NewFlagSet("bsctl", flag.ContinueOnError)
	var g globals
	g.register(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// run is main without the process: testable in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{out: stdout, errOut: stderr}
	gfs := flag.NewFlagSet("bsctl", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	a.g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "bsctl: %v\n", err)
		usage(stderr)
		return exitUsage
	}
	rest := gfs.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" {
		usage(stdout)
		if len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == rest[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "bsctl: unknown command %q (bsctl help lists them)\n", rest[0])
		return exitUsage
	}
	fs := flag.NewFlagSet("bsctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bsctl %s %s\n  %s\n", cmd.name, cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	a.g.register(fs)
	// Keep values given before the command name: register() reset them to
	// their defaults, so parse the global arguments again.
	_ = fs.Parse(args[:len(args)-len(rest)])
	body := cmd.flags(fs, a)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if cmd.needBase && a.g.base == "" {
		fmt.Fprintf(stderr, "bsctl %s: --base is required (or set BSCTL_BASE)\n", cmd.name)
		return exitUsage
	}
	if a.g.base != "" && !provisioning.ValidBaseID(a.g.base) {
		fmt.Fprintf(stderr, "bsctl: --base %q is not a base id (lower-case letters, digits, '-')\n", a.g.base)
		return exitUsage
	}
	if a.pre == nil {
		a.pre = noArgs
	}
	{
		if err := a.pre(fs.Args()); err != nil {
			fmt.Fprintf(stderr, "bsctl %s: %v\n", cmd.name, err)
			fs.Usage()
			return exitUsage
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if a.g.verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var tlsCfg *tls.Config
	if a.g.caFile != "" || a.g.certFile != "" || a.g.keyFile != "" {
		c, err := provisioning.LoadTLS(a.g.caFile, a.g.certFile, a.g.keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "bsctl: %v\n", err)
			return exitUsage
		}
		tlsCfg = c
	}
	dctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	client, err := cloud.Dial(dctx, cloud.Options{Brokers: []string{a.g.broker}, TLS: tlsCfg, Username: a.g.username, Password: a.g.password, Logger: log,
		OnPending: func(p provisioning.Pending) {
			fmt.Fprintf(stderr, "configuration v%d is pending on the base: waiting for calls to end on extension %s\n", p.Version, strings.Join(p.WaitingFor, ", "))
		}})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "bsctl: cannot reach the broker: %v\n", err)
		return exitConnect
	}
	defer client.Close()
	err = body(ctx, client, fs.Args())
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(stderr, "bsctl %s: %v\n", cmd.name, err)
		return exitFailed
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

func noArgs(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	return nil
}

// required is a check for commands that take flags only: no arguments, and
// ok must hold after parsing, else the error says what is required.
func required(what string, ok func() bool) func([]string) error {
	return func(rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		if !ok() {
			return errors.New(what + " required")
		}
		return nil
	}
}

func cmdBases(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
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
			fmt.Fprintln(a.out, "no bases on this broker")
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

func cmdState(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
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
}

func (a *app) deviceTable(ds []provisioning.Device) {
	tw := a.table()
	fmt.Fprintln(tw, "DEVICE\tTYPE\tNAME\tEXTENSION")
	for _, d := range ds {
		ext := d.Extension
		if ext == "" {
			ext = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Type, d.Name, ext)
	}
	tw.Flush()
}

func cmdRegister(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	window := fs.Duration("window", 0, "how long registration mode stays open (10s..120s; 0: the base's default)")
	pin := fs.String("pin", "", "4-digit PIN the device must enter (default 0000)")
	a.pre = func(rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		if *window != 0 && (*window < 10*time.Second || *window > 120*time.Second) {
			return fmt.Errorf("--window %v is outside 10s..120s", *window)
		}
		if *pin != "" && (len(*pin) != 4 || strings.Trim(*pin, "0123456789") != "") {
			return fmt.Errorf("--pin %q is not 4 digits", *pin)
		}
		return nil
	}
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		// Wait as long as the window can last, plus --timeout for the
		// round trips.
		ctx, cancel := context.WithTimeout(ctx, a.g.timeout+125*time.Second)
		defer cancel()
		stopProgress := func() {}
		defer func() { stopProgress() }()
		r, err := c.RegisterDevice(ctx, a.g.base, *window, *pin, func(r provisioning.Result) {
			if r.Status != provisioning.StatusAccepted || r.ClosesAt == nil {
				return
			}
			stopProgress = a.progress(ctx, *r.ClosesAt)
		})
		stopProgress()
		if err != nil {
			return err
		}
		if a.g.jsonOut {
			if e := a.printJSON(r); e != nil {
				return e
			}
			return resultErr(r)
		}
		if err := resultErr(r); err != nil {
			if r.Status == provisioning.StatusTimedOut {
				return &failure{msg: "no device paired before registration mode closed"}
			}
			return err
		}
		fmt.Fprintf(a.out, "Paired %s %s", r.Device.Type, r.Device.ID)
		if r.Device.Name != "" {
			fmt.Fprintf(a.out, " (%s)", r.Device.Name)
		}
		fmt.Fprintf(a.out, " with base %s. Assign it with: bsctl assign --base %s --ext N --device %s\n", a.g.base, a.g.base, r.Device.ID)
		return nil
	}
}

// progress shows the registration window counting down on stderr until
// the returned function is called.
func (a *app) progress(ctx context.Context, closesAt time.Time) func() {
	fmt.Fprintf(a.errOut, "Registration mode is open on %s until %s: put the device in pairing mode now.\n", a.g.base, closesAt.Local().Format(time.TimeOnly))
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				left := time.Until(closesAt).Round(time.Second)
				if left < 0 {
					left = 0
				}
				fmt.Fprintf(a.errOut, "  waiting for a device... %v left\n", left)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var stopped bool
	return func() {
		if !stopped {
			stopped = true
			close(done)
			<-finished
		}
	}
}

func cmdSimple(name string) func(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return func(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
		return func(ctx context.Context, c *cloud.Client, rest []string) error {
			if err := noArgs(rest); err != nil {
				return err
			}
			ctx, cancel := a.timed(ctx)
			defer cancel()
			r, err := c.Command(ctx, a.g.base, name, nil, nil)
			if err != nil {
				return err
			}
			return a.showResult(r)
		}
	}
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

func cmdPage(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	d := fs.Duration("duration", 30*time.Second, "how long to page (1s..60s)")
	a.pre = func(rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		if *d < time.Second || *d > 60*time.Second {
			return fmt.Errorf("--duration %v is outside 1s..60s", *d)
		}
		return nil
	}
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		ctx, cancel := a.timed(ctx)
		defer cancel()
		r, err := c.Command(ctx, a.g.base, provisioning.CmdPage, provisioning.PageArgs{DurationS: int(*d / time.Second)}, nil)
		if err != nil {
			return err
		}
		return a.showResult(r)
	}
}

func cmdExtensions(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		ctx, cancel := a.timed(ctx)
		defer cancel()
		cfg, err := c.Desired(ctx, a.g.base)
		if err != nil {
			return err
		}
		if a.g.jsonOut {
			return a.printJSON(cfg.Redacted().Extensions)
		}
		fmt.Fprintf(a.out, "Configuration v%d of base %s\n", cfg.Version, cfg.Base)
		tw := a.table()
		fmt.Fprintln(tw, "EXTENSION\tNAME\tSIP USER\tCALLER ID\tVOICEMAIL\tPORT\tLINX\tHEADSET")
		for _, e := range cfg.Extensions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Number, e.DisplayName, e.SIP.User+"@"+e.SIP.Domain,
				dash(e.CallerID), dash(e.VoicemailNumber), dash(e.Devices.Port), dash(e.Devices.Linx), dash(e.Devices.Headset))
		}
		return tw.Flush()
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdDevices(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	ext := fs.String("ext", "", "list only the devices assigned to this extension")
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		ctx, cancel := a.timed(ctx)
		defer cancel()
		var ds []provisioning.Device
		var err error
		if *ext != "" {
			ds, err = c.ExtensionDevices(ctx, a.g.base, *ext)
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
		if len(ds) == 0 && *ext != "" {
			fmt.Fprintf(a.out, "extension %s has no devices on base %s\n", *ext, a.g.base)
			return nil
		}
		sort.SliceStable(ds, func(i, j int) bool { return typeOrder(ds[i].Type) < typeOrder(ds[j].Type) })
		a.deviceTable(ds)
		return nil
	}
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

func extDeviceFlags(fs *flag.FlagSet) (ext, dev *string) {
	return fs.String("ext", "", "extension number"), fs.String("device", "", "device id")
}

func cmdAssign(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return cmdExtDevice((*cloud.Client).AssignDevice, "Device %s assigned to extension %s")(fs, a)
}

func cmdUnassign(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	return cmdExtDevice((*cloud.Client).UnassignDevice, "Device %s taken away from extension %s")(fs, a)
}

// cmdExtDevice is a command taking --ext and --device that changes the
// desired configuration with op and waits until the base applied it.
func cmdExtDevice(op func(*cloud.Client, context.Context, string, string, string) (*provisioning.Config, error), done string) func(*flag.FlagSet, *app) func(context.Context, *cloud.Client, []string) error {
	return func(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
		ext, dev := extDeviceFlags(fs)
		a.pre = required("--ext and --device are", func() bool { return *ext != "" && *dev != "" })
		return func(ctx context.Context, c *cloud.Client, rest []string) error {
			ctx, cancel := a.timed(ctx)
			defer cancel()
			cfg, err := op(c, ctx, a.g.base, *ext, *dev)
			if err != nil {
				return err
			}
			return a.applied(cfg, fmt.Sprintf(done, *dev, *ext))
		}
	}
}

func (a *app) applied(cfg *provisioning.Config, msg string) error {
	if a.g.jsonOut {
		return a.printJSON(map[string]any{"base": cfg.Base, "applied_version": cfg.Version})
	}
	fmt.Fprintf(a.out, "%s (configuration v%d applied by %s)\n", msg, cfg.Version, cfg.Base)
	return nil
}

func cmdRemove(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	dev := fs.String("device", "", "device id")
	a.pre = required("--device is", func() bool { return *dev != "" })
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		ctx, cancel := a.timed(ctx)
		defer cancel()
		r, err := c.RemoveDevice(ctx, a.g.base, *dev)
		if err != nil {
			return err
		}
		if a.g.jsonOut || resultErr(r) != nil {
			return a.showResult(r)
		}
		msg := fmt.Sprintf("Device %s removed from base %s", *dev, a.g.base)
		if len(r.Unassigned) > 0 {
			msg += " and from extension " + strings.Join(r.Unassigned, ", ")
		}
		fmt.Fprintln(a.out, msg)
		return nil
	}
}

func cmdSet(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	ext := fs.String("ext", "", "extension number")
	var set = map[string]*string{}
	for _, f := range []struct{ name, help string }{
		{"caller-id", "outbound caller ID, E.164 (+15551230101); \"\" for the PBX's default"},
		{"name", "display name"},
		{"voicemail-number", "voicemail access number (e.g. *98)"},
		{"sip-password", "new SIP password"},
		{"transport", "SIP transport: udp, tcp or tls"},
	} {
		v := new(string)
		fs.Func(f.name, f.help, func(s string) error { *v = s; set[f.name] = v; return nil })
	}
	a.pre = required("--ext and at least one setting are", func() bool { return *ext != "" && len(set) > 0 })
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		ctx, cancel := a.timed(ctx)
		defer cancel()
		cfg, err := c.SetExtension(ctx, a.g.base, *ext, func(e *provisioning.Extension) error {
			for k, v := range set {
				switch k {
				case "caller-id":
					e.CallerID = *v
				case "name":
					e.DisplayName = *v
				case "voicemail-number":
					e.VoicemailNumber = *v
				case "sip-password":
					e.SIP.Password = *v
				case "transport":
					e.SIP.Transport = *v
				}
			}
			return nil
		})
		if err != nil {
			return describe(err)
		}
		return a.applied(cfg, "Extension "+*ext+" updated")
	}
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

func cmdConfigGet(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	secrets := fs.Bool("show-secrets", false, "print SIP passwords instead of ********")
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		ctx, cancel := a.timed(ctx)
		defer cancel()
		cfg, err := c.Desired(ctx, a.g.base)
		if err != nil {
			return err
		}
		if !*secrets {
			cfg = cfg.Redacted()
		}
		return a.printJSON(cfg)
	}
}

func cmdConfigPush(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	a.pre = func(rest []string) error {
		if len(rest) != 1 {
			return errors.New("one FILE is required")
		}
		return nil
	}
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		b, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		cfg, err := provisioning.DecodeConfig(b)
		if err != nil {
			return fmt.Errorf("%s: %w", rest[0], err)
		}
		if cfg.Base == "" {
			cfg.Base = a.g.base
		}
		if cfg.Base != a.g.base {
			return fmt.Errorf("%s is for base %q, not %q", rest[0], cfg.Base, a.g.base)
		}
		ctx, cancel := a.timed(ctx)
		defer cancel()
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
			return describe(fmt.Errorf("%w: %w", cloud.ErrNotPublished, &provisioning.ValidationError{Version: cfg.Version, Errors: errs}))
		}
		_, err = c.Push(ctx, cfg, func(p provisioning.Pending) {
			fmt.Fprintf(a.errOut, "v%d is pending: waiting for calls to end on extension %s\n", p.Version, strings.Join(p.WaitingFor, ", "))
		})
		if err != nil {
			return describe(err)
		}
		return a.applied(cfg, "Configuration pushed")
	}
}

func cmdEvents(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	count := fs.Int("count", 0, "exit after this many events (0: follow until interrupted)")
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		if err := noArgs(rest); err != nil {
			return err
		}
		base := a.g.base
		if base == "" {
			base = "+"
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n := 0
		if !a.g.jsonOut {
			fmt.Fprintf(a.errOut, "Following events of %s (Ctrl-C to stop)\n", strings.ReplaceAll(base, "+", "every base"))
		}
		return c.Events(ctx, base, func(ev provisioning.Event) {
			if a.g.jsonOut {
				b, _ := json.Marshal(ev)
				fmt.Fprintln(a.out, string(b))
			} else {
				fmt.Fprintf(a.out, "%s  %s  #%d  %-18s %s\n", ev.Time.Local().Format(time.TimeOnly), ev.Base, ev.Seq, ev.Type, eventText(ev))
			}
			n++
			if *count > 0 && n >= *count {
				cancel()
			}
		})
	}
}

func eventText(ev provisioning.Event) string {
	var p []string
	if ev.Device != nil {
		p = append(p, fmt.Sprintf("%s %s", ev.Device.Type, ev.Device.ID))
	}
	if ev.Extension != "" {
		p = append(p, "ext "+ev.Extension)
	}
	if ev.State != "" {
		p = append(p, ev.State)
	}
	if ev.Version != 0 {
		p = append(p, fmt.Sprintf("v%d", ev.Version))
	}
	if len(ev.Waiting) > 0 {
		p = append(p, "waiting for "+strings.Join(ev.Waiting, ","))
	}
	if ev.Fault != "" {
		p = append(p, "fault: "+ev.Fault)
	}
	if q := ev.Quality; q != nil {
		p = append(p, fmt.Sprintf("%.0fs loss %.1f%% jitter %.1fms MOS %.1f", q.DurationS, q.LossPct, q.JitterMs, q.MOS))
	}
	for _, e := range ev.Errors {
		p = append(p, e.Path+": "+e.Message)
	}
	if ev.Reason != "" {
		p = append(p, ev.Reason)
	}
	if ev.Topic != "" {
		p = append(p, "topic "+ev.Topic)
	}
	return strings.Join(p, "; ")
}

func cmdAddExtension(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	var e provisioning.Extension
	fs.StringVar(&e.Number, "ext", "", "extension number (2 to 6 digits)")
	fs.StringVar(&e.DisplayName, "name", "", "display name")
	fs.StringVar(&e.SIP.User, "sip-user", "", "SIP user")
	fs.StringVar(&e.SIP.AuthUser, "sip-auth-user", "", "SIP authentication user (default: the SIP user)")
	fs.StringVar(&e.SIP.Password, "sip-password", "", "SIP password")
	fs.StringVar(&e.SIP.Domain, "sip-domain", "", "SIP domain")
	fs.StringVar(&e.SIP.Transport, "transport", "", "udp, tcp or tls (default udp)")
	fs.StringVar(&e.CallerID, "caller-id", "", "outbound caller ID, E.164")
	fs.StringVar(&e.VoicemailNumber, "voicemail-number", "", "voicemail access number")
	a.pre = required("--ext, --name, --sip-user, --sip-password and --sip-domain are", func() bool {
		return e.Number != "" && e.DisplayName != "" && e.SIP.User != "" && e.SIP.Password != "" && e.SIP.Domain != ""
	})
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		ctx, cancel := a.timed(ctx)
		defer cancel()
		cfg, err := c.AddExtension(ctx, a.g.base, e)
		if err != nil {
			return describe(err)
		}
		return a.applied(cfg, "Extension "+e.Number+" added")
	}
}

func cmdDeleteExtension(fs *flag.FlagSet, a *app) func(context.Context, *cloud.Client, []string) error {
	ext := fs.String("ext", "", "extension number")
	a.pre = required("--ext is", func() bool { return *ext != "" })
	return func(ctx context.Context, c *cloud.Client, rest []string) error {
		ctx, cancel := a.timed(ctx)
		defer cancel()
		cfg, err := c.DeleteExtension(ctx, a.g.base, *ext)
		if err != nil {
			return describe(err)
		}
		return a.applied(cfg, "Extension "+*ext+" deleted")
	}
}
