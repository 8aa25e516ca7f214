package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Diagnostic commands (docs/mqtt-api.md §5.5).
const (
	CmdEventLog = "event-log"
	CmdLocate   = "locate"
)

// Locator is the optional part of a Radio that pages one device (locate).
type Locator interface {
	// Locate makes the paired device id ring to be found (on) or stops it.
	// ErrUnknownDevice when it is not paired.
	Locate(ctx context.Context, id string, on bool) error
}

// LocateArgs are the locate command's arguments.
type LocateArgs struct {
	Device string `json:"device"`
	// On is true to start (the default), false to stop.
	On *bool `json:"on,omitempty"`
}

// DecodeLocateArgs parses and checks locate arguments.
func DecodeLocateArgs(raw json.RawMessage) (LocateArgs, error) {
	var a LocateArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if a.Device == "" {
		return a, errors.New("args.device: missing (the id of a paired DECT device)")
	}
	if !isDeviceID(a.Device) || a.Device == PortDeviceID {
		return a, fmt.Errorf("args.device: %q is not a DECT device id", a.Device)
	}
	return a, nil
}

func (a *Agent) cmdLocate(ctx context.Context, cmd *Command) {
	args, err := DecodeLocateArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	l, ok := a.o.Radio.(Locator)
	if !ok {
		a.finish(cmd, Result{Status: StatusRejected, Reason: "locate is not supported by this base"})
		return
	}
	on := args.On == nil || *args.On
	lctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	err = l.Locate(lctx, args.Device, on)
	cancel()
	switch {
	case errors.Is(err, ErrUnknownDevice):
		a.finish(cmd, Result{Status: StatusRejected, Reason: fmt.Sprintf("device %s is not paired with this base", args.Device)})
	case err != nil:
		a.finish(cmd, Result{Status: StatusFailed, Reason: "radio: " + err.Error()})
	default:
		a.finish(cmd, Result{Status: StatusSucceeded})
	}
}

// cmdEventLog answers with the recent events, newest first. The events
// are not kept in the command window: a duplicate gets the result without
// them (nothing runs twice; ask again with a new id).
func (a *Agent) cmdEventLog(cmd *Command) {
	args, err := DecodeEventLogArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	evs := a.evlog.query(args.Types, args.Limit)
	r := Result{ID: cmd.ID, Name: cmd.Name, Status: StatusSucceeded, Schema: SchemaVersion, Base: a.o.BaseID,
		Time: a.o.Now().UTC(), Reason: fmt.Sprintf("%d events", len(evs))}
	a.record(cmd, r)
	r.Events = evs
	a.publishResult(r)
}
