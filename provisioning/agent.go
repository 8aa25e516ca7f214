package provisioning

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Applier is how the agent puts a configuration in force. The daemon
// implements it over sipua (accounts, registrations), fxs (tone plan, dial
// plan) and dect (which device rings for which extension).
type Applier interface {
	// Check validates cfg against the daemon's live state beyond the rules
	// of Validate (which the agent has already run) and returns every
	// problem with its field path; nil means acceptable. It changes
	// nothing.
	Check(cfg *Config) []FieldError
	// Apply puts cfg in force, all or nothing: on error the previous
	// configuration must still be the one in force. cfg has passed Check
	// and Validate. It is also called at boot with the stored
	// configuration, before any broker is reachable.
	Apply(ctx context.Context, cfg *Config) error
	// BusyExtensions returns the numbers of the extensions that have a
	// call up or being set up. A configuration change that would drop such
	// a call is deferred until the extension is idle.
	BusyExtensions() []string
}

// Radio is the DECT radio as the agent needs it. The daemon implements it
// over package dect.
type Radio interface {
	// OpenRegistration opens registration mode for window with pin (4
	// digits) and returns once the window is open. The channel delivers
	// exactly one Pairing: the paired device, or an Err of
	// ErrRegistrationTimeout, ErrRegistrationClosed or another failure. It
	// returns ErrRegistrationBusy if registration mode is already open.
	OpenRegistration(ctx context.Context, window time.Duration, pin string) (<-chan Pairing, error)
	// CloseRegistration closes registration mode (no error if closed).
	CloseRegistration(ctx context.Context) error
	// Devices lists the paired DECT devices (not the phone port).
	Devices() []Device
	// RemoveDevice deregisters a paired device (ErrUnknownDevice if it is
	// not paired).
	RemoveDevice(ctx context.Context, id string) error
	// Page rings every DECT device for d (find my handset) and returns at
	// once.
	Page(ctx context.Context, d time.Duration) error
}

// Pairing is the outcome of a registration window.
type Pairing struct {
	Device Device
	Err    error
}

// StateSource supplies the live parts of the reported state. Methods are
// called from the agent's goroutine and must not block.
type StateSource interface {
	Registrations() []Registration
	Lines() []Line
}

// Options configures an Agent.
type Options struct {
	// BaseID names the base in topics and payloads (see ValidBaseID).
	BaseID string
	// TopicRoot is the root of the topic tree (docs/mqtt-api.md §2);
	// empty means TopicPrefix ("bs/v1"). See CheckTopicRoot.
	TopicRoot string
	// Brokers are broker URLs (tcp://host:port, ssl://host:port), tried in
	// order.
	Brokers []string
	// TLS is used for ssl:// brokers: the device certificate and the CA
	// that signs the broker's (see LoadTLS). Nil uses the system roots and
	// no client certificate.
	TLS *tls.Config
	// ClientID defaults to BaseID.
	ClientID string
	// Username and Password are optional MQTT credentials.
	Username, Password string
	// StateDir holds the applied configuration and the command window.
	StateDir string

	Applier Applier
	Radio   Radio
	// State may be nil (no registrations or lines reported).
	State StateSource
	// Ports are the base's own devices; nil means one analog port
	// "port1".
	Ports []Device
	// Firmware is reported in the birth message and the state.
	Firmware string
	// Reboot restarts the base; nil makes reboot commands rejected.
	Reboot func(ctx context.Context) error
	// FirmwareUpdater takes firmware-update jobs; nil makes them rejected.
	FirmwareUpdater FirmwareUpdater
	// BootTime is the base's boot time for the reported uptime; zero means
	// the agent's creation time.
	BootTime time.Time

	Logger *slog.Logger
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time

	// KeepAlive defaults to 30 s; ConnectTimeout to 10 s.
	KeepAlive, ConnectTimeout time.Duration
	// ConnectRetryInterval is the first wait before connecting again
	// (default 2 s), after a failed attempt or a lost connection; it
	// doubles with every failure in a row up to MaxReconnectInterval
	// (default 30 s), each wait jittered within its upper half. It applies
	// to the first connection as to every reconnection.
	ConnectRetryInterval, MaxReconnectInterval time.Duration
	// DedupWindow defaults to DefaultDedupWindow.
	DedupWindow int
	// LineTester runs line-test and callerid-self-test; nil makes them
	// rejected "unsupported".
	LineTester LineTester
	// EventLogSize is how many recent events the event log keeps
	// (DefaultEventLogSize when 0).
	EventLogSize int
	// Heartbeat, if set, is called from the agent's loop once a second:
	// the loop is making progress (the daemon's systemd watchdog reads it).
	Heartbeat func()
}

