package pbx

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// binding is one registered contact of an extension.
type binding struct {
	ext       string
	contact   sip.Uri
	key       string
	expires   time.Time
	callID    string
	cseq      uint32
	userAgent string
	source    string
	transport string
}

// Registration is one registered contact, as the API reports it.
type Registration struct {
	Ext       string    `json:"ext"`        // extension (AOR user)
	Contact   string    `json:"contact"`    // contact URI
	Expires   time.Time `json:"expires"`    // when the binding lapses
	UserAgent string    `json:"user_agent"` // User-Agent header of the last REGISTER
	Source    string    `json:"source"`     // ip:port the last REGISTER came from
	Transport string    `json:"transport"`  // UDP or TCP
	CallID    string    `json:"call_id"`    // Call-ID of the registering UA
}

// Registrations lists the live bindings, sorted by extension and contact.
func (p *PBX) Registrations() []Registration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	var out []Registration
	for _, bs := range p.bindings {
		for _, b := range bs {
			if !b.expires.After(now) {
				continue
			}
			out = append(out, Registration{Ext: b.ext, Contact: b.key, Expires: b.expires, UserAgent: b.userAgent,
				Source: b.source, Transport: b.transport, CallID: b.callID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ext != out[j].Ext {
			return out[i].Ext < out[j].Ext
		}
		return out[i].Contact < out[j].Contact
	})
	return out
}

// liveBindings returns copies of ext's unexpired bindings.
func (p *PBX) liveBindings(ext string) []binding {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	var out []binding
	for _, b := range p.bindings[ext] {
		if b.expires.After(now) {
			out = append(out, *b)
		}
	}
	return out
}

// contactUpdate is one validated change a REGISTER asks for.
type contactUpdate struct {
	uri sip.Uri
	key string
	exp time.Duration
}

func (p *PBX) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	to := req.To()
	if to == nil || req.CallID() == nil || req.CSeq() == nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (missing To, Call-ID or CSeq)")
		return
	}
	ext := to.Address.User
	p.mu.Lock()
	_, known := p.users[ext]
	p.mu.Unlock()
	if !known {
		p.log.Info("register: unknown user", "ext", ext, "from", req.Source())
		p.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	if !p.authenticate(req, tx, false, ext) {
		return
	}

	defExp := p.cfg.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Expires is not a number)")
			return
		}
		defExp = time.Duration(n) * time.Second
	}
	var ups []contactUpdate
	wildcard := false
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			p.respond(tx, req, sip.StatusBadRequest, "Bad Request (unparsable Contact)")
			return
		}
		if c.Address.Wildcard {
			wildcard = true
			continue
		}
		if c.Address.Host == "" {
			p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Contact without host)")
			return
		}
		exp := defExp
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Contact expires is not a number)")
				return
			}
			exp = time.Duration(n) * time.Second
		}
		if exp != 0 && exp < p.cfg.MinExpires {
			p.respond(tx, req, sip.StatusIntervalToBrief, "Interval Too Brief",
				sip.NewHeader("Min-Expires", strconv.Itoa(int(p.cfg.MinExpires/time.Second))))
			return
		}
		exp = min(exp, p.cfg.MaxExpires)
		u := *c.Address.Clone()
		ups = append(ups, contactUpdate{uri: u, key: u.String(), exp: exp})
	}
	if wildcard && (len(ups) > 0 || defExp != 0) {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request (Contact: * needs Expires: 0 and no other contact)")
		return
	}

	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
	}
	now := p.cfg.Now()
	p.mu.Lock()
	// Out-of-order check first, so nothing is half-applied (RFC 3261 §10.3 step 7).
	for _, b := range p.bindings[ext] {
		for _, u := range ups {
			if b.key == u.key && b.callID == callID && cseq <= b.cseq {
				p.mu.Unlock()
				p.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error (CSeq out of order)")
				return
			}
		}
	}
	if wildcard {
		delete(p.bindings, ext)
	}
	for _, u := range ups {
		bs := p.bindings[ext]
		idx := -1
		for i, b := range bs {
			if b.key == u.key {
				idx = i
			}
		}
		if u.exp == 0 {
			if idx >= 0 {
				p.bindings[ext] = append(bs[:idx], bs[idx+1:]...)
			}
			continue
		}
		b := &binding{ext: ext, contact: u.uri, key: u.key, expires: now.Add(u.exp), callID: callID, cseq: cseq,
			userAgent: ua, source: req.Source(), transport: strings.ToUpper(req.Transport())}
		if idx >= 0 {
			bs[idx] = b
		} else {
			p.bindings[ext] = append(bs, b)
		}
	}
	if len(p.bindings[ext]) == 0 {
		delete(p.bindings, ext)
	}
	var hdrs []sip.Header
	for _, b := range p.bindings[ext] {
		c := sip.ContactHeader{Address: *b.contact.Clone(), Params: sip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int(b.expires.Sub(now).Round(time.Second)/time.Second)))
		hdrs = append(hdrs, &c)
	}
	n := len(p.bindings[ext])
	p.mu.Unlock()
	if n == 0 {
		p.emit(Event{Kind: EvUnregistered, Ext: ext, Detail: "un-REGISTER"})
	} else {
		p.emit(Event{Kind: EvRegistered, Ext: ext, Detail: fmt.Sprintf("%d contact(s)", n)})
	}

	p.log.Info("register", "ext", ext, "contacts", n, "ua", ua, "from", req.Source())
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		p.log.Debug("register: respond", "err", err)
	}
}

