// Command basefleet runs a fleet of simulated Base Stations in one process
// against an outside MQTT broker and SIP registrar (docs/fleet.md): each
// base the real daemon wiring (internal/daemon) on simulated hardware that
// does no periodic work of its own (package sim/fleet), with its own base
// id, state directory and SIP contact address in 127.0.0.0/8. It runs a
// bounded scenario (boot storm, idle, steady state with registration-mode
// and configuration pushes, broker restart), prints a live progress line,
// and ends with a table and a JSON report; the exit status is 1 when the
// run failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "basefleet:", err)
	}
	os.Exit(code)
}

// mainErr parses args, runs the fleet and writes the report; it returns
// the exit status (0 pass, 1 fail, 2 bad usage).
func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("basefleet", flag.ContinueOnError)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	o, jsonPath, printUsers, err := parseFlags(fs, args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	if printUsers {
		lo, hi := o.Shard.indexes(o.N)
		for i := lo; i < hi; i++ {
			s, err := makeSpec(o.Prefix, o.FirstIP, i)
			if err != nil {
				return 2, err
			}
			for _, u := range s.Users {
				fmt.Fprintf(stdout, "%s %s\n", u.User, u.Password)
			}
		}
		return 0, nil
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return 2, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 2, err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := run(ctx, o)
	if err != nil {
		return 1, err
	}
	rep.table(stdout)
	if jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return 1, err
		}
		if jsonPath == "-" {
			fmt.Fprintln(stdout, string(b))
		} else if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return 1, err
		}
	}
	if !rep.Pass {
		return 1, nil
	}
	return 0, nil
}

