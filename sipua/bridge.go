package sipua

import "basestation/endpoint"

// The bridge: which endpoint has which call. All of it runs under u.mu.

// offerIncoming rings every idle endpoint of the extension and alerts
// call waiting on busy ones. It reports whether anyone can take the call.
func (u *UA) offerIncoming(c *call) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	e := c.ext
	cadence := e.cfg.RingCadence
	if cadence == "" {
		cadence = endpoint.Normal
	}
	soon := false
	for _, s := range e.endpoints {
		switch {
		case s.ringing == nil && s.active == nil && s.other == nil && s.offHook && onHookOnItsWay(s.ep):
			// The phone is idle (put down, or released after the far end
			// hung up) but its on-hook has not reached the bridge yet: it
			// rings when it does (ringIfOfferedLocked), rather than the
			// caller hearing busy from a phone the base reports idle.
			soon = true
		case s.ringing == nil && s.active == nil && s.other == nil && !s.offHook:
			if err := s.ep.Ring(c.cid, cadence); err != nil {
				u.log.Warn("endpoint ring", "endpoint", s.name, "error", err)
				continue
			}
			s.ringing = c
			c.ringing[s] = true
		case s.active != nil && s.other == nil && s.offHook && e.cfg.callWaiting() && !s.active.emergency:
			if err := s.ep.AlertCallWaiting(c.cid); err != nil {
				u.log.Warn("endpoint call waiting", "endpoint", s.name, "error", err)
				continue
			}
			s.other = c
			c.cw[s] = true
		}
	}
	return len(c.ringing)+len(c.cw) > 0 || soon
}

// activityOf is an endpoint that knows what its phone is doing now
// (fxs.Port, dect.Device), ahead of the events the bridge has handled.
type activityOf interface {
	Activity() endpoint.Activity
}

// onHookOnItsWay says whether an endpoint the bridge still holds off-hook
// (with no call) is idle already: its on-hook event is queued or on its
// way. An endpoint that cannot tell is taken as off-hook.
func onHookOnItsWay(ep endpoint.Endpoint) bool {
	a, ok := ep.(activityOf)
	return ok && a.Activity() == endpoint.Idle
}

// ringStoppedLocked notes that s no longer rings for c; when nobody is
// left ringing or alerted, the call is refused.
func (u *UA) ringStoppedLocked(c *call, s *epState) {
	delete(c.ringing, s)
	delete(c.cw, s)
	if len(c.ringing)+len(c.cw) == 0 && c.owner == nil && c.state == csSetup && !c.out {
		go c.cancel(errNoEndpoint)
	}
}

type bridgeErr string

func (e bridgeErr) Error() string { return string(e) }

const errNoEndpoint = bridgeErr("no endpoint left")

// claimLocked gives incoming call c to s (the first answer wins); the
// others stop ringing.
func (u *UA) claimLocked(c *call, s *epState) bool {
	if c.owner != nil || c.state != csSetup {
		return false
	}
	c.owner = s
	for r := range c.ringing {
		if r != s && r.ringing == c {
			r.ringing = nil
			_ = r.ep.StopRinging()
		}
	}
	for w := range c.cw {
		if w != s && w.other == c {
			w.other = nil
		}
	}
	c.ringing = map[*epState]bool{}
	c.cw = map[*epState]bool{}
	select {
	case c.answerCh <- s:
	default:
	}
	return true
}

