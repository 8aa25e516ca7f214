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
	"sync"
	"time"

	"basestation/fxs"
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
	// selfTest is the caller-ID self-test run after every update that
	// succeeded (nil without an analog port); due carries the version.
	selfTest func(context.Context) error
	due      chan string
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
	f := &firmware{health: health, due: make(chan string, 1)}
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
		Report:         f.report,
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

// report publishes a job's report; an update that succeeded (this build,
// marked good) has its caller-ID path self-tested next.
func (f *firmware) report(j update.Job) error {
	if j.State == update.Succeeded && !j.Duplicate {
		select {
		case f.due <- j.Version:
		default:
		}
	}
	return f.agent.PublishFirmwareJob(wireJob(j))
}

// Run runs the updater and, after each successful update, the caller-ID
// self-test (waiting for the port to be idle), reported as an event.
func (f *firmware) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-f.due:
				f.selfTestAfter(ctx, v)
			}
		}
	})
	return f.updater.Run(ctx)
}

// selfTestRetry is how often a self-test waiting for a busy port retries.
const selfTestRetry = 30 * time.Second

func (f *firmware) selfTestAfter(ctx context.Context, version string) {
	if f.selfTest == nil {
		return
	}
	for {
		err := f.selfTest(ctx)
		if errors.Is(err, fxs.ErrLineBusy) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(selfTestRetry):
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		verdict := "pass"
		if err != nil {
			verdict = err.Error()
		}
		f.agent.Post(provisioning.Event{Type: provisioning.EvSelfTest, Reason: "after the update to " + version + ": " + verdict})
		return
	}
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
