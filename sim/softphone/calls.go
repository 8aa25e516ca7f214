package softphone

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"basestation/sim/softphone/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// targetURI turns "102" into sip:102@registrar, and passes "sip:..." through.
func (p *Phone) targetURI(target string) (sip.Uri, error) {
	if strings.HasPrefix(target, "sip:") {
		var u sip.Uri
		if err := sip.ParseUri(target, &u); err != nil {
			return sip.Uri{}, fmt.Errorf("softphone: target %q: %w", target, err)
		}
		return u, nil
	}
	if target == "" || strings.ContainsAny(target, "@:;<> \r\n") {
		return sip.Uri{}, fmt.Errorf("softphone: bad number %q", target)
	}
	u := p.registrarURI()
	u.User = target
	return u, nil
}

// Call places a call to target (a number, or a full sip: URI) through the
// registrar/proxy, answering a digest challenge, and returns once the call
// is connected. A refused call returns *CallError with the final status.
// extra headers (for example P-Preferred-Identity) go into the INVITE.
// Cancelling ctx while it rings sends CANCEL.
func (p *Phone) Call(ctx context.Context, target string, extra ...sip.Header) error {
	return p.CallWith(ctx, target, CallOptions{Headers: extra})
}

// CallOptions change one outgoing call.
type CallOptions struct {
	// DisplayName replaces Config.DisplayName in From ("" keeps it).
	DisplayName string
	// Headers go into the INVITE (P-Preferred-Identity, Privacy, …).
	Headers []sip.Header
}

// CallWith is Call with the call's From display name and headers set by o.
func (p *Phone) CallWith(ctx context.Context, target string, o CallOptions) error {
	if err := p.waitReady(ctx); err != nil {
		return err
	}
	recipient, err := p.targetURI(target)
	if err != nil {
		return err
	}
	offer, err := buildSDP(p.host, p.rtpPort(), p.cfg.Codecs, true, "")
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &activeCall{callID: uuid.NewString(), cancel: cancel}
	c.rx = media.NewReceiver(0, func(d rune) { p.emit(Event{Type: EvDigit, Digit: d}) })
	p.mu.Lock()
	if p.call != nil {
		p.mu.Unlock()
		return ErrBusy
	}
	p.call, p.state = c, Calling
	p.mu.Unlock()

	inv := sip.NewRequest(sip.INVITE, recipient)
	name := p.cfg.DisplayName
	if o.DisplayName != "" {
		name = o.DisplayName
	}
	from := sip.FromHeader{DisplayName: name, Address: p.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: recipient.User, Host: p.domain}}
	cid := sip.CallIDHeader(c.callID)
	inv.AppendHeader(&from)
	inv.AppendHeader(&to)
	inv.AppendHeader(&cid)
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	for _, h := range o.Headers {
		inv.AppendHeader(h)
	}
	inv.AppendHeader(sip.NewHeader("User-Agent", p.cfg.UserAgent))
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(offer)
	d, err := p.dlg.WriteInvite(cctx, inv)
	if err != nil {
		p.endCall(c, 0, err.Error())
		return fmt.Errorf("softphone %s: INVITE: %w", p.cfg.User, err)
	}
	p.mu.Lock()
	c.out = d
	p.mu.Unlock()
	err = d.WaitAnswer(cctx, sipgo.AnswerOptions{Username: p.cfg.AuthUser, Password: p.cfg.Password,
		OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 || res.StatusCode == 183 {
				p.mu.Lock()
				if p.call == c {
					p.state = Alerting
				}
				p.mu.Unlock()
				p.emit(Event{Type: EvRinging, Code: res.StatusCode})
			}
			return nil
		}})
	if err != nil {
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			p.endCall(c, de.Res.StatusCode, de.Res.Reason)
			return &CallError{Code: de.Res.StatusCode, Reason: de.Res.Reason}
		}
		if d.InviteResponse != nil && d.InviteResponse.IsSuccess() {
			// Answered while we cancelled: confirm and hang up.
			bctx, bcancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = d.Ack(bctx)
			_ = d.Bye(bctx)
			bcancel()
		}
		code := 0
		if d.InviteResponse != nil && !d.InviteResponse.IsProvisional() {
			code = d.InviteResponse.StatusCode
		}
		p.endCall(c, code, err.Error())
		return fmt.Errorf("softphone %s: call %s: %w", p.cfg.User, target, err)
	}
	if err := d.Ack(ctx); err != nil {
		p.endCall(c, 0, err.Error())
		return fmt.Errorf("softphone %s: ACK: %w", p.cfg.User, err)
	}
	rm, err := parseSDP(d.InviteResponse.Body())
	var codec media.Codec
	ok := false
	if err == nil {
		codec, ok = p.pickCodec(rm)
	}
	if !ok {
		bctx, bcancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = d.Bye(bctx)
		bcancel()
		p.endCall(c, 0, "unusable SDP answer")
		return fmt.Errorf("softphone %s: unusable SDP answer (%v)", p.cfg.User, err)
	}
	p.mu.Lock()
	if p.call != c {
		p.mu.Unlock()
		return errors.New("softphone: call ended while connecting")
	}
	c.local = offer
	c.cancel = nil
	p.startMedia(c, rm, codec, answerDirection(rm.dir))
	p.state = Connected
	p.mu.Unlock()
	p.emit(Event{Type: EvConnected})
	go func() {
		<-d.Context().Done()
		p.endCall(c, 0, "")
		d.Close()
	}()
	return nil
}

