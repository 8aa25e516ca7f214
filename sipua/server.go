package sipua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"basestation/endpoint"
	"basestation/sipua/media"
)

// routes registers the request handlers, each behind guard. Methods
// without a handler get 405 with Allow.
func (u *UA) routes(srv *sipgo.Server) {
	for m, h := range u.handlers() {
		srv.OnRequest(m, u.guard(h))
	}
	srv.OnNoRoute(u.guard(u.onUnknownMethod))
}

// handlers maps each method the UA answers to its handler.
func (u *UA) handlers() map[sip.RequestMethod]sipgo.RequestHandler {
	return map[sip.RequestMethod]sipgo.RequestHandler{
		sip.INVITE:    u.onInvite,
		sip.ACK:       u.onAck,
		sip.BYE:       u.onBye,
		sip.CANCEL:    u.onCancel,
		sip.OPTIONS:   u.onOptions,
		sip.NOTIFY:    u.onNotify,
		sip.REFER:     u.onRefer,
		sip.SUBSCRIBE: u.onSubscribe,
	}
}

// onSubscribe: we are no notifier of any event package.
func (u *UA) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, 489, "Bad Event")
}

// onUnknownMethod answers methods we do not implement (INFO, UPDATE,
// MESSAGE, PRACK, PUBLISH, REGISTER, extension methods).
func (u *UA) onUnknownMethod(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.ACK {
		return
	}
	respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowMethods))
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// callFor returns the call whose dialog req is in: same Call-ID, the
// From tag is the remote tag and the To tag ours (RFC 3261 §12.2.2). A
// request naming a call's Call-ID with other tags is not in its dialog.
func (u *UA) callFor(req *sip.Request) *call {
	cid := req.CallID()
	if cid == nil || req.From() == nil || req.To() == nil {
		return nil
	}
	u.mu.Lock()
	c := u.calls[cid.Value()]
	u.mu.Unlock()
	if c == nil || c.dlg == nil {
		return nil
	}
	fromTag, _ := req.From().Params.Get("tag")
	toTag, _ := req.To().Params.Get("tag")
	c.dlg.mu.Lock()
	ok := fromTag == c.dlg.remoteTag && toTag == c.dlg.localTag
	c.dlg.mu.Unlock()
	if !ok {
		return nil
	}
	return c
}

