package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"basestation/dect"
	"basestation/fxs"
	"basestation/internal/daemon"
	"basestation/internal/settings"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/sim"
	"basestation/sim/broker"
	"basestation/sim/pbx"
	"basestation/sim/radio"
	"basestation/sim/softphone"
	"basestation/sipua"
)

const baseID = "base-soak"

// user is one extension of the office at the stand-in PBX.
type user struct{ Number, Name, Password string }

// The office. 101, 103 and 104 are the extensions the base's devices are
// given to; 102 and 105 have softphones (the other users' desk phones) and
// never a device of the base, so a call to them rings exactly one phone.
var users = []user{
	{"101", "Alice Analog", "alice-pw"},
	{"102", "Bob Softphone", "bob-pw"},
	{"103", "Carol Cordless", "carol-pw"},
	{"104", "Dave Desk", "dave-pw"},
	{"105", "Eve Softphone", "eve-pw"},
}

var (
	baseExts  = []string{"101", "103", "104"}
	phoneExts = []string{"102", "105"}
)

// Shortened timers (docs/soak.md lists them with their production values):
// the soak must reach the states behind them within a step.
const (
	faultRetry      = time.Second     // fxs: 30 s
	lockoutDuration = 3 * time.Second // dect: 5 min
	pbxMaxExpires   = 10 * time.Second
)

// world is the whole simulated office: the base (daemon on the simulated
// board) and everything around it. It is built the way cmd/basesim's
// world.go builds it, with the broker and the PBX restartable on the same
// addresses.
type world struct {
	portalDials int // connections of the portal's client so far

	log *slog.Logger
	dir string

	ctx    context.Context
	cancel context.CancelFunc

	brokerAddr string
	brokerMu   sync.Mutex
	broker     *broker.Broker

	pbxAddr   string
	pbxMu     sync.Mutex
	pbx       *pbx.PBX
	pbxCancel context.CancelFunc
	pbxDone   chan error

	board     *sim.Board
	boardDone chan error
	d         *daemon.Daemon
	dDone     chan error // the daemon's Run result (it never ends while the world runs)

	cloud *cloud.Client

	phones     map[string]*softphone.Phone
	phonesDone []chan error

	devs []*simDev // the pool of simulated DECT devices
}

// simDev is one simulated DECT device and what the walk knows of it.
type simDev struct {
	name string
	kind provisioning.DeviceType
	dev  *radio.Device
	id   string // the base's device id, dect-<ipei>
}

func newWorld(ctx context.Context, dir string, log *slog.Logger) (w *world, err error) {
	w = &world{log: log, dir: dir, phones: map[string]*softphone.Phone{}}
	w.ctx, w.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	w.broker, err = broker.Start(broker.Options{Addr: "127.0.0.1:0", Logger: log.With("sim", "broker")})
	if err != nil {
		return nil, fmt.Errorf("MQTT broker: %w", err)
	}
	w.brokerAddr = w.broker.Addr()
	if err := w.startPBX("127.0.0.1:0"); err != nil {
		return nil, err
	}
	w.pbxAddr = w.pbx.Addr()

	w.board, err = sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		return nil, err
	}
	w.boardDone = make(chan error, 1)
	go func() { w.boardDone <- w.board.Run(w.ctx) }()

	cfg := settings.Defaults()
	cfg.Board = "sim"
	cfg.BaseID = baseID
	cfg.StateDir = dir
	cfg.MQTT.Broker = "tcp://" + w.brokerAddr
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.SIP.RTPPortMin, cfg.SIP.RTPPortMax = 0, 0
	w.d, err = daemon.New(cfg, daemon.Options{
		Board: w.board.HAL(),
		Log:   log.With("base", baseID),
		SIP:   func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 },
		Agent: func(o *provisioning.Options) {
			o.ConnectRetryInterval = 100 * time.Millisecond
			o.MaxReconnectInterval = time.Second
		},
		FXS:  func(c *fxs.Config) { c.FaultRetry = faultRetry },
		DECT: func(o *dect.Options) { o.LockoutDuration = lockoutDuration },
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	w.dDone = make(chan error, 1)
	go func() { w.dDone <- w.d.Run(w.ctx) }()

	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	w.cloud, err = w.dialCloud(dctx)
	if err != nil {
		return nil, err
	}
	for _, ext := range phoneExts {
		if err := w.addSoftphone(ext); err != nil {
			return nil, err
		}
	}
	// The pool of DECT devices exists from the start, so the quiet points
	// compare like with like: 4 Linx and 3 Headsets, one more than the
	// module's table holds.
	for i, kind := range []provisioning.DeviceType{provisioning.DeviceLinx, provisioning.DeviceHeadset, provisioning.DeviceLinx, provisioning.DeviceHeadset, provisioning.DeviceLinx, provisioning.DeviceHeadset, provisioning.DeviceLinx} {
		name, dev, err := w.board.AddDevice(string(kind), radio.DeviceOptions{IPEI: uint64(0x12340000 + i*0x111)})
		if err != nil {
			return nil, err
		}
		w.devs = append(w.devs, &simDev{name: name, kind: kind, dev: dev, id: fmt.Sprintf("dect-%09x", dev.IPEI())})
	}
	return w, nil
}

