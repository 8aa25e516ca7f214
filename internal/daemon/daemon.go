package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/fxs"
	"basestation/hal"
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

// LongPress is how long the button must be held to open registration mode.
const LongPress = 3 * time.Second

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
	// Health, when set, is told of the main loops' progress (health.go).
	Health *Health
	// Update turns on firmware updates (update.go; nil: refused).
	Update *UpdateOptions
}

// Daemon is one running Base Station.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	board *hal.Board
	boot  time.Time

	port  *fxs.Port
	radio *dect.Driver
	ua    *sipua.UA
	agent *provisioning.Agent
	// updater runs firmware jobs (update.go); nil when off.
	updater *update.Updater

	health *Health

	// bg owns the short-lived helpers the daemon's own goroutines start
	// (ending a page, releasing a DECT device's call); Run waits for
	// them after its subsystems have stopped.
	bg sync.WaitGroup

	// syncMu serialises attachment changes as a whole (Apply from the
	// agent, reattach from the radio events): each reads the applied
	// configuration and makes the attachments match it, and two
	// interleaved could attach a device twice or put an older
	// configuration's attachments back. Taken before mu.
	syncMu sync.Mutex

	mu       sync.Mutex
	applied  *provisioning.Config
	loc      *time.Location
	attached map[string]*attachment  // device id -> where it is attached
	dectEP   map[string]*dect.Device // device id -> the paired device
	regs     map[string]provisioning.Registration
	accounts map[string]bool            // the extensions with a SIP account in force
	pairing  chan provisioning.Pairing  // the open registration window's outcome
	faults   map[string]string          // device id -> fault
	pumps    map[int]context.CancelFunc // DECT handset -> its event pump
	plan     *fxs.DialPlan              // the Linx dial plan, compiled
}

type attachment struct {
	ext    string
	ep     endpoint.Endpoint
	report sipua.Reporter
}

// New builds the daemon's subsystems over the board. Nothing runs until Run.
func New(cfg Config, o Options) (*Daemon, error) {
	if o.Board == nil {
		return nil, errors.New("daemon: no board")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("setting state_dir: %w", err)
	}
	d := &Daemon{
		cfg:      cfg,
		log:      o.Log,
		board:    o.Board,
		boot:     time.Now(),
		attached: map[string]*attachment{},
		dectEP:   map[string]*dect.Device{},
		regs:     map[string]provisioning.Registration{},
		faults:   map[string]string{},
		loc:      time.Local,
		health:   o.Health,
	}
	slic := o.Board.SLIC
	if o.Health != nil {
		slic.PCM = o.Health.linePCM(slic.PCM)
	}

	fcfg := fxs.DefaultConfig()
	// The dial plan is the cloud contract's default (provisioning owns it,
	// docs/mqtt-api.md §3.2) from the start, not only once a configuration
	// arrives: the port dials the same before and after the first one.
	fcfg.DialPlan = defaultDialPlan()
	fcfg.Name = PortID
	fcfg.Location = time.Local // until a configuration names the zone
	if o.FXS != nil {
		o.FXS(&fcfg)
	}
	port, err := fxs.New(slic, fcfg, o.Log.With("room", "fxs"))
	if err != nil {
		return nil, fmt.Errorf("analog port: %w", err)
	}
	d.port = port

	dopts := dect.DefaultOptions()
	dopts.StateDir = cfg.StateDir
	dopts.MaxDevices = cfg.DECT.MaxDevices
	dopts.LED = o.Board.LEDs[hal.LEDRegistration]
	dopts.Logger = o.Log.With("room", "dect")
	dopts.DialComplete = d.dialComplete
	dopts.Location = d.location // the devices' clock shows the configured zone
	if o.DECT != nil {
		o.DECT(&dopts)
	}
	if o.Health != nil {
		dopts.OpenPort = o.Health.radioPort(o.Board.Radio, &dopts)
	}
	radio, err := dect.New(o.Board.Radio, &dopts)
	if err != nil {
		return nil, fmt.Errorf("DECT radio: %w", err)
	}
	d.radio = radio
	for _, info := range radio.Devices() {
		if dev := radio.Device(info.Handset); dev != nil {
			d.dectEP[dectID(info.IPEI)] = dev
		}
	}

	scfg := sipua.Config{
		Listen:      cfg.SIP.Listen,
		AdvertiseIP: cfg.SIP.Advertise,
		RTPPortMin:  cfg.SIP.RTPPortMin,
		RTPPortMax:  cfg.SIP.RTPPortMax,
		UserAgent:   cfg.SIP.UserAgent,
	}
	if o.SIP != nil {
		o.SIP(&scfg)
	}
	ua, err := sipua.New(scfg, o.Log.With("room", "sipua"))
	if err != nil {
		return nil, fmt.Errorf("SIP user agent: %w", err)
	}
	d.ua = ua

	popts := provisioning.Options{
		BaseID:   cfg.BaseID,
		StateDir: cfg.StateDir,
		Applier:  d,
		Radio:    (*radioAdapter)(d),
		State:    (*stateSource)(d),
		Firmware: Firmware,
		BootTime: d.boot,
		Reboot:   o.Reboot,
		Logger:   o.Log.With("room", "provisioning"),
		// The topic tree's root (default bs/v1, docs/mqtt-api.md §2).
		TopicRoot: cfg.MQTT.TopicRoot,
	}
	if cfg.MQTT.Broker != "" {
		popts.Brokers = []string{cfg.MQTT.Broker}
	}
	if cfg.MQTT.CAFile != "" || cfg.MQTT.CertFile != "" {
		tc, err := provisioning.LoadTLS(cfg.MQTT.CAFile, cfg.MQTT.CertFile, cfg.MQTT.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("setting mqtt: %w", err)
		}
		if cfg.MQTT.ServerName != "" {
			tc.ServerName = cfg.MQTT.ServerName
		}
		popts.TLS = tc
	}
	if err := d.setupUpdate(o, &popts); err != nil {
		return nil, err
	}
	if o.Agent != nil {
		o.Agent(&popts)
	}
	if o.Health != nil {
		popts.Heartbeat = o.Health.Loop(LoopMQTT).Beat
	}
	agent, err := provisioning.NewAgent(popts)
	if err != nil {
		return nil, fmt.Errorf("provisioning agent: %w", err)
	}
	d.agent = agent
	return d, nil
}