// Answer answers the ringing incoming call.
func (p *Phone) Answer() error { return p.decide(sip.StatusOK) }

// Reject refuses the ringing incoming call with code (e.g. 486, 603).
func (p *Phone) Reject(code int) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("softphone: reject code %d is not a final failure status", code)
	}
	return p.decide(code)
}

func (p *Phone) decide(code int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call == nil || p.call.answerCh == nil || p.state != Incoming {
		return errors.New("softphone: no incoming call ringing")
	}
	select {
	case p.call.answerCh <- code:
		return nil
	default:
		return errors.New("softphone: call already answered or rejected")
	}
}

// Hangup ends the call in whatever state it is: CANCEL while calling, 603
// while ringing here, BYE when connected. No call is not an error.
func (p *Phone) Hangup(ctx context.Context) error {
	p.mu.Lock()
	c, st := p.call, p.state
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	switch st {
	case Calling, Alerting:
		if c.cancel != nil {
			c.cancel()
		}
		return nil
	case Incoming:
		return p.decide(603)
	}
	var err error
	if c.out != nil {
		err = c.out.Bye(ctx)
	} else if c.in != nil {
		err = c.in.Bye(ctx)
	}
	p.endCall(c, 0, "")
	return err
}

// Hold puts the call on hold with a re-INVITE offering a=sendonly (RFC 3264
// §8.4): the other side answers recvonly and stops sending; this phone
// keeps sending its tone, as music on hold.
func (p *Phone) Hold(ctx context.Context) error { return p.reoffer(ctx, "sendonly") }

// Resume takes the call off hold with a re-INVITE offering a=sendrecv.
func (p *Phone) Resume(ctx context.Context) error { return p.reoffer(ctx, "sendrecv") }