func (w *world) dialCloud(ctx context.Context) (*cloud.Client, error) {
	// A new id for every connection: the closed client's last reconnect
	// must not take the new one's session over.
	w.portalDials++
	c, err := cloud.Dial(ctx, cloud.Options{Brokers: []string{"tcp://" + w.brokerAddr}, ClientID: fmt.Sprintf("soak-portal-%d", w.portalDials),
		Logger: w.log.With("sim", "portal")})
	if err != nil {
		return nil, fmt.Errorf("portal client: %w", err)
	}
	return c, nil
}

// redialCloud replaces the portal's client by a new connection.
func (w *world) redialCloud() error {
	w.cloud.Close()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	c, err := w.dialCloud(ctx)
	if err != nil {
		return err
	}
	w.cloud = c
	return nil
}

func userOf(ext string) user {
	for _, u := range users {
		if u.Number == ext {
			return u
		}
	}
	panic("soak: no user " + ext)
}

func (w *world) addSoftphone(ext string) error {
	u := userOf(ext)
	p, err := softphone.New(softphone.Config{User: u.Number, Password: u.Password, DisplayName: u.Name,
		Registrar: w.pbxAddr, ToneHz: 1000}, w.log.With("sim", "softphone", "ext", ext))
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(w.ctx) }()
	w.phonesDone = append(w.phonesDone, done)
	w.phones[ext] = p
	return w.registerSoftphone(ext)
}

