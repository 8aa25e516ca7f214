package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"basestation/dect"
	"basestation/internal/daemon"
	"basestation/internal/settings"
	"basestation/provisioning"
	"basestation/sim/fleet"
	"basestation/sim/radio"
	"basestation/sipua"
)

// base is one running base of the fleet: its hardware, its daemon and
// its Linx, with the times of its milestones.
type base struct {
	spec
	hw   *fleet.Hardware
	d    *daemon.Daemon
	linx *radio.Device
	done chan struct{} // closed when the daemon's Run has returned

	mu         sync.Mutex
	started    time.Time // Run began
	connected  time.Time // first seen connected to the broker
	registered time.Time // first seen with every extension registered
	runErr     error
	version    uint64 // the last configuration version published
}

// baseOptions are the fleet-wide settings each base is built with.
type baseOptions struct {
	Broker    string
	Registrar string
	SIPPort   int
	StateRoot string
	Log       *slog.Logger
	// RadioReadTimeout is the radio link's read timeout (the driver's
	// default when 0).
	RadioReadTimeout time.Duration
	// QuietRadio gives the radio link the fleet's timing (quietRadio).
	QuietRadio bool
	// PCMPace is the phone port's PCM frame interval (fleet.Options).
	PCMPace time.Duration
	// Fast shortens the agent's reconnect back-off (tests, broker restart).
	Fast bool
}

// newBase builds base s: hardware, daemon (not yet running) and a Linx,
// powered on but not paired.
func newBase(s spec, o baseOptions) (*base, error) {
	dir := filepath.Join(o.StateRoot, s.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("base %s: state dir: %w", s.ID, err)
	}
	log := o.Log.With("base", s.ID)
	hw, err := fleet.New(fleet.Options{Index: s.Index, PCMPace: o.PCMPace, Log: log})
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", s.ID, err)
	}
	cfg := settings.Defaults()
	cfg.Board = "sim"
	cfg.BaseID = s.ID
	cfg.StateDir = dir
	cfg.MQTT.Broker = o.Broker
	cfg.SIP.Listen = net.JoinHostPort(s.Contact.String(), strconv.Itoa(o.SIPPort))
	cfg.SIP.RTPPortMin, cfg.SIP.RTPPortMax = 0, 0
	rt := o.RadioReadTimeout
	dopt := daemon.Options{Board: hw.HAL(), Log: log,
		SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 },
		DECT: func(d *dect.Options) {
			if o.QuietRadio {
				quietRadio(d)
			}
			if rt > 0 {
				d.ReadTimeout = rt
			}
			d.OpenPort = hw.OpenPort(d.ReadTimeout)
		},
	}
	if o.Fast {
		dopt.Agent = func(a *provisioning.Options) {
			a.ConnectRetryInterval = 200 * time.Millisecond
			a.MaxReconnectInterval = 2 * time.Second
		}
	}
	d, err := daemon.New(cfg, dopt)
	if err != nil {
		hw.Close()
		return nil, fmt.Errorf("base %s: %w", s.ID, err)
	}
	b := &base{spec: s, hw: hw, d: d, done: make(chan struct{}), version: 1}
	b.linx = hw.Radio.NewLinx(radio.DeviceOptions{IPEI: s.LinxIPE})
	b.linx.PowerOn()
	return b, nil
}

// run runs the daemon until ctx ends, then releases the hardware; on is
// when the base was powered on (its milestones count from there).
func (b *base) run(ctx context.Context, on time.Time) {
	defer close(b.done)
	defer b.hw.Close()
	b.mu.Lock()
	b.started = on
	b.mu.Unlock()
	err := b.d.Run(ctx)
	b.mu.Lock()
	b.runErr = err
	b.mu.Unlock()
}

// milestones is a base's progress as the watcher last saw it.
type milestones struct {
	Started, Connected, Registered time.Time
	Err                            error
}

func (b *base) milestones() milestones {
	b.mu.Lock()
	defer b.mu.Unlock()
	return milestones{b.started, b.connected, b.registered, b.runErr}
}

// observe reads the daemon's status and records first-time milestones.
// It returns whether the base is connected and how many of its
// extensions are registered.
func (b *base) observe(now time.Time, want int) (connected bool, registered int) {
	st := b.d.Status()
	for _, r := range st.Registrations {
		if r.State == provisioning.RegRegistered {
			registered++
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if st.CloudConnected && b.connected.IsZero() {
		b.connected = now
	}
	if registered >= want && b.registered.IsZero() {
		b.registered = now
	}
	return st.CloudConnected, registered
}

// pairLinx opens registration mode with the base's button (a long press)
// and pairs the Linx with the default PIN: the local way, no cloud
// command. It returns when paired or ctx ends.
func (b *base) pairLinx(ctx context.Context) error {
	if b.paired() {
		return nil
	}
	for {
		if !b.hw.Button.Press(4 * time.Second) {
			return fmt.Errorf("base %s: the daemon is not reading the button", b.ID)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for !b.hw.Radio.RegistrationOpen() && wctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if b.hw.Radio.RegistrationOpen() {
			break
		}
	}
	return b.linx.Pair(ctx, daemon.DefaultPIN)
}

// paired reports whether the daemon knows the base's Linx.
func (b *base) paired() bool {
	for _, d := range b.d.Radio().Devices() {
		if dectIDOf(d) == b.linxID() {
			return true
		}
	}
	return false
}

func dectIDOf(d dect.DeviceInfo) string {
	return fmt.Sprintf("dect-%09x", uint64(d.IPEI.EMC)<<20|uint64(d.IPEI.PSN&0xFFFFF))
}

// nextConfig is the base's next configuration version: 102 gets the Linx
// once it is paired; suffix is appended to the display names.
func (b *base) nextConfig(registrar, suffix string) *provisioning.Config {
	b.mu.Lock()
	b.version++
	v := b.version
	b.mu.Unlock()
	cfg := b.config(registrar, v, b.paired())
	for j := range cfg.Extensions {
		cfg.Extensions[j].DisplayName += suffix
	}
	return cfg
}

// quietRadio sets the radio link's timers for a fleet: an in-memory line
// loses and corrupts nothing, so the link's watchfulness costs wake-ups
// and buys nothing, and under a fleet's CPU load the firmware's 1.2 s
// silence limit reset healthy links. Keepalive every 2 s, reset after
// 8 s of silence; SYNC repeated every second; partial frames abandoned
// after a second; serial reads wake every second.
func quietRadio(d *dect.Options) {
	d.KeepaliveInterval, d.KeepaliveMisses = 2*time.Second, 4
	d.SyncInterval = time.Second
	d.StallTimeout = time.Second
	d.ReadTimeout = time.Second
}
