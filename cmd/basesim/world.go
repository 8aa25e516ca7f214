package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"basestation/hal"
	"basestation/internal/daemon"
	"basestation/internal/settings"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/sim"
	"basestation/sim/broker"
	"basestation/sim/pbx"
	"basestation/sim/vboard"
	"basestation/sipua"
)

// options shape the simulated world.
type options struct {
	BaseID   string
	StateDir string
	MQTT     string // in-process broker listen address
	PBX      string // stand-in PBX listen address
	SIP      string // the daemon's SIP listen address
	API      string // control API listen address ("" = none)
	// Users are the office's extensions at the stand-in PBX with their
	// display names; the first is given the base's phone port.
	Users []user
	// Softphones are the extensions that get a simulated SIP phone (the
	// other users' desk phones).
	Softphones []string
	Log        *slog.Logger
	// Fast shortens the daemon's reconnect timers (tests).
	Fast bool
	// Firmware turns on the firmware update simulation (firmware.go) in
	// FirmwareDir (default: a new temporary directory), its bundle server
	// on FirmwareServe; IdleDeadline and HealthDeadline are the updater's.
	Firmware                     bool
	FirmwareDir, FirmwareServe   string
	IdleDeadline, HealthDeadline time.Duration
	// ServeBoard, if set, is a Unix socket path: the simulated board is
	// served there (docs/virtual-board.md) for an external basestationd
	// (--board virtual:PATH) instead of running the daemon in process.
	ServeBoard string
	// Broker, if set, is an outside MQTT broker's URL (tcp://host:port or
	// ssl://host:port) with BrokerUser and BrokerPassword: no in-process
	// broker is started and the daemon and the portal client use it.
	Broker, BrokerUser, BrokerPassword string
	// OutsidePBX, if set, is an outside PBX's host:port (kamailio…): no
	// stand-in PBX is started; Users' passwords must be its accounts.
	OutsidePBX string
	// RingTimeout is how long the stand-in PBX rings a callee before it
	// ends the call with 480 (a caller whose behaviour is no_answer).
	RingTimeout time.Duration
}

type user struct{ Number, Name, Password string }

func defaultOptions() options {
	return options{
		BaseID: "base-1",
		MQTT:   "127.0.0.1:11883",
		PBX:    "127.0.0.1:15060",
		SIP:    "127.0.0.1:15070",
		API:    "127.0.0.1:18089",
		Users: []user{
			{"101", "Alice Analog", "alice-pw"},
			{"102", "Bob Softphone", "bob-pw"},
			{"103", "Carol Cordless", "carol-pw"},
		},
		Softphones:     []string{"102"},
		FirmwareServe:  "127.0.0.1:18443",
		IdleDeadline:   10 * time.Minute,
		HealthDeadline: 30 * time.Second,
		RingTimeout:    60 * time.Second,
	}
}

// world is the simulated Base Station and everything around it.
type world struct {
	opt    options
	log    *slog.Logger
	board  *sim.Board
	server *vboard.Server // ServeBoard mode: the board's server
	broker *broker.Broker
	pbx    *pbx.PBX
	cloud  *cloud.Client
	// fw is the firmware platform (nil: updates off); reboot asks the
	// base's loop (runBase) to restart the daemon; baseDone is closed when
	// that loop has ended.
	fw       *firmware
	hw       *hal.Board // the base's hardware as every boot of the daemon sees it
	reboot   chan struct{}
	baseDone chan struct{}

	dmu sync.Mutex
	d   *daemon.Daemon // the running instance; guarded by dmu

	// ctx is the world's life; wg holds the goroutines the control API
	// starts (callers, their calls) and the event recorder; stopped is
	// closed when everything has ended.
	ctx     context.Context
	wg      sync.WaitGroup
	stopped chan struct{}
	events  *eventLog
	// ownStateDir: the state directory was made here and goes at the end.
	ownStateDir bool

	addMu   sync.Mutex // serialises adding and removing callers
	mu      sync.Mutex
	callers map[string]*caller // by number
}

// brokerURL is the broker the base and the portal use.
func (w *world) brokerURL() string {
	if w.broker == nil {
		return w.opt.Broker
	}
	return w.broker.URL()
}

// pbxAddr is the PBX the office's phones register with.
func (w *world) pbxAddr() string {
	if w.pbx == nil {
		return w.opt.OutsidePBX
	}
	return w.pbx.Addr()
}

