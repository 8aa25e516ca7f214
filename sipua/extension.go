package sipua

import (
	"basestation/endpoint"
	"context"
	"fmt"
	"sync"
	"time"
)

// extension is one configured extension: its registration, MWI
// subscription and attached endpoints (guarded by UA.mu).
type extension struct {
	u *UA
	// name and acct never change for an extension (a changed account
	// is a new extension), so they are read without a lock.
	name      string
	acct      Account
	cfg       Extension // RingCadence, CallWaiting: guarded by UA.mu (SetConfig replaces it)
	reg       *registration
	endpoints []*epState
	mwi       MessageSummary
	mwiCallID string
	// mwiSeq is the highest CSeq of a message-summary NOTIFY applied, per
	// dialog (Call-ID); guarded by UA.mu.
	mwiSeq map[string]uint32

	cancel context.CancelFunc
	done   chan struct{}
}

func newExtension(u *UA, cfg Extension) *extension {
	return &extension{u: u, name: cfg.Name, acct: cfg.Account, cfg: cfg, reg: newRegistration(u, cfg.Name, cfg.Account)}
}

// start runs the registration (and MWI subscription). Called with u.mu held.
func (e *extension) start(ctx context.Context) {
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.reg.run(ctx) }()
	if e.acct.MWI {
		wg.Add(1)
		go func() { defer wg.Done(); e.runMWI(ctx) }()
	}
	go func() { wg.Wait(); close(e.done) }()
}

// stop ends the registration (un-registering) and waits.
func (e *extension) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
}

// epState is an attached endpoint and its call state (guarded by UA.mu).
type epState struct {
	ep   endpoint.Endpoint
	ext  *extension
	name string

	offHook bool
	dialing bool  // dial tone, waiting for a number
	active  *call // the call with audio (or being placed)
	other   *call // held call, or a waiting (alerting) incoming call
	ringing *call // incoming call ringing this endpoint (on-hook)
	audio   endpoint.AudioPort
	locks   portLocks // serialise every call's use of the endpoint's audio port

	qmu    sync.Mutex
	queue  []endpoint.Event
	signal chan struct{}
	gone   chan struct{}
}

// maxQueuedEvents bounds an endpoint's unhandled events (a driver gone
// wild must not grow memory without end).
const maxQueuedEvents = 256

// Reporter is given to the endpoint's driver by UA.Attach. It never
// blocks: events are queued and handled in order by the user agent.
type Reporter func(endpoint.Event)

// Attach attaches an endpoint to an extension (live). It returns the
// Reporter the endpoint's driver calls with its events. An endpoint is
// attached to one extension at a time.
func (u *UA) Attach(ext string, ep endpoint.Endpoint) (Reporter, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e := u.exts[ext]
	if e == nil {
		return nil, fmt.Errorf("sipua: attach %q: %w", ext, ErrNoSuchExtension)
	}
	if old := u.attached[ep]; old != nil {
		if old.ext != nil {
			return nil, fmt.Errorf("sipua: attach %v: %w to %q", ep, ErrAlreadyAttached, old.ext.name)
		}
		// Its extension was removed from the configuration (its calls
		// ended then): the stale attachment gives way.
		delete(u.attached, ep)
		close(old.gone)
	}
	s := &epState{ep: ep, ext: e, name: fmt.Sprint(ep), signal: make(chan struct{}, 1), gone: make(chan struct{})}
	e.endpoints = append(e.endpoints, s)
	u.attached[ep] = s
	// The extension's message state, on or off: the endpoint may still
	// show another mailbox's (moved from another extension, or off while
	// its own changed).
	_ = showMWI(ep, e.mwi)
	// A call ringing for the extension rings the new endpoint too (a
	// device assigned while the call is offered).
	u.ringIfOfferedLocked(s, nil)
	go u.endpointLoop(s)
	return func(ev endpoint.Event) { u.enqueue(s, ev) }, nil
}

