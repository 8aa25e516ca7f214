package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"basestation/endpoint"
	"basestation/sipua/media"
)

type callState int

const (
	csSetup     callState = iota // outgoing: INVITE sent; incoming: ringing
	csEarly                      // outgoing: early media
	csAnswering                  // incoming: 200 sent, waiting for ACK
	csActive
	csEnded
)

// call is one call between the PBX and an endpoint.
type call struct {
	u         *UA
	ext       *extension
	acct      Account
	auth      *authenticator
	cli       *sipgo.Client
	dlg       *dialog
	out       bool
	number    string // outgoing: dialled number; incoming: caller number
	cid       endpoint.CallerID
	emergency bool

	ms     *mediaSess // set once by the call goroutine, under u.mu
	ctx    context.Context
	cancel context.CancelCauseFunc

	// incoming
	invReq   *sip.Request
	invTx    sip.ServerTransaction
	answerCh chan *epState
	acks     chan uint32

	// outgoing
	hangupCh chan struct{}
	hangOnce sync.Once

	// bridge state, guarded by u.mu
	state    callState
	answered time.Time // when the call first connected (CallEvent.Answered)
	owner    *epState
	ringing  map[*epState]bool
	cw       map[*epState]bool
	heldByUs bool
	// transferring: a blind transfer (REFER) of this held call is under
	// way; its endpoint going on-hook leaves the call to the transfer,
	// which ends it (a BYE first would abort the transfer at the PBX).
	transferring bool

	endOnce sync.Once
	started time.Time

	referDone chan struct{}
	referOnce sync.Once

	// onFinal, if set, learns the final response of an outgoing call
	// ("200 OK", "486 Busy Here", "timeout"): a transfer's NOTIFY.
	onFinal func(status string)

	reMu          sync.Mutex // serialises our re-INVITEs
	signalledHold bool       // hold state the peer last agreed to
}

func (u *UA) newCall(e *extension, acct Account, auth *authenticator, out bool) *call {
	ctx, cancel := context.WithCancelCause(u.runCtx)
	return &call{
		u: u, ext: e, acct: acct, auth: auth, out: out,
		ctx: ctx, cancel: cancel,
		answerCh:  make(chan *epState, 1),
		acks:      make(chan uint32, 4),
		hangupCh:  make(chan struct{}),
		referDone: make(chan struct{}),
		ringing:   map[*epState]bool{},
		cw:        map[*epState]bool{},
		started:   time.Now(),
	}
}

func (c *call) direction() string {
	if c.out {
		return "out"
	}
	return "in"
}

func (c *call) event(state, reason string) { c.eventAside(state, reason, false) }

func (c *call) eventAside(state, reason string, aside bool) {
	ep, now := "", time.Now()
	c.u.mu.Lock()
	if c.owner != nil {
		ep = c.owner.name
	}
	if state == "connected" && c.answered.IsZero() {
		c.answered = now
	}
	answered := c.answered
	c.u.mu.Unlock()
	c.u.emit(&CallEvent{Extension: c.ext.name, CallID: c.dlg.callID, Direction: c.direction(),
		Remote: c.number, State: state, Reason: reason, Endpoint: ep, Aside: aside, Answered: answered, Time: now})
}

// hangup ends the call from our side: CANCEL before an answer, BYE after.
func (c *call) hangup(reason string) {
	c.hangOnce.Do(func() { close(c.hangupCh) })
	c.u.mu.Lock()
	st := c.state
	c.u.mu.Unlock()
	switch {
	case st == csEnded:
	case c.out && st < csActive:
		// runOutgoing sees hangupCh and cancels.
	case !c.out && st == csSetup:
		c.cancel(errors.New(reason))
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.u.sendInDialog(ctx, c.cli, c.dlg, c.auth, sip.BYE, nil)
		cancel()
		if err != nil {
			c.u.log.Warn("BYE failed", "call", c.dlg.callID, "error", err)
		}
		c.finish("local " + reason)
	}
}

