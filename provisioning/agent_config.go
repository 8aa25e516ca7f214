package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// handleDesired reconciles a desired configuration (docs/mqtt-api.md §3.5):
// older versions are ignored, the applied version again is a no-op, an
// invalid document is rejected whole, a change that would drop a live call
// waits for the line to go idle.
func (a *Agent) handleDesired(ctx context.Context, payload []byte) {
	if len(payload) == 0 {
		// The cloud cleared the retained desired document: nothing to do,
		// the applied configuration stays in force.
		a.log.Info("provisioning: desired configuration cleared by the cloud; keeping the applied one")
		return
	}
	cfg, err := DecodeConfig(payload)
	if err != nil {
		a.reject(peekVersion(payload), []FieldError{decodeFieldError(err)})
		return
	}
	if cfg.Base != a.o.BaseID {
		a.reject(cfg.Version, []FieldError{{Path: "base", Message: fmt.Sprintf("document is for base %q, this is base %q", cfg.Base, a.o.BaseID)}})
		return
	}
	if a.applied != nil && cfg.Version <= a.applied.Version {
		if cfg.Version < a.applied.Version {
			a.log.Info("provisioning: older desired configuration ignored", "version", cfg.Version, "applied", a.applied.Version)
		}
		if a.pending != nil && a.pending.Version <= a.applied.Version {
			a.pending, a.pendingFor = nil, nil
		}
		a.publishState()
		return
	}
	if a.pending != nil && cfg.Version < a.pending.Version {
		a.log.Info("provisioning: desired configuration older than the pending one ignored", "version", cfg.Version, "pending", a.pending.Version)
		return
	}
	a.consider(ctx, cfg)
}

// consider validates cfg and applies it or defers it.
func (a *Agent) consider(ctx context.Context, cfg *Config) {
	errs := Validate(cfg, a.o.BaseID, a.knownDevices())
	errs = append(errs, a.o.Applier.Check(cfg)...)
	if len(errs) > 0 {
		if a.pending != nil && a.pending.Version <= cfg.Version {
			a.pending, a.pendingFor = nil, nil
		}
		a.rejectedCfg = cfg
		a.reject(cfg.Version, errs)
		return
	}
	a.rejectedCfg = nil
	if waiting := a.blockedBy(cfg); len(waiting) > 0 {
		first := a.pending == nil || a.pending.Version != cfg.Version || !slices.Equal(a.pendingFor, waiting)
		a.pending, a.pendingFor = cfg, waiting
		if first {
			a.log.Info("provisioning: configuration deferred until calls end", "version", cfg.Version, "extensions", waiting)
			a.publishEvent(Event{Type: EvConfigPending, Version: cfg.Version, Waiting: waiting, Reason: "a call is in progress on an extension the change affects"})
			a.publishState()
		}
		return
	}
	a.pending, a.pendingFor = nil, nil
	a.apply(ctx, cfg)
}

// reconsiderRejected validates the last rejected document again (after a
// device paired) if nothing newer was applied since.
func (a *Agent) reconsiderRejected(ctx context.Context) {
	cfg := a.rejectedCfg
	if cfg == nil || (a.applied != nil && cfg.Version <= a.applied.Version) || (a.pending != nil && cfg.Version <= a.pending.Version) {
		return
	}
	if errs := append(Validate(cfg, a.o.BaseID, a.knownDevices()), a.o.Applier.Check(cfg)...); len(errs) > 0 {
		return // still invalid: already reported
	}
	a.log.Info("provisioning: rejected configuration is valid now that a device paired", "version", cfg.Version)
	a.consider(ctx, cfg)
}

// recheckPending applies a deferred configuration once its lines are idle.
func (a *Agent) recheckPending(ctx context.Context) {
	if a.pending == nil {
		return
	}
	a.consider(ctx, a.pending)
}

func (a *Agent) apply(ctx context.Context, cfg *Config) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.o.Applier.Apply(actx, cfg); err != nil {
		a.reject(cfg.Version, []FieldError{{Path: "(apply)", Message: err.Error()}})
		return
	}
	if err := a.store.Save(cfg); err != nil {
		// In force but not durable: the next boot would use the previous
		// version until the cloud's retained document arrives again.
		a.log.Error("provisioning: applied configuration not saved", "version", cfg.Version, "err", err)
		a.publishEvent(Event{Type: EvError, Version: cfg.Version, Reason: "applied configuration could not be saved: " + err.Error()})
	}
	now := a.o.Now().UTC()
	a.applied, a.appliedAt = cfg, &now
	a.appliedVersion.Store(cfg.Version)
	if a.rejected != nil && a.rejected.Version <= cfg.Version {
		a.rejected = nil
	}
	a.log.Info("provisioning: configuration applied", "version", cfg.Version, "extensions", len(cfg.Extensions))
	a.publishState()
	a.publishEvent(Event{Type: EvConfigApplied, Version: cfg.Version})
}

func (a *Agent) reject(version uint64, errs []FieldError) {
	a.log.Warn("provisioning: configuration rejected", "version", version, "errors", len(errs), "first", errs[0].Error())
	a.rejected = &Rejected{Version: version, Errors: errs, Time: a.o.Now().UTC()}
	a.publishState()
	a.publishEvent(Event{Type: EvConfigRejected, Version: version, Errors: errs})
}

// blockedBy returns the busy extensions whose calls cfg would drop: the
// extension is removed, or its effective SIP account or its devices change.
func (a *Agent) blockedBy(cfg *Config) []string {
	busy := a.o.Applier.BusyExtensions()
	if len(busy) == 0 || a.applied == nil {
		return nil
	}
	oldC, newC := a.applied.WithDefaults(), cfg.WithDefaults()
	var out []string
	for _, num := range busy {
		oe := oldC.Extension(num)
		if oe == nil {
			continue // not ours: nothing of this base carries its call
		}
		ne := newC.Extension(num)
		if ne == nil || !reflect.DeepEqual(oe.SIP, ne.SIP) {
			out = append(out, num)
			continue
		}
		if oe.Devices != ne.Devices && a.dropsCall(num, ne) {
			out = append(out, num)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dropsCall reports whether the new assignment of an extension's devices
// takes away a device that carries one of its calls (off-hook: dialing or
// talking). A device that is only ringing just stops ringing, the
// extension's other devices go on, so that change is applied at once.
// Without a state source every device change on a busy extension counts.
func (a *Agent) dropsCall(num string, ne *Extension) bool {
	if a.o.State == nil {
		return true
	}
	keep := ne.Devices.IDs()
	for _, l := range a.o.State.Lines() {
		if l.Extension != num || (l.State != LineDialing && l.State != LineTalking) {
			continue
		}
		if !slices.Contains(keep, l.Device) {
			return true
		}
	}
	return false
}

// peekVersion extracts "version" from a payload that failed to decode, so
// the rejection can name it; 0 when unknown.
func peekVersion(b []byte) uint64 {
	var v struct {
		Version uint64 `json:"version"`
	}
	_ = json.Unmarshal(b, &v)
	return v.Version
}

// decodeFieldError turns a decode error into a field error; the path is the
// field named in the message when there is one.
func decodeFieldError(err error) FieldError {
	msg := err.Error()
	const pfx = "configuration: "
	if len(msg) > len(pfx) && msg[:len(pfx)] == pfx {
		msg = msg[len(pfx):]
	}
	return FieldError{Path: "(document)", Message: msg}
}
