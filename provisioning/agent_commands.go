package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// cmdTimeout bounds every call into the Radio or the system for a command.
const cmdTimeout = 10 * time.Second

// handleCommand runs a command at most once (docs/mqtt-api.md §5).
func (a *Agent) handleCommand(ctx context.Context, payload []byte) {
	cmd, err := DecodeCommand(payload)
	if err != nil {
		if cmd != nil && validCommandID(cmd.ID) {
			// The id is usable: answer on the results topic.
			a.publishResult(Result{ID: cmd.ID, Name: cmd.Name, Status: StatusRejected, Reason: err.Error()})
			return
		}
		a.log.Warn("provisioning: malformed command refused", "err", err)
		a.publishEvent(Event{Type: EvError, Topic: a.topics.Commands, Reason: "malformed command refused: " + err.Error()})
		return
	}
	if cmd.Base != a.o.BaseID {
		a.publishResult(Result{ID: cmd.ID, Name: cmd.Name, Status: StatusRejected,
			Reason: fmt.Sprintf("command is addressed to base %q, this is base %q", cmd.Base, a.o.BaseID)})
		return
	}
	if e, seen := a.dedup.get(cmd.ID); seen {
		r := e.Result
		r.Duplicate = true
		a.log.Info("provisioning: duplicate command not run again", "id", cmd.ID, "status", r.Status)
		a.publishResult(r)
		return
	}
	now := a.o.Now()
	if cmd.ExpiresAt != nil && now.After(*cmd.ExpiresAt) {
		a.finish(cmd, Result{Status: StatusTimedOut, Reason: fmt.Sprintf("expired at %s, before it reached the base", cmd.ExpiresAt.UTC().Format(time.RFC3339))})
		return
	}
	switch cmd.Name {
	case CmdRegisterDevice:
		a.cmdRegister(ctx, cmd)
	case CmdCloseRegistration:
		a.cmdCloseRegistration(ctx, cmd)
	case CmdRemoveDevice:
		a.cmdRemoveDevice(ctx, cmd)
	case CmdPage:
		a.cmdPage(ctx, cmd)
	case CmdResync:
		a.cmdResync(cmd)
	case CmdReboot:
		a.cmdReboot(ctx, cmd)
	case CmdFirmwareUpdate:
		a.cmdFirmwareUpdate(ctx, cmd)
	case CmdEventLog:
		a.cmdEventLog(cmd)
	case CmdLocate:
		a.cmdLocate(ctx, cmd)
	case CmdLineTest, CmdCallerIDSelfTest:
		a.cmdDiagnostic(ctx, cmd)
	default:
		a.finish(cmd, Result{Status: StatusRejected, Reason: fmt.Sprintf("unknown command %q", cmd.Name)})
	}
}

// record remembers a command's latest result in the persisted window.
func (a *Agent) record(cmd *Command, r Result) {
	a.dedup.put(dedupEntry{ID: cmd.ID, Seen: a.o.Now().UTC(), Result: r})
	if err := a.store.saveCommands(a.dedup); err != nil {
		a.log.Error("provisioning: command window not saved", "err", err)
	}
}

// finish records and publishes a result (final or accepted).
func (a *Agent) finish(cmd *Command, r Result) {
	r.ID, r.Name = cmd.ID, cmd.Name
	r.Schema, r.Base = SchemaVersion, a.o.BaseID
	r.Time = a.o.Now().UTC()
	a.record(cmd, r)
	a.publishResult(r)
}

