package pbx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// InviteInfo is what an initial INVITE carried, as the PBX received it
// (after authentication when Auth is on): tests use it to check the caller ID
// a UA sends.
type InviteInfo struct {
	Time       time.Time `json:"time"`
	RequestURI string    `json:"request_uri"`
	From       string    `json:"from"` // From URI
	FromUser   string    `json:"from_user"`
	FromName   string    `json:"from_name"` // From display name
	To         string    `json:"to"`        // To URI
	PAI        string    `json:"pai"`       // P-Asserted-Identity value, if any
	PPI        string    `json:"ppi"`       // P-Preferred-Identity value, if any
	Privacy    string    `json:"privacy"`   // Privacy header, if any
	UserAgent  string    `json:"user_agent"`
	Source     string    `json:"source"` // ip:port
	Transport  string    `json:"transport"`
}

// LastInvite returns the last initial INVITE that passed authentication.
func (p *PBX) LastInvite() (InviteInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		return InviteInfo{}, false
	}
	return *p.last, true
}

// CallInfo describes a call the PBX handled or is handling.
type CallInfo struct {
	ID        string     `json:"id"`
	Caller    string     `json:"caller"` // caller's extension (From user)
	Invite    InviteInfo `json:"invite"`
	Dialled   string     `json:"dialled"`   // the Request-URI user
	Callee    string     `json:"callee"`    // extension that answered ("" until answered)
	State     string     `json:"state"`     // "ringing", "answered" or "ended"
	Status    int        `json:"status"`    // final status sent to the caller (0 while ringing)
	Voicemail bool       `json:"voicemail"` // a call to the voicemail number
	// TransferredTo is the target of a blind transfer (REFER) the PBX
	// carried out in this call.
	TransferredTo string    `json:"transferred_to"`
	Start         time.Time `json:"start"`
	Answered      time.Time `json:"answered"`
	Ended         time.Time `json:"ended"`
	// EndedBy is the extension that hung up ("" when the PBX ended it).
	EndedBy string `json:"ended_by"`
}

// Calls returns the active calls and the recent finished ones, oldest first.
func (p *PBX) Calls() []CallInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]CallInfo(nil), p.callLog...)
	var act []CallInfo
	for _, c := range p.calls {
		act = append(act, c.info)
	}
	sortCalls(act)
	return append(out, act...)
}

func sortCalls(cs []CallInfo) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Start.Before(cs[j-1].Start); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// call is one bridged call: two legs (a = the side that called, b = the
// other side; a transfer replaces one of them).
type call struct {
	info    CallInfo // guarded by p.mu
	a, b    *leg     // guarded by p.mu
	changed chan struct{}
	// up is closed once the call is answered and confirmed; in-dialog
	// handlers wait for it before touching the dialogs (whose InviteResponse
	// the answering goroutine writes).
	up chan struct{}

	respMu   sync.Mutex // serialises responses on the caller's INVITE
	answered bool

	killed bool // HangupCall ended it; guarded by p.mu
}

// HangupCall ends an answered call from the PBX side: BYE to both parties.
func (p *PBX) HangupCall(id string) error {
	p.mu.Lock()
	c := p.calls[id]
	if c == nil {
		p.mu.Unlock()
		return fmt.Errorf("pbx: no active call %q", id)
	}
	if c.info.State != "answered" {
		p.mu.Unlock()
		return fmt.Errorf("pbx: call %s is %s, not answered", id, c.info.State)
	}
	c.killed = true
	legs := []*leg{c.a, c.b}
	p.mu.Unlock()
	for _, l := range legs {
		if l == nil {
			continue
		}
		if err := l.bye(p.ctx); err != nil {
			p.log.Debug("hangup call: bye", "ext", l.ext, "err", err)
		}
	}
	return nil
}

func (p *PBX) newCall(info CallInfo) *call {
	p.mu.Lock()
	p.nextCall++
	info.ID = fmt.Sprintf("c%d", p.nextCall)
	info.State = "ringing"
	info.Start = p.cfg.Now()
	c := &call{info: info, changed: make(chan struct{}), up: make(chan struct{})}
	p.calls[info.ID] = c
	p.mu.Unlock()
	p.emit(Event{Kind: EvCall, Ext: info.Caller, Call: info})
	return c
}