// finish tears the call down locally once: media summary, endpoints.
func (c *call) finish(reason string) {
	c.endOnce.Do(func() {
		c.cancel(errors.New(reason))
		u := c.u
		u.mu.Lock()
		var release endpoint.Releaser // the far end ended a cordless device's call
		var releaseName string
		wasActive := c.state >= csAnswering
		// Held or waiting at its endpoint, which is in another call.
		aside := c.owner != nil && c.owner.active != c && c.owner.active != nil
		c.state = csEnded
		delete(u.calls, c.dlg.callID)
		for s := range c.ringing {
			if s.ringing == c {
				s.ringing = nil
				_ = s.ep.StopRinging()
			}
		}
		for s := range c.cw {
			if s.other == c {
				s.other = nil
			}
		}
		if s := c.owner; s != nil {
			if s.active == c {
				s.active = nil
				c.detachAudioLocked(s)
				if s.offHook {
					tone := endpoint.Busy
					if !wasActive {
						tone = failureTone(reason)
					}
					_ = s.ep.PlayTone(tone)
					if r, ok := s.ep.(endpoint.Releaser); ok && wasActive && !aside {
						release, releaseName = r, s.name
					}
				}
			}
			if s.other == c {
				s.other = nil
			}
			if s.ringing == c {
				s.ringing = nil
				_ = s.ep.StopRinging()
			}
		}
		ms := c.ms
		u.mu.Unlock()
		if release != nil {
			u.wg.Go(func() {
				if err := release.Release(); err != nil {
					u.log.Warn("releasing endpoint", "endpoint", releaseName, "error", err)
				}
			})
		}
		if ms != nil {
			u.emit(ms.endReport(ms.Close()))
		}
		state := "ended"
		if !wasActive {
			state = "failed"
		}
		c.eventAside(state, reason, aside)
	})
}

// failureTone picks the tone for a call that failed before answer.
func failureTone(reason string) endpoint.Tone {
	switch {
	case strings.HasPrefix(reason, "486"), strings.HasPrefix(reason, "600"):
		return endpoint.Busy
	case strings.HasPrefix(reason, "404"), strings.HasPrefix(reason, "410"), strings.HasPrefix(reason, "484"), strings.HasPrefix(reason, "604"):
		return endpoint.SIT
	}
	return endpoint.Reorder
}

// detachEndpoint forgets s as the owner (s was detached).
func (c *call) detachEndpoint(s *epState) {
	c.u.mu.Lock()
	if c.owner == s {
		c.owner = nil
		if c.ms != nil {
			c.ms.Attach(nil)
		}
	}
	c.u.mu.Unlock()
}

// attachAudioLocked gives the endpoint's audio port to this call's media.
func (c *call) attachAudioLocked(s *epState) {
	if c.ms == nil {
		return
	}
	if s.audio == nil {
		var p endpoint.AudioPort
		var err error
		if w, ok := s.ep.(endpoint.Wideband); ok {
			p, err = w.ConnectAudioAt(c.ms.audioRate())
		} else {
			p, err = s.ep.ConnectAudio()
		}
		if err != nil {
			c.u.log.Warn("endpoint audio", "endpoint", s.name, "error", err)
			return
		}
		s.audio = &lockedPort{portLocks: &s.locks, p: p}
	}
	c.ms.Attach(s.audio)
}

// detachAudioLocked stops this call's audio; the endpoint's port is
// released when no call of it needs audio.
func (c *call) detachAudioLocked(s *epState) {
	if c.ms != nil {
		c.ms.Attach(nil)
	}
	if s.audio != nil && s.active == nil {
		_ = s.ep.DisconnectAudio()
		s.audio = nil
	}
}

// localIP is the IP for SDP towards the call's server.
func (c *call) localIP() net.IP {
	c.ext.reg.mu.Lock()
	ip := c.ext.reg.localIP
	c.ext.reg.mu.Unlock()
	if p := net.ParseIP(ip); p != nil {
		return p
	}
	return net.IPv4(127, 0, 0, 1)
}

