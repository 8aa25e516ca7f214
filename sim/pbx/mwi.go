package pbx

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// subscription is one message-summary subscription (RFC 3842, RFC 6665).
type subscription struct {
	ext       string
	callID    string
	localTag  string
	remoteTag string
	localURI  sip.Uri // the mailbox URI (To of the SUBSCRIBE)
	remoteURI sip.Uri // the subscriber (From)
	target    sip.Uri // the subscriber's Contact
	transport string
	cseq      uint32
	expires   time.Time
}

// Subscription is a message-summary subscription as the API reports it.
type Subscription struct {
	Ext     string
	Contact string
	Expires time.Time
}

// Subscriptions lists the live message-summary subscriptions.
func (p *PBX) Subscriptions() []Subscription {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Subscription
	for _, s := range p.subs {
		out = append(out, Subscription{Ext: s.ext, Contact: s.target.String(), Expires: s.expires})
	}
	return out
}

const (
	defaultSubscribeExpires = 3600 * time.Second
	maxSubscribeExpires     = 86400 * time.Second
)

// SetVoicemail sets the voice-message counts of ext's mailbox. When they
// change, every message-summary subscription of ext gets a NOTIFY, and so
// does every registered contact of ext without a subscription (unsolicited
// NOTIFY, unless Config.NoUnsolicitedMWI).
func (p *PBX) SetVoicemail(ext string, newMsgs, oldMsgs int) error {
	if newMsgs < 0 || oldMsgs < 0 {
		return fmt.Errorf("pbx: negative voicemail count %d/%d", newMsgs, oldMsgs)
	}
	p.mu.Lock()
	if _, ok := p.users[ext]; !ok {
		p.mu.Unlock()
		return fmt.Errorf("pbx: no extension %q", ext)
	}
	c := Counts{New: newMsgs, Old: oldMsgs}
	changed := p.mailboxes[ext] != c
	p.mailboxes[ext] = c
	var subs []*subscription
	subscribed := map[string]bool{}
	for _, s := range p.subs {
		if s.ext == ext {
			subs = append(subs, s)
			subscribed[s.target.String()] = true
		}
	}
	var contacts []binding
	if !p.cfg.NoUnsolicitedMWI {
		now := p.cfg.Now()
		for _, b := range p.bindings[ext] {
			if b.expires.After(now) && !subscribed[b.key] {
				contacts = append(contacts, *b)
			}
		}
	}
	p.mu.Unlock()
	if !changed {
		return nil
	}
	p.log.Info("voicemail", "ext", ext, "new", newMsgs, "old", oldMsgs, "subscriptions", len(subs), "unsolicited", len(contacts))
	p.emit(Event{Kind: EvVoicemail, Ext: ext, Detail: fmt.Sprintf("%d/%d", newMsgs, oldMsgs)})
	for _, s := range subs {
		p.goNotify(s, "")
	}
	for _, b := range contacts {
		p.goUnsolicited(ext, b)
	}
	return nil
}

// Voicemail returns ext's voice-message counts.
func (p *PBX) Voicemail(ext string) Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mailboxes[ext]
}

func (p *PBX) summary(ext string) []byte {
	p.mu.Lock()
	c := p.mailboxes[ext]
	p.mu.Unlock()
	s := Summary{Waiting: c.New > 0, Account: "sip:" + p.cfg.VoicemailNumber + "@" + p.host,
		Classes: map[string]Counts{"voice-message": c}}
	b, err := s.Marshal()
	if err != nil {
		// Counts are validated in SetVoicemail; this cannot fail.
		panic(err)
	}
	return b
}