func (p *PBX) updateCall(c *call, f func(*CallInfo)) {
	p.mu.Lock()
	f(&c.info)
	info := c.info
	p.mu.Unlock()
	p.emit(Event{Kind: EvCall, Ext: info.Caller, Call: info})
}

// endCall moves the call to the log.
func (p *PBX) endCall(c *call, status int, by string) {
	p.mu.Lock()
	if _, ok := p.calls[c.info.ID]; !ok {
		p.mu.Unlock()
		return
	}
	delete(p.calls, c.info.ID)
	c.info.State = "ended"
	if c.info.Status == 0 {
		c.info.Status = status
	}
	c.info.Ended = p.cfg.Now()
	c.info.EndedBy = by
	p.callLog = append(p.callLog, c.info)
	if len(p.callLog) > p.cfg.CallLogSize {
		p.callLog = p.callLog[len(p.callLog)-p.cfg.CallLogSize:]
	}
	info := c.info
	p.mu.Unlock()
	p.emit(Event{Kind: EvCall, Ext: info.Caller, Call: info})
}

func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func (p *PBX) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (missing From, To, Call-ID or CSeq)")
		return
	}
	if req.To().Params.Has("tag") {
		p.onReinvite(req, tx)
		return
	}
	if req.Contact() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (no Contact)")
		return
	}
	caller := req.From().Address.User
	if !p.authenticate(req, tx, true, caller) {
		return
	}
	info := InviteInfo{
		Time: p.cfg.Now(), RequestURI: req.Recipient.String(), From: req.From().Address.String(),
		FromUser: caller, FromName: req.From().DisplayName, To: req.To().Address.String(),
		PAI: headerValue(req, "P-Asserted-Identity"), PPI: headerValue(req, "P-Preferred-Identity"),
		Privacy: headerValue(req, "Privacy"), UserAgent: headerValue(req, "User-Agent"),
		Source: req.Source(), Transport: strings.ToUpper(req.Transport()),
	}
	p.mu.Lock()
	p.last = &info
	_, known := p.users[req.Recipient.User]
	p.mu.Unlock()
	target := req.Recipient.User
	p.log.Info("invite", "from", caller, "name", info.FromName, "to", target, "pai", info.PAI, "ppi", info.PPI)

	if ct := req.ContentType(); len(req.Body()) == 0 || ct == nil || !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), "application/sdp") {
		p.respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here (INVITE without an SDP offer is not supported)")
		return
	}
	if target != "" && target == p.cfg.VoicemailNumber {
		p.voicemail(req, tx, info)
		return
	}
	if !known {
		p.log.Info("invite: no such user", "to", target)
		p.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	bs := p.liveBindings(target)
	if len(bs) == 0 {
		p.log.Info("invite: user not registered", "to", target)
		p.respond(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return
	}
	if !p.track() {
		p.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable (shutting down)")
		return
	}
	defer p.untrack()
	p.bridge(req, tx, info, target, bs)
}

// identity is who the PBX presents as the caller on a leg it places.
type identity struct {
	user, name string
	headers    []sip.Header // P-Asserted-Identity, Privacy, Alert-Info
}

// callerIdentity takes the caller's identity from its INVITE. RFC 3325: a
// P-Preferred-Identity from an authenticated user becomes the asserted
// identity; an existing P-Asserted-Identity passes through.
func callerIdentity(in *sip.Request) identity {
	id := identity{user: in.From().Address.User, name: in.From().DisplayName}
	if v := headerValue(in, "P-Asserted-Identity"); v != "" {
		id.headers = append(id.headers, sip.NewHeader("P-Asserted-Identity", v))
	} else if v := headerValue(in, "P-Preferred-Identity"); v != "" {
		id.headers = append(id.headers, sip.NewHeader("P-Asserted-Identity", v))
	}
	for _, name := range []string{"Privacy", "Alert-Info"} {
		if v := headerValue(in, name); v != "" {
			id.headers = append(id.headers, sip.NewHeader(name, v))
		}
	}
	return id
}

// buildInvite builds the INVITE of the PBX to one contact of target.
func (p *PBX) buildInvite(id identity, offer []byte, b binding, target string) *sip.Request {
	req := sip.NewRequest(sip.INVITE, *b.contact.Clone())
	req.SetTransport(b.transport)
	from := sip.FromHeader{DisplayName: id.name,
		Address: sip.Uri{Scheme: "sip", User: id.user, Host: p.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target, Host: p.host}}
	callID := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	for _, h := range id.headers {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	return req
}

type legResult struct {
	l   *leg
	err error
}

// ringOutcome is how ringing the contacts of an extension ended.
type ringOutcome struct {
	winner   *leg // answered and ACKed; nil otherwise
	code     int  // failure status for the caller when winner is nil
	reason   string
	canceled bool // abort fired
}

// ring calls every contact of target in parallel with offer, relays
// provisional responses to onProvisional, and returns the first contact
// that answers (already ACKed). The others are cancelled (or, if they
// answer anyway, ACKed and hung up). abort cancels the whole attempt.
func (p *PBX) ring(c *call, id identity, offer []byte, target string, bs []binding, abort <-chan struct{}, onProvisional func(*sip.Response)) ringOutcome {
	ringCtx, cancelRing := context.WithTimeout(p.ctx, p.RingTimeout(target))
	defer cancelRing()
	results := make(chan legResult, len(bs))
	started := 0
	for _, b := range bs {
		inv := p.buildInvite(id, offer, b, target)
		dc, err := p.dialogUA(b.transport).WriteInvite(p.ctx, inv)
		if err != nil {
			p.log.Info("invite to contact failed", "to", target, "contact", b.key, "err", err)
			continue
		}
		lb := &leg{call: c, ext: target, callID: inv.CallID().Value(), cli: dc, transport: b.transport}
		p.addLeg(lb)
		started++
		go func() {
			err := dc.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
				if onProvisional != nil && (res.StatusCode == 180 || res.StatusCode == 183) {
					onProvisional(res)
				}
				return nil
			}})
			results <- legResult{lb, err}
		}()
	}
	out := ringOutcome{code: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}
	if started == 0 {
		return out
	}
	bestCode, bestReason := 0, ""
	pending := started