// parseFlags defines basefleet's flags on fs (which may hold more) and
// parses args.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (o options, jsonPath string, printUsers bool, err error) {
	fs.SetOutput(stderr)
	fs.IntVar(&o.N, "n", 100, "number of bases in the whole fleet (every shard)")
	shardS := fs.String("shard", "1/1", "this process's part of the fleet: k/n (contiguous ranges of base indexes)")
	fs.StringVar(&o.Prefix, "prefix", "fleet-", "base id prefix (the base id is PREFIX and the index in five digits)")
	fs.StringVar(&o.Broker, "broker", "", "the bases' MQTT broker, tcp://HOST:PORT (required)")
	fs.StringVar(&o.CloudBroker, "cloud-broker", "", "the cloud side's MQTT broker (default: -broker); another node of a cluster")
	fs.StringVar(&o.Registrar, "registrar", "", "SIP registrar/proxy, sip:IP:PORT (required)")
	firstIP := fs.String("sip-first", "127.1.0.1", "SIP contact address of base 0; base i gets this address + i, within the same /8 (127.0.0.0/8 by default; another range must be configured on this host)")
	fs.IntVar(&o.SIPPort, "sip-port", 5060, "SIP port every base listens on at its own address")
	fs.StringVar(&o.StateDir, "state-dir", "", "root of the per-base state directories (default: a new directory in /dev/shm, removed at the end)")
	fs.DurationVar(&o.Boot, "boot", 10*time.Second, "boot storm: every base is started within this window (0: all at once)")
	fs.DurationVar(&o.BootGrace, "boot-grace", 60*time.Second, "after the boot window, how long bases may take to connect and register")
	fs.BoolVar(&o.PairAtBoot, "pair-at-boot", false, "pair each base's Linx with its button at boot, so extension 102 registers too")
	fs.DurationVar(&o.Idle, "idle", 0, "after the boot, measure CPU while idle for this long")
	fs.DurationVar(&o.Steady, "steady", 10*time.Second, "steady state after the boot (and idle measure)")
	fs.IntVar(&o.Pushes, "pushes", 0, "registration-mode pushes (register-device commands) in the steady state, each completing a pairing")
	fs.Float64Var(&o.PushRate, "push-rate", 10, "registration-mode pushes per second")
	fs.Float64Var(&o.PushShortfall, "push-shortfall", 0, "fraction of registration-mode pushes that may fail to complete a pairing and the run still pass (their errors are reported)")
	fs.BoolVar(&o.Configs, "config-push", false, "push a new configuration version to every base in the steady state")
	fs.Float64Var(&o.CfgRate, "config-rate", 50, "configuration pushes per second")
	restartCmd := fs.String("broker-stop", "", "shell command that stops the broker (with -broker-start: a broker restart in the steady state)")
	startCmd := fs.String("broker-start", "", "shell command that starts the broker again")
	fs.DurationVar(&o.RestartAt, "restart-at", 2*time.Second, "when into the steady state the broker is restarted")
	fs.DurationVar(&o.Timeout, "timeout", 0, "bound on the whole run (default: boot + grace + idle + steady + 2 min)")
	radioTiming := fs.String("radio-timing", "fleet", "the radio link's timers: fleet (keepalive 2 s, reset after 8 s of silence, 1 s serial reads) or firmware (the driver's defaults: 300 ms, 1.2 s, 100 ms)")
	fs.DurationVar(&o.RadioReadTimeout, "radio-read-timeout", 0, "the radio link's serial read timeout (default: the driver's)")
	fs.DurationVar(&o.PCMPace, "pcm-pace", 100*time.Millisecond, "the phone port's PCM frame interval on an unused line (10ms is the real clock)")
	fs.BoolVar(&o.Fast, "fast-reconnect", true, "reconnect to the broker after 200 ms, backing off to 2 s (the agent's defaults are slower)")
	quiet := fs.Bool("quiet", false, "no live progress line")
	verbose := fs.Bool("v", false, "the daemons' log (warnings and up) on stderr")
	fs.StringVar(&jsonPath, "json", "", "write the JSON report to this file (- for stdout)")
	fs.BoolVar(&printUsers, "print-users", false, "print this shard's SIP users and passwords (for the registrar) and exit")
	if err = fs.Parse(args); err != nil {
		return
	}
	if fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
		return
	}
	if o.Shard, err = parseShard(*shardS); err != nil {
		return
	}
	if o.N < 1 || o.N > maxFleet {
		err = fmt.Errorf("-n %d is outside 1..%d", o.N, maxFleet)
		return
	}
	a, perr := netip.ParseAddr(*firstIP)
	if perr != nil || !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
		err = fmt.Errorf("-sip-first %q is not a unicast IPv4 address", *firstIP)
		return
	}
	o.FirstIP = a
	if _, err = makeSpec(o.Prefix, o.FirstIP, o.N-1); err != nil {
		return
	}
	if printUsers {
		return
	}
	if err = checkBroker(o.Broker); err != nil {
		return
	}
	if o.CloudBroker != "" {
		if err = checkBroker(o.CloudBroker); err != nil {
			return
		}
	}
	if err = checkRegistrar(o.Registrar); err != nil {
		return
	}
	if o.SIPPort < 1 || o.SIPPort > 65535 {
		err = fmt.Errorf("-sip-port %d is outside 1..65535", o.SIPPort)
		return
	}
	for name, d := range map[string]time.Duration{"boot": o.Boot, "boot-grace": o.BootGrace, "idle": o.Idle, "steady": o.Steady, "restart-at": o.RestartAt} {
		if d < 0 {
			err = fmt.Errorf("-%s %v is negative", name, d)
			return
		}
	}
	if o.PushShortfall < 0 || o.PushShortfall > 1 {
		err = fmt.Errorf("-push-shortfall %v is outside 0..1", o.PushShortfall)
		return
	}
	if o.Pushes < 0 || o.PushRate <= 0 || o.CfgRate <= 0 {
		err = fmt.Errorf("-pushes %d, -push-rate %v, -config-rate %v: counts must be >= 0 and rates > 0", o.Pushes, o.PushRate, o.CfgRate)
		return
	}
	if (*restartCmd == "") != (*startCmd == "") {
		err = errors.New("-broker-stop and -broker-start go together")
		return
	}
	if *restartCmd != "" {
		o.BrokerStop, o.BrokerStart = shell(*restartCmd), shell(*startCmd)
	}
	switch *radioTiming {
	case "fleet":
		o.QuietRadio = true
	case "firmware":
	default:
		err = fmt.Errorf("-radio-timing %q is not fleet or firmware", *radioTiming)
		return
	}
	if o.PCMPace < 10*time.Millisecond {
		err = fmt.Errorf("-pcm-pace %v is shorter than a 10ms frame", o.PCMPace)
		return
	}
	if o.Timeout == 0 {
		o.Timeout = o.Boot + o.BootGrace + o.Idle + o.Steady + 2*time.Minute
	}
	if !*quiet {
		o.Progress = stderr
	}
	level := slog.LevelWarn
	if !*verbose {
		level = slog.LevelError + 100 // nothing
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// The SIP stack logs through the default logger (retransmissions
	// under load, one line each): the same level.
	slog.SetDefault(o.Log)
	return
}

// shell returns a hook that runs cmd with sh -c.
func shell(cmd string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, "sh", "-c", cmd).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%q: %v: %s", cmd, err, out)
		}
		return nil
	}
}