func srtpMode(s string) media.SRTPMode {
	switch s {
	case "required":
		return media.SRTPRequired
	case "optional":
		return media.SRTPOptional
	}
	return media.SRTPOff
}

// ---- outgoing ----

// placeCall starts an outgoing call from endpoint s. Called with u.mu held.
func (u *UA) placeCallLocked(s *epState, number string) (*call, error) {
	e := s.ext
	emergency := false
	for _, n := range u.conf().emergency() {
		if n == number {
			emergency = true
		}
	}
	via := e
	if !e.reg.registered() && emergency {
		// Emergency: any registered account will do.
		for _, o := range u.exts {
			if o.reg.registered() {
				via = o
				break
			}
		}
	}
	r := via.reg
	r.mu.Lock()
	contact, localIP, target := r.contact, r.localIP, r.sendAddrLocked(r.target)
	r.mu.Unlock()
	if contact == nil || target == "" {
		return nil, fmt.Errorf("extension %s: %w", e.name, ErrNotRegistered)
	}
	acct := via.acct
	cli, err := u.client(acct.transport(), localIP)
	if err != nil {
		return nil, err
	}
	c := u.newCall(via, acct, r.auth, true)
	c.cli = cli
	c.number = number
	c.emergency = emergency
	c.owner = s
	c.dlg = &dialog{
		callID:       sip.GenerateTagN(24) + "@basestation",
		local:        sip.Uri{Scheme: "sip", User: acct.User, Host: acct.Domain},
		localName:    acct.CallerIDName,
		localTag:     sip.GenerateTagN(16),
		remote:       sip.Uri{Scheme: "sip", User: number, Host: acct.Domain},
		remoteTarget: sip.Uri{Scheme: "sip", User: number, Host: acct.Domain},
		lcseq:        1,
		transport:    acct.transport().sip(),
		proxy:        target,
		contact:      contact.Clone(),
	}
	if acct.transport() == UDP {
		c.dlg.laddr = sip.Addr{IP: u.udp.LocalAddr().(*net.UDPAddr).IP, Port: u.listenPort}
	}
	u.calls[c.dlg.callID] = c
	return c, nil
}

