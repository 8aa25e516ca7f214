package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Diagnostic commands (docs/mqtt-api.md §5.5).
const (
	CmdEventLog         = "event-log"
	CmdLocate           = "locate"
	CmdLineTest         = "line-test"
	CmdCallerIDSelfTest = "callerid-self-test"
)

// LineTester runs the analog port's diagnostics (§5.5). Each returns the
// port's result as JSON; ErrLineBusy when the port is in use,
// ErrUnsupported when the SLIC cannot test, another error when the chip
// failed during the test.
type LineTester interface {
	LineTest(ctx context.Context, port string) (json.RawMessage, error)
	CallerIDSelfTest(ctx context.Context) (json.RawMessage, error)
}

// diagTimeout bounds one diagnostic job (the self-test takes about 7 s).
const diagTimeout = 60 * time.Second

// LineTestArgs are the line-test command's arguments.
type LineTestArgs struct {
	Port string `json:"port,omitempty"` // the analog port; only port1
}

// DecodeLineTestArgs parses and checks line-test arguments.
func DecodeLineTestArgs(raw json.RawMessage) (LineTestArgs, error) {
	var a LineTestArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if a.Port == "" {
		a.Port = PortDeviceID
	}
	return a, nil
}

// cmdDiagnostic runs line-test or callerid-self-test as a job: accepted at
// once, then one final result from the job's goroutine (one at a time).
func (a *Agent) cmdDiagnostic(ctx context.Context, cmd *Command) {
	var port string
	if cmd.Name == CmdLineTest {
		args, err := DecodeLineTestArgs(cmd.Args)
		if err != nil {
			a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
			return
		}
		if args.Port != PortDeviceID {
			a.finish(cmd, Result{Status: StatusRejected, Reason: "unknown-port", Detail: fmt.Sprintf("args.port: %q is not an analog port of this base (%s)", args.Port, PortDeviceID)})
			return
		}
		port = args.Port
	} else if err := decodeNoArgs(cmd.Args); err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	if a.o.LineTester == nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: "unsupported", Detail: cmd.Name + " is not supported by this base"})
		return
	}
	if a.diagRunning != "" {
		a.finish(cmd, Result{Status: StatusRejected, Reason: "busy", Detail: "another diagnostic is running (command " + a.diagRunning + ")"})
		return
	}
	a.diagRunning = cmd.ID
	a.finish(cmd, Result{Status: StatusAccepted})
	job := *cmd
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		jctx, cancel := context.WithTimeout(ctx, diagTimeout)
		defer cancel()
		var out json.RawMessage
		var err error
		if job.Name == CmdLineTest {
			out, err = a.o.LineTester.LineTest(jctx, port)
		} else {
			out, err = a.o.LineTester.CallerIDSelfTest(jctx)
		}
		r := Result{Status: StatusSucceeded}
		switch {
		case errors.Is(err, ErrLineBusy):
			r = Result{Status: StatusRejected, Reason: "busy", Detail: err.Error()}
		case errors.Is(err, ErrUnsupported):
			r = Result{Status: StatusRejected, Reason: "unsupported", Detail: err.Error()}
		case err != nil:
			r = Result{Status: StatusFailed, Reason: "the test could not complete", Detail: err.Error()}
		case job.Name == CmdLineTest:
			r.LineTest = out
		default:
			r.SelfTest = out
		}
		a.run(func() {
			a.diagRunning = ""
			a.finish(&job, r)
		})
	}()
}

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
	case errors.Is(err, ErrUnsupported):
		a.finish(cmd, Result{Status: StatusRejected, Reason: "locate is not supported by this base's radio module", Detail: err.Error()})
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
