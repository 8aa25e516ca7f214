package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"basestation/board"
	"basestation/hal"
	"basestation/internal/buildinfo"
	"basestation/internal/daemon"
	"basestation/sim"
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
func parse(args []string, stdout, stderr io.Writer) (daemon.Config, error) {
	fs := flag.NewFlagSet("basestationd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfgFile  = fs.String("config", "", "configuration file (JSON); flags override it")
		boardN   = fs.String("board", "", "board: sim or one of "+strings.Join(board.Names(), ", "))
		stateDir = fs.String("state-dir", "", "state directory (applied configuration, DECT pairings)")
		baseID   = fs.String("base-id", "", "this base's id in the MQTT topic tree")
		broker   = fs.String("broker", "", "MQTT broker URL (tcp://host:port or ssl://host:port)")
		sipAddr  = fs.String("sip-listen", "", "SIP listen address host:port")
		logLevel = fs.String("log-level", "", "debug, info, warn or error")
		logFmt   = fs.String("log-format", "", "text or json")
		version  = fs.Bool("version", false, "print the version and build, then exit")
	)
	if err := fs.Parse(args); err != nil {
		return daemon.Config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return daemon.Config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("basestationd"))
		return daemon.Config{}, errVersion
	}
	cfg := daemon.Defaults()
	if *cfgFile != "" {
		c, err := daemon.LoadConfig(*cfgFile)
		if err != nil {
			return cfg, err
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
		return cfg, err
	}
	return cfg, nil
}

// Logger builds the slog logger the configuration asks for.
func logger(cfg daemon.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, stdout, stderr)
	if err != nil {
		return err
	}
	log := logger(cfg, stderr)

	var hw *hal.Board
	var simBoard *sim.Board
	if cfg.Board == "sim" {
		simBoard, err = sim.NewBoard(sim.Config{Log: log})
		if err != nil {
			return err
		}
		defer simBoard.Close()
		hw = simBoard.HAL()
	} else {
		pm, err := board.Lookup(cfg.Board)
		if err != nil {
			return err
		}
		hw, err = board.Open(pm, board.Options{})
		if err != nil {
			return err
		}
		defer hw.Closer.Close()
	}
	d, err := daemon.New(cfg, daemon.Options{Board: hw, Log: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The simulated board's goroutine is owned here: it stops with the
	// daemon and its error is reported, not dropped.
	simDone := make(chan error, 1)
	if simBoard != nil {
		go func() { simDone <- simBoard.Run(ctx) }()
	} else {
		simDone <- nil
	}
	log.Info("basestationd started", "version", buildinfo.Version, "board", cfg.Board, "base", cfg.BaseID, "sip", d.SIPAddr(), "broker", cfg.MQTT.Broker)
	err = d.Run(ctx)
	cancel()
	if serr := <-simDone; serr != nil && !errors.Is(serr, context.Canceled) && err == nil {
		err = fmt.Errorf("simulated board: %w", serr)
	}
	log.Info("basestationd stopped; line left safe")
	return err
}