wait:
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				out.winner = r.l
				break wait
			}
			p.removeLeg(r.l)
			code, reason := sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
			var de *sipgo.ErrDialogResponse
			if errors.As(r.err, &de) {
				code, reason = de.Res.StatusCode, de.Res.Reason
			} else {
				p.log.Info("callee leg failed", "to", target, "err", r.err)
			}
			if better(code, bestCode) {
				bestCode, bestReason = code, reason
			}
		case <-abort:
			out.canceled = true
			break wait
		case <-ringCtx.Done():
			break wait
		}
	}
	// Losers: cancel, and hang up any that answered all the same.
	cancelRing()
	if pending > 0 && p.track() {
		go func(n int) {
			defer p.untrack()
			for range n {
				r := <-results
				if r.err == nil || (r.l.cli.InviteResponse != nil && r.l.cli.InviteResponse.IsSuccess()) {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = r.l.cli.Ack(ctx)
					_ = r.l.cli.Bye(ctx)
					cancel()
				}
				r.l.cli.Close()
				p.removeLeg(r.l)
			}
		}(pending)
	}
	if out.winner == nil {
		if bestCode != 0 {
			out.code, out.reason = bestCode, bestReason
		}
		return out
	}
	ackCtx, cancelAck := context.WithTimeout(p.ctx, 5*time.Second)
	err := out.winner.cli.Ack(ackCtx)
	cancelAck()
	if err != nil {
		p.log.Warn("ack to callee failed", "to", target, "err", err)
		_ = out.winner.bye(context.Background())
		p.removeLeg(out.winner)
		return ringOutcome{code: sip.StatusInternalServerError, reason: "Server Internal Error (callee unreachable)"}
	}
	out.winner.setSDP(out.winner.cli.InviteResponse.Body())
	return out
}

