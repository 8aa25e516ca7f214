package provisioning

import (
	"context"
	"encoding/json"
	"errors"
)

// FirmwareUpdater takes firmware-update jobs (docs/mqtt-api.md §5.4). It
// answers with the job's report at once (queued, or the current report of
// a job id it has seen, Duplicate set) and later reports through
// Agent.PublishFirmwareJob.
type FirmwareUpdater interface {
	SubmitFirmware(ctx context.Context, id string, args FirmwareUpdateArgs) (FirmwareJob, error)
}

// cmdFirmwareUpdate hands a checked firmware-update to the updater. The
// updater, not the agent's command log, remembers job ids: a job id is
// never run twice, also across reboots.
func (a *Agent) cmdFirmwareUpdate(ctx context.Context, cmd *Command) {
	args, err := DecodeFirmwareUpdateArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	if a.o.Firmware == "" || a.o.FirmwareUpdater == nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: "firmware update is not supported by this base"})
		return
	}
	j, err := a.o.FirmwareUpdater.SubmitFirmware(ctx, cmd.ID, args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusFailed, Reason: err.Error()})
		return
	}
	a.publishFirmwareJob(j)
}

func (a *Agent) publishFirmwareJob(j FirmwareJob) {
	j.Schema, j.Base, j.Name = SchemaVersion, a.o.BaseID, CmdFirmwareUpdate
	if j.Time.IsZero() {
		j.Time = a.o.Now().UTC()
	}
	b, err := json.Marshal(j)
	if err != nil {
		a.log.Error("provisioning: unexpected: encode firmware job", "err", err)
		return
	}
	a.publish(a.topics.Results, b, false)
}

// PublishFirmwareJob publishes a firmware job's report on the results
// topic from the agent's loop. It never blocks; an error means the report
// was not queued.
func (a *Agent) PublishFirmwareJob(j FirmwareJob) error {
	select {
	case a.internal <- func() { a.publishFirmwareJob(j) }:
		return nil
	default:
		return errors.New("provisioning: agent queue full, firmware job report dropped")
	}
}
