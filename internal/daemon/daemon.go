package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"basestation/dect"
	"basestation/fxs"
	"basestation/hal"
	"basestation/internal/health"
	"basestation/internal/settings"
	"basestation/provisioning"
	"basestation/sipua"
	"basestation/update"
)

// Firmware is the version reported to the cloud.
const Firmware = "basestationd 0.1.0"

// PortID is the device id of the base's analog phone port.
const PortID = provisioning.PortDeviceID

// DefaultPIN is the registration PIN when registration mode is opened
// from the base's button (the cloud's command may give another).
const DefaultPIN = "0000"

// Options are what a main hands to New besides the local configuration.
type Options struct {
	Board *hal.Board
	Log   *slog.Logger
	// Agent overrides parts of the provisioning agent's options (tests:
	// faster reconnects). Applier, Radio, State and StateDir are always the
	// daemon's own.
	Agent func(*provisioning.Options)
	// SIP overrides parts of the user agent's configuration (tests).
	SIP func(*sipua.Config)
	// DECT overrides parts of the radio driver's options (tests).
	DECT func(*dect.Options)
	// FXS overrides parts of the analog port's configuration.
	FXS func(*fxs.Config)
	// Reboot restarts the base when the cloud asks (nil: refused).
	Reboot func(ctx context.Context) error
	// Health, when set, is told of the main loops' progress.
	Health *health.Health
	// Update turns on firmware updates (update.go; nil: refused).
	Update *UpdateOptions
}

// Daemon is one running Base Station: the rooms, and the glue types
// between them, each with its own lock (if it has state) and Run.
type Daemon struct {
	log    *slog.Logger
	boot   time.Time
	health *health.Health

	port  *fxs.Port
	radio *dect.Driver
	ua    *sipua.UA
	agent *provisioning.Agent

	applier  *provisioning.ConfigApplier // the cloud's configuration, put in force
	lines    *lines                      // the devices, the port's events
	reports  *reporter                   // the SIP accounts, the user agent's events
	pairing  *radio                      // the radio as the cloud sees it, its events
	panel    *panel                      // LEDs and button
	firmware *firmware                   // firmware updates; nil when off
}

// New builds the rooms over the board and wires them. Nothing runs until
// Run.
func New(cfg settings.Config, o Options) (*Daemon, error) {
	if o.Board == nil {
		return nil, errors.New("daemon: no board")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("setting state_dir: %w", err)
	}
	d := &Daemon{log: o.Log, boot: time.Now(), health: o.Health}
	slic := o.Board.SLIC
	if o.Health != nil {
		slic.PCM = o.Health.LinePCM(slic.PCM)
	}
	fcfg := fxs.DefaultConfig()
	// The contract's default dial plan from the start, not only once a
	// configuration arrives: the port dials the same before and after.
	fcfg.DialPlan = provisioning.DigitMap(&provisioning.Config{})
	fcfg.Name, fcfg.Location = PortID, time.Local // until a configuration names the zone
	if o.FXS != nil {
		o.FXS(&fcfg)
	}
	var err error
	if d.port, err = fxs.New(slic, fcfg, o.Log.With("room", "fxs")); err != nil {
		return nil, fmt.Errorf("analog port: %w", err)
	}
	scfg := sipua.Config{Listen: cfg.SIP.Listen, AdvertiseIP: cfg.SIP.Advertise,
		RTPPortMin: cfg.SIP.RTPPortMin, RTPPortMax: cfg.SIP.RTPPortMax, UserAgent: cfg.SIP.UserAgent}
	if o.SIP != nil {
		o.SIP(&scfg)
	}
	if d.ua, err = sipua.New(scfg, o.Log.With("room", "sipua")); err != nil {
		return nil, fmt.Errorf("SIP user agent: %w", err)
	}

	dopts := dect.DefaultOptions()
	dopts.StateDir, dopts.MaxDevices = cfg.StateDir, cfg.DECT.MaxDevices
	dopts.LED = o.Board.LEDs[hal.LEDRegistration]
	dopts.Logger = o.Log.With("room", "dect")
	dopts.DialComplete = d.port.DialComplete // a Linx's phone dials by the port's plan
	if o.DECT != nil {
		o.DECT(&dopts)
	}
	if o.Health != nil {
		open, rt := dopts.OpenPort, dopts.ReadTimeout
		if open == nil {
			open = func() (io.ReadWriteCloser, error) { return dect.OpenSerial(o.Board.Radio, rt) }
		}
		dopts.OpenPort = o.Health.RadioPort(open)
	}
	if d.radio, err = dect.New(o.Board.Radio, &dopts); err != nil {
		return nil, fmt.Errorf("DECT radio: %w", err)
	}
	d.lines = &lines{port: d.port, radio: d.radio, ua: d.ua, log: o.Log}

	d.reports = &reporter{ua: d.ua, lines: d.lines}
	d.applier = provisioning.NewConfigApplier(d.reports, d.lines, d.lines, o.Log.With("room", "provisioning"))
	d.reports.regs = d.applier.Registrations()
	d.lines.registered = d.reports.regs.Registered
	d.pairing = &radio{drv: d.radio, lines: d.lines, log: o.Log, reattach: d.applier.Reattach}
	d.panel = &panel{board: o.Board, radio: d.radio, lines: d.lines, applier: d.applier, log: o.Log}
	checks := update.Checks{Unregistered: d.reports.regs.Unregistered, LineFault: d.lines.fault,
		RadioReady: d.radio.Ready, Connected: func() bool { return d.agent.Connected() }}
	if d.firmware, err = newFirmware(o, cfg.StateDir, d.lines, checks, portTests{d.port}.selfTest); err != nil {
		return nil, err
	}

	popts := provisioning.Options{BaseID: cfg.BaseID, StateDir: cfg.StateDir, TopicRoot: cfg.MQTT.TopicRoot,
		Applier: d.applier, Radio: d.pairing, State: d.reports,
		Firmware: Firmware, BootTime: d.boot, Reboot: o.Reboot, Logger: o.Log.With("room", "provisioning")}
	if cfg.MQTT.Broker != "" {
		popts.Brokers = []string{cfg.MQTT.Broker}
	}
	if popts.TLS, err = cfg.MQTT.TLS(); err != nil {
		return nil, fmt.Errorf("setting mqtt: %w", err)
	}
	if d.firmware != nil {
		popts.FirmwareUpdater = d.firmware
		if r := o.Update.Running; r != "" {
			popts.Firmware = "basestationd " + r // what the cloud sees: the booted slot's build
		}
	}
	if d.port != nil {
		popts.LineTester = portTests{d.port}
	}
	if o.Agent != nil {
		o.Agent(&popts)
	}
	if o.Health != nil {
		popts.Heartbeat = o.Health.Loop(health.LoopMQTT).Beat
	}
	if d.agent, err = provisioning.NewAgent(popts); err != nil {
		return nil, fmt.Errorf("provisioning agent: %w", err)
	}
	// The glue tells the agent of events from Run on.
	d.lines.agent, d.reports.agent, d.pairing.agent, d.panel.agent = d.agent, d.agent, d.agent, d.agent
	if d.firmware != nil {
		d.firmware.agent = d.agent
	}
	return d, nil
}

