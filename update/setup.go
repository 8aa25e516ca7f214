package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options turn on firmware updates on a base: what its command line gives
// (basestationd's --firmware-ca, --rauc-*, --allow-downgrade, --update-*).
type Options struct {
	// Installer is the system's installer (RAUC on the board).
	Installer Installer
	// CAFile is the PEM CA that firmware servers' certificates must chain to.
	CAFile string
	// AllowDowngrade is this base's consent to downgrades (a job must ask too).
	AllowDowngrade bool
	// IdleDeadline and HealthDeadline: 0 means the updater's defaults.
	IdleDeadline, HealthDeadline time.Duration
	// Running is the running image's version (the booted slot's); empty:
	// Config.Running as Open is given it.
	Running string
	// Tune adjusts the updater's configuration last (tests).
	Tune func(*Config)
}

// Open builds the updater of a base from o and the base's side of c (Lines,
// Health, Reboot, Report, Running, SelfTest, SelfTested): the HTTP client
// trusts only the CA in o.CAFile, and the jobs live in stateDir/update,
// outside the slots, with the configuration, secrets and pairings.
func Open(o Options, stateDir string, c Config) (*Updater, error) {
	if c.Reboot == nil {
		return nil, errors.New("firmware update: the base cannot reboot itself (no Reboot)")
	}
	ca, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("firmware update: CA: %w", err)
	}
	if c.HTTP, err = NewHTTPClient(ca); err != nil {
		return nil, fmt.Errorf("firmware update: %w", err)
	}
	c.Dir = filepath.Join(stateDir, "update")
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	c.Installer, c.AllowDowngrade = o.Installer, o.AllowDowngrade
	c.IdleDeadline, c.HealthDeadline = o.IdleDeadline, o.HealthDeadline
	if o.Running != "" {
		c.Running = o.Running
	}
	if o.Tune != nil {
		o.Tune(&c)
	}
	return New(c)
}

// ErrLineBusy from Config.SelfTest means the line it needs is in use: the
// self-test is tried again Config.SelfTestRetry later.
var ErrLineBusy = errors.New("update: the line is in use")

// selfTests runs Config.SelfTest after each update that succeeded (due
// carries the version) until ctx ends.
func (u *Updater) selfTests(ctx context.Context, wg *sync.WaitGroup) {
	if u.cfg.SelfTest == nil {
		return
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-u.due:
				u.selfTest(ctx, v)
			}
		}
	})
}

// selfTest runs the self-test after the update to version, retrying while
// the line is busy, and hands its verdict to Config.SelfTested.
func (u *Updater) selfTest(ctx context.Context, version string) {
	for {
		err := u.cfg.SelfTest(ctx)
		if errors.Is(err, ErrLineBusy) {
			if !sleep(ctx, u.cfg.SelfTestRetry) {
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if u.cfg.SelfTested != nil {
			u.cfg.SelfTested(version, err)
		}
		return
	}
}

// succeeded queues the self-test of the update to version (one waits at
// most: a second success before it ran is the same build's).
func (u *Updater) succeeded(version string) {
	if u.cfg.SelfTest == nil {
		return
	}
	select {
	case u.due <- version:
	default:
	}
}
