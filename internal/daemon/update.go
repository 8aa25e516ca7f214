package daemon

// Firmware update wiring (docs/mqtt-api.md §5.4): the update room gets the
// daemon's line states (Lines) and health (Health) through small adapters,
// and the provisioning agent hands it firmware-update jobs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/update"
)

// UpdateOptions turn on firmware updates.
type UpdateOptions struct {
	// Installer is the system's installer (update.RAUC on the board).
	Installer update.Installer
	// CAFile is the PEM CA that firmware servers' certificates must chain to.
	CAFile string
	// AllowDowngrade is this base's consent to downgrades (a job must ask too).
	AllowDowngrade bool
	// IdleDeadline and HealthDeadline: 0 means the updater's defaults.
	IdleDeadline, HealthDeadline time.Duration
	// Running is the running image's version (the booted slot's); empty:
	// the version in Firmware. The simulator's slots say which build runs.
	Running string
	// Tune adjusts the updater's configuration last (tests).
	Tune func(*update.Config)
}

// setupUpdate builds the updater when o.Update is set and registers it
// with the agent's options. The updater's jobs live in StateDir/update,
// outside the slots, with the configuration, secrets and pairings.
func (d *Daemon) setupUpdate(o Options, popts *provisioning.Options) error {
	uo := o.Update
	if uo == nil {
		return nil
	}
	if o.Reboot == nil {
		return errors.New("firmware update: the base cannot reboot itself (no Reboot)")
	}
	ca, err := os.ReadFile(uo.CAFile)
	if err != nil {
		return fmt.Errorf("firmware update: CA: %w", err)
	}
	client, err := update.NewHTTPClient(ca)
	if err != nil {
		return fmt.Errorf("firmware update: %w", err)
	}
	dir := filepath.Join(d.cfg.StateDir, "update")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	running := uo.Running
	if running == "" {
		fields := strings.Fields(Firmware)
		running = fields[len(fields)-1]
	} else {
		popts.Firmware = "basestationd " + running // what the cloud sees
	}
	cfg := update.Config{
		Dir:            dir,
		Installer:      uo.Installer,
		Lines:          (*updateLines)(d),
		Health:         (*updateHealth)(d),
		HTTP:           client,
		Reboot:         o.Reboot,
		Report:         func(j update.Job) error { return d.agent.PublishFirmwareJob(wireJob(j)) },
		Running:        running,
		AllowDowngrade: uo.AllowDowngrade,
		IdleDeadline:   uo.IdleDeadline,
		HealthDeadline: uo.HealthDeadline,
	}
	if uo.Tune != nil {
		uo.Tune(&cfg)
	}
	u, err := update.New(cfg)
	if err != nil {
		return err
	}
	d.updater = u
	popts.FirmwareUpdater = (*firmwareAdapter)(d)
	return nil
}

// runUpdate runs the updater, if any, until ctx ends.
func (d *Daemon) runUpdate(ctx context.Context) error {
	if d.updater == nil {
		<-ctx.Done()
		return nil
	}
	return d.updater.Run(ctx)
}

func wireJob(j update.Job) provisioning.FirmwareJob {
	return provisioning.FirmwareJob{
		ID: j.ID, State: j.State, Reason: j.Reason, Detail: j.Detail, Version: j.Version,
		Bytes: j.Bytes, Total: j.Size, Time: j.Updated, Duplicate: j.Duplicate,
	}
}

// firmwareAdapter takes the agent's firmware-update jobs.
type firmwareAdapter Daemon

func (f *firmwareAdapter) SubmitFirmware(_ context.Context, id string, a provisioning.FirmwareUpdateArgs) (provisioning.FirmwareJob, error) {
	j, err := f.updater.Submit(update.Request{ID: id, URL: a.URL, Version: a.Version, Size: a.Size, SHA256: a.SHA256, AllowDowngrade: a.AllowDowngrade})
	if err != nil {
		return provisioning.FirmwareJob{}, err
	}
	return wireJob(j), nil
}

// updateLines is the daemon's line states as the updater asks them.
type updateLines Daemon

// Idle reports whether no line has a call up or being set up.
func (l *updateLines) Idle() bool {
	for _, ln := range (*stateSource)(l).Lines() {
		if ln.Busy() {
			return false
		}
	}
	return true
}

// updateHealth is the trial boot's health: MQTT connected, every extension
// with an account here registered, the SLIC without fault, the radio ready.
type updateHealth Daemon

func (h *updateHealth) Healthy(context.Context) error {
	d := (*Daemon)(h)
	var bad []string
	if !d.agent.Connected() {
		bad = append(bad, "MQTT not connected")
	}
	d.mu.Lock()
	for ext, on := range d.accounts {
		if on && d.regs[ext].State != provisioning.RegRegistered {
			bad = append(bad, fmt.Sprintf("extension %s not registered (%s)", ext, d.regs[ext].State))
		}
	}
	fault := d.faults[PortID]
	d.mu.Unlock()
	if fault != "" {
		bad = append(bad, "SLIC: "+fault)
	}
	if !d.radio.Ready() {
		bad = append(bad, "radio not ready")
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
