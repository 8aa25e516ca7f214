package sipua

import (
	"basestation/endpoint"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// runMWI keeps a message-summary subscription (RFC 3842, RFC 6665) for the
// extension while it is registered.
func (e *extension) runMWI(ctx context.Context) {
	u := e.u
	failures := 0
	rnd := e.reg.rnd
	for ctx.Err() == nil {
		if !e.reg.registered() {
			e.reg.sleepShort(ctx, 500*time.Millisecond)
			continue
		}
		d, expires, err := e.subscribe(ctx, nil)
		if err != nil {
			failures++
			wait := backoff(failures, u.conf().Timing.RetryMin, u.conf().Timing.RetryMax, rnd)
			u.log.Info("MWI subscription failed", "ext", e.name, "error", err, "retry_in", wait)
			e.reg.sleepShort(ctx, wait)
			continue
		}
		failures = 0
		// Refresh in the dialog at half the expiry until it fails.
		for ctx.Err() == nil {
			e.reg.sleepShort(ctx, expires/2)
			if ctx.Err() != nil {
				break
			}
			_, exp, err := e.subscribe(ctx, d)
			if err != nil {
				break
			}
			expires = exp
		}
		if ctx.Err() != nil {
			// Unsubscribe (Expires: 0).
			uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _, _ = e.subscribeWith(uctx, d, 0)
			cancel()
		}
	}
}

func (r *registration) sleepShort(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (e *extension) subscribe(ctx context.Context, d *dialog) (*dialog, time.Duration, error) {
	return e.subscribeWith(ctx, d, e.u.conf().Timing.MWIResubscribe)
}

// subscribeWith sends SUBSCRIBE (a new one when d is nil, else a refresh
// in d) and returns the dialog and granted expiry.
func (e *extension) subscribeWith(ctx context.Context, d *dialog, expires time.Duration) (*dialog, time.Duration, error) {
	u := e.u
	r := e.reg
	r.mu.Lock()
	contact, localIP, target := r.contact, r.localIP, r.sendAddrLocked(r.target)
	r.mu.Unlock()
	if contact == nil {
		return nil, 0, fmt.Errorf("extension %s: %w", e.name, ErrNotRegistered)
	}
	a := e.acct
	cli, err := u.client(a.transport(), localIP)
	if err != nil {
		return nil, 0, err
	}
	if d == nil {
		aor := sip.Uri{Scheme: "sip", User: a.User, Host: a.Domain}
		d = &dialog{
			callID: sip.GenerateTagN(24) + "@basestation", local: aor, localTag: sip.GenerateTagN(16),
			remote: aor, remoteTarget: aor, lcseq: 0, transport: a.transport().sip(), proxy: target,
			contact: contact.Clone(),
		}
		if a.transport() == UDP {
			d.laddr = sip.Addr{IP: u.udp.LocalAddr().(*net.UDPAddr).IP, Port: u.listenPort}
		}
		// NOTIFY may arrive before our 200 does: know the Call-ID now.
		u.mu.Lock()
		e.mwiCallID = d.callID
		u.mu.Unlock()
	}
	build := func() (*sip.Request, error) {
		req := d.newRequest(sip.SUBSCRIBE, 0)
		req.AppendHeader(sip.NewHeader("Event", "message-summary"))
		req.AppendHeader(sip.NewHeader("Accept", "application/simple-message-summary"))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		req.AppendHeader(sip.NewHeader("User-Agent", u.userAgent()))
		sipgo.ClientRequestAddVia(cli, req)
		return req, nil
	}
	res, err := u.doAuth(ctx, cli, r.auth, build)
	if err != nil {
		return nil, 0, err
	}
	if !res.IsSuccess() {
		return nil, 0, &StatusError{Method: "SUBSCRIBE", Code: res.StatusCode, Reason: res.Reason}
	}
	d.mu.Lock()
	if d.remoteTag == "" && res.To() != nil {
		d.remoteTag, _ = res.To().Params.Get("tag")
		d.routes = routeSetFrom(res.GetHeaders("Record-Route"), true)
		if ct := res.Contact(); ct != nil {
			d.remoteTarget = ct.Address
		}
	}
	d.mu.Unlock()
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	if granted < 20*time.Second && expires > 0 {
		granted = 20 * time.Second
	}
	return d, granted, nil
}

func (u *UA) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	ev := ""
	if h := req.GetHeader("Event"); h != nil {
		ev = strings.ToLower(strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0]))
	}
	switch ev {
	case "refer":
		u.onReferNotify(req, tx)
		return
	case "message-summary":
	default:
		respond(tx, req, 489, "Bad Event")
		return
	}
	// Only the server an account is registered with may light the lamp:
	// an outsider gets 403 before any lookup (no user enumeration).
	u.mu.Lock()
	trusted := u.trustedExtensionsLocked(req)
	if len(trusted) == 0 {
		u.mu.Unlock()
		u.log.Warn("NOTIFY from a server no account uses, refused", "source", req.Source(), "transport", req.Transport())
		respond(tx, req, 403, "Forbidden")
		return
	}
	var e *extension
	cid := req.CallID().Value()
	for _, x := range trusted {
		if x.mwiCallID == cid {
			e = x
		}
	}
	if e == nil {
		// Unsolicited NOTIFY (no subscription) for one of the users the
		// server serves.
		e, _ = u.findTrustedExtensionLocked(req)
	}
	if e == nil {
		u.mu.Unlock()
		respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	u.mu.Unlock()
	body := req.Body()
	if len(body) == 0 {
		respond(tx, req, 200, "OK")
		return
	}
	ms, err := ParseMessageSummary(body)
	if err != nil {
		u.log.Warn("bad message-summary NOTIFY", "ext", e.name, "error", err)
		respond(tx, req, 400, "Bad message-summary body")
		return
	}
	respond(tx, req, 200, "OK")
	u.setMWIInOrder(e, cid, req.CSeq().SeqNo, ms)
}