func (d *Daemon) location() *time.Location {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loc
}

// Run runs every subsystem until ctx ends, then leaves the line safe.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.setLED(hal.LEDPower, hal.LEDOn)
	defer d.setLED(hal.LEDPower, hal.LEDOff)

	var wg sync.WaitGroup
	errc := make(chan error, 16)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("subsystem stopped", "subsystem", name, "error", err)
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	run("fxs", d.port.Run)
	run("dect", d.radio.Run)
	run("sipua", d.ua.Run)
	run("provisioning", d.agent.Run)
	run("port events", d.portEvents)
	run("radio events", d.radioEvents)
	run("sip events", d.sipEvents)
	run("button", d.buttonLoop)
	run("leds", d.ledLoop)
	if d.health != nil {
		run("health", func(ctx context.Context) error { return d.health.probeSIP(ctx, d.ua.ListenAddr) })
	}
	run("update", d.runUpdate)
	<-ctx.Done()
	wg.Wait()
	d.bg.Wait() // nothing starts helpers once the subsystems have stopped
	close(errc)
	return <-errc // nil when every subsystem ended with ctx
}

func (d *Daemon) setLED(name string, s hal.LEDState) {
	if l := d.board.LEDs[name]; l != nil {
		if err := l.Set(s); err != nil {
			d.log.Warn("LED", "led", name, "error", err)
		}
	}
}

// portEvents forwards the analog port's events to the extension it is
// attached to, and handles the port when it belongs to none.
// startGrace bounds how long the port's events wait at start-up for its
// extension's registration.
const startGrace = time.Second

func (d *Daemon) portEvents(ctx context.Context) error {
	// A phone off-hook at start-up (a restart during a call) belongs to
	// the extension of the stored configuration: wait until it is applied.
	select {
	case <-ctx.Done():
		return nil
	case <-d.agent.Booted():
	}
	// Its REGISTER went out with the configuration; give it up to
	// startGrace, or that phone gets the out-of-service intercept (SIT,
	// then reorder) for a registration that completes milliseconds later.
	for deadline := time.Now().Add(startGrace); time.Now().Before(deadline); {
		if ext := d.extensionOf(PortID); ext == "" || d.registered(ext) {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-d.port.Events():
			d.handlePortEvent(ev)
		}
	}
}