// newWorld builds and starts everything; it runs until ctx ends. ready is
// closed once the daemon has its first configuration applied.
func newWorld(ctx context.Context, opt options) (_ *world, retErr error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	ctx, stop := context.WithCancel(ctx)
	defer func() {
		if retErr != nil {
			stop() // whatever started ends
		}
	}()
	w := &world{opt: opt, log: opt.Log, ctx: ctx, callers: map[string]*caller{}, stopped: make(chan struct{}), events: newEventLog(2000)}
	if opt.StateDir == "" {
		dir, err := os.MkdirTemp("", "basesim-")
		if err != nil {
			return nil, err
		}
		w.opt.StateDir, w.ownStateDir = dir, true
	}
	var err error
	if opt.Broker == "" {
		w.broker, err = broker.Start(broker.Options{Addr: opt.MQTT, Logger: opt.Log.With("sim", "broker"),
			OnPublish: func(m broker.Message) {
				w.events.add(event{Source: "mqtt", Kind: "publish", Subject: m.Topic,
					Detail: map[string]any{"client": m.Client, "bytes": m.Bytes, "qos": m.QoS, "retain": m.Retain}})
			}})
		if err != nil {
			return nil, fmt.Errorf("MQTT broker on %s: %w", opt.MQTT, err)
		}
	} else {
		w.broker = nil
	}
	closeBroker := func() {
		if w.broker != nil {
			w.broker.Close()
		}
	}
	var pbxDone chan struct{}
	if opt.OutsidePBX == "" {
		users := map[string]string{}
		for _, u := range opt.Users {
			users[u.Number] = u.Password
		}
		w.pbx, err = pbx.New(pbx.Config{Addr: opt.PBX, Users: users, Auth: true, RingTimeout: opt.RingTimeout, OnEvent: w.pbxEvent}, opt.Log.With("sim", "pbx"))
		if err != nil {
			closeBroker()
			return nil, fmt.Errorf("stand-in PBX on %s: %w", opt.PBX, err)
		}
		pbxDone = make(chan struct{})
		go func() {
			defer close(pbxDone)
			if err := w.pbx.Run(ctx); err != nil {
				w.log.Error("stand-in PBX stopped", "error", err)
			}
		}()
	}
	w.board, err = sim.NewBoard(sim.Config{Log: opt.Log})
	if err != nil {
		closeBroker()
		return nil, err
	}
	boardDone := make(chan struct{})
	go func() { defer close(boardDone); _ = w.board.Run(ctx) }()
	w.hw = w.board.HAL()
	w.hw.SLIC.Port = &reopenPort{Port: w.hw.SLIC.Port}

	w.reboot = make(chan struct{}, 1)
	w.baseDone = make(chan struct{})
	if opt.ServeBoard != "" {
		if opt.Firmware {
			closeBroker()
			w.board.Close()
			return nil, errors.New("--firmware needs the daemon in process; it does not go with --serve-board")
		}
		err = w.serveBoard(ctx)
	} else {
		if opt.Firmware {
			dir := opt.FirmwareDir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "basesim-firmware-"); err != nil {
					closeBroker()
					w.board.Close()
					return nil, err
				}
			}
			fields := strings.Fields(daemon.Firmware)
			w.fw, err = newFirmware(dir, fields[len(fields)-1], opt.FirmwareServe, opt.Log.With("sim", "firmware"))
			if err != nil {
				closeBroker()
				w.board.Close()
				return nil, fmt.Errorf("firmware simulation: %w", err)
			}
		}
		var d *daemon.Daemon
		if d, err = w.bootBase(); err == nil {
			go w.runBase(ctx, d)
		}
	}
	if err != nil {
		closeBroker()
		w.board.Close()
		if w.fw != nil {
			w.fw.Close()
		}
		return nil, err
	}

	// From here on the world is up: a failure stops it through stop.
	w.wg.Add(1)
	go func() { defer w.wg.Done(); w.record(ctx) }()
	go func() {
		<-ctx.Done()
		<-w.baseDone
		w.wg.Wait()
		w.mu.Lock()
		cl := w.cloud
		w.mu.Unlock()
		if cl != nil {
			cl.Close()
		}
		<-boardDone
		w.board.Close()
		closeBroker()
		if pbxDone != nil {
			<-pbxDone
		}
		close(w.stopped)
	}()
	fail := func(err error) (*world, error) {
		stop()
		<-w.stopped
		if w.ownStateDir {
			_ = os.RemoveAll(w.opt.StateDir)
		}
		return nil, err
	}
	cl, err := cloud.Dial(ctx, cloud.Options{Brokers: []string{w.brokerURL()}, ClientID: "basesim-portal",
		Username: opt.BrokerUser, Password: opt.BrokerPassword, Logger: opt.Log.With("sim", "portal")})
	if err != nil {
		return fail(fmt.Errorf("portal client: %w", err))
	}
	w.mu.Lock()
	w.cloud = cl
	w.mu.Unlock()
	for _, ext := range opt.Softphones {
		if _, err := w.addSoftphone(ext); err != nil {
			return fail(err)
		}
	}
	return w, nil
}

// daemon is the base's running daemon instance.
func (w *world) daemon() *daemon.Daemon {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	return w.d
}

