package pbx

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Blind transfer (RFC 3515). The PBX is a B2BUA, so it carries out a REFER
// itself instead of passing it on: the UA that sends REFER (the transferor)
// gets 202 and NOTIFYs with message/sipfrag progress; the other party of
// the call (the transferee) stays in its dialog with the PBX, which calls
// the Refer-To target with the transferee's SDP, re-INVITEs the transferee
// with the target's answer, and hangs up the transferor.

func (p *PBX) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil || req.To() == nil || !req.To().Params.Has("tag") {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist (REFER outside a dialog)")
		return
	}
	l := p.findLeg(req.CallID().Value())
	if l == nil {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	rt := req.ReferTo()
	if rt == nil || rt.Address.User == "" {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Refer-To without a user)")
		return
	}
	if len(req.GetHeaders("Refer-To")) != 1 {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (one Refer-To required)")
		return
	}
	other := p.otherLeg(l)
	if other == nil || !waitUp(l) {
		p.respond(tx, req, sip.StatusNotImplemented, "Not Implemented (no answered call to transfer)")
		return
	}
	if !p.track() {
		p.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable (shutting down)")
		return
	}
	target := rt.Address.User
	res := sip.NewResponseFromRequest(req, sip.StatusAccepted, "Accepted", nil)
	ct := p.contact("")
	res.AppendHeader(&ct)
	if err := tx.Respond(res); err != nil {
		p.untrack()
		return
	}
	p.log.Info("refer", "transferor", l.ext, "transferee", other.ext, "target", target)
	go func() {
		defer p.untrack()
		p.transfer(l, other, target)
	}()
}

func (p *PBX) transfer(transferor, transferee *leg, target string) {
	c := transferor.call
	p.referNotify(transferor, "100 Trying", "active;expires=60")
	p.mu.Lock()
	_, known := p.users[target]
	p.mu.Unlock()
	if !known {
		p.referNotify(transferor, "404 Not Found", "terminated;reason=noresource")
		return
	}
	bs := p.liveBindings(target)
	if len(bs) == 0 {
		p.referNotify(transferor, "480 Temporarily Unavailable", "terminated;reason=noresource")
		return
	}
	id := identity{user: transferee.ext}
	out := p.ring(c, id, transferee.getSDP(), target, bs, transferee.context().Done(), nil)
	if out.winner == nil {
		p.referNotify(transferor, fmt.Sprintf("%d %s", out.code, out.reason), "terminated;reason=noresource")
		return
	}
	nl := out.winner
	if _, err := transferee.reinvite(p.ctx, nl.getSDP()); err != nil {
		p.log.Warn("transfer: re-INVITE of transferee failed", "err", err)
		_ = nl.bye(context.Background())
		p.removeLeg(nl)
		p.referNotify(transferor, "500 Server Internal Error", "terminated;reason=noresource")
		return
	}
	p.mu.Lock()
	if c.a == transferor {
		c.a = nl
	} else {
		c.b = nl
	}
	old := c.changed
	c.changed = make(chan struct{})
	c.info.TransferredTo = target
	c.info.Callee = target
	info := c.info
	p.mu.Unlock()
	close(old)
	p.emit(Event{Kind: EvCall, Ext: info.Caller, Call: info})
	p.referNotify(transferor, "200 OK", "terminated;reason=noresource")
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if err := transferor.bye(ctx); err != nil {
		p.log.Debug("transfer: bye transferor", "err", err)
	}
	p.removeLeg(transferor)
}

// referNotify reports transfer progress to the transferor (RFC 3515 §2.4.5).
func (p *PBX) referNotify(l *leg, status, state string) {
	if l.context().Err() != nil {
		return
	}
	req := sip.NewRequest(sip.NOTIFY, l.remoteTarget())
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte("SIP/2.0 " + status + "\r\n"))
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if res, err := l.do(ctx, req); err != nil {
		p.log.Debug("refer notify", "err", err)
	} else if !res.IsSuccess() {
		p.log.Debug("refer notify refused", "code", res.StatusCode)
	}
}
