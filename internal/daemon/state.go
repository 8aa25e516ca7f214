package daemon

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"basestation/provisioning"
	"basestation/sipua"
)

// reporter is the user agent as the configuration and the cloud see it:
// it puts the accounts in force (provisioning.Accounts), keeps the
// registrations of those accounts, and its Run turns the user agent's
// events into reported state and cloud events. With lines it is the
// agent's provisioning.StateSource.
type reporter struct {
	ua    *sipua.UA
	lines *lines
	// Set in New before anything runs, read-only after.
	agent *provisioning.Agent

	mu       sync.Mutex
	accounts map[string]bool // the extensions with an account in force
	regs     map[string]provisioning.Registration
}

func newReporter(ua *sipua.UA, l *lines) *reporter {
	return &reporter{ua: ua, lines: l, regs: map[string]provisioning.Registration{}}
}

// CheckAccount reports what the user agent would refuse in a.
func (r *reporter) CheckAccount(a provisioning.Account) error { return sipAccount(a).Validate() }

// SetAccounts puts accts in force. The registrations reported are those of
// the accounts in force: the set changes before the accounts do (so a new
// account's first events are not missed), back if the user agent refuses
// them, and a removed account's registration goes at once (its late
// events are ignored).
func (r *reporter) SetAccounts(accts []provisioning.Account, failback time.Duration) error {
	on := make(map[string]bool, len(accts))
	exts := make([]sipua.Extension, 0, len(accts))
	for _, a := range accts {
		on[a.Extension] = true
		exts = append(exts, sipua.Extension{Name: a.Extension, Account: sipAccount(a)})
	}
	r.mu.Lock()
	prev := r.accounts
	r.accounts = on
	r.mu.Unlock()
	sc := r.ua.Config()
	sc.Extensions, sc.Timing.Failback = exts, failback
	if err := r.ua.SetConfig(sc); err != nil {
		r.mu.Lock()
		r.accounts = prev
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	for ext := range r.regs {
		if !on[ext] {
			delete(r.regs, ext)
		}
	}
	r.mu.Unlock()
	return nil
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

// Registrations lists the accounts' registrations by extension.
func (r *reporter) Registrations() []provisioning.Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]provisioning.Registration, 0, len(r.regs))
	for _, reg := range r.regs {
		out = append(out, reg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Extension < out[j].Extension })
	return out
}

// Lines is lines.Lines (provisioning.StateSource).
func (r *reporter) Lines() []provisioning.Line { return r.lines.Lines() }

func (r *reporter) registered(ext string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.regs[ext].State == provisioning.RegRegistered
}

// unregistered lists the accounts in force that are not registered.
func (r *reporter) unregistered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for ext := range r.accounts {
		if st := r.regs[ext].State; st != provisioning.RegRegistered {
			out = append(out, fmt.Sprintf("extension %s not registered (%s)", ext, st))
		}
	}
	return out
}

// Run follows the user agent's events until ctx ends.
func (r *reporter) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-r.ua.Events():
			r.event(ev)
		}
	}
}

func (r *reporter) event(ev sipua.Event) {
	switch e := ev.(type) {
	case *sipua.RegistrationEvent:
		reg := provisioning.Registration{Extension: e.Extension, State: regState(e.State), Registrar: e.Registrar, Reason: e.LastError}
		if !e.ExpiresAt.IsZero() {
			t := e.ExpiresAt // moved by every refresh (one event each)
			reg.ExpiresAt = &t
		}
		r.mu.Lock()
		if !r.accounts[e.Extension] {
			// Late news of an account the configuration removed (its
			// un-REGISTER): not a registration of this base any more.
			r.mu.Unlock()
			return
		}
		prev := r.regs[e.Extension]
		r.regs[e.Extension] = reg
		r.mu.Unlock()
		if prev.State != reg.State || prev.Reason != reg.Reason {
			r.agent.Post(provisioning.Event{Type: provisioning.EvRegistrationState, Extension: e.Extension, State: reg.State, Reason: reg.Reason})
		}
	case *sipua.QualityEvent:
		q := e.Summary
		lossPct := 0.0
		if q.Lost > 0 {
			lossPct = 100 * float64(q.Lost) / float64(q.PacketsReceived+uint64(q.Lost))
		}
		r.agent.Post(provisioning.Event{Type: provisioning.EvCallQuality, Extension: e.Extension, Quality: &provisioning.CallQuality{
			CallID: e.CallID, PacketsRx: q.PacketsReceived, PacketsLost: uint64(max(q.Lost, 0)),
			LossPct: lossPct, JitterMs: ms(q.Jitter), RTTMs: ms(q.RTT), MOS: q.MOS,
		}})
		return
	case *sipua.CallEvent:
		r.lines.log.Info("call", "extension", e.Extension, "direction", e.Direction, "remote", e.Remote, "state", e.State, "reason", e.Reason, "endpoint", e.Endpoint)
		if e.State == "ended" && !e.Aside {
			r.lines.release(e.Endpoint)
		}
	case *sipua.MWIEvent:
	default:
		return
	}
	r.agent.StateChanged()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func regState(s sipua.RegState) string {
	switch s {
	case sipua.RegRegistered:
		return provisioning.RegRegistered
	case sipua.RegRegistering:
		return provisioning.RegRegistering
	case sipua.RegFailed:
		return provisioning.RegFailed
	}
	return provisioning.RegUnregistered
}