func (a *Agent) cmdRegister(ctx context.Context, cmd *Command) {
	args, err := DecodeRegisterDeviceArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	if a.reg != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: fmt.Sprintf("registration mode is already open (command %s)", a.reg.cmd.ID)})
		return
	}
	window := time.Duration(args.WindowS) * time.Second
	if window == 0 {
		window = DefaultRegistrationWindowS * time.Second
		if a.applied != nil && a.applied.System.RegistrationWindowS != 0 {
			window = time.Duration(a.applied.System.RegistrationWindowS) * time.Second
		}
	}
	pin := args.PIN
	if pin == "" {
		pin = "0000"
	}
	octx, cancel := context.WithTimeout(ctx, cmdTimeout)
	ch, err := a.o.Radio.OpenRegistration(octx, window, pin)
	cancel()
	if err != nil {
		status := StatusFailed
		if errors.Is(err, ErrRegistrationBusy) {
			status = StatusRejected
		}
		a.finish(cmd, Result{Status: status, Reason: "radio: " + err.Error()})
		return
	}
	closesAt := a.o.Now().Add(window)
	s := &regSession{cmd: *cmd, closesAt: closesAt}
	a.reg = s
	// Guard against a radio that never reports: after the window plus a
	// margin, close registration mode and report timed-out.
	s.guard = time.AfterFunc(window+5*time.Second, func() {
		a.run(func() { a.endRegistration(s, Pairing{Err: ErrRegistrationTimeout}, true) })
	})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		select {
		case p, ok := <-ch:
			if !ok {
				p = Pairing{Err: errors.New("radio ended registration mode without an outcome")}
			}
			a.run(func() { a.endRegistration(s, p, false) })
		case <-a.runCtx.Done():
		}
	}()
	ca := closesAt.UTC()
	a.publishState()
	a.publishEvent(Event{Type: EvRegistrationMode, State: "open", Reason: "register-device " + cmd.ID})
	a.finish(cmd, Result{Status: StatusAccepted, ClosesAt: &ca})
}

// endRegistration reports the outcome of a registration window once.
func (a *Agent) endRegistration(s *regSession, p Pairing, guard bool) {
	if a.reg != s {
		return // already ended
	}
	a.reg = nil
	s.guard.Stop()
	cmd := &s.cmd
	if guard {
		a.log.Warn("provisioning: radio reported no outcome for the registration window; closing it")
		cctx, cancel := context.WithTimeout(a.runCtx, cmdTimeout)
		_ = a.o.Radio.CloseRegistration(cctx)
		cancel()
	}
	// State and events go out before the result: a caller that reads the
	// state after the result sees the new device.
	a.publishState()
	a.publishEvent(Event{Type: EvRegistrationMode, State: "closed"})
	switch {
	case p.Err == nil:
		d := p.Device
		a.publishEvent(Event{Type: EvDevicePaired, Device: &d})
		a.finish(cmd, Result{Status: StatusSucceeded, Device: &d})
		a.reconsiderRejected(a.runCtx)
	case errors.Is(p.Err, ErrRegistrationTimeout):
		a.finish(cmd, Result{Status: StatusTimedOut, Reason: p.Err.Error()})
	default:
		a.finish(cmd, Result{Status: StatusFailed, Reason: p.Err.Error()})
	}
}

func (a *Agent) cmdCloseRegistration(ctx context.Context, cmd *Command) {
	if err := decodeNoArgs(cmd.Args); err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	err := a.o.Radio.CloseRegistration(cctx)
	cancel()
	if err != nil {
		a.finish(cmd, Result{Status: StatusFailed, Reason: "radio: " + err.Error()})
		return
	}
	r := Result{Status: StatusSucceeded}
	if a.reg == nil {
		r.Reason = "registration mode was not open"
	} else {
		// The radio delivers ErrRegistrationClosed for the open window;
		// the register-device command finishes when it arrives.
		r.Reason = "registration mode closed (command " + a.reg.cmd.ID + ")"
	}
	a.finish(cmd, r)
}

