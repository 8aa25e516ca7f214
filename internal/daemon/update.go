package daemon

// Firmware update wiring (docs/mqtt-api.md §5.4): the update room gets the
// line states (lines.Idle) and the trial boot's health (update.Checks),
// and the provisioning agent hands it firmware-update jobs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// firmware is the firmware-update glue: it takes the agent's jobs
// (provisioning.FirmwareUpdater) and runs the updater, which asks the lines
// whether they are idle and update.Checks whether the trial boot is healthy.
type firmware struct {
	updater *update.Updater
	health  update.Checks
	// Set in New before anything runs, read-only after.
	agent *provisioning.Agent
}

// newFirmware builds the updater when o.Update is set (nil otherwise). The
// updater's jobs live in stateDir/update, outside the slots, with the
// configuration, secrets and pairings.
func newFirmware(o Options, stateDir string, l *lines, health update.Checks) (*firmware, error) {
	uo := o.Update
	if uo == nil {
		return nil, nil
	}
	if o.Reboot == nil {
		return nil, errors.New("firmware update: the base cannot reboot itself (no Reboot)")
	}
	ca, err := os.ReadFile(uo.CAFile)
	if err != nil {
		return nil, fmt.Errorf("firmware update: CA: %w", err)
	}
	client, err := update.NewHTTPClient(ca)
	if err != nil {
		return nil, fmt.Errorf("firmware update: %w", err)
	}
	dir := filepath.Join(stateDir, "update")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f := &firmware{health: health}
	running := uo.Running
	if running == "" {
		fields := strings.Fields(Firmware)
		running = fields[len(fields)-1]
	}
	cfg := update.Config{
		Dir:            dir,
		Installer:      uo.Installer,
		Lines:          l,
		Health:         health,
		HTTP:           client,
		Reboot:         o.Reboot,
		Report:         func(j update.Job) error { return f.agent.PublishFirmwareJob(wireJob(j)) },
		Running:        running,
		AllowDowngrade: uo.AllowDowngrade,
		IdleDeadline:   uo.IdleDeadline,
		HealthDeadline: uo.HealthDeadline,
	}
	if uo.Tune != nil {
		uo.Tune(&cfg)
	}
	if f.updater, err = update.New(cfg); err != nil {
		return nil, err
	}
	return f, nil
}

func wireJob(j update.Job) provisioning.FirmwareJob {
	return provisioning.FirmwareJob{
		ID: j.ID, State: j.State, Reason: j.Reason, Detail: j.Detail, Version: j.Version,
		Bytes: j.Bytes, Total: j.Size, Time: j.Updated, Duplicate: j.Duplicate,
	}
}

// SubmitFirmware takes the agent's firmware-update job.
func (f *firmware) SubmitFirmware(_ context.Context, id string, a provisioning.FirmwareUpdateArgs) (provisioning.FirmwareJob, error) {
	j, err := f.updater.Submit(update.Request{ID: id, URL: a.URL, Version: a.Version, Size: a.Size, SHA256: a.SHA256, AllowDowngrade: a.AllowDowngrade})
	if err != nil {
		return provisioning.FirmwareJob{}, err
	}
	return wireJob(j), nil
}
