// The board's CPUs do not change under the daemon: no once-a-second check
// of the cgroup's CPU limit by the runtime (Go 1.25's updatemaxprocs), one
// wake-up less for an idle base. GOMAXPROCS is still set from the limit at
// start.
//
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"basestation/board"
	"basestation/board/virtual"
	"basestation/hal"
	"basestation/internal/buildinfo"
	"basestation/internal/daemon"
	"basestation/internal/health"
	"basestation/internal/settings"
	"basestation/provisioning"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errVersion) {
			return
		}
		fmt.Fprintln(os.Stderr, "basestationd:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// errVersion ends parse after --version printed the build.
var errVersion = errors.New("version printed")

// parse reads flags and the configuration file into a validated Config.
func parse(args []string, stdout, stderr io.Writer) (settings.Config, error) {
	cfg, _, err := parseAll(args, stdout, stderr)
	return cfg, err
}

// parseAll is parse with the platform flags (reboot, firmware updates).
func parseAll(args []string, stdout, stderr io.Writer) (settings.Config, platform, error) {
	cfg, pl, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return cfg, pl, err
	}
	return cfg, pl, pl.check()
}

func parseFlags(args []string, stdout, stderr io.Writer) (settings.Config, platform, error) {
	var pl platform
	def := settings.Defaults()
	fs := flag.NewFlagSet("basestationd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfgFile  = fs.String("config", "", "configuration `file` (JSON, every key in packaging/basestationd.json); flags override it (default: none)")
		boardN   = fs.String("board", "", "`board`: one of "+strings.Join(board.Names(), ", ")+", or virtual:SOCKET for the simulator's board (basesim --serve-board SOCKET) (required: no default)")
		stateDir = fs.String("state-dir", "", "state `directory` (applied configuration, DECT pairings), created 0700 if missing (default "+def.StateDir+")")
		baseID   = fs.String("base-id", "", "this base's `id` in the MQTT topic tree: "+provisioning.BaseIDRule+" (required: no default)")
		broker   = fs.String("broker", "", "MQTT broker `URL`: tcp://host:port or ssl://host:port (default "+def.MQTT.Broker+")")
		sipAddr  = fs.String("sip-listen", "", "SIP listen address `host:port`, UDP and TCP (default "+def.SIP.Listen+")")
		logLevel = fs.String("log-level", "", "debug, info, warn or error (default "+def.Log.Level+")")
		logFmt   = fs.String("log-format", "", "text or json (default "+def.Log.Format+")")
		version  = fs.Bool("version", false, "print the version and build, then exit")
	)
	pl.flags(fs)
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return settings.Config{}, pl, errVersion // help printed: exit 0
		}
		return settings.Config{}, pl, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return settings.Config{}, pl, fmt.Errorf("%w: unexpected argument %q (the only subcommand is probe, given first)", errUsage, fs.Arg(0))
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("basestationd"))
		return settings.Config{}, pl, errVersion
	}
	cfg := settings.Defaults()
	if *cfgFile != "" {
		c, err := settings.LoadConfig(*cfgFile)
		if err != nil {
			return cfg, pl, err
		}
		cfg = c
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Board, *boardN)
	set(&cfg.StateDir, *stateDir)
	set(&cfg.BaseID, *baseID)
	set(&cfg.MQTT.Broker, *broker)
	set(&cfg.SIP.Listen, *sipAddr)
	set(&cfg.Log.Level, *logLevel)
	set(&cfg.Log.Format, *logFmt)
	if err := cfg.Validate(board.Names()); err != nil {
		return cfg, pl, err
	}
	return cfg, pl, nil
}

// usage prints the synopsis, every flag with its default, and every key of
// the configuration file with its default.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage:
  basestationd --board BOARD --base-id ID [flags]   run the daemon
  basestationd probe --board BOARD [flags]          check a board's hardware (basestationd probe -h)