func (p *PBX) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (missing From, To, Call-ID or CSeq)")
		return
	}
	ev := strings.ToLower(strings.TrimSpace(strings.Split(headerValue(req, "Event"), ";")[0]))
	if ev != "message-summary" {
		p.respond(tx, req, 489, "Bad Event", sip.NewHeader("Allow-Events", "message-summary"))
		return
	}
	exp := defaultSubscribeExpires
	if v := headerValue(req, "Expires"); v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Expires is not a number)")
			return
		}
		exp = min(time.Duration(n)*time.Second, maxSubscribeExpires)
	}
	if req.To().Params.Has("tag") {
		p.refreshSubscription(req, tx, exp)
		return
	}
	if req.Contact() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (no Contact)")
		return
	}
	subscriber := req.From().Address.User
	mailbox := req.Recipient.User
	if mailbox == "" || mailbox == p.cfg.VoicemailNumber {
		// Subscribing to the voicemail server itself means one's own box.
		mailbox = subscriber
	}
	p.mu.Lock()
	_, known := p.users[mailbox]
	p.mu.Unlock()
	if !known {
		p.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	if !p.authenticate(req, tx, true, subscriber) {
		return
	}
	if p.cfg.Auth && subscriber != mailbox {
		p.respond(tx, req, sip.StatusForbidden, "Forbidden (not your mailbox)")
		return
	}
	tag, _ := req.From().Params.Get("tag")
	s := &subscription{
		ext: mailbox, callID: req.CallID().Value(), localTag: sip.GenerateTagN(16), remoteTag: tag,
		localURI: *req.To().Address.Clone(), remoteURI: *req.From().Address.Clone(), target: *req.Contact().Address.Clone(),
		transport: strings.ToUpper(req.Transport()), cseq: 1, expires: p.cfg.Now().Add(exp),
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.To().Params.Add("tag", s.localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(exp/time.Second))))
	ct := p.contact("")
	if s.transport == "TCP" {
		ct = p.contact("tcp")
	}
	res.AppendHeader(&ct)
	if exp > 0 {
		p.mu.Lock()
		p.subs[s.callID] = s
		p.mu.Unlock()
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("subscribe respond", "err", err)
	}
	p.log.Info("mwi subscribe", "ext", mailbox, "expires", exp, "contact", s.target.String())
	state := ""
	if exp == 0 {
		state = "terminated;reason=timeout"
	}
	p.goNotify(s, state)
}

func (p *PBX) refreshSubscription(req *sip.Request, tx sip.ServerTransaction, exp time.Duration) {
	tag, _ := req.To().Params.Get("tag")
	p.mu.Lock()
	s := p.subs[req.CallID().Value()]
	if s == nil || s.localTag != tag {
		p.mu.Unlock()
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	s.expires = p.cfg.Now().Add(exp)
	if exp == 0 {
		delete(p.subs, s.callID)
	}
	p.mu.Unlock()
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(exp/time.Second))))
	_ = tx.Respond(res)
	state := ""
	if exp == 0 {
		state = "terminated;reason=timeout"
	}
	p.goNotify(s, state)
}

// goNotify sends an in-subscription NOTIFY in the background. state ""
// means active with the remaining time.
func (p *PBX) goNotify(s *subscription, state string) {
	p.mu.Lock()
	s.cseq++
	cseq := s.cseq
	if state == "" {
		left := int(s.expires.Sub(p.cfg.Now()).Round(time.Second) / time.Second)
		state = "active;expires=" + strconv.Itoa(max(left, 0))
	}
	p.mu.Unlock()
	req := sip.NewRequest(sip.NOTIFY, *s.target.Clone())
	req.SetTransport(s.transport)
	from := sip.FromHeader{Address: *s.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", s.localTag)
	to := sip.ToHeader{Address: *s.remoteURI.Clone(), Params: sip.NewParams()}
	if s.remoteTag != "" {
		to.Params.Add("tag", s.remoteTag)
	}
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	p.sendNotify(s.ext, req, func() {
		p.mu.Lock()
		delete(p.subs, s.callID)
		p.mu.Unlock()
	})
}

// goUnsolicited sends an out-of-dialog NOTIFY to a registered contact.
func (p *PBX) goUnsolicited(ext string, b binding) {
	req := sip.NewRequest(sip.NOTIFY, *b.contact.Clone())
	req.SetTransport(b.transport)
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: ext, Host: p.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: ext, Host: p.host}}
	callID := sip.CallIDHeader(uuid.NewString())
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.NewHeader("Subscription-State", "active"))
	p.sendNotify(ext, req, nil)
}

func (p *PBX) sendNotify(ext string, req *sip.Request, gone func()) {
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Content-Type", MessageSummaryType))
	ct := p.contact("")
	if strings.EqualFold(req.Transport(), "tcp") {
		ct = p.contact("tcp")
	}
	req.AppendHeader(&ct)
	req.SetBody(p.summary(ext))
	cli := p.client(req.Transport())
	if !p.track() {
		return
	}
	go func() {
		defer p.untrack()
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		if err := p.waitReady(ctx); err != nil {
			return
		}
		res, err := cli.Do(ctx, req)
		if err != nil {
			p.log.Info("mwi notify failed", "ext", ext, "to", req.Recipient.String(), "err", err)
			return
		}
		if !res.IsSuccess() {
			p.log.Info("mwi notify refused", "ext", ext, "to", req.Recipient.String(), "code", res.StatusCode)
			if gone != nil && (res.StatusCode == sip.StatusCallTransactionDoesNotExists || res.StatusCode >= 400) {
				gone()
			}
		}
	}()
}