func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To().Params.Has("tag") {
		u.onReinvite(req, tx)
		return
	}
	u.mu.Lock()
	if !u.running {
		u.mu.Unlock()
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	// Trust first: an outsider gets 403 whether or not the user exists.
	e, trusted := u.findTrustedExtensionLocked(req)
	if !trusted {
		u.mu.Unlock()
		u.log.Warn("INVITE from a server no account uses, refused", "source", req.Source(), "transport", req.Transport())
		respond(tx, req, 403, "Forbidden")
		return
	}
	if e == nil {
		u.mu.Unlock()
		respond(tx, req, 404, "Not Found")
		return
	}
	if u.calls[req.CallID().Value()] != nil {
		u.mu.Unlock()
		respond(tx, req, 482, "Loop Detected")
		return
	}
	r := e.reg
	r.mu.Lock()
	contact, localIP := r.contact, r.localIP
	r.mu.Unlock()
	if contact == nil {
		contact = &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: e.acct.User, Host: localIP, Port: u.listenPort}}
	}
	acct := e.acct
	cli, err := u.client(acct.transport(), localIP)
	if err != nil {
		u.mu.Unlock()
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	c := u.newCall(e, acct, r.auth, false)
	c.cli, c.invReq, c.invTx = cli, req, tx
	from := req.From()
	tag, _ := from.Params.Get("tag")
	c.dlg = &dialog{
		callID:     req.CallID().Value(),
		local:      req.To().Address,
		localTag:   sip.GenerateTagN(16),
		remote:     from.Address,
		remoteName: from.DisplayName,
		remoteTag:  tag,
		routes:     routeSetFrom(req.GetHeaders("Record-Route"), false),
		rcseq:      req.CSeq().SeqNo,
		lcseq:      1,
		transport:  req.Transport(),
		contact:    contact.Clone(),
		// The guard made sure an INVITE has a usable Contact.
		remoteTarget: req.Contact().Address,
	}
	c.cid = callerIDOf(req)
	c.number = c.cid.Number
	u.calls[c.dlg.callID] = c
	u.mu.Unlock()

	fail := func(code int, reason string) {
		_ = tx.Respond(c.response(code, reason, nil))
		c.finish(fmt.Sprintf("%d %s", code, reason))
	}
	ms, err := u.newMedia(c, c.localIP(), srtpMode(acct.SRTP))
	if err != nil {
		fail(500, "Server Internal Error")
		return
	}
	u.mu.Lock() // the bridge reads c.ms under u.mu
	c.ms = ms
	u.mu.Unlock()
	answer, neg, err := ms.Negotiator().Answer(req.Body())
	if err != nil {
		u.log.Info("incoming offer refused", "call", c.dlg.callID, "error", err)
		var se *media.SDPError
		if errors.Is(err, media.ErrNoCommonCodec) || errors.Is(err, media.ErrSRTPMismatch) || errors.As(err, &se) {
			fail(488, "Not Acceptable Here")
		} else {
			fail(488, "Not Acceptable Here")
		}
		return
	}
	if err := ms.Apply(neg); err != nil {
		fail(500, "Server Internal Error")
		return
	}
	if !u.offerIncoming(c) {
		fail(486, "Busy Here")
		return
	}
	c.event("ringing", "")
	canceled := make(chan struct{})
	tx.OnCancel(func(*sip.Request) { close(canceled) })
	ringing := c.response(180, "Ringing", nil)
	ringing.AppendHeader(c.dlg.contact.Clone())
	_ = tx.Respond(ringing)

	noAnswer := time.NewTimer(u.conf().Timing.RingNoAnswer)
	defer noAnswer.Stop()
	var s *epState
	select {
	case s = <-c.answerCh:
	case <-noAnswer.C:
		// Nobody answered and the caller did not give up: stop ringing
		// rather than ring forever (RFC 3261 Timer C, §16.6 step 11).
		u.log.Info("incoming call not answered, refused", "call", c.dlg.callID, "after", u.conf().Timing.RingNoAnswer)
		_ = tx.Respond(c.response(480, "Temporarily Unavailable", nil))
		c.finish("no answer")
		return
	case <-canceled:
		c.finish("cancelled")
		return
	case <-tx.Done():
		c.finish("cancelled")
		return
	case <-c.ctx.Done():
		// Ended before an answer: BYE in the early dialog (487), the
		// last ringing endpoint detached (480), or shutdown (503).
		cause := context.Cause(c.ctx)
		switch {
		case errors.Is(cause, errNoEndpoint):
			_ = tx.Respond(c.response(480, "Temporarily Unavailable", nil))
		case u.runCtx.Err() != nil:
			_ = tx.Respond(c.response(503, "Service Unavailable", nil))
		default:
			_ = tx.Respond(c.response(487, "Request Terminated", nil))
		}
		c.finish(cause.Error())
		return
	}
	_ = s
	ok := c.response(200, "OK", answer)
	ok.AppendHeader(c.dlg.contact.Clone())
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ok.AppendHeader(sip.NewHeader("Allow", allowMethods))
	u.mu.Lock()
	c.state = csAnswering
	u.mu.Unlock()
	if err := tx.Respond(ok); err != nil {
		c.finish("cancelled")
		return
	}
	if !c.waitAck(tx, ok, req.CSeq().SeqNo) {
		u.log.Warn("no ACK for 200, hanging up", "call", c.dlg.callID)
		c.hangup("no ACK")
		return
	}
	u.mu.Lock()
	if c.state == csAnswering {
		c.state = csActive
	}
	if c.owner != nil && c.owner.active == c {
		c.attachAudioLocked(c.owner)
	}
	u.mu.Unlock()
	c.event("connected", "")
}

// response builds a response to the INVITE with our To tag.
func (c *call) response(code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.invReq, code, reason, body)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.dlg.localTag) // replaces sipgo's random tag
	}
	return res
}

// waitAck retransmits a 2xx (T1 doubling to T2) until the ACK for cseq
// arrives, the call ends (BYE overtook the ACK) or 64*T1 pass.
func (c *call) waitAck(tx sip.ServerTransaction, res *sip.Response, cseq uint32) bool {
	interval := sip.T1
	timer := time.NewTimer(interval)
	defer timer.Stop()
	deadline := time.After(64 * sip.T1)
	for {
		select {
		case n := <-c.acks:
			if n == cseq {
				return true
			}
		case <-c.ctx.Done():
			return true // BYE came first (libraries.md §3.4): treated as answered
		case <-deadline:
			return false
		case <-timer.C:
			_ = tx.Respond(res)
			interval = min(2*interval, sip.T2)
			timer.Reset(interval)
		}
	}
}