Flags (they override the configuration file):
`)
	fs.PrintDefaults()
	def, _ := json.MarshalIndent(settings.Defaults(), "  ", "  ")
	fmt.Fprintf(w, "\nConfiguration file keys and their defaults (board and base_id have none):\n  %s\n", def)
}

// Logger builds the slog logger the configuration asks for.
func logger(cfg settings.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "probe" {
		return runProbe(ctx, args[1:], stdout, stderr, nil)
	}
	cfg, pl, err := parseAll(args, stdout, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr, hooks{platform: pl})
}

// hooks let tests reach into start-up.
type hooks struct {
	// board, if set, may change the board before the daemon is built.
	board func(*hal.Board)
	// platform is how the base reboots and updates its firmware.
	platform platform
}

// serve runs the daemon with a validated configuration until ctx ends.
func serve(ctx context.Context, cfg settings.Config, stderr io.Writer, hk hooks) error {
	log := logger(cfg, stderr)
	broker := cfg.MQTT.Broker
	if broker == "" {
		broker = "none (no cloud)"
	}
	_, statErr := os.Stat(cfg.StateDir)
	log.Info("basestationd starting", "version", buildinfo.Version, "board", cfg.Board, "base_id", cfg.BaseID,
		"state_dir", cfg.StateDir, "state_dir_exists", statErr == nil, "sip_listen", cfg.SIP.Listen,
		"mqtt_broker", broker, "mqtt_tls", cfg.MQTT.CAFile != "" || cfg.MQTT.CertFile != "", "topic_root", cfg.MQTT.TopicRoot)

	hw, err := openBoard(ctx, cfg.Board)
	if err != nil {
		return err
	}
	defer hw.Closer.Close()
	if hk.board != nil {
		hk.board(hw)
	}
	var hl *health.Health
	if supervised() {
		hl = health.NewHealth()
		if wd, err := sd.SdWatchdogEnabled(false); err == nil && wd > 0 {
			// The SIP and line probes answer well within the staleness
			// limit (wd/2), and no more often than needed: an idle base
			// sleeps (3.75 s with the unit's 30 s). The agent's loop beats
			// once a second, so WatchdogSec must be over 2 s.
			hl.ProbeEvery = wd / 8
			if wd <= 3*time.Second {
				log.Warn("the systemd watchdog interval is too short for the cloud agent's 1 s heartbeat: make WatchdogSec at least 4s", "watchdog", wd)
			}
		}
	}
	dopt := daemon.Options{Board: hw, Log: log, Health: hl}
	hk.platform.options(&dopt)
	d, err := daemon.New(cfg, dopt)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notifyDone := make(chan struct{})
	if hl != nil {
		go func() {
			defer close(notifyDone)
			notifySystemd(ctx, hl, log)
		}()
	} else {
		close(notifyDone)
	}
	log.Info("basestationd started", "version", buildinfo.Version, "board", cfg.Board, "base_id", cfg.BaseID, "state_dir", cfg.StateDir, "sip", d.SIPAddr(), "broker", broker, "supervised", hl != nil)
	err = d.Run(ctx)
	cancel()
	<-notifyDone
	log.Info("basestationd stopped; line left safe")
	return err
}

// openBoard opens the board the configuration names: a real board by its
// pin map, or the simulator's board over its socket (virtual:PATH).
func openBoard(ctx context.Context, name string) (*hal.Board, error) {
	if path, ok := strings.CutPrefix(name, virtualPrefix); ok {
		return virtual.Open(ctx, path, virtual.Options{Client: "basestationd"})
	}
	pm, err := board.Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := preflight(pm); err != nil {
		return nil, err
	}
	hw, err := board.Open(pm, board.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w\n(basestationd probe --board %s checks every device and says what to do)", err, name)
	}
	return hw, nil
}

// virtualPrefix names the simulator's board served on a Unix socket.
const virtualPrefix = "virtual:"