// bridge rings every contact of target, connects the caller to the first
// that answers, and keeps the two dialogs bridged until one side hangs up.
func (p *PBX) bridge(req *sip.Request, tx sip.ServerTransaction, info InviteInfo, target string, bs []binding) {
	dsA, err := p.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request ("+err.Error()+")")
		return
	}
	defer dsA.Close()
	c := p.newCall(CallInfo{Caller: info.FromUser, Invite: info, Dialled: target})
	la := &leg{call: c, ext: info.FromUser, callID: req.CallID().Value(), srv: dsA, sdp: req.Body(), transport: req.Transport()}
	p.mu.Lock()
	c.a = la
	p.mu.Unlock()
	p.addLeg(la)
	defer p.removeLeg(la)
	_ = dsA.Respond(sip.StatusTrying, "Trying", nil)

	out := p.ring(c, callerIdentity(req), req.Body(), target, bs, dsA.Context().Done(), func(res *sip.Response) {
		p.relayProvisional(c, dsA, res)
	})
	if out.canceled {
		p.log.Info("call canceled by caller", "from", info.FromUser, "to", target)
		p.endCall(c, sip.StatusRequestTerminated, info.FromUser)
		return
	}
	if out.winner == nil {
		p.finishFailed(c, dsA, out.code, out.reason)
		return
	}
	lb := out.winner
	answer := lb.getSDP()
	p.mu.Lock()
	c.b = lb
	p.mu.Unlock()
	c.respMu.Lock()
	c.answered = true
	c.respMu.Unlock()
	p.updateCall(c, func(ci *CallInfo) {
		ci.State, ci.Status, ci.Callee, ci.Answered = "answered", sip.StatusOK, target, p.cfg.Now()
	})
	p.log.Info("call answered", "from", info.FromUser, "to", target)
	if err := dsA.RespondSDP(answer); err != nil && dsA.Context().Err() == nil {
		// No ACK from the caller (or the caller vanished): end both sides.
		p.log.Warn("caller did not confirm the answer", "err", err)
		_ = dsA.Bye(context.Background())
		_ = lb.bye(context.Background())
		p.removeLeg(lb)
		p.endCall(c, sip.StatusOK, "")
		return
	}
	close(c.up)
	p.holdCall(c)
}

// waitUp waits until l's call is answered and confirmed.
func waitUp(l *leg) bool {
	select {
	case <-l.call.up:
		return true
	case <-l.context().Done():
		return false
	case <-time.After(5 * time.Second):
		return false
	}
}

// better ranks failure responses for the caller when several contacts
// failed (RFC 3261 §16.7: 6xx first, then busy, then the lowest class).
func better(code, best int) bool {
	rank := func(c int) int {
		switch {
		case c == 0:
			return 0
		case c >= 600:
			return 5
		case c == sip.StatusBusyHere:
			return 4
		case c == sip.StatusTemporarilyUnavailable || c == sip.StatusRequestTerminated:
			return 1
		case c >= 400 && c < 500:
			return 3
		default:
			return 2
		}
	}
	return rank(code) > rank(best)
}

func (p *PBX) relayProvisional(c *call, dsA *sipgo.DialogServerSession, res *sip.Response) {
	c.respMu.Lock()
	defer c.respMu.Unlock()
	if c.answered {
		return
	}
	var hdrs []sip.Header
	if len(res.Body()) > 0 {
		hdrs = append(hdrs, sip.NewHeader("Content-Type", "application/sdp"))
	}
	if err := dsA.Respond(res.StatusCode, res.Reason, res.Body(), hdrs...); err != nil {
		p.log.Debug("relay provisional", "err", err)
	}
}

func (p *PBX) finishFailed(c *call, dsA *sipgo.DialogServerSession, code int, reason string) {
	c.respMu.Lock()
	c.answered = true // no more provisionals
	c.respMu.Unlock()
	p.log.Info("call failed", "id", c.info.ID, "code", code, "reason", reason)
	if err := dsA.Respond(code, reason, nil); err != nil {
		p.log.Debug("respond failure", "err", err)
	}
	p.endCall(c, code, "")
}