// callerIDOf reads the caller ID of an incoming INVITE: P-Asserted-
// Identity, else From; privacy makes it private.
func callerIDOf(req *sip.Request) endpoint.CallerID {
	cid := endpoint.CallerID{Time: time.Now()}
	name, number := req.From().DisplayName, req.From().Address.User
	if hs := req.GetHeaders("P-Asserted-Identity"); len(hs) > 0 {
		vals := make([]string, len(hs))
		for i, h := range hs {
			vals[i] = h.Value()
		}
		// sip:, sips: or tel: (callerid.go); unusable: From stands.
		if disp, num, err := assertedIdentity(vals); err == nil {
			number = num
			if disp != "" {
				name = disp
			}
		}
	}
	priv := req.GetHeader("Privacy")
	if strings.EqualFold(number, "anonymous") || (priv != nil && strings.Contains(strings.ToLower(priv.Value()), "id")) ||
		strings.EqualFold(req.From().Address.Host, "anonymous.invalid") {
		return endpoint.CallerID{Reason: endpoint.Private, Time: cid.Time}
	}
	if number == "" || strings.EqualFold(number, "unknown") {
		cid.Reason = endpoint.OutOfArea
		number = ""
	}
	cid.Number, cid.Name = number, name
	return cid
}

func (u *UA) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dlg.checkRemoteCSeq(req); err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	if c.ms == nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	if ct := req.Contact(); ct != nil {
		c.dlg.mu.Lock()
		c.dlg.remoteTarget = ct.Address
		c.dlg.mu.Unlock()
	}
	neg := c.ms.Negotiator()
	u.mu.Lock()
	held := c.heldByUs
	u.mu.Unlock()
	if held {
		neg.SetDirection(media.SendOnly)
	} else {
		neg.SetDirection(media.SendRecv)
	}
	answer, n, err := neg.Answer(req.Body())
	if err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	if err := c.ms.Apply(n); err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	ok := sip.NewResponseFromRequest(req, 200, "OK", answer)
	ok.AppendHeader(c.dlg.contact.Clone())
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := tx.Respond(ok); err != nil {
		return
	}
	c.waitAck(tx, ok, req.CSeq().SeqNo)
}

func (u *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		return
	}
	select {
	case c.acks <- req.CSeq().SeqNo:
	default:
	}
}

func (u *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	respond(tx, req, 200, "OK")
	c.finish("remote bye")
}

func (u *UA) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// The transaction layer matches CANCELs to their INVITE and answers
	// both; one that reaches here matched nothing.
	respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (u *UA) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, 200, "OK", optionsHeaders()...)
}

// onRefer handles a blind transfer asked by the far end (RFC 3515): the
// endpoint of the call is given a new call to the Refer-To target, the
// progress is NOTIFYed as message/sipfrag, and the old call ends when the
// new one is answered (the transferor's BYE, or ours).
func (u *UA) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		respond(tx, req, 400, "Missing Refer-To")
		return
	}
	v := h.Value()
	if i, j := strings.IndexByte(v, '<'), strings.IndexByte(v, '>'); i >= 0 && j > i {
		v = v[i+1 : j]
	}
	var target sip.Uri
	if err := sip.ParseUri(v, &target); err != nil || target.User == "" || target.Headers.Has("Replaces") {
		respond(tx, req, 400, "Bad Refer-To")
		return
	}
	if err := c.dlg.checkRemoteCSeq(req); err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	u.mu.Lock()
	s := c.owner
	if s == nil || s.active != c || c.state != csActive {
		u.mu.Unlock()
		respond(tx, req, 603, "Declined")
		return
	}
	nc, err := u.placeCallLocked(s, target.User)
	if err != nil {
		u.mu.Unlock()
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	c.ms.Attach(nil)
	s.active = nc
	u.mu.Unlock()
	respond(tx, req, 202, "Accepted")
	u.log.Info("transfer requested by the far end", "call", c.dlg.callID, "to", target.User)
	nc.onFinal = func(status string) {
		c.notifyRefer("SIP/2.0 "+status, true)
		if strings.HasPrefix(status, "2") {
			c.hangup("transferred")
			return
		}
		// Failed: back to the original call.
		u.mu.Lock()
		if s.active == nil && c.state == csActive {
			s.active = c
			c.attachAudioLocked(s)
		}
		u.mu.Unlock()
	}
	go func() {
		c.notifyRefer("SIP/2.0 100 Trying", false)
		nc.runOutgoing()
	}()
}

// notifyRefer sends the transfer progress NOTIFY in the call's dialog.
func (c *call) notifyRefer(frag string, final bool) {
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := func() (*sip.Response, error) {
		return c.u.sendInDialogBody(ctx, c.cli, c.dlg, c.auth, sip.NOTIFY, "message/sipfrag;version=2.0", []byte(frag+"\r\n"),
			sip.NewHeader("Event", "refer"), sip.NewHeader("Subscription-State", state))
	}
	if _, err := req(); err != nil {
		c.u.log.Warn("transfer NOTIFY failed", "call", c.dlg.callID, "error", err)
	}
}