func (d *Daemon) handlePortEvent(ev fxs.Event) {
	d.log.Debug("port event", "event", ev.String())
	switch ev.Kind {
	case fxs.EvFault:
		msg := "line fault"
		if ev.Err != nil {
			msg = ev.Err.Error()
		}
		d.mu.Lock()
		d.faults[PortID] = msg
		d.mu.Unlock()
		d.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: PortID, Type: provisioning.DevicePort}, Extension: d.extensionOf(PortID), Fault: msg})
		d.agent.StateChanged()
		return
	}
	if ev.Kind == fxs.EvFaultCleared {
		d.clearFault(PortID)
		d.agent.StateChanged()
		return
	}
	d.mu.Lock()
	a := d.attached[PortID]
	d.mu.Unlock()
	if a == nil {
		if ev.Kind == fxs.EvOffHook {
			// No extension has this port: the line is out of service.
			_ = d.port.PlayTone(endpoint.SIT)
			d.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: PortID, Type: provisioning.DevicePort}, Fault: "out-of-service: the phone port is assigned to no extension"})
		}
		d.agent.StateChanged() // the line went dialing or idle all the same (soak F2)
		return
	}
	if ev.Kind == fxs.EvOffHook && !ev.Answer && !d.registered(a.ext) {
		d.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: PortID, Type: provisioning.DevicePort}, Extension: a.ext, Fault: "out-of-service: extension " + a.ext + " is not registered"})
	}
	if sev, ok := ev.Endpoint(); ok {
		a.report(sev)
	}
	d.agent.StateChanged()
}

func (d *Daemon) clearFault(id string) {
	d.mu.Lock()
	delete(d.faults, id)
	d.mu.Unlock()
}

func (d *Daemon) registered(ext string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.regs[ext].State == provisioning.RegRegistered
}

func (d *Daemon) extensionOf(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.extensionOfLocked(id)
}

func (d *Daemon) extensionOfLocked(id string) string {
	if a := d.attached[id]; a != nil {
		return a.ext
	}
	return ""
}

// dialComplete is the dial plan for a Linx's analog phone: the same plan
// as the base's own port.
func (d *Daemon) dialComplete(number string) bool {
	src := d.port.Config().DialPlan
	d.mu.Lock()
	if d.plan == nil || d.plan.String() != src {
		p, err := fxs.ParseDialPlan(src)
		if err != nil {
			d.mu.Unlock()
			return false
		}
		d.plan = p // compiled once per plan, not per digit
	}
	p := d.plan
	d.mu.Unlock()
	return p.Match(number, false) == fxs.Complete
}

// sipEvents turns the user agent's events into reported state and cloud
// events.
func (d *Daemon) sipEvents(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-d.ua.Events():
			switch e := ev.(type) {
			case *sipua.RegistrationEvent:
				r := provisioning.Registration{Extension: e.Extension, State: regState(e.State), Registrar: e.Registrar, Reason: e.LastError}
				if !e.ExpiresAt.IsZero() {
					t := e.ExpiresAt // moved by every refresh (one event each)
					r.ExpiresAt = &t
				}
				d.mu.Lock()
				if !d.accounts[e.Extension] {
					// Late news of an account the configuration
					// removed (its un-REGISTER): not a registration
					// of this base any more.
					d.mu.Unlock()
					continue
				}
				prev := d.regs[e.Extension]
				d.regs[e.Extension] = r
				d.mu.Unlock()
				if prev.State != r.State || prev.Reason != r.Reason {
					d.agent.Post(provisioning.Event{Type: provisioning.EvRegistrationState, Extension: e.Extension, State: r.State, Reason: r.Reason})
				}
				d.agent.StateChanged()
			case *sipua.QualityEvent:
				q := e.Summary
				d.agent.Post(provisioning.Event{Type: provisioning.EvCallQuality, Extension: e.Extension, Quality: &provisioning.CallQuality{
					CallID: e.CallID, PacketsRx: q.PacketsReceived, PacketsLost: uint64(max(q.Lost, 0)),
					LossPct: lossPct(q.PacketsReceived, q.Lost), JitterMs: ms(q.Jitter), RTTMs: ms(q.RTT), MOS: q.MOS,
				}})
			case *sipua.CallEvent:
				d.log.Info("call", "extension", e.Extension, "direction", e.Direction, "remote", e.Remote, "state", e.State, "reason", e.Reason, "endpoint", e.Endpoint)
				if e.State == "ended" && !e.Aside {
					d.releaseDevice(e.Endpoint)
				}
				d.agent.StateChanged()
			case *sipua.MWIEvent:
				d.agent.StateChanged()
			}
		}
	}
}

func regState(s sipua.RegState) string {
	switch s {
	case sipua.RegRegistered:
		return provisioning.RegRegistered
	case sipua.RegRegistering:
		return provisioning.RegRegistering
	case sipua.RegFailed:
		return provisioning.RegFailed
	}
	return provisioning.RegUnregistered
}

// buttonLoop: a short press pages every device, a long press opens
// registration mode with the configured window.
func (d *Daemon) buttonLoop(ctx context.Context) error {
	if d.board.Button == nil {
		<-ctx.Done()
		return nil
	}
	for {
		p, err := d.board.Button.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if p.Held >= LongPress {
			win := d.registrationWindow()
			if err := d.radio.OpenRegistration(ctx, win, DefaultPIN); err != nil {
				d.log.Warn("registration mode from the button", "error", err)
			}
			continue
		}
		if err := d.radio.Page(ctx, true); err != nil {
			d.log.Warn("paging from the button", "error", err)
			continue
		}
		d.bg.Go(func() {
			t := time.NewTimer(30 * time.Second)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(context.Background(), pageStopTimeout)
			defer cancel()
			_ = d.radio.Page(pctx, false)
		})
	}
}