// Agent is the base's MQTT provisioning agent. Create it with NewAgent and
// run it with Run; Post and StateChanged may be called from any goroutine.
type Agent struct {
	o       Options
	log     *slog.Logger
	topics  Topics
	store   *Store
	session string

	inbox     chan inMsg
	connected chan struct{}
	lost      chan error // the connection to the broker was lost
	rand      func() float64
	online    atomic.Bool // connected and subscribed
	events    chan Event
	changed   chan struct{}
	watch     chan struct{} // Changes
	internal  chan func()
	booted    chan struct{} // closed after boot (Booted)

	appliedVersion atomic.Uint64
	running        atomic.Bool

	// Owned by the loop goroutine.
	client     mqtt.Client
	applied    *Config
	appliedAt  *time.Time
	pending    *Config
	pendingFor []string
	rejected   *Rejected
	// rejectedCfg is the last decodable desired document that failed
	// validation; it is considered again when a device pairs, since an
	// unknown device may just have become known.
	rejectedCfg *Config
	dedup       *dedupWindow
	evlog       *eventLog // the agent loop's
	diagRunning string    // the id of the running diagnostic job; the agent loop's
	reg         *regSession
	seq         uint64
	offline     []outMsg
	dropped     int
	runCtx      context.Context
	wg          sync.WaitGroup
}

type inMsg struct {
	topic   string
	payload []byte
}

type outMsg struct {
	topic   string
	payload []byte
}

type regSession struct {
	cmd      Command
	closesAt time.Time
	guard    *time.Timer
}

const maxOffline = 256