func (u *UA) handleEndpointEvent(s *epState, ev endpoint.Event) {
	u.mu.Lock()
	if s.ext == nil || u.attached[s.ep] != s {
		u.mu.Unlock()
		return
	}
	var after func()
	inOrder := false // run after synchronously (keeps digits in order)
	switch ev.Kind {
	case endpoint.OffHook:
		s.offHook = true
		if c := s.ringing; c != nil && ev.NotAnswer && c.state == csSetup {
			// Lifted to dial: the ringing call is not answered here.
			s.ringing = nil
			delete(c.ringing, s)
			_ = s.ep.StopRinging()
		}
		switch {
		case s.ringing != nil:
			c := s.ringing
			s.ringing = nil
			_ = s.ep.StopRinging()
			if c.state >= csAnswering && c.owner == s {
				// Recall of a held call: take it back.
				s.active = c
				c.heldByUs = false
				c.attachAudioLocked(s)
				after = func() { _ = c.reinvite(false) }
			} else if u.claimLocked(c, s) {
				s.active = c
				if s.other == c {
					s.other = nil
				}
			} else {
				s.dialing = true
				_ = s.ep.PlayTone(u.dialToneLocked(s))
			}
		case s.active == nil:
			s.dialing = true
			_ = s.ep.PlayTone(u.dialToneLocked(s))
		}
	case endpoint.Dialed:
		if ev.Number == "" {
			break
		}
		switch {
		case s.active != nil && s.active.heldByUs && s.dialing:
			// Flash, number: blind transfer of the held call.
			c := s.active
			s.dialing = false
			c.transferring = true
			_ = s.ep.PlayTone(endpoint.None)
			number := ev.Number
			after = func() { c.transfer(number) }
		case s.active == nil:
			s.dialing = false
			_ = s.ep.PlayTone(endpoint.None)
			c, err := u.placeCallLocked(s, ev.Number)
			if err != nil {
				u.log.Warn("outgoing call refused", "endpoint", s.name, "error", err)
				_ = s.ep.PlayTone(endpoint.Reorder)
				break
			}
			s.active = c
			after = c.runOutgoing
		}
	case endpoint.Digit:
		if c := s.active; c != nil && c.ms != nil && c.state >= csEarly && !s.dialing {
			d := ev.Digit
			inOrder = true
			after = func() {
				if err := c.ms.SendDigit(rune(d)); err != nil {
					u.log.Warn("DTMF", "digit", string(rune(d)), "error", err)
				}
			}
		}
	case endpoint.Flash:
		a, o := s.active, s.other
		switch {
		case a == nil:
		case o != nil && o.state == csSetup && !o.out:
			// Call waiting: hold the current call, answer the new one.
			if u.claimLocked(o, s) {
				a.heldByUs = true
				a.ms.Attach(nil)
				s.active, s.other = o, a
				after = func() { _ = a.reinvite(true) }
			}
		case o != nil:
			// Swap: hold the active call, resume the held one.
			a.ms.Attach(nil)
			a.heldByUs, o.heldByUs = true, false
			s.active, s.other = o, a
			o.attachAudioLocked(s)
			after = func() {
				_ = a.reinvite(true)
				_ = o.reinvite(false)
			}
		case a.state >= csActive && !s.dialing:
			// Hold and give dial tone (a number now transfers).
			s.dialing = true
			a.heldByUs = true
			a.ms.Attach(nil)
			_ = s.ep.PlayTone(u.dialToneLocked(s))
			after = func() { _ = a.reinvite(true) }
		case s.dialing && a.heldByUs:
			// Flash again without a number: back to the call.
			s.dialing = false
			a.heldByUs = false
			_ = s.ep.PlayTone(endpoint.None)
			a.attachAudioLocked(s)
			after = func() { _ = a.reinvite(false) }
		}
	case endpoint.OnHook:
		var declined *call
		if c := s.ringing; c != nil && !s.offHook && c.state == csSetup {
			// Declined while ringing (a DECT device): the others ring on,
			// and this endpoint's next off-hook is not an answer.
			s.ringing = nil
			delete(c.ringing, s)
			_ = s.ep.StopRinging()
			declined = c
		}
		s.offHook = false
		s.dialing = false
		_ = s.ep.PlayTone(endpoint.None)
		a, o := s.active, s.other
		s.active, s.other = nil, nil
		if a != nil {
			a.detachAudioLocked(s)
		}
		if o != nil {
			// The other call rings the phone back: a waiting call keeps
			// ringing, a held call is recalled.
			s.ringing = o
			_ = s.ep.Ring(o.cid, "normal")
			if o.state == csSetup {
				o.ringing[s] = true
				delete(o.cw, s)
			}
		}
		if s.ringing == nil && declined == nil {
			// Idle again while a call rings for the extension (it came in
			// while this endpoint was busy, before its on-hook reached us):
			// it rings here too, as for an endpoint attached meanwhile.
			u.ringIfOfferedLocked(s, a)
		}
		if a != nil && !a.transferring {
			after = func() { a.hangup("on-hook") }
		}
	}
	u.mu.Unlock()
	switch {
	case after != nil && inOrder:
		after()
	case after != nil:
		go after()
	}
}

// ringIfOfferedLocked rings idle endpoint s for a call offered to its
// extension that nobody has answered yet (not ended, the one just hung up,
// if any). u.mu held.
func (u *UA) ringIfOfferedLocked(s *epState, ended *call) {
	e := s.ext
	if e == nil {
		return
	}
	for _, c := range u.calls {
		if c == ended || c.ext.name != e.name || c.out || c.state != csSetup || c.owner != nil || c.ringing[s] {
			continue
		}
		cadence := e.cfg.RingCadence
		if cadence == "" {
			cadence = endpoint.Normal
		}
		if err := s.ep.Ring(c.cid, cadence); err != nil {
			u.log.Warn("endpoint ring", "endpoint", s.name, "error", err)
			return
		}
		s.ringing = c
		c.ringing[s] = true
		return
	}
}

// dialToneLocked is the tone for an endpoint that wants to dial: the
// out-of-service intercept (SIT) when its extension is not registered
// (emergency numbers still go out through any registered account),
// stutter dial tone while messages wait, dial tone otherwise.
func (u *UA) dialToneLocked(s *epState) endpoint.Tone {
	if s.ext != nil && s.ext.reg != nil && !s.ext.reg.registered() {
		return endpoint.SIT
	}
	if s.ext != nil && s.ext.mwi.Waiting {
		return endpoint.StutterDial
	}
	return endpoint.Dial
}
