package main

import (
	"context"
	"errors"
	"net/http"
	"time"
)

func (w *world) getPBX(ctx context.Context, r *http.Request) (any, error) {
	if w.pbx == nil {
		return map[string]any{"addr": w.pbxAddr(), "outside": true}, nil
	}
	return map[string]any{
		"addr":            w.pbx.Addr(),
		"outside":         false,
		"outage":          w.pbx.Outage(),
		"ring_timeout_ms": w.opt.RingTimeout.Milliseconds(),
		"registrations":   w.pbx.Registrations(),
		"calls":           w.pbx.Calls(),
	}, nil
}

func (w *world) standInPBX() error {
	if w.pbx == nil {
		return &apiError{http.StatusConflict, "this run uses an outside PBX (" + w.pbxAddr() + "): the stand-in PBX's instruments are off"}
	}
	return nil
}

func (w *world) postVoicemail(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Extension string `json:"extension"`
		New       int    `json:"new"`
		Old       int    `json:"old"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if err := w.standInPBX(); err != nil {
		return nil, err
	}
	if b.New < 0 || b.Old < 0 {
		return nil, badRequest("new/old: message counts cannot be negative")
	}
	if err := w.pbx.SetVoicemail(b.Extension, b.New, b.Old); err != nil {
		return nil, notFound("extension: %v", err)
	}
	return w.pbx.Voicemail(b.Extension), nil
}

type outageBody struct {
	On *bool `json:"on"`
}

func (b outageBody) check() error {
	if b.On == nil {
		return badRequest("on: missing (true starts the outage, false ends it)")
	}
	return nil
}

func (w *world) postPBXOutage(ctx context.Context, r *http.Request) (any, error) {
	var b outageBody
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	if err := w.standInPBX(); err != nil {
		return nil, err
	}
	w.pbx.SetOutage(*b.On)
	return map[string]any{"addr": w.pbx.Addr(), "outage": w.pbx.Outage()}, nil
}

func (w *world) brokerView() map[string]any {
	if w.broker == nil {
		return map[string]any{"url": w.brokerURL(), "outside": true}
	}
	return map[string]any{"url": w.broker.URL(), "outside": false, "outage": w.broker.Outage(), "clients": w.broker.Clients()}
}

func (w *world) getBroker(ctx context.Context, r *http.Request) (any, error) {
	return w.brokerView(), nil
}

func (w *world) postBrokerOutage(ctx context.Context, r *http.Request) (any, error) {
	var b outageBody
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	if w.broker == nil {
		return nil, &apiError{http.StatusConflict, "this run uses an outside broker (" + w.brokerURL() + "): no outage can be made here"}
	}
	w.broker.SetOutage(*b.On)
	return w.brokerView(), nil
}

type callerView struct {
	Number        string  `json:"number"`
	Name          string  `json:"name"`
	State         string  `json:"state"`
	WhenCalled    string  `json:"when_called"`
	AnswerAfterMs int     `json:"answer_after_ms"`
	RingTimeoutMs int64   `json:"ring_timeout_ms"` // how long the stand-in PBX rings it (0: an outside PBX)
	HeardHz       float64 `json:"heard_hz"`
	Digits        string  `json:"digits_received"`
	LastCallerID  string  `json:"last_caller_id,omitempty"`
	LastFrom      string  `json:"last_from,omitempty"`
	LastIdentity  string  `json:"last_identity,omitempty"`
	LastCallError string  `json:"last_call_error,omitempty"`
	ReceivedAudio int     `json:"received_packets"`
}

func (w *world) viewCaller(number string) (callerView, error) {
	c, err := w.caller(number)
	if err != nil {
		return callerView{}, notFound("%v", err)
	}
	p := c.phone
	when, after := c.behaviour()
	c.mu.Lock()
	lastErr := c.lastErr
	c.mu.Unlock()
	v := callerView{Number: number, Name: c.name, State: string(p.State()), WhenCalled: when, AnswerAfterMs: int(after / time.Millisecond),
		HeardHz: p.HeardFrequency(), Digits: p.Digits(), ReceivedAudio: p.ReceivedPackets(), LastCallError: lastErr}
	if w.pbx != nil {
		v.RingTimeoutMs = w.pbx.RingTimeout(number).Milliseconds()
	}
	if inv, ok := p.LastInvite(); ok {
		v.LastCallerID = inv.FromName
		v.LastFrom = inv.FromUser
		v.LastIdentity = inv.PPI
		if inv.PAI != "" {
			v.LastIdentity = inv.PAI
		}
	}
	return v, nil
}

func (w *world) getCallers(ctx context.Context, r *http.Request) (any, error) {
	out := []callerView{}
	for _, n := range w.callerNames() {
		if v, err := w.viewCaller(n); err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func (w *world) getCaller(ctx context.Context, r *http.Request) (any, error) {
	return w.viewCaller(r.PathValue("ext"))
}

type behaviourBody struct {
	WhenCalled    string `json:"when_called"`
	AnswerAfterMs int    `json:"answer_after_ms"`
	// RingTimeoutMs, if set, is how long the stand-in PBX rings this
	// caller before it ends the call with 480 (0: -pbx-ring-timeout).
	RingTimeoutMs *int `json:"ring_timeout_ms"`
}

// checkBehaviourBody checks b, and that a ring timeout is only asked of the
// stand-in PBX.
func (w *world) checkBehaviourBody(b behaviourBody) error {
	if err := checkBehaviour(b.WhenCalled, b.AnswerAfterMs); err != nil {
		return badRequest("%v", err)
	}
	if b.RingTimeoutMs != nil {
		if ms := *b.RingTimeoutMs; ms != 0 && (ms < 1000 || ms > 3600000) {
			return badRequest("ring_timeout_ms: %d outside 1000..3600000 (0: the PBX's default)", ms)
		}
		if w.pbx == nil && *b.RingTimeoutMs != 0 {
			return &apiError{http.StatusConflict, "ring_timeout_ms: this run uses an outside PBX (" + w.pbxAddr() + "), whose timeout cannot be set here"}
		}
	}
	return nil
}

// setRingTimeout applies b's ring timeout, if it has one, to number.
func (w *world) setRingTimeout(number string, b behaviourBody) error {
	if b.RingTimeoutMs == nil || w.pbx == nil {
		return nil
	}
	return w.pbx.SetRingTimeout(number, time.Duration(*b.RingTimeoutMs)*time.Millisecond)
}

func (w *world) postCallers(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Number string `json:"number"`
		Name   string `json:"name"`
		behaviourBody
	}
	b.WhenCalled = whenRing
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if err := checkNumber(b.Number); err != nil {
		return nil, badRequest("%v", err)
	}
	if _, err := callOptions(callSpec{To: "x", Name: b.Name}); err != nil {
		return nil, badRequest("%v", err)
	}
	if err := w.checkBehaviourBody(b.behaviourBody); err != nil {
		return nil, err
	}
	if _, err := w.addCaller(b.Number, b.Name, "", b.WhenCalled, time.Duration(b.AnswerAfterMs)*time.Millisecond); err != nil {
		return nil, conflict(err)
	}
	if err := w.setRingTimeout(b.Number, b.behaviourBody); err != nil {
		return nil, conflict(err)
	}
	return w.viewCaller(b.Number)
}

func (w *world) deleteCaller(ctx context.Context, r *http.Request) (any, error) {
	if err := decode(r, &struct{}{}); err != nil {
		return nil, err
	}
	n := r.PathValue("ext")
	if err := w.removeCaller(ctx, n); err != nil {
		if errors.Is(err, errNoCaller) {
			return nil, notFound("%v", err)
		}
		return nil, conflict(err)
	}
	return map[string]any{"removed": n, "callers": w.callerNames()}, nil
}

func (w *world) postCaller(ctx context.Context, r *http.Request) (any, error) {
	ext := r.PathValue("ext")
	c, err := w.caller(ext)
	if err != nil {
		return nil, notFound("%v", err)
	}
	p := c.phone
	var b struct {
		callSpec
		behaviourBody
		Hz     float64 `json:"hz"`
		Digits string  `json:"digits"`
		Code   int     `json:"code"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "call":
		o, err := callOptions(b.callSpec)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		if p.State() != "idle" {
			return nil, conflict(errors.New("caller " + ext + " is in a call (" + string(p.State()) + ")"))
		}
		c.mu.Lock()
		c.lastErr = ""
		c.mu.Unlock()
		// The call rings until answered: do not hold the request, but
		// answer once the INVITE is out (the state after the action).
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			cctx, cancel := context.WithTimeout(w.ctx, 2*time.Minute)
			defer cancel()
			if err := p.CallWith(cctx, b.To, o); err != nil {
				c.mu.Lock()
				c.lastErr = err.Error()
				c.mu.Unlock()
				w.log.Info("caller's call ended", "ext", ext, "to", b.To, "result", err)
			}
		}()
		waitFor(ctx, 2*time.Second, func() bool {
			c.mu.Lock()
			failed := c.lastErr != ""
			c.mu.Unlock()
			return p.State() != "idle" || failed
		})
	case "answer":
		err = p.Answer()
	case "reject":
		if b.Code == 0 {
			b.Code = 486
		}
		err = p.Reject(b.Code)
	case "hangup":
		err = p.Hangup(ctx)
		waitFor(ctx, time.Second, func() bool { return p.State() == "idle" })
	case "tone":
		if b.Hz < 0 || b.Hz > 3800 {
			return nil, badRequest("hz: %v is outside 0..3800", b.Hz)
		}
		p.SetTone(b.Hz)
	case "digits":
		err = p.SendDigits(b.Digits)
	case "behaviour":
		if b.WhenCalled == "" {
			b.WhenCalled = whenRing
		}
		if err := w.checkBehaviourBody(b.behaviourBody); err != nil {
			return nil, err
		}
		if err := w.setRingTimeout(ext, b.behaviourBody); err != nil {
			return nil, conflict(err)
		}
		c.setBehaviour(b.WhenCalled, time.Duration(b.AnswerAfterMs)*time.Millisecond)
	default:
		return nil, notFound("no caller action %q (call, answer, reject, hangup, tone, digits, behaviour)", a)
	}
	if err != nil {
		return nil, conflict(err)
	}
	return w.viewCaller(ext)
}

// waitFor polls cond every 10 ms until it holds, d passes or ctx ends.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
