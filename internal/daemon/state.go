package daemon

import (
	"context"

	"basestation/provisioning"
	"basestation/sipua"
)

// reporter is the user agent as the configuration and the cloud see it:
// it puts the accounts in force (provisioning.Accounts), and its Run turns
// the user agent's events into the registrations reported
// (provisioning.Registrations) and cloud events. With lines it is the
// agent's provisioning.StateSource.
type reporter struct {
	ua    *sipua.UA
	lines *lines
	regs  *provisioning.Registrations
	// Set in New before anything runs, read-only after.
	agent *provisioning.Agent
}

// CheckAccount reports what the user agent would refuse in a.
func (r *reporter) CheckAccount(a provisioning.Account) error { return sipAccount(a).Validate() }

// SetAccounts puts accts in force, all or nothing.
func (r *reporter) SetAccounts(accts []provisioning.Account, s provisioning.SIPSettings) error {
	sc := r.ua.Config()
	sc.Extensions = nil
	sipSettings(s, &sc)
	for _, a := range accts {
		sc.Extensions = append(sc.Extensions, sipua.Extension{Name: a.Extension, Account: sipAccount(a)})
	}
	return r.ua.SetConfig(sc)
}

func sipAccount(a provisioning.Account) sipua.Account {
	s := sipua.Account{User: a.User, AuthUser: a.AuthUser, Password: a.Password, Domain: a.Domain,
		Transport: sipua.Transport(a.Transport), Registrars: a.Registrars, OutboundProxy: a.OutboundProxy,
		Expires: a.Expires, CallerIDNumber: a.CallerIDNumber, CallerIDName: a.CallerIDName, MWI: true}
	if a.SRTPRequired {
		s.SRTP = "required"
	}
	return s
}

// Registrations lists the accounts' registrations (StateSource).
func (r *reporter) Registrations() []provisioning.Registration { return r.regs.List() }

// Lines is lines.Lines (StateSource).
func (r *reporter) Lines() []provisioning.Line { return r.lines.Lines() }

// Run follows the user agent's events until ctx ends.
func (r *reporter) Run(ctx context.Context) error {
	each(ctx, r.ua.Events(), nil, r.event)
	return nil
}

func (r *reporter) event(ev sipua.Event) {
	switch e := ev.(type) {
	case *sipua.RegistrationEvent:
		// The contract's registration states are sipua's words
		// (TestRegistrationStatesAreTheContracts).
		reg := provisioning.Registration{Extension: e.Extension, State: string(e.State), Registrar: e.Registrar, Reason: e.LastError}
		if !e.ExpiresAt.IsZero() {
			t := e.ExpiresAt // moved by every refresh (one event each)
			reg.ExpiresAt = &t
		}
		recorded, changed := r.regs.Update(reg)
		if !recorded {
			return // late news of an account no longer in force
		}
		if changed {
			r.agent.Post(provisioning.Event{Type: provisioning.EvRegistrationState, Extension: e.Extension, State: reg.State, Reason: reg.Reason})
		}
	case *sipua.QualityEvent, *sipua.QualityAlertEvent:
		if ce, ok := qualityEvent(ev); ok {
			r.agent.Post(ce)
		}
		return
	case *sipua.CallEvent:
		r.lines.log.Info("call", "extension", e.Extension, "direction", e.Direction, "remote", e.Remote, "state", e.State, "reason", e.Reason, "endpoint", e.Endpoint)
		r.callEvent(e)
	case *sipua.MWIEvent:
	default:
		return
	}
	r.agent.StateChanged()
}

// callEvent posts call-ended when a call ends, with its talk time.
func (r *reporter) callEvent(e *sipua.CallEvent) {
	if e.State == "ended" || e.State == "failed" {
		sum := &provisioning.CallSummary{Direction: e.Direction, Result: e.Result(), Peer: e.Remote, DurationS: e.TalkTime().Seconds()}
		r.agent.Post(provisioning.Event{Type: provisioning.EvCallEnded, Extension: e.Extension, Call: sum, Reason: e.Reason})
	}
}