func (p *Phone) reoffer(ctx context.Context, dir string) error {
	p.mu.Lock()
	c, st := p.call, p.state
	if c == nil || st != Connected {
		p.mu.Unlock()
		return errors.New("softphone: no connected call")
	}
	offer, err := buildSDP(p.host, p.rtpPort(), []media.Codec{c.codec}, c.dtmf, dir)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	var remote sip.Uri
	if c.out != nil {
		remote = c.out.InviteResponse.Contact().Address
	} else {
		remote = c.in.InviteRequest.Contact().Address
	}
	req := sip.NewRequest(sip.INVITE, remote)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	var res *sip.Response
	if c.out != nil {
		res, err = c.out.Do(ctx, req)
	} else {
		res, err = c.in.Do(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("softphone: re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return &CallError{Code: res.StatusCode, Reason: res.Reason}
	}
	ack := sip.NewRequest(sip.ACK, remote)
	if c.out != nil {
		err = c.out.WriteRequest(ack)
	} else {
		err = c.in.WriteRequest(ack)
	}
	if err != nil {
		return fmt.Errorf("softphone: ACK re-INVITE: %w", err)
	}
	rm, err := parseSDP(res.Body())
	if err != nil {
		return fmt.Errorf("softphone: re-INVITE answer: %w", err)
	}
	codec, ok := p.pickCodec(rm)
	if !ok {
		return errors.New("softphone: re-INVITE answer has no usable codec")
	}
	p.mu.Lock()
	if p.call == c {
		c.local = offer
		local := dir
		if !sends(answerDirection(rm.dir)) && dir == "sendrecv" {
			local = answerDirection(rm.dir)
		}
		p.startMedia(c, rm, codec, local)
	}
	p.mu.Unlock()
	return nil
}

// Transfer sends a blind-transfer REFER for the current call to target.
func (p *Phone) Transfer(ctx context.Context, target string) error {
	p.mu.Lock()
	c, st := p.call, p.state
	p.mu.Unlock()
	if c == nil || st != Connected {
		return errors.New("softphone: no connected call to transfer")
	}
	u, err := p.targetURI(target)
	if err != nil {
		return err
	}
	u.Host, u.Port = p.domain, 0
	var remote sip.Uri
	if c.out != nil {
		remote = c.out.InviteResponse.Contact().Address
	} else {
		remote = c.in.InviteRequest.Contact().Address
	}
	req := sip.NewRequest(sip.REFER, remote)
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+u.String()+">"))
	aor := p.aor()
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+aor.String()+">"))
	var res *sip.Response
	if c.out != nil {
		res, err = c.out.Do(ctx, req)
	} else {
		res, err = c.in.Do(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("softphone: REFER: %w", err)
	}
	if res.StatusCode != sip.StatusAccepted && res.StatusCode != sip.StatusOK {
		return &CallError{Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

func (p *Phone) findCall(callID string) *activeCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call != nil && p.call.callID == callID {
		return p.call
	}
	return nil
}

func inviteInfo(req *sip.Request) InviteInfo {
	hv := func(n string) string {
		if h := req.GetHeader(n); h != nil {
			return h.Value()
		}
		return ""
	}
	info := InviteInfo{RequestURI: req.Recipient.String(), From: req.From().Address.String(),
		FromUser: req.From().Address.User, FromName: req.From().DisplayName, To: req.To().Address.String(),
		PAI: hv("P-Asserted-Identity"), PPI: hv("P-Preferred-Identity"), Privacy: hv("Privacy"),
		AlertInfo: hv("Alert-Info"), UserAgent: hv("User-Agent")}
	if info.PAI != "" {
		var u sip.Uri
		params := sip.NewParams()
		first := strings.Split(info.PAI, ",")[0]
		if name, err := sip.ParseAddressValue(strings.TrimSpace(first), &u, &params); err == nil {
			info.PAIName, info.PAIUser = name, u.User
		}
	}
	return info
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Contact() == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	if req.To().Params.Has("tag") {
		p.onReinvite(req, tx)
		return
	}
	p.mu.Lock()
	busy := p.call != nil
	p.mu.Unlock()
	if busy {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil))
		return
	}
	rm, err := parseSDP(req.Body())
	var codec media.Codec
	ok := false
	if err == nil {
		codec, ok = p.pickCodec(rm)
	}
	if !ok {
		res := sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		_ = tx.Respond(res)
		p.log.Info("incoming call without a usable offer", "err", err)
		return
	}
	ds, err := p.dlg.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	defer ds.Close()
	info := inviteInfo(req)
	c := &activeCall{callID: req.CallID().Value(), in: ds, answerCh: make(chan int, 1)}
	p.mu.Lock()
	if p.call != nil {
		p.mu.Unlock()
		_ = ds.Respond(sip.StatusBusyHere, "Busy Here", nil)
		return
	}
	p.call, p.state, p.lastInv = c, Incoming, &info
	p.mu.Unlock()
	p.log.Info("incoming call", "from", info.FromUser, "name", info.FromName, "pai", info.PAI)
	p.emit(Event{Type: EvIncoming, Info: info})
	_ = ds.Respond(sip.StatusRinging, "Ringing", nil)
	if p.cfg.AutoAnswer {
		go func() {
			select {
			case <-time.After(p.cfg.AnswerDelay):
				_ = p.decide(sip.StatusOK)
			case <-ds.Context().Done():
			}
		}()
	}
	select {
	case code := <-c.answerCh:
		if code != sip.StatusOK {
			reason := map[int]string{486: "Busy Here", 603: "Decline", 480: "Temporarily Unavailable"}[code]
			if reason == "" {
				reason = "Rejected"
			}
			p.endCall(c, code, reason) // idle at once; Respond waits for the ACK
			_ = ds.Respond(code, reason, nil)
			return
		}
	case <-ds.Context().Done():
		p.endCall(c, sip.StatusRequestTerminated, "canceled")
		return
	case <-p.ctx.Done():
		_ = ds.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		p.endCall(c, sip.StatusTemporarilyUnavailable, "shutting down")
		return
	}
	dir := answerDirection(rm.dir)
	answer, err := buildSDP(p.host, p.rtpPort(), []media.Codec{codec}, rm.dtmfPT != 0, dir)
	if err != nil {
		_ = ds.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		p.endCall(c, sip.StatusInternalServerError, err.Error())
		return
	}
	p.mu.Lock()
	if p.call != c {
		p.mu.Unlock()
		return
	}
	c.local = answer
	c.rx = media.NewReceiver(rm.dtmfPT, func(d rune) { p.emit(Event{Type: EvDigit, Digit: d}) })
	p.startMedia(c, rm, codec, dir)
	p.mu.Unlock()
	// RespondSDP writes the dialog's InviteResponse, which in-dialog
	// requests read: the state turns Connected (allowing Hangup's BYE and
	// Transfer) only after it returns.
	if err := ds.RespondSDP(answer); err != nil && ds.Context().Err() == nil {
		p.log.Warn("answer not confirmed", "err", err)
		p.endCall(c, 0, err.Error())
		return
	}
	p.mu.Lock()
	if p.call == c {
		p.state = Connected
	}
	p.mu.Unlock()
	p.emit(Event{Type: EvConnected})
	<-ds.Context().Done()
	p.endCall(c, 0, "")
}

