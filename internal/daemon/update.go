package daemon

// Firmware update wiring (docs/mqtt-api.md §5.4): the update room gets the
// line states (lines.Idle), the trial boot's health (update.Checks) and the
// caller-ID self-test it runs after an update; the provisioning agent hands
// it firmware-update jobs and publishes its reports.

import (
	"context"
	"strings"

	"basestation/provisioning"
	"basestation/update"
)

// UpdateOptions turn on firmware updates (update.Options).
type UpdateOptions = update.Options

// firmware takes the agent's jobs (provisioning.FirmwareUpdater) for the
// updater and publishes its reports and self-test verdicts.
type firmware struct {
	updater *update.Updater
	health  update.Checks
	// Set in New before anything runs, read-only after.
	agent *provisioning.Agent
}

// newFirmware builds the updater when o.Update is set (nil otherwise);
// selfTest is the caller-ID self-test run after every update that
// succeeded (nil without an analog port).
func newFirmware(o Options, stateDir string, l *lines, health update.Checks, selfTest func(context.Context) error) (*firmware, error) {
	if o.Update == nil {
		return nil, nil
	}
	f := &firmware{health: health}
	fields := strings.Fields(Firmware)
	var err error
	f.updater, err = update.Open(*o.Update, stateDir, update.Config{Lines: l, Health: health, Reboot: o.Reboot,
		Report: f.report, Running: fields[len(fields)-1], SelfTest: selfTest, SelfTested: f.selfTested})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (f *firmware) report(j update.Job) error { return f.agent.PublishFirmwareJob(wireJob(j)) }

func (f *firmware) selfTested(version string, err error) {
	verdict := "pass"
	if err != nil {
		verdict = err.Error()
	}
	f.agent.Post(provisioning.Event{Type: provisioning.EvSelfTest, Reason: "after the update to " + version + ": " + verdict})
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
