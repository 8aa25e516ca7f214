package pbx

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// holdCall waits until one side of the bridged call hangs up, then hangs
// up the other side. A transfer swaps a leg and signals c.changed.
func (p *PBX) holdCall(c *call) {
	defer func() {
		p.mu.Lock()
		a, b := c.a, c.b
		p.mu.Unlock()
		p.removeLeg(a)
		p.removeLeg(b)
	}()
	for {
		p.mu.Lock()
		a, b, ch := c.a, c.b, c.changed
		p.mu.Unlock()
		var gone, other *leg
		select {
		case <-a.context().Done():
			gone, other = a, b
		case <-b.context().Done():
			gone, other = b, a
		case <-ch:
			continue
		case <-p.ctx.Done():
			_ = a.bye(context.Background())
			_ = b.bye(context.Background())
			p.endCall(c, sip.StatusOK, "")
			return
		}
		p.mu.Lock()
		current := (c.a == gone || c.b == gone)
		killed := c.killed
		p.mu.Unlock()
		if !current {
			continue // a transferred-away leg ended
		}
		by := gone.ext
		if killed {
			by = ""
		}
		p.log.Info("call hung up", "id", c.info.ID, "by", by)
		if err := other.bye(context.Background()); err != nil {
			p.log.Debug("bye to other side", "err", err)
		}
		p.endCall(c, sip.StatusOK, by)
		return
	}
}

func (p *PBX) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil {
		return
	}
	l := p.findLeg(req.CallID().Value())
	if l == nil || l.srv == nil {
		return
	}
	if err := l.srv.ReadAck(req, tx); err != nil {
		p.log.Debug("ack", "err", err)
	}
}

func (p *PBX) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (no Call-ID)")
		return
	}
	l := p.findLeg(req.CallID().Value())
	if l == nil {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	if l.srv != nil {
		err = l.srv.ReadBye(req, tx)
	} else {
		err = l.cli.ReadBye(req, tx)
	}
	if err != nil {
		p.log.Info("bye", "err", err)
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request ("+err.Error()+")")
	}
}

// onReinvite passes a re-INVITE's offer to the other side and returns its
// answer (hold, resume, codec or address changes).
func (p *PBX) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l := p.findLeg(req.CallID().Value())
	if l == nil {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if !waitUp(l) {
		p.respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	var d *sipgo.Dialog
	if l.srv != nil {
		d = &l.srv.Dialog
	} else {
		d = &l.cli.Dialog
	}
	if err := d.ReadRequest(req, tx); err != nil {
		p.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error (CSeq out of order)")
		return
	}
	other := p.otherLeg(l)
	if other == nil {
		p.respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	var answer []byte
	if len(req.Body()) == 0 {
		// Offerless re-INVITE: offer what the other side last sent; the
		// ACK's answer is not passed on.
		answer = other.getSDP()
	} else {
		var err error
		answer, err = other.reinvite(p.ctx, req.Body())
		if err != nil {
			code, reason := sip.StatusInternalServerError, "Server Internal Error"
			var de *sipgo.ErrDialogResponse
			if errors.As(err, &de) {
				code, reason = de.Res.StatusCode, de.Res.Reason
			}
			p.respond(tx, req, code, reason)
			return
		}
		l.setSDP(req.Body())
	}
	res := sip.NewSDPResponseFromRequest(req, answer)
	ct := p.contact(l.transport)
	if !strings.EqualFold(l.transport, "tcp") {
		ct = p.contact("")
	}
	res.AppendHeader(&ct)
	if err := tx.Respond(res); err != nil {
		p.log.Debug("re-INVITE respond", "err", err)
	}
}

// onInDialog relays INFO and UPDATE to the other side of the call.
func (p *PBX) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (no Call-ID)")
		return
	}
	l := p.findLeg(req.CallID().Value())
	if l == nil {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	other := p.otherLeg(l)
	if other == nil || !waitUp(l) {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	fwd := sip.NewRequest(req.Method, other.remoteTarget())
	for _, name := range []string{"Content-Type", "Info-Package", "Event"} {
		if v := headerValue(req, name); v != "" {
			fwd.AppendHeader(sip.NewHeader(name, v))
		}
	}
	fwd.SetBody(req.Body())
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	res, err := other.do(ctx, fwd)
	if err != nil {
		p.respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
		return
	}
	out := sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, res.Body())
	if ct := res.ContentType(); ct != nil {
		out.AppendHeader(sip.NewHeader("Content-Type", ct.Value()))
	}
	_ = tx.Respond(out)
}