// onReinvite answers a re-INVITE with the phone's SDP and follows a new
// remote address or codec.
func (p *Phone) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := p.findCall(req.CallID().Value())
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	var d *sipgo.Dialog
	if c.out != nil {
		d = &c.out.Dialog
	} else {
		d = &c.in.Dialog
	}
	if err := d.ReadRequest(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "CSeq out of order", nil))
		return
	}
	p.mu.Lock()
	local := c.local
	offered := ""
	if len(req.Body()) > 0 {
		rm, err := parseSDP(req.Body())
		codec, ok := p.pickCodec(rm)
		if err != nil || !ok {
			p.mu.Unlock()
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
			return
		}
		offered = rm.dir
		if p.call == c && p.state == Connected {
			dir := answerDirection(rm.dir)
			answer, err := buildSDP(p.host, p.rtpPort(), []media.Codec{codec}, rm.dtmfPT != 0, dir)
			if err == nil {
				c.local, local = answer, answer
			}
			p.startMedia(c, rm, codec, dir)
		}
	}
	p.mu.Unlock()
	if offered != "" {
		p.emit(Event{Type: EvReinvite, Text: offered})
	}
	res := sip.NewSDPResponseFromRequest(req, local)
	ct := p.dlg.ContactHDR
	res.AppendHeader(sip.HeaderClone(&ct))
	_ = tx.Respond(res)
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil {
		return
	}
	c := p.findCall(req.CallID().Value())
	if c != nil && c.in != nil {
		_ = c.in.ReadAck(req, tx)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	var c *activeCall
	if req.CallID() != nil {
		c = p.findCall(req.CallID().Value())
	}
	var err error
	switch {
	case c == nil:
		err = errors.New("no such call")
	case c.out != nil:
		err = c.out.ReadBye(req, tx)
	case c.in != nil:
		err = c.in.ReadBye(req, tx)
	default:
		err = errors.New("call not established")
	}
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	p.endCall(c, 0, "")
}

func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	ev := ""
	if h := req.GetHeader("Event"); h != nil {
		ev = strings.ToLower(strings.TrimSpace(strings.Split(h.Value(), ";")[0]))
	}
	switch ev {
	case "message-summary":
		m, err := parseMessageSummary(req.Body())
		if err != nil {
			p.log.Info("bad message-summary", "err", err)
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request ("+err.Error()+")", nil))
			return
		}
		p.mu.Lock()
		m.Solicited = req.To() != nil && req.To().Params.Has("tag") && req.CallID() != nil && p.isSubscription(req.CallID().Value())
		p.mwi = &m
		p.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
		p.emit(Event{Type: EvMWI, MWI: m})
	case "refer":
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
		line := strings.TrimSpace(strings.SplitN(string(req.Body()), "\n", 2)[0])
		code := 0
		if f := strings.Fields(line); len(f) >= 2 {
			code, _ = strconv.Atoi(f[1])
		}
		p.emit(Event{Type: EvReferState, Text: line, Code: code})
	default:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 489, "Bad Event", nil))
	}
}
