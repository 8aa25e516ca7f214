package cloud

import (
	"context"
	"encoding/json"
	"fmt"

	"basestation/provisioning"
)

// FirmwareUpdate sends a firmware-update job with id to base and follows
// its job reports (docs/mqtt-api.md §5.4) until the final one, which it
// returns. A command the base refused before it became a job (bad
// arguments, no updater) comes back as the Result instead.
func (c *Client) FirmwareUpdate(ctx context.Context, base, id string, args provisioning.FirmwareUpdateArgs, progress func(provisioning.FirmwareJob)) (*provisioning.FirmwareJob, *provisioning.Result, error) {
	if st, err := c.Status(ctx, base); err == nil && !st.Online {
		return nil, nil, fmt.Errorf("cloud: firmware-update to base %s: %w", base, ErrOffline)
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, nil, err
	}
	payload, err := json.Marshal(provisioning.Command{Schema: provisioning.SchemaVersion, ID: id, Base: base, Name: provisioning.CmdFirmwareUpdate, Args: b})
	if err != nil {
		return nil, nil, err
	}
	t := c.topics(base)
	ch, cancel, err := c.subscribe(ctx, t.Results)
	if err != nil {
		return nil, nil, err
	}
	defer cancel()
	if err := c.PublishRaw(ctx, t.Commands, payload, false); err != nil {
		return nil, nil, err
	}
	for {
		select {
		case m := <-ch:
			if j, err := provisioning.DecodeFirmwareJob(m.Payload()); err == nil {
				if j.ID != id {
					continue
				}
				if progress != nil {
					progress(*j)
				}
				if provisioning.JobFinal(j.State) {
					return j, nil, nil
				}
				continue
			}
			if r, err := provisioning.DecodeResult(m.Payload()); err == nil && r.ID == id && provisioning.IsFinal(r.Status) {
				return nil, r, nil
			}
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("cloud: firmware-update %s on base %s: no final result: %w", id, base, ctx.Err())
		}
	}
}