func (d *Daemon) registrationWindow() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.applied != nil && d.applied.System.RegistrationWindowS > 0 {
		return time.Duration(d.applied.System.RegistrationWindowS) * time.Second
	}
	return 60 * time.Second
}

// ledLoop keeps the cloud, line and fault LEDs true to the state. It reads
// only what the LEDs show (no Status snapshot), five times a second, and
// writes an LED only when its state changes.
func (d *Daemon) ledLoop(ctx context.Context) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	last := map[string]hal.LEDState{}
	set := func(name string, s hal.LEDState) {
		if old, ok := last[name]; ok && old == s {
			return
		}
		last[name] = s
		d.setLED(name, s)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cloud := hal.LEDOff
		if d.agent.Connected() {
			cloud = hal.LEDOn
		}
		set(hal.LEDCloud, cloud)
		line := hal.LEDOff
		d.mu.Lock()
		type lf struct {
			l     lineDev
			fault string
		}
		lines := make([]lf, 0, 1+len(d.dectEP))
		lines = append(lines, lf{d.port, d.faults[PortID]})
		for id, dev := range d.dectEP {
			lines = append(lines, lf{dev, d.faults[id]})
		}
		faults := len(d.faults)
		d.mu.Unlock()
		for _, l := range lines {
			switch lineState(l.l, l.fault) {
			case "talking", "dialing":
				line = hal.LEDOn
			case "ringing":
				if line == hal.LEDOff {
					line = hal.LEDBlinkSlow
				}
			}
		}
		set(hal.LEDLine, line)
		fault := hal.LEDOff
		if faults > 0 || !d.radio.Ready() {
			fault = hal.LEDOn
		}
		set(hal.LEDFault, fault)
	}
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
	s := Status{
		AppliedVersion: d.agent.AppliedVersion(),
		CloudConnected: d.agent.Connected(),
		RadioReady:     d.radio.Ready(),
		Registrations:  (*stateSource)(d).Registrations(),
		Lines:          (*stateSource)(d).Lines(),
		Devices:        (*radioAdapter)(d).Devices(),
		Extensions:     map[string][]string{},
		PortState:      d.port.State().String(),
		Uptime:         time.Since(d.boot).Round(time.Second).String(),
	}
	s.Registration, _ = d.radio.RegistrationOpen()
	d.mu.Lock()
	if len(d.faults) > 0 {
		s.Faults = map[string]string{}
		for k, v := range d.faults {
			s.Faults[k] = v
		}
	}
	for id, a := range d.attached {
		s.Extensions[a.ext] = append(s.Extensions[a.ext], id)
	}
	d.mu.Unlock()
	for _, v := range s.Extensions {
		sort.Strings(v)
	}
	return s
}

// Port returns the analog port (for the simulator's console).
func (d *Daemon) Port() *fxs.Port { return d.port }

// Radio returns the DECT driver.
func (d *Daemon) Radio() *dect.Driver { return d.radio }

// SIPAddr is where the user agent listens.
func (d *Daemon) SIPAddr() string { return d.ua.ListenAddr() }

// dectID is a DECT device's id in the cloud contract: "dect-" and its
// 36-bit IPEI as 9 hex digits (stable across re-pairing, unlike the
// handset number). The printed IPEI form is not used: its check character
// can be '*'.
func dectID(ipei dect.IPEI) string {
	return fmt.Sprintf("dect-%09x", uint64(ipei.EMC)<<20|uint64(ipei.PSN&0xFFFFF))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func lossPct(received uint64, lost int64) float64 {
	if lost <= 0 {
		return 0
	}
	return 100 * float64(lost) / float64(received+uint64(lost))
}

// releaseDevice ends the DECT device's side of a call the far end ended:
// a cordless device is told the call is released (the analog port needs
// nothing: its user hears busy tone and hangs up). The device then reports
// itself on-hook, and its event pump tells the call layer.
func (d *Daemon) releaseDevice(name string) {
	d.mu.Lock()
	var dev *dect.Device
	for _, e := range d.dectEP {
		if e.String() == name {
			dev = e
		}
	}
	d.mu.Unlock()
	if dev == nil || dev.Activity() == endpoint.Idle {
		return
	}
	d.bg.Go(func() {
		if err := dev.Release(); err != nil {
			d.log.Warn("releasing DECT device", "device", name, "error", err)
		}
	})
}