// maxMWIDialogs bounds the dialogs whose NOTIFY order an extension
// remembers (the current subscription and a few it replaced).
const maxMWIDialogs = 8

// setMWIInOrder applies a NOTIFY's message state unless a later NOTIFY
// of the same dialog (a higher CSeq) has been applied already: NOTIFYs
// are handled concurrently and may arrive out of order, and the last one
// sent is the mailbox's state (RFC 3261 §12.2.2 orders requests in a
// dialog by CSeq). A stale one is answered 200 all the same: an error
// would make the notifier drop the subscription.
func (u *UA) setMWIInOrder(e *extension, callID string, seq uint32, ms MessageSummary) {
	u.mu.Lock()
	if last, ok := e.mwiSeq[callID]; ok && seq <= last {
		u.mu.Unlock()
		u.log.Debug("stale message-summary NOTIFY ignored", "ext", e.name, "cseq", seq, "applied", last)
		return
	}
	if e.mwiSeq == nil || len(e.mwiSeq) >= maxMWIDialogs {
		e.mwiSeq = map[string]uint32{}
	}
	e.mwiSeq[callID] = seq
	u.applyMWILocked(e, ms)
	u.mu.Unlock()
	u.emit(&MWIEvent{Extension: e.name, Summary: ms, Time: time.Now()})
}

// setMWI records the extension's message state and tells its endpoints.
func (u *UA) setMWI(e *extension, ms MessageSummary) {
	u.mu.Lock()
	u.applyMWILocked(e, ms)
	u.mu.Unlock()
	u.emit(&MWIEvent{Extension: e.name, Summary: ms, Time: time.Now()})
}

// applyMWILocked records the message state and tells the endpoints that
// show a change. u.mu held.
func (u *UA) applyMWILocked(e *extension, ms MessageSummary) {
	changed := e.mwi.Waiting != ms.Waiting
	recount := e.mwi.NewMessages() != ms.NewMessages()
	e.mwi = ms
	for _, s := range e.endpoints {
		_, counts := s.ep.(endpoint.MessageCounter)
		if !changed && !(recount && counts) {
			continue
		}
		if err := showMWI(s.ep, ms); err != nil {
			u.log.Warn("endpoint MWI", "endpoint", s.name, "error", err)
		}
	}
}

// transfer blind-transfers the call to number (REFER, RFC 3515) and ends
// it once the transfer is accepted; on refusal the call is resumed.
func (c *call) transfer(number string) {
	u := c.u
	// The hold re-INVITE the flash started goes first, to its final
	// response: a REFER crossing it (dialled at once after the flash) was
	// not carried out. reinvite is serialised per call and a no-op once
	// the hold is signalled, so the flash's own goroutine, if it comes
	// second, sends nothing.
	if err := c.reinvite(true); err != nil {
		u.log.Warn("hold before transfer", "call", c.dlg.callID, "error", err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	referTo := sip.NewHeader("Refer-To", fmt.Sprintf("<sip:%s@%s>", number, c.acct.Domain))
	by := sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", c.acct.User, c.acct.Domain))
	res, err := u.sendInDialog(ctx, c.cli, c.dlg, c.auth, sip.REFER, nil, referTo, by)
	if err != nil || !res.IsSuccess() {
		u.mu.Lock()
		c.transferring = false
		s := c.owner
		back := s != nil && s.active == c
		if back {
			c.heldByUs = false
			_ = s.ep.PlayTone(endpoint.None)
			c.attachAudioLocked(s)
		}
		u.mu.Unlock()
		if !back {
			// Put down after dialling: nobody to resume the call for.
			u.log.Warn("transfer refused, hanging up", "call", c.dlg.callID, "error", err, "response", describeRes(res))
			c.hangup("transfer refused")
			return
		}
		u.log.Warn("transfer refused, resuming", "call", c.dlg.callID, "error", err, "response", describeRes(res))
		_ = c.reinvite(false)
		return
	}
	// Wait for the final NOTIFY (sipfrag), at most 10 s, then hang up.
	select {
	case <-c.referDone:
	case <-ctx.Done():
	}
	c.hangup("transferred")
}

func describeRes(res *sip.Response) string {
	if res == nil {
		return ""
	}
	return fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
}

func (u *UA) onReferNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := u.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Subscription Does Not Exist")
		return
	}
	respond(tx, req, 200, "OK")
	frag := strings.TrimSpace(string(req.Body()))
	// "SIP/2.0 200 OK": final when the code is >= 200.
	if f := strings.Fields(frag); len(f) >= 2 {
		if n, err := strconv.Atoi(f[1]); err == nil && n >= 200 {
			c.referOnce.Do(func() { close(c.referDone) })
		}
	}
}