func (a *Agent) cmdRemoveDevice(ctx context.Context, cmd *Command) {
	args, err := DecodeRemoveDeviceArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	var dev *Device
	for _, d := range a.knownDevices() {
		if d.ID == args.Device {
			dev = &d
			break
		}
	}
	if dev != nil && dev.Type == DevicePort {
		a.finish(cmd, Result{Status: StatusRejected, Reason: fmt.Sprintf("%s is the base's phone port; it can be unassigned but not removed", args.Device)})
		return
	}
	assigned := a.applied != nil && a.applied.ExtensionOf(args.Device) != nil
	if dev == nil && !assigned {
		a.finish(cmd, Result{Status: StatusFailed, Reason: fmt.Sprintf("unknown device %s: not paired with this base", args.Device)})
		return
	}
	if dev != nil {
		rctx, cancel := context.WithTimeout(ctx, cmdTimeout)
		err := a.o.Radio.RemoveDevice(rctx, args.Device)
		cancel()
		if err != nil && !errors.Is(err, ErrUnknownDevice) {
			a.finish(cmd, Result{Status: StatusFailed, Reason: "radio: " + err.Error()})
			return
		}
	} else {
		dev = &Device{ID: args.Device}
	}
	var from []string
	if assigned {
		// Drop the device from the assignments, keeping the version: the
		// cloud publishes the next version without it.
		next := a.applied.Clone()
		from = next.Unassign(args.Device)
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.o.Applier.Apply(actx, next)
		cancel()
		if err != nil {
			a.log.Error("provisioning: applying the configuration without the removed device failed", "err", err)
		} else {
			a.applied = next
			if err := a.store.Save(next); err != nil {
				a.log.Error("provisioning: configuration without the removed device not saved", "err", err)
			}
		}
	}
	a.publishState()
	a.publishEvent(Event{Type: EvDeviceRemoved, Device: dev, Reason: "remove-device " + cmd.ID})
	a.finish(cmd, Result{Status: StatusSucceeded, Device: dev, Unassigned: from})
}

func (a *Agent) cmdPage(ctx context.Context, cmd *Command) {
	args, err := DecodePageArgs(cmd.Args)
	if err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	d := time.Duration(args.DurationS) * time.Second
	if d == 0 {
		d = 30 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	err = a.o.Radio.Page(pctx, d)
	cancel()
	if err != nil {
		a.finish(cmd, Result{Status: StatusFailed, Reason: "radio: " + err.Error()})
		return
	}
	a.finish(cmd, Result{Status: StatusSucceeded})
}

// cmdResync republishes birth and state and subscribes to the desired
// configuration again, so the broker delivers the retained document and it
// is reconciled.
func (a *Agent) cmdResync(cmd *Command) {
	if err := decodeNoArgs(cmd.Args); err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	a.finish(cmd, Result{Status: StatusSucceeded})
	a.publish(a.topics.Status, a.statusPayload(true), true)
	a.publishState()
	c := a.client
	ctx := a.runCtx
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := WaitTokenFor(ctx, c.Unsubscribe(a.topics.Desired), cmdTimeout); err != nil {
			a.log.Warn("provisioning: resync: unsubscribe failed", "err", err)
		}
		tok := c.Subscribe(a.topics.Desired, 1, func(_ mqttClient, m mqttMessage) { a.enqueue(ctx, m) })
		if err := WaitTokenFor(ctx, tok, cmdTimeout); err != nil {
			a.log.Warn("provisioning: resync: subscribe failed", "err", err)
		}
	}()
}

func (a *Agent) cmdReboot(ctx context.Context, cmd *Command) {
	if err := decodeNoArgs(cmd.Args); err != nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: err.Error()})
		return
	}
	if a.o.Reboot == nil {
		a.finish(cmd, Result{Status: StatusRejected, Reason: "reboot is not supported by this base"})
		return
	}
	// Recorded as succeeded before rebooting, so a replay after the reboot
	// does not reboot again.
	a.finish(cmd, Result{Status: StatusSucceeded, Reason: "rebooting"})
	reboot := a.o.Reboot
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		// Give the result a moment to reach the broker.
		t := time.NewTimer(500 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if err := reboot(ctx); err != nil {
			a.log.Error("provisioning: reboot failed", "err", err)
			a.Post(Event{Type: EvError, Reason: "reboot failed: " + err.Error()})
		}
	}()
}