// NewAgent checks the options and opens the state directory. It does not
// touch the network or apply anything; Run does.
func NewAgent(o Options) (*Agent, error) {
	if err := CheckBaseID(o.BaseID); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	if len(o.Brokers) == 0 {
		return nil, errors.New("provisioning: no broker URL")
	}
	if o.TopicRoot == "" {
		o.TopicRoot = TopicPrefix
	}
	if err := CheckTopicRoot(o.TopicRoot); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	if o.Applier == nil || o.Radio == nil {
		return nil, errors.New("provisioning: Applier and Radio are required")
	}
	if o.StateDir == "" {
		return nil, errors.New("provisioning: StateDir is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientID == "" {
		o.ClientID = o.BaseID
	}
	if o.Ports == nil {
		o.Ports = []Device{{ID: PortDeviceID, Type: DevicePort, Name: "phone port"}}
	}
	if o.BootTime.IsZero() {
		o.BootTime = o.Now()
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxReconnectInterval == 0 {
		o.MaxReconnectInterval = 30 * time.Second
	}
	if o.ConnectRetryInterval == 0 {
		o.ConnectRetryInterval = 2 * time.Second
	}
	log := o.Logger.With("subsys", "provisioning", "base", o.BaseID)
	st, err := OpenStore(o.StateDir, log)
	if err != nil {
		return nil, err
	}
	var sid [8]byte
	_, _ = crand.Read(sid[:])
	return &Agent{
		o: o, log: log, topics: TopicsUnder(o.TopicRoot, o.BaseID), store: st,
		session:   hex.EncodeToString(sid[:]),
		inbox:     make(chan inMsg, 16),
		connected: make(chan struct{}, 1),
		lost:      make(chan error, 1),
		rand:      rand.Float64,
		events:    make(chan Event, 128),
		changed:   make(chan struct{}, 1),
		watch:     make(chan struct{}, 1),
		internal:  make(chan func(), 16),
		booted:    make(chan struct{}),
	}, nil
}

// Booted is closed once Run has applied the stored configuration (or found
// none usable): from then on the configuration in force is the stored one.
// The daemon handles line events after it, so that a phone found off-hook
// at start-up is served by its extension, not refused as unassigned.
func (a *Agent) Booted() <-chan struct{} { return a.booted }

// Session is the id of this run of the agent, carried by its birth
// message and last will (a will of an older session is stale).
func (a *Agent) Session() string { return a.session }

// Topics returns the agent's topics.
func (a *Agent) Topics() Topics { return a.topics }

// AppliedVersion is the version of the configuration in force (0: none).
func (a *Agent) AppliedVersion() uint64 { return a.appliedVersion.Load() }

// Post publishes an event from the daemon (registration-state, line-fault,
// call-quality, device-paired by the base's button, ...). Base, Seq, Time
// and Schema are filled in. It never blocks; when the agent is far behind
// the event is dropped and counted in the log. The reported state is
// republished too.
func (a *Agent) Post(ev Event) {
	select {
	case a.events <- ev:
	default:
		a.log.Warn("provisioning: event queue full, event dropped", "type", ev.Type)
	}
	a.notify()
}

// StateChanged tells the agent that registrations, lines or devices
// changed: it republishes the reported state and re-checks a deferred
// configuration. It never blocks.
func (a *Agent) StateChanged() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
	a.notify()
}

// Changes receives (coalesced, never blocking the agent) after every
// StateChanged and Post and whenever the connection to the broker comes up
// or goes down: its one reader (the base's LEDs) then re-reads what it
// shows, instead of polling.
func (a *Agent) Changes() <-chan struct{} { return a.watch }

func (a *Agent) notify() {
	select {
	case a.watch <- struct{}{}:
	default:
	}
}

// Run boots from the stored configuration, connects to the broker (and
// keeps reconnecting) and serves the contract until ctx ends. The stored
// configuration is applied before any connection attempt, so the base
// serves calls with no broker reachable. Run returns nil when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("provisioning: agent already running")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.runCtx = ctx
	a.boot(ctx)
	close(a.booted)

	dw, err := a.store.loadCommands(a.o.DedupWindow)
	if err != nil {
		a.log.Warn("provisioning: command window unreadable, starting empty", "err", err)
	}
	dw.interrupted(a.o.Now())
	a.dedup = dw

	a.client = mqtt.NewClient(a.clientOptions(ctx))
	evlog, restart, err := openEventLog(a.store.Dir(), a.o.EventLogSize)
	if err != nil {
		a.log.Warn("provisioning: event log", "err", err)
	}
	a.evlog = evlog
	// The restart is logged, not published: the cloud sees the birth
	// message; the log keeps why the previous run ended.
	a.evlog.add(Event{Schema: SchemaVersion, Base: a.o.BaseID, Time: a.o.Now().UTC(), Type: EvRestart, Reason: restart})
	// The connection is kept by keepConnected (back-off with jitter for
	// the first connection and every reconnection), not by paho's retry,
	// whose first-connection retry has a fixed interval.
	connDone := make(chan struct{})
	go func() {
		defer close(connDone)
		b := backoff{first: a.o.ConnectRetryInterval, max: a.o.MaxReconnectInterval, rand: a.rand}
		keepConnected(ctx, b, a.connectOnce, a.lost, a.log)
	}()
	defer func() {
		<-connDone // ctx has ended: no new connection after this
		a.wg.Wait()
		if a.client.IsConnectionOpen() {
			a.publishNow(a.topics.Status, a.statusPayload(false), true, time.Second)
		}
		a.client.Disconnect(250)
		a.online.Store(false)
		a.notify()
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	flush := time.NewTimer(eventLogFlush)
	defer flush.Stop()
	for {
		// The tick is listened to only while it has work (a heartbeat to
		// beat, a deferred configuration), and the event log's flush timer
		// only while events wait to be saved (at most once a minute): an
		// idle agent sleeps until something happens.
		var tickC, flushC <-chan time.Time
		if a.o.Heartbeat != nil || a.pending != nil {
			tickC = tick.C
		}
		if a.evlog.dirty {
			flush.Reset(max(eventLogFlush-a.o.Now().Sub(a.evlog.saved), 0))
			flushC = flush.C
		}
		select {
		case <-ctx.Done():
			if a.reg != nil {
				a.reg.guard.Stop()
				cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = a.o.Radio.CloseRegistration(cctx)
				ccancel()
			}
			if err := a.evlog.save(true, stopReason(ctx)); err != nil {
				a.log.Error("provisioning: event log not saved at stop", "err", err)
			}
			return nil
		case m := <-a.inbox:
			a.handleMessage(ctx, m)
		case <-a.connected:
			a.onConnected()
		case ev := <-a.events:
			a.publishEvent(ev)
			a.publishState()
		case <-a.changed:
			a.recheckPending(ctx)
			a.publishState()
		case f := <-a.internal:
			f()
		case <-flushC:
			if err := a.evlog.flush(a.o.Now()); err != nil {
				a.log.Warn("provisioning: event log not saved", "err", err)
			}
		case <-tickC:
			if err := a.evlog.flush(a.o.Now()); err != nil {
				a.log.Warn("provisioning: event log not saved", "err", err)
			}
			if a.o.Heartbeat != nil {
				a.o.Heartbeat()
			}
			if a.pending != nil {
				a.recheckPending(ctx)
			}
		}
	}
}

// boot applies the stored configuration.
func (a *Agent) boot(ctx context.Context) {
	cfg, info, err := a.store.Load()
	switch {
	case errors.Is(err, ErrNoConfig):
		a.log.Info("provisioning: no stored configuration; waiting for the cloud")
		return
	case err != nil:
		a.log.Error("provisioning: stored configuration unusable; waiting for the cloud", "err", err)
		return
	}
	if len(info.Problems) > 0 {
		a.log.Warn("provisioning: stored configuration damaged; using the last good one", "file", info.File, "problems", info.Problems)
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.o.Applier.Apply(actx, cfg); err != nil {
		a.log.Error("provisioning: applying the stored configuration failed", "version", cfg.Version, "err", err)
		return
	}
	now := a.o.Now().UTC()
	a.applied, a.appliedAt = cfg, &now
	a.appliedVersion.Store(cfg.Version)
	a.log.Info("provisioning: booted from stored configuration", "version", cfg.Version, "file", info.File)
}

func (a *Agent) statusPayload(online bool) []byte {
	s := Status{Schema: SchemaVersion, Base: a.o.BaseID, Online: online, Session: a.session, Firmware: a.o.Firmware}
	if online {
		t := a.o.Now().UTC()
		s.Time = &t
	}
	b, _ := json.Marshal(s)
	return b
}

// knownDevices are the base's ports and paired devices.
func (a *Agent) knownDevices() []Device {
	ds := append([]Device(nil), a.o.Ports...)
	return append(ds, a.o.Radio.Devices()...)
}

// snapshot builds the reported state.
func (a *Agent) snapshot() State {
	now := a.o.Now().UTC()
	st := State{
		Schema: SchemaVersion, Base: a.o.BaseID, Time: now, Firmware: a.o.Firmware,
		UptimeS:       int64(now.Sub(a.o.BootTime) / time.Second),
		Devices:       []Device{},
		Registrations: []Registration{},
		Lines:         []Line{},
	}
	if a.applied != nil {
		st.Config.AppliedVersion = a.applied.Version
		st.Config.AppliedAt = a.appliedAt
	}
	if a.pending != nil {
		st.Config.Pending = &Pending{Version: a.pending.Version, WaitingFor: a.pendingFor, Reason: "a call is in progress on an extension the change affects"}
	}
	st.Config.Rejected = a.rejected
	for _, d := range a.knownDevices() {
		if a.applied != nil {
			if e := a.applied.ExtensionOf(d.ID); e != nil {
				d.Extension = e.Number
			}
		}
		st.Devices = append(st.Devices, d)
	}
	if a.o.State != nil {
		if r := a.o.State.Registrations(); r != nil {
			st.Registrations = r
		}
		if l := a.o.State.Lines(); l != nil {
			st.Lines = l
		}
	}
	if a.reg != nil {
		t := a.reg.closesAt.UTC()
		st.RegistrationMode = RegistrationMode{Open: true, ClosesAt: &t, Command: a.reg.cmd.ID}
	}
	return st
}

func (a *Agent) publishState() {
	b, err := json.Marshal(a.snapshot())
	if err != nil {
		a.log.Error("provisioning: unexpected: encode state", "err", err)
		return
	}
	a.publish(a.topics.State, b, true)
}

// handleMessage dispatches a message from the broker. Messages outside this
// base's subtree are refused with an error event.
func (a *Agent) handleMessage(ctx context.Context, m inMsg) {
	base, leaf, ok := ParseTopicUnder(a.topics.Root, m.topic)
	switch {
	case !ok || base != a.o.BaseID:
		a.log.Warn("provisioning: message on a foreign topic refused", "topic", m.topic)
		a.publishEvent(Event{Type: EvError, Topic: m.topic, Reason: fmt.Sprintf("message on topic %q refused: not a topic of base %s", m.topic, a.o.BaseID)})
	case leaf == "config/desired":
		a.handleDesired(ctx, m.payload)
	case leaf == "commands":
		a.handleCommand(ctx, m.payload)
	default:
		a.publishEvent(Event{Type: EvError, Topic: m.topic, Reason: fmt.Sprintf("message on topic %q refused: the base does not take messages there", m.topic)})
	}
}

// run executes f on the loop goroutine (from helper goroutines).
func (a *Agent) run(f func()) {
	select {
	case a.internal <- f:
	case <-a.runCtx.Done():
	}
}

// StoreDir returns the agent's state directory.
func (a *Agent) StoreDir() string { return a.store.Dir() }

type (
	mqttClient  = mqtt.Client
	mqttMessage = mqtt.Message
)