// bootBase powers the base on: with the firmware simulation, the
// bootloader picks a slot and the daemon runs the build it holds;
// otherwise the daemon of this binary. The configuration, secrets and
// pairings are in the state directory, outside the slots.
func (w *world) bootBase() (*daemon.Daemon, error) {
	opt := w.opt
	cfg := settings.Defaults()
	cfg.Board = "sim"
	cfg.BaseID = opt.BaseID
	cfg.StateDir = opt.StateDir
	cfg.MQTT.Broker = w.brokerURL()
	cfg.SIP.Listen = opt.SIP
	cfg.SIP.RTPPortMin, cfg.SIP.RTPPortMax = 0, 0
	dopt := daemon.Options{Board: w.hw, Log: opt.Log.With("base", opt.BaseID), Reboot: w.askReboot}
	broken := false
	if w.fw != nil {
		version, health, err := w.fw.boot()
		if err != nil {
			return nil, err
		}
		broken = health != "good"
		dopt.Update = &daemon.UpdateOptions{Installer: w.fw.installer(), CAFile: w.fw.caFile, Running: version,
			IdleDeadline: opt.IdleDeadline, HealthDeadline: opt.HealthDeadline}
	}
	dopt.SIP = func(c *sipua.Config) {
		c.RTPPortMin, c.RTPPortMax = 0, 0
		if broken {
			// The "never-registers" build: every SIP request of its user
			// agent times out at once.
			c.Timing.RequestTimeout = time.Nanosecond
		}
	}
	dopt.Agent = func(o *provisioning.Options) {
		o.Username, o.Password = opt.BrokerUser, opt.BrokerPassword
		if opt.Fast {
			o.ConnectRetryInterval = 100 * time.Millisecond
			o.MaxReconnectInterval = time.Second
		}
	}
	d, err := daemon.New(cfg, dopt)
	if err != nil {
		if w.fw != nil {
			w.fw.powerOff()
		}
		return nil, err
	}
	w.dmu.Lock()
	w.d = d
	w.dmu.Unlock()
	return d, nil
}

// askReboot is the daemon's Reboot: the base's loop restarts it.
func (w *world) askReboot(context.Context) error {
	select {
	case w.reboot <- struct{}{}:
	default:
	}
	return nil
}

// runBase runs the daemon until ctx ends; a reboot stops it (the line left
// safe), powers the platform off and boots again.
func (w *world) runBase(ctx context.Context, d *daemon.Daemon) {
	defer close(w.baseDone)
	defer func() {
		if w.fw != nil {
			w.fw.Close()
		}
	}()
	for {
		dctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(dctx) }()
		rebooting := false
		select {
		case <-ctx.Done():
		case <-w.reboot:
			rebooting = true
		case err := <-done:
			done <- err
		}
		stop()
		if err := <-done; err != nil {
			w.log.Error("daemon stopped", "error", err)
			return
		}
		if !rebooting {
			return
		}
		if w.fw != nil {
			w.fw.powerOff()
		}
		w.log.Info("base rebooting")
		var err error
		if d, err = w.bootBase(); err != nil {
			w.log.Error("base did not boot", "error", err)
			return
		}
	}
}

// seedConfig publishes the office's first configuration if the cloud has
// none for this base: every user as an extension at the stand-in PBX, the
// first one with the base's phone port.
func (w *world) seedConfig(ctx context.Context) error {
	cur, err := w.cloud.Desired(ctx, w.opt.BaseID)
	if err == nil && cur != nil && cur.Version > 0 {
		return nil
	}
	cfg := &provisioning.Config{
		Schema:  provisioning.SchemaVersion,
		Base:    w.opt.BaseID,
		Version: 1,
		System: provisioning.System{
			Registrars: []string{"sip:" + w.pbxAddr()},
			ToneRegion: "US",
			TimeZone:   "America/Toronto",
		},
	}
	host, _, _ := net.SplitHostPort(w.pbxAddr())
	for i, u := range w.opt.Users {
		e := provisioning.Extension{
			Number:          u.Number,
			DisplayName:     u.Name,
			SIP:             provisioning.SIPAccount{User: u.Number, Password: u.Password, Domain: host},
			CallerID:        "+1613555" + fmt.Sprintf("%04s", u.Number),
			VoicemailNumber: "*97",
		}
		if i == 0 {
			e.Devices.Port = provisioning.PortDeviceID
		}
		cfg.Extensions = append(cfg.Extensions, e)
	}
	if w.daemon() == nil {
		// The daemon is external and may not run yet: publish the
		// configuration (retained) without waiting for it to be applied.
		return w.cloud.Publish(ctx, cfg)
	}
	_, err = w.cloud.Push(ctx, cfg, nil)
	return err
}

// addSoftphone gives an office user a simulated phone (a caller).
func (w *world) addSoftphone(ext string) (*caller, error) {
	for _, u := range w.opt.Users {
		if u.Number == ext {
			return w.addCaller(u.Number, u.Name, u.Password, whenRing, 0)
		}
	}
	return nil, fmt.Errorf("extension %q is not a user of the office", ext)
}

// serveBoard serves the simulated board on w.opt.ServeBoard until ctx ends,
// for an external basestationd.
func (w *world) serveBoard(ctx context.Context) error {
	l, err := vboard.Listen(w.opt.ServeBoard)
	if err != nil {
		return err
	}
	w.server = vboard.New(w.board.HAL(), vboard.Options{Log: w.log.With("sim", "vboard")})
	go func() {
		defer close(w.baseDone)
		if err := w.server.Serve(ctx, l); err != nil {
			w.log.Error("virtual board server stopped", "error", err)
		}
	}()
	return nil
}
