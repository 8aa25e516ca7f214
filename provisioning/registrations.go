package provisioning

import (
	"fmt"
	"sort"
	"sync"
)

// Registrations are the SIP registrations the base reports: those of the
// accounts in force, and only those. ConfigApplier sets which accounts are
// in force (before the user agent takes them, so a new account's first
// events count; back if it refuses them); an extension that loses its
// account loses its registration at once, and late news of it (its
// un-REGISTER) is ignored. Methods are safe for concurrent use.
type Registrations struct {
	mu       sync.Mutex
	accounts map[string]bool
	regs     map[string]Registration
}

// setAccounts puts exts in force and returns the set it replaced.
func (b *Registrations) setAccounts(exts map[string]bool) (prev map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prev, b.accounts = b.accounts, exts
	return prev
}

// prune drops the registrations of extensions with no account in force.
func (b *Registrations) prune() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ext := range b.regs {
		if !b.accounts[ext] {
			delete(b.regs, ext)
		}
	}
}

// Update records r if its extension has an account in force, and reports
// whether its state or reason changed (an event is due).
func (b *Registrations) Update(r Registration) (recorded, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.accounts[r.Extension] {
		return false, false
	}
	if b.regs == nil {
		b.regs = map[string]Registration{}
	}
	prev := b.regs[r.Extension]
	b.regs[r.Extension] = r
	return true, prev.State != r.State || prev.Reason != r.Reason
}

// List returns the registrations by extension.
func (b *Registrations) List() []Registration {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Registration, 0, len(b.regs))
	for _, r := range b.regs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Extension < out[j].Extension })
	return out
}

// Registered reports whether ext's account is registered.
func (b *Registrations) Registered(ext string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.regs[ext].State == RegRegistered
}

// Unregistered names every account in force that is not registered, with
// its state, sorted.
func (b *Registrations) Unregistered() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for ext := range b.accounts {
		if st := b.regs[ext].State; st != RegRegistered {
			out = append(out, fmt.Sprintf("extension %s not registered (%s)", ext, st))
		}
	}
	sort.Strings(out)
	return out
}

// PairingSlot holds the outcome of the open registration window for the
// one caller waiting for it (Radio.OpenRegistration's channel). Methods are
// safe for concurrent use.
type PairingSlot struct {
	mu sync.Mutex
	ch chan Pairing
}

// Open reserves the slot: ErrRegistrationBusy while a window is open.
func (s *PairingSlot) Open() (<-chan Pairing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		return nil, ErrRegistrationBusy
	}
	s.ch = make(chan Pairing, 1)
	return s.ch, nil
}

// Cancel frees the slot without an outcome (the window did not open).
func (s *PairingSlot) Cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ch = nil
}

// Deliver hands p to the waiting caller and frees the slot; false if
// nobody waits (a window opened from the base's button).
func (s *PairingSlot) Deliver(p Pairing) bool {
	s.mu.Lock()
	ch := s.ch
	s.ch = nil
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- p
	return true
}

// Closed is the outcome of a window the module closed for reason with no
// device paired ("paired" closes it with one: no outcome, false).
func Closed(reason string) (Pairing, bool) {
	switch reason {
	case "paired":
		return Pairing{}, false
	case "timeout":
		return Pairing{Err: ErrRegistrationTimeout}, true
	}
	return Pairing{Err: fmt.Errorf("%w (%s)", ErrRegistrationClosed, reason)}, true
}