// runOutgoing sends the INVITE and follows it to an answer or failure.
func (c *call) runOutgoing() {
	u := c.u
	ms, err := u.newMedia(c, c.localIP(), srtpMode(c.acct.SRTP))
	if err != nil {
		u.log.Warn("media", "error", err)
		c.finish("media: " + err.Error())
		return
	}
	u.mu.Lock() // the bridge reads c.ms under u.mu (a digit dialled meanwhile)
	c.ms = ms
	u.mu.Unlock()
	offer, err := ms.Negotiator().Offer()
	if err != nil {
		c.finish("sdp: " + err.Error())
		return
	}
	c.event("calling", "")
	cidNum, cidName := c.acct.CallerIDNumber, c.acct.CallerIDName
	if cidNum == "" {
		cidNum = c.acct.User
	}
	var (
		tx       sip.ClientTransaction
		invite   *sip.Request
		fresh    bool
		gotProv  bool
		canceled bool
		applied  bool
		attempts int
	)
	send := func() error {
		invite = c.dlg.newRequest(sip.INVITE, 0)
		if c.dlg.laddr.IP != nil {
			invite.Laddr = c.dlg.laddr
		}
		ppi := fmt.Sprintf("<sip:%s@%s>", cidNum, c.acct.Domain)
		if cidName != "" {
			ppi = fmt.Sprintf("%q %s", cidName, ppi)
		}
		invite.AppendHeader(sip.NewHeader("P-Preferred-Identity", ppi))
		invite.AppendHeader(sip.NewHeader("Allow", allowMethods))
		invite.AppendHeader(sip.NewHeader("User-Agent", u.userAgent()))
		if c.emergency {
			invite.AppendHeader(sip.NewHeader("Priority", "emergency"))
		}
		invite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		invite.SetBody(offer)
		sipgo.ClientRequestAddVia(c.cli, invite)
		if err := c.auth.authorize(invite); err != nil {
			return err
		}
		var err error
		tx, err = c.cli.TransactionRequest(c.ctx, invite, noBuild)
		return err
	}
	if err := send(); err != nil {
		c.finish("invite: " + err.Error())
		return
	}
	defer func() {
		if tx != nil { // nil when a resend after a challenge failed
			tx.Terminate()
		}
	}()
	noAnswer := time.NewTimer(u.conf().Timing.InviteNoAnswer)
	defer noAnswer.Stop()
	hangupCh := c.hangupCh
	sendCancel := func() {
		canceled = true
		cancelReq := sip.NewRequest(sip.CANCEL, invite.Recipient)
		cancelReq.SetTransport(invite.Transport())
		cancelReq.SetDestination(invite.Destination())
		cancelReq.Laddr = invite.Laddr
		for _, name := range []string{"Via", "Route", "From", "To", "Call-ID", "Max-Forwards"} {
			for _, h := range invite.GetHeaders(name) {
				cancelReq.AppendHeader(sip.HeaderClone(h))
			}
		}
		cancelReq.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sip.CANCEL})
		cancelReq.SetBody(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() {
			defer cancel()
			if _, err := u.roundTrip(ctx, c.cli, cancelReq); err != nil {
				u.log.Warn("CANCEL failed", "call", c.dlg.callID, "error", err)
			}
		}()
	}
	for {
		select {
		case <-hangupCh:
			hangupCh = nil
			if gotProv {
				sendCancel()
			}
			continue
		case <-noAnswer.C:
			if gotProv && !canceled {
				sendCancel()
			}
			continue
		case <-u.runCtx.Done():
			if gotProv && !canceled {
				sendCancel()
			}
			c.finish("shutdown")
			return
		case <-tx.Done():
			c.finish("invite: " + describe(nil, firstErr(tx.Err(), ErrTimeout)))
			if c.onFinal != nil {
				c.onFinal("408 Request Timeout")
			}
			return
		case res := <-tx.Responses():
			if res.StatusCode == 100 {
				continue
			}
			if res.IsProvisional() {
				gotProv = true
				if hangupCh == nil && !canceled {
					sendCancel()
					continue
				}
				if len(res.Body()) > 0 && !applied {
					if neg, err := ms.Negotiator().ProcessAnswer(res.Body()); err == nil {
						if err := ms.Apply(neg); err == nil {
							applied = true
							u.mu.Lock()
							c.state = csEarly
							if s := c.owner; s != nil && s.active == c {
								_ = s.ep.PlayTone(endpoint.None)
								c.attachAudioLocked(s)
							}
							u.mu.Unlock()
						}
					}
				} else if !applied && res.StatusCode == 180 {
					u.mu.Lock()
					if s := c.owner; s != nil && s.active == c {
						_ = s.ep.PlayTone(endpoint.Ringback)
					}
					u.mu.Unlock()
				}
				continue
			}
			if res.IsSuccess() {
				c.established(res, invite)
				if err := c.ack(res.CSeq().SeqNo); err != nil {
					u.log.Warn("ACK failed", "error", err)
				}
				cseq := res.CSeq().SeqNo
				tx.OnRetransmission(func(r *sip.Response) {
					if r.IsSuccess() {
						_ = c.ack(cseq)
					}
				})
				if canceled || hangupCh == nil {
					// 200 raced our CANCEL: BYE it.
					go c.hangupAfterAnswer()
					return
				}
				if neg, err := ms.Negotiator().ProcessAnswer(res.Body()); err == nil {
					if err := ms.Apply(neg); err != nil {
						u.log.Warn("media apply", "error", err)
					}
				} else if !applied {
					u.log.Warn("bad SDP answer", "call", c.dlg.callID, "error", err)
					go c.hangupAfterAnswer()
					return
				}
				u.mu.Lock()
				c.state = csActive
				if s := c.owner; s != nil && s.active == c {
					_ = s.ep.PlayTone(endpoint.None)
					c.attachAudioLocked(s)
				}
				u.mu.Unlock()
				c.event("connected", "")
				if c.onFinal != nil {
					c.onFinal(fmt.Sprintf("%d %s", res.StatusCode, res.Reason))
				}
				return
			}
			if (res.StatusCode == 401 || res.StatusCode == 407) && !canceled && attempts < 3 {
				stale, err := c.auth.challenged(res)
				if err == nil && (!fresh || stale) {
					fresh = true
					attempts++
					tx.Terminate()
					gotProv = false
					if err := send(); err != nil {
						c.finish("invite: " + err.Error())
						return
					}
					continue
				}
			}
			c.finish(fmt.Sprintf("%d %s", res.StatusCode, res.Reason))
			if c.onFinal != nil {
				c.onFinal(fmt.Sprintf("%d %s", res.StatusCode, res.Reason))
			}
			return
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// established records the dialog from a 2xx to our INVITE.
func (c *call) established(res *sip.Response, invite *sip.Request) {
	d := c.dlg
	d.mu.Lock()
	defer d.mu.Unlock()
	if to := res.To(); to != nil {
		d.remoteTag, _ = to.Params.Get("tag")
		d.remoteName = to.DisplayName
	}
	if ct := res.Contact(); ct != nil {
		d.remoteTarget = ct.Address
	}
	d.routes = routeSetFrom(res.GetHeaders("Record-Route"), true)
	if cs := invite.CSeq(); cs != nil && cs.SeqNo > d.lcseq {
		d.lcseq = cs.SeqNo
	}
}

func (c *call) hangupAfterAnswer() {
	c.u.mu.Lock()
	c.state = csActive
	c.u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.u.sendInDialog(ctx, c.cli, c.dlg, c.auth, sip.BYE, nil)
	c.finish("cancelled (200 raced CANCEL)")
}

// ack sends the ACK for a 2xx to our INVITE with CSeq cseq.
func (c *call) ack(cseq uint32) error {
	ack := c.dlg.newRequest(sip.ACK, cseq)
	sipgo.ClientRequestAddVia(c.cli, ack)
	return c.cli.WriteRequest(ack, noBuild)
}

// reinvite brings the signalled hold state in line with the wanted one
// (heldByUs, set by the bridge; hold is recorded as wanted here too).
// Re-INVITEs of a call are serialised, so quick hold/resume sequences
// converge to the last wish.
func (c *call) reinvite(hold bool) error {
	if c.ms == nil {
		return ErrNoMedia
	}
	c.reMu.Lock()
	defer c.reMu.Unlock()
	c.u.mu.Lock()
	want := c.heldByUs
	c.u.mu.Unlock()
	if want == c.signalledHold {
		return nil
	}
	neg := c.ms.Negotiator()
	if want {
		neg.SetDirection(media.SendOnly)
	} else {
		neg.SetDirection(media.SendRecv)
	}
	offer, err := neg.Offer()
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		res, err := c.u.sendInDialog(ctx, c.cli, c.dlg, c.auth, sip.INVITE, offer)
		cancel()
		if err != nil {
			return err
		}
		if res.StatusCode == 491 {
			// Glare (RFC 3261 §14.1): wait 2.1-4 s and retry.
			select {
			case <-time.After(2100*time.Millisecond + time.Duration(attempt)*500*time.Millisecond):
			case <-c.ctx.Done():
				return c.ctx.Err()
			}
			continue
		}
		if !res.IsSuccess() {
			return &StatusError{Method: "re-INVITE", Code: res.StatusCode, Reason: res.Reason}
		}
		_ = c.ack(res.CSeq().SeqNo)
		n, err := neg.ProcessAnswer(res.Body())
		if err != nil {
			return err
		}
		c.signalledHold = want
		return c.ms.Apply(n)
	}
	return fmt.Errorf("re-INVITE: %w", ErrGlare)
}