// Run runs every room and every glue type until ctx ends (or one fails),
// waits for them all, and returns the first failure.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("subsystem stopped", "subsystem", name, "error", err)
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	run("fxs", d.port.Run)
	run("dect", d.radio.Run)
	run("sipua", d.ua.Run)
	run("provisioning", d.agent.Run)
	run("port events", d.lines.Run)
	run("radio events", d.pairing.Run)
	run("sip events", d.reports.Run)
	run("panel", d.panel.Run)
	if d.health != nil {
		run("health", func(ctx context.Context) error { return d.health.ProbeSIP(ctx, d.ua.ListenAddr) })
		run("health-line", func(ctx context.Context) error { return d.health.ProbeLine(ctx, d.port.Ping) })
	}
	if d.firmware != nil {
		run("update", d.firmware.updater.Run)
	}
	<-ctx.Done()
	wg.Wait()
	close(errc)
	return <-errc // nil when every subsystem ended with ctx
}

// Status is a snapshot of the base for the simulator and diagnostics.
type Status struct {
	AppliedVersion uint64                      `json:"applied_version"`
	CloudConnected bool                        `json:"cloud_connected"`
	RadioReady     bool                        `json:"radio_ready"`
	Registration   bool                        `json:"registration_open"`
	Registrations  []provisioning.Registration `json:"registrations"`
	Lines          []provisioning.Line         `json:"lines"`
	Devices        []provisioning.Device       `json:"devices"`
	Faults         map[string]string           `json:"faults,omitempty"`
	Extensions     map[string][]string         `json:"extensions"`
	PortState      string                      `json:"port_state"`
	Uptime         string                      `json:"uptime"`
}

// Status returns the base's state now.
func (d *Daemon) Status() Status {
	s := Status{AppliedVersion: d.agent.AppliedVersion(), CloudConnected: d.agent.Connected(), RadioReady: d.radio.Ready(),
		Registrations: d.reports.Registrations(), Lines: d.lines.Lines(), Devices: d.pairing.Devices(),
		Extensions: map[string][]string{}, PortState: d.port.State().String(),
		Uptime: time.Since(d.boot).Round(time.Second).String()}
	s.Registration, _ = d.radio.RegistrationOpen()
	for _, l := range s.Lines {
		if l.Fault != "" {
			s.Faults = map[string]string{l.Device: l.Fault} // only the port has faults
		}
		if l.Extension != "" {
			s.Extensions[l.Extension] = append(s.Extensions[l.Extension], l.Device)
		}
	}
	for _, ids := range s.Extensions {
		sort.Strings(ids)
	}
	return s
}

// Port returns the analog port (for the simulator's console).
func (d *Daemon) Port() *fxs.Port { return d.port }

// Radio returns the DECT driver.
func (d *Daemon) Radio() *dect.Driver { return d.radio }

// SIPAddr is where the user agent listens.
func (d *Daemon) SIPAddr() string { return d.ua.ListenAddr() }