// expire drops lapsed bindings and subscriptions.
func (p *PBX) expire() {
	now := p.cfg.Now()
	var gone []string
	defer func() {
		for _, ext := range gone {
			p.emit(Event{Kind: EvUnregistered, Ext: ext, Detail: "expired"})
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	for ext, bs := range p.bindings {
		keep := bs[:0]
		for _, b := range bs {
			if b.expires.After(now) {
				keep = append(keep, b)
			} else {
				p.log.Info("registration expired", "ext", ext, "contact", b.key)
			}
		}
		if len(keep) == 0 {
			delete(p.bindings, ext)
			gone = append(gone, ext)
		} else {
			p.bindings[ext] = keep
		}
	}
	for id, s := range p.subs {
		if !s.expires.After(now) {
			delete(p.subs, id)
		}
	}
}

// SetUser adds or changes an extension's password at run time.
func (p *PBX) SetUser(ext, password string) error {
	if ext == "" || strings.ContainsAny(ext, "@:;<> \t\r\n") || ext == p.cfg.VoicemailNumber {
		return fmt.Errorf("pbx: bad extension %q", ext)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	users := make(map[string]string, len(p.users)+1)
	for k, v := range p.users {
		users[k] = v
	}
	users[ext] = password
	p.users = users
	return nil
}

// RemoveUser deletes an extension and its registrations.
func (p *PBX) RemoveUser(ext string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	users := make(map[string]string, len(p.users))
	for k, v := range p.users {
		if k != ext {
			users[k] = v
		}
	}
	p.users = users
	delete(p.bindings, ext)
	delete(p.ringFor, ext)
}

// SetRingTimeout gives ext its own no-answer timeout: calls to it ring
// for d before the PBX ends them with 480. Zero returns it to
// Config.RingTimeout.
func (p *PBX) SetRingTimeout(ext string, d time.Duration) error {
	if d < 0 || d > time.Hour {
		return fmt.Errorf("pbx: ring timeout %v for %q outside 0..1h", d, ext)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.users[ext]; !ok {
		return fmt.Errorf("pbx: no extension %q", ext)
	}
	if d == 0 {
		delete(p.ringFor, ext)
	} else {
		p.ringFor[ext] = d
	}
	return nil
}

// RingTimeout returns how long calls to ext ring before the PBX gives up.
func (p *PBX) RingTimeout(ext string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.ringFor[ext]; ok {
		return d
	}
	return p.cfg.RingTimeout
}