// enqueue queues an endpoint's event for its loop; it never blocks.
func (u *UA) enqueue(s *epState, ev endpoint.Event) {
	s.qmu.Lock()
	if len(s.queue) >= maxQueuedEvents {
		s.qmu.Unlock()
		u.log.Warn("endpoint event queue full, event dropped", "endpoint", s.name, "event", ev.Kind)
		return
	}
	s.queue = append(s.queue, ev)
	s.qmu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Report is the Reporter of an attached endpoint, looked up: it queues ev
// and reports true, or false if ep is attached to no extension.
func (u *UA) Report(ep endpoint.Endpoint, ev endpoint.Event) bool {
	u.mu.Lock()
	s := u.attached[ep]
	u.mu.Unlock()
	if s == nil {
		return false
	}
	u.enqueue(s, ev)
	return true
}

// ExtensionOf is the extension ep is attached to ("" if none).
func (u *UA) ExtensionOf(ep endpoint.Endpoint) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s := u.attached[ep]; s != nil && s.ext != nil {
		return s.ext.name
	}
	return ""
}

// Offer tells an attached endpoint that is idle what it may have missed
// while out of reach (a device back in range or reauthenticated): its
// extension's message state, and a call ringing for the extension now.
func (u *UA) Offer(ep endpoint.Endpoint) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s := u.attached[ep]; s != nil && s.ext != nil && !s.offHook && s.ringing == nil && s.active == nil && s.other == nil {
		_ = showMWI(ep, s.ext.mwi)
		u.ringIfOfferedLocked(s, nil)
	}
}

// Detach removes an endpoint: ringing stops at once; a call it holds is
// hung up.
func (u *UA) Detach(ep endpoint.Endpoint) error {
	u.mu.Lock()
	s := u.attached[ep]
	if s == nil {
		u.mu.Unlock()
		return fmt.Errorf("sipua: detach %v: %w", ep, ErrNotAttached)
	}
	delete(u.attached, ep)
	if s.ext != nil {
		eps := s.ext.endpoints[:0]
		for _, x := range s.ext.endpoints {
			if x != s {
				eps = append(eps, x)
			}
		}
		s.ext.endpoints = eps
	}
	var hang []*call
	if s.ringing != nil {
		c := s.ringing
		s.ringing = nil
		_ = ep.StopRinging()
		u.ringStoppedLocked(c, s)
	}
	for _, c := range []*call{s.active, s.other} {
		if c != nil {
			hang = append(hang, c)
		}
	}
	s.active, s.other = nil, nil
	if s.audio != nil {
		_ = ep.DisconnectAudio()
		s.audio = nil
	}
	close(s.gone)
	u.mu.Unlock()
	for _, c := range hang {
		c.detachEndpoint(s)
		c.hangup("endpoint detached")
	}
	return nil
}

func (u *UA) endpointLoop(s *epState) {
	for {
		select {
		case <-s.gone:
			return
		case <-s.signal:
		}
		for {
			s.qmu.Lock()
			if len(s.queue) == 0 {
				s.qmu.Unlock()
				break
			}
			ev := s.queue[0]
			s.queue = s.queue[1:]
			s.qmu.Unlock()
			u.handleEndpointEvent(s, ev)
		}
	}
}

// Registration returns the current registration state of an extension
// (as the last RegistrationEvent would say), false if it is unknown.
func (u *UA) Registration(ext string) (RegistrationEvent, bool) {
	u.mu.Lock()
	e := u.exts[ext]
	u.mu.Unlock()
	if e == nil {
		return RegistrationEvent{}, false
	}
	r := e.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := RegistrationEvent{Extension: ext, State: r.state, Registrar: r.target, LastError: r.lastErr, Time: time.Now()}
	if r.state == RegRegistered {
		ev.Expires, ev.ExpiresAt = r.expires, r.expiresAt
		if r.hasActive {
			ev.Registrar = r.active.Target
		}
	}
	return ev, true
}