func (w *world) registerSoftphone(ext string) error {
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	var err error
	for try := 0; try < 3; try++ {
		// The phone's own refresh may be in flight (a REGISTER with a
		// higher CSeq gets 500 "CSeq out of order"): try again.
		if err = w.phones[ext].Register(ctx); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("softphone %s: %w", ext, err)
}

// startPBX starts the stand-in PBX on addr (the same address again after
// an outage: the base's configuration names it).
func (w *world) startPBX(addr string) error {
	pw := map[string]string{}
	for _, u := range users {
		pw[u.Number] = u.Password
	}
	var p *pbx.PBX
	var err error
	for try := 0; try < 50; try++ {
		p, err = pbx.New(pbx.Config{Addr: addr, Users: pw, Auth: true, MaxExpires: pbxMaxExpires}, w.log.With("sim", "pbx"))
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old sockets are closing
	}
	if err != nil {
		return fmt.Errorf("stand-in PBX on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	w.pbxMu.Lock()
	w.pbx, w.pbxCancel, w.pbxDone = p, cancel, done
	w.pbxMu.Unlock()
	return nil
}

// stopPBX takes the PBX away (its calls end with BYE, its sockets close).
func (w *world) stopPBX() error {
	w.pbxMu.Lock()
	cancel, done := w.pbxCancel, w.pbxDone
	w.pbx, w.pbxCancel, w.pbxDone = nil, nil, nil
	w.pbxMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		return errors.New("the stand-in PBX did not stop within 15 s")
	}
}

func (w *world) thePBX() *pbx.PBX {
	w.pbxMu.Lock()
	defer w.pbxMu.Unlock()
	return w.pbx
}

// restartBroker stops the broker and starts a new one on the same address:
// every client is cut off and retained messages are lost.
func (w *world) restartBroker(down time.Duration) error {
	w.brokerMu.Lock()
	defer w.brokerMu.Unlock()
	if err := w.broker.Close(); err != nil {
		w.log.Warn("broker close", "error", err)
	}
	time.Sleep(down)
	var err error
	for try := 0; try < 50; try++ {
		var b *broker.Broker
		b, err = broker.Start(broker.Options{Addr: w.brokerAddr, Logger: w.log.With("sim", "broker")})
		if err == nil {
			w.broker = b
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restarting the broker on %s: %w", w.brokerAddr, err)
}

// close stops everything and waits for what it started.
func (w *world) close() {
	if w.cloud != nil {
		w.cloud.Close()
	}
	w.cancel()
	wait := func(what string, ch chan error) {
		if ch == nil {
			return
		}
		select {
		case <-ch:
		case <-time.After(15 * time.Second):
			w.log.Error("did not stop within 15 s", "what", what)
		}
	}
	wait("daemon", w.dDone)
	for _, ch := range w.phonesDone {
		wait("softphone", ch)
	}
	w.pbxMu.Lock()
	pd := w.pbxDone
	w.pbxMu.Unlock()
	wait("pbx", pd)
	wait("board", w.boardDone)
	if w.board != nil {
		w.board.Close()
	}
	w.brokerMu.Lock()
	if w.broker != nil {
		w.broker.Close()
	}
	w.brokerMu.Unlock()
}

// daemonAlive reports an error once the daemon's Run has returned.
func (w *world) daemonAlive() error {
	select {
	case err := <-w.dDone:
		w.dDone <- err // keep it for the next look
		return fmt.Errorf("the daemon stopped: Run returned %v", err)
	default:
		return nil
	}
}

// pbxCalls are the PBX's active calls (nil while it is down).
func (w *world) pbxCalls() []pbx.CallInfo {
	p := w.thePBX()
	if p == nil {
		return nil
	}
	var out []pbx.CallInfo
	for _, c := range p.Calls() {
		if c.State != "ended" {
			out = append(out, c)
		}
	}
	return out
}

// baseBindings are the extensions the base has contacts registered for at
// the PBX (bindings whose source is not a softphone).
func (w *world) baseBindings() map[string]bool {
	p := w.thePBX()
	out := map[string]bool{}
	if p == nil {
		return out
	}
	soft := map[string]bool{}
	for _, sp := range w.phones {
		soft[sp.Addr()] = true
	}
	sipAddr := w.d.SIPAddr()
	_, sipPort, _ := net.SplitHostPort(sipAddr)
	for _, r := range p.Registrations() {
		if soft[r.Source] {
			continue
		}
		if !strings.HasSuffix(r.Source, ":"+sipPort) && !strings.Contains(r.Contact, ":"+sipPort) {
			continue
		}
		out[r.Ext] = true
	}
	return out
}

type pbxCall = pbx.CallInfo

// reportedState is the base's retained state on the broker: what every
// subscriber to the state topic (the portal) gets. Read from the broker in
// process, it costs no subscription round trip per look.
func (w *world) reportedState() (*provisioning.State, error) {
	w.brokerMu.Lock()
	b, ok := w.broker.Retained(provisioning.TopicsFor(baseID).State)
	w.brokerMu.Unlock()
	if !ok {
		return nil, errors.New("no retained state on the broker")
	}
	return provisioning.DecodeState(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
