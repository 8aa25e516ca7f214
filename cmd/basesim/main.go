package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"basestation/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "basesim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opt := defaultOptions()
	fs := flag.NewFlagSet("basesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.BaseID, "base-id", opt.BaseID, "the simulated base's id")
	fs.StringVar(&opt.StateDir, "state-dir", "", "state directory (default: a new temporary directory)")
	fs.StringVar(&opt.MQTT, "mqtt", opt.MQTT, "in-process MQTT broker listen address")
	fs.StringVar(&opt.PBX, "pbx", opt.PBX, "stand-in PBX listen address")
	fs.StringVar(&opt.SIP, "sip", opt.SIP, "the daemon's SIP listen address")
	fs.StringVar(&opt.API, "api", opt.API, "control API listen address (empty: none)")
	fs.BoolVar(&opt.Firmware, "firmware", false, "simulate firmware updates: two slots, RAUC on a private D-Bus, signed builds served over HTTPS (needs rauc, dbus-daemon, squashfs-tools)")
	fs.StringVar(&opt.FirmwareDir, "firmware-dir", "", "the simulated slots, bootloader state and bundles (default: a new temporary directory)")
	fs.StringVar(&opt.FirmwareServe, "firmware-serve", opt.FirmwareServe, "listen address of the HTTPS server of the signed builds")
	fs.DurationVar(&opt.IdleDeadline, "update-idle-deadline", opt.IdleDeadline, "how long an update waits for idle lines before it ends rejected/busy")
	fs.DurationVar(&opt.HealthDeadline, "update-health-deadline", opt.HealthDeadline, "how long a trial boot has to prove healthy")
	fs.StringVar(&opt.ServeBoard, "serve-board", "", "serve the simulated board on this Unix `socket` and wait for an external basestationd --board virtual:SOCKET (default: run the daemon in process)")
	fs.StringVar(&opt.Broker, "broker", "", "an outside MQTT broker's `URL` (tcp://host:port or ssl://host:port) instead of the in-process one")
	fs.StringVar(&opt.BrokerUser, "broker-user", "", "user name at the outside broker")
	fs.StringVar(&opt.BrokerPassword, "broker-password", "", "password at the outside broker (or $BASESIM_BROKER_PASSWORD)")
	fs.StringVar(&opt.OutsidePBX, "pbx-addr", "", "an outside PBX's `host:port` (kamailio…) instead of the stand-in PBX; -users gives its accounts")
	fs.DurationVar(&opt.RingTimeout, "pbx-ring-timeout", opt.RingTimeout, "how long the stand-in PBX rings an unanswered callee before it ends the call with 480 (1s..1h)")
	usersFlag := fs.String("users", "", "the office's users as NUMBER:NAME:PASSWORD,… (default 101 Alice, 102 Bob, 103 Carol with the stand-in PBX's passwords)")
	console := fs.Bool("console", true, "read console commands from standard input")
	jsonOut := fs.Bool("json", false, "console answers as JSON (default: short human lines)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	version := fs.Bool("version", false, "print the version and build, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("basesim"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if opt.RingTimeout < time.Second || opt.RingTimeout > time.Hour {
		return fmt.Errorf("flag -pbx-ring-timeout: %v is outside 1s..1h", opt.RingTimeout)
	}
	if opt.BrokerPassword == "" {
		opt.BrokerPassword = os.Getenv("BASESIM_BROKER_PASSWORD")
	}
	if opt.Broker != "" && !strings.HasPrefix(opt.Broker, "tcp://") && !strings.HasPrefix(opt.Broker, "ssl://") {
		return fmt.Errorf("flag -broker: %q is not tcp://host:port or ssl://host:port", opt.Broker)
	}
	if opt.OutsidePBX != "" {
		if _, _, err := net.SplitHostPort(opt.OutsidePBX); err != nil {
			return fmt.Errorf("flag -pbx-addr: %v", err)
		}
	}
	if *usersFlag != "" {
		us, err := parseUsers(*usersFlag)
		if err != nil {
			return fmt.Errorf("flag -users: %v", err)
		}
		opt.Users = us
		opt.Softphones = opt.Softphones[:0]
		if len(us) > 1 {
			opt.Softphones = []string{us[1].Number}
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("flag -log-level: %v", err)
	}
	for name, a := range map[string]string{"mqtt": opt.MQTT, "pbx": opt.PBX, "sip": opt.SIP} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("flag -%s: %v", name, err)
		}
	}
	opt.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := newWorld(ctx, opt)
	if err != nil {
		return err
	}
	// Every way out from here stops the world and removes its own state.
	shutdown := func(err error) error {
		cancel()
		select {
		case <-w.stopped:
		case <-time.After(15 * time.Second):
			if err == nil {
				err = errors.New("the simulator did not stop within 15 s")
			}
		}
		if w.ownStateDir {
			if rerr := os.RemoveAll(w.opt.StateDir); rerr != nil && err == nil {
				err = fmt.Errorf("removing the state directory: %w", rerr)
			}
		}
		return err
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	err = w.seedConfig(sctx)
	scancel()
	if err != nil {
		return shutdown(fmt.Errorf("publishing the office's first configuration: %w", err))
	}
	h := w.handler()
	apiURL := ""
	if opt.API != "" {
		web, err := w.withPanel(h)
		if err != nil {
			return err
		}
		l, err := net.Listen("tcp", opt.API)
		if err != nil {
			return shutdown(fmt.Errorf("control API on %s: %w", opt.API, err))
		}
		srv := &http.Server{Handler: web, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		go func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		}()
		apiURL = "http://" + l.Addr().String()
	}
	printWelcome(stdout, w, apiURL)
	if *console {
		// The console's reader ends with its input (or quit); a blocked
		// read of a terminal cannot be interrupted and ends with the process.
		go func() {
			if consoleLoop(ctx, stdin, stdout, h, *jsonOut) || apiURL == "" {
				// quit, or end of input with no API to drive the
				// simulator: stop everything.
				cancel()
			}
		}()
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "basesim: stopping")
	// The daemon leaves the line safe; the firmware platform's RAUC
	// service and bus (own process groups) are stopped.
	return shutdown(nil)
}

// parseUsers reads NUMBER:NAME:PASSWORD,…
func parseUsers(s string) ([]user, error) {
	var out []user
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		p := strings.SplitN(f, ":", 3)
		if len(p) != 3 || p[0] == "" || p[2] == "" {
			return nil, fmt.Errorf("%q is not NUMBER:NAME:PASSWORD", f)
		}
		if err := checkNumber(p[0]); err != nil {
			return nil, err
		}
		if seen[p[0]] {
			return nil, fmt.Errorf("user %s given twice", p[0])
		}
		seen[p[0]] = true
		out = append(out, user{p[0], p[1], p[2]})
	}
	return out, nil
}

func printWelcome(out io.Writer, w *world, api string) {
	daemonLine := w.opt.SIP
	d := w.daemon()
	if d != nil {
		daemonLine = d.SIPAddr()
	}
	fmt.Fprintf(out, `
Simulated Base Station %q is running.
  MQTT broker (the cloud): %s
  stand-in PBX:            sip:%s   users: %s
  daemon SIP:              %s
`, w.opt.BaseID, w.brokerURL(), w.pbxAddr(), usersLine(w), daemonLine)
	if d != nil {
		gone := ""
		if w.ownStateDir {
			gone = "   (removed on exit; -state-dir keeps one)"
		}
		fmt.Fprintf(out, "  state directory:         %s%s\n", w.opt.StateDir, gone)
	} else {
		fmt.Fprintf(out, `  virtual board:           %s   (DECT module on %s)
  the daemon is not running here: start it in another terminal with
    go run ./cmd/basestationd --board virtual:%s --base-id %s \
      --broker %s --sip-listen %s --state-dir %s
`, w.opt.ServeBoard, w.board.Radio.Device(), w.opt.ServeBoard, w.opt.BaseID, w.brokerURL(), w.opt.SIP, w.opt.StateDir)
	}
	if api != "" {
		fmt.Fprintf(out, "  control API:             %s   (curl %s/v1/base)\n", api, api)
		fmt.Fprintf(out, "  web panel:               %s/panel/\n", api)
	}
	if w.fw != nil {
		fmt.Fprintf(out, "  firmware:                %s   (slots, bootloader state, bundles; console: firmware)\n", w.fw.dir)
		for _, b := range w.fw.builds {
			fmt.Fprintf(out, "    update to the %s build: go run ./cmd/bsctl --broker %s --base %s update --fw-version %s --size %d --sha256 %s %s\n",
				b.Name, w.brokerURL(), w.opt.BaseID, b.Version, b.Size, b.SHA256, b.URL)
		}
	}
	fmt.Fprintf(out, `
Try it (docs/simulator.md has the whole walk-through):
  offhook                      lift the analog phone on port 1 (extension 101): dial tone
  dial 102                     call Bob's softphone;  sp 102 answer  answers it
  onhook                       hang up
  sp 102 call 101              Bob calls 101: the analog phone rings with caller ID
  add linx                     a new Linx appears (linx1), then in another terminal:
    go run ./cmd/bsctl --broker %s --base %s register --pin 1234
  dev linx1 pair 1234          pair it while the window is open
    go run ./cmd/bsctl --broker %s --base %s assign --ext 101 --device <device-id>
  vm 101 2                     two new voicemails for 101: lamp on, stutter dial tone
  caller add 6135550100 name="Front Desk"   then: sp 6135550100 call 101 name="Dr Who"
  line | events 20             the line as an instrument; the timeline (live: GET /v1/events/stream)
  help                         all console commands; quit stops everything
`, w.brokerURL(), w.opt.BaseID, w.brokerURL(), w.opt.BaseID)
}

func usersLine(w *world) string {
	var s []string
	for _, u := range w.opt.Users {
		s = append(s, u.Number+" ("+u.Name+")")
	}
	return strings.Join(s, ", ")
}
