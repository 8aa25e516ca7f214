package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"basestation/sim/softphone/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// Config configures a phone.
type Config struct {
	// User is the SIP user (the extension), Password its digest password,
	// AuthUser the digest user name (default User).
	User, Password, AuthUser string
	// DisplayName goes into From.
	DisplayName string
	// Registrar is the "ip:port" of the registrar/proxy; calls go there too.
	Registrar string
	// Domain is the AOR domain; default the Registrar's host.
	Domain string
	// Bind is the local SIP (UDP) address; default "127.0.0.1:0". RTP uses
	// a random port on the same IP.
	Bind string
	// Expires is the registration interval asked for; default 600 s.
	Expires time.Duration
	// AutoAnswer answers incoming calls after AnswerDelay.
	AutoAnswer  bool
	AnswerDelay time.Duration
	// ToneHz is the tone sent while in a call (0 = silence); SetTone changes it.
	ToneHz float64
	// ToneAmplitude is the tone's peak (default 8000, about -12 dBFS).
	ToneAmplitude float64
	// Codecs are offered/accepted in this order; default PCMU, PCMA.
	Codecs []media.Codec
	// UserAgent header; default "basesim-softphone".
	UserAgent string
}

// State is the phone's call state.
type State string

// Call states.
const (
	Idle      State = "idle"
	Calling   State = "calling"   // outgoing INVITE sent
	Alerting  State = "alerting"  // outgoing call, far end ringing
	Incoming  State = "incoming"  // incoming call ringing here
	Connected State = "connected" // in a call
)

// EventType names what happened.
type EventType string

// Events.
const (
	EvRegistered EventType = "registered"
	EvIncoming   EventType = "incoming"  // Info holds the INVITE
	EvRinging    EventType = "ringing"   // far end is ringing (180/183)
	EvConnected  EventType = "connected" // call established
	EvEnded      EventType = "ended"     // Code holds a failure status, if any
	EvDigit      EventType = "digit"     // Digit holds it
	EvMWI        EventType = "mwi"       // MWI holds the state
	EvReferState EventType = "refer"     // Text holds the sipfrag status line
	EvReinvite   EventType = "reinvite"  // Text holds the offered direction
)

// Event is one thing the phone reports.
type Event struct {
	Type   EventType
	Code   int
	Reason string
	Digit  rune
	Info   InviteInfo
	MWI    MWI
	Text   string
}

// InviteInfo is what an incoming INVITE carried: the caller ID as the far
// side presented it.
type InviteInfo struct {
	RequestURI string
	From       string // From URI
	FromUser   string
	FromName   string // From display name
	To         string
	PAI        string // raw P-Asserted-Identity
	PAIUser    string // user part of the PAI URI
	PAIName    string // display name of the PAI
	PPI        string // raw P-Preferred-Identity
	Privacy    string
	AlertInfo  string
	UserAgent  string
}

// CallError is a call that did not connect: the final status received.
type CallError struct {
	Code   int
	Reason string
}

func (e *CallError) Error() string { return fmt.Sprintf("call failed: %d %s", e.Code, e.Reason) }

// ErrBusy is returned when the phone already has a call.
var ErrBusy = errors.New("softphone: already in a call")

// Phone is a simulated SIP phone.
type Phone struct {
	cfg    Config
	log    *slog.Logger
	host   string
	port   int
	rhost  string
	domain string

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dlg    *sipgo.DialogUA
	pc     net.PacketConn
	rtp    net.PacketConn
	ready  chan struct{}
	ctx    context.Context
	stop   context.CancelFunc
	events chan Event
	toneHz atomic.Uint64 // math.Float64bits

	mu        sync.Mutex
	state     State
	call      *activeCall
	lastInv   *InviteInfo
	mwi       *MWI
	regCallID string
	regTag    string
	regCSeq   uint32
	regCancel context.CancelFunc
	granted   time.Duration
	subCallID string
	subTag    string
	subCSeq   uint32
	ran       bool
	dropped   int
}

// activeCall is the phone's one call.
type activeCall struct {
	callID   string
	out      *sipgo.DialogClientSession
	in       *sipgo.DialogServerSession
	cancel   context.CancelFunc // cancels a ringing outgoing call
	answerCh chan int           // incoming: 200 to answer, other codes to reject
	rx       *media.Receiver
	tx       *media.Sender
	stopMed  context.CancelFunc
	medDone  chan struct{}
	local    []byte // our SDP
	codec    media.Codec
	dtmf     bool   // telephone-event negotiated
	localDir string // our direction: sendrecv, sendonly, recvonly, inactive
	remDir   string // the other side's direction
}

// New binds the SIP and RTP sockets and prepares the handlers.
func New(cfg Config, log *slog.Logger) (*Phone, error) {
	if cfg.User == "" || strings.ContainsAny(cfg.User, "@:;<> \r\n") {
		return nil, fmt.Errorf("softphone: bad user %q", cfg.User)
	}
	rhost, _, err := net.SplitHostPort(cfg.Registrar)
	if err != nil {
		return nil, fmt.Errorf("softphone: registrar %q: %w", cfg.Registrar, err)
	}
	if cfg.AuthUser == "" {
		cfg.AuthUser = cfg.User
	}
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:0"
	}
	if cfg.Expires == 0 {
		cfg.Expires = 600 * time.Second
	}
	if cfg.ToneAmplitude == 0 {
		cfg.ToneAmplitude = 8000
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "basesim-softphone"
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Phone{cfg: cfg, log: log.With("sub", "softphone", "user", cfg.User), rhost: rhost, domain: cfg.Domain,
		ready: make(chan struct{}), events: make(chan Event, 256), state: Idle}
	if p.domain == "" {
		p.domain = rhost
	}
	p.toneHz.Store(math.Float64bits(cfg.ToneHz))
	p.ctx, p.stop = context.WithCancel(context.Background())
	if p.pc, err = net.ListenPacket("udp4", cfg.Bind); err != nil {
		return nil, fmt.Errorf("softphone: sip listen %s: %w", cfg.Bind, err)
	}
	la := p.pc.LocalAddr().(*net.UDPAddr)
	p.host, p.port = la.IP.String(), la.Port
	if p.rtp, err = net.ListenPacket("udp4", net.JoinHostPort(p.host, "0")); err != nil {
		p.pc.Close()
		return nil, fmt.Errorf("softphone: rtp listen: %w", err)
	}
	if err := p.setupSIP(); err != nil {
		p.pc.Close()
		p.rtp.Close()
		return nil, err
	}
	return p, nil
}

func (p *Phone) setupSIP() error {
	var err error
	if p.ua, err = sipgo.NewUA(sipgo.WithUserAgent(p.cfg.UserAgent), sipgo.WithUserAgentHostname(p.host)); err != nil {
		return fmt.Errorf("softphone: sipgo.NewUA: %w", err)
	}
	if p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(p.log)); err != nil {
		return fmt.Errorf("softphone: sipgo.NewServer: %w", err)
	}
	if p.cli, err = sipgo.NewClient(p.ua, sipgo.WithClientConnectionAddr(p.pc.LocalAddr().String()),
		sipgo.WithClientHostname(p.host), sipgo.WithClientPort(p.port), sipgo.WithClientNAT(), sipgo.WithClientLogger(p.log)); err != nil {
		return fmt.Errorf("softphone: sipgo.NewClient: %w", err)
	}
	p.dlg = &sipgo.DialogUA{Client: p.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.host, Port: p.port}}}
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(p.onAck)
	p.srv.OnBye(p.onBye)
	p.srv.OnNotify(p.onNotify)
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	p.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	})
	return nil
}

// Addr is the phone's SIP "ip:port".
func (p *Phone) Addr() string { return p.pc.LocalAddr().String() }

// RTPAddr is the phone's RTP "ip:port".
func (p *Phone) RTPAddr() string { return p.rtp.LocalAddr().String() }

// Events delivers what happens; if nobody reads, events beyond 256 are
// dropped (State, Digits, LastInvite and MWI keep the latest anyway).
func (p *Phone) Events() <-chan Event { return p.events }

func (p *Phone) emit(e Event) {
	select {
	case p.events <- e:
	default:
		p.mu.Lock()
		p.dropped++
		p.mu.Unlock()
	}
}

// DroppedEvents counts events lost because nobody read Events.
func (p *Phone) DroppedEvents() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// WaitEvent returns the next event of type t, discarding others, or an
// error when ctx ends.
func (p *Phone) WaitEvent(ctx context.Context, t EventType) (Event, error) {
	for {
		select {
		case e := <-p.events:
			if e.Type == t {
				return e, nil
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("softphone %s: waiting for %s: %w", p.cfg.User, t, ctx.Err())
		}
	}
}

// Run serves SIP and RTP until ctx ends; it hangs up a call and
// un-registers on the way out.
func (p *Phone) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.ran {
		p.mu.Unlock()
		return errors.New("softphone: Run called twice")
	}
	p.ran = true
	p.mu.Unlock()
	defer context.AfterFunc(ctx, p.stop)()
	errc := make(chan error, 1)
	go func() { errc <- p.srv.ServeUDP(p.pc) }()
	laddr := p.pc.LocalAddr().String()
	for {
		c, err := p.ua.TransportLayer().GetConnection("udp", laddr)
		if err == nil && c != nil {
			break
		}
		select {
		case <-ctx.Done():
			p.close()
			return nil
		case err := <-errc:
			p.close()
			return fmt.Errorf("softphone: serve: %w", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	close(p.ready)
	go p.readRTP()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if ctx.Err() == nil {
			p.close()
			return fmt.Errorf("softphone: serve: %w", err)
		}
	}
	// Polite exit: hang up and un-register, bounded.
	bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = p.Hangup(bctx)
	p.mu.Lock()
	registered := p.regCallID != "" && p.granted > 0
	p.mu.Unlock()
	if registered {
		_ = p.register(bctx, 0)
	}
	cancel()
	p.close()
	return nil
}

func (p *Phone) close() {
	p.stop()
	p.pc.Close()
	p.rtp.Close()
	_ = p.ua.Close()
}

func (p *Phone) waitReady(ctx context.Context) error {
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errors.New("softphone: stopped")
	}
}

func (p *Phone) readRTP() {
	buf := make([]byte, 2048)
	for {
		n, _, err := p.rtp.ReadFrom(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		var rx *media.Receiver
		if p.call != nil {
			rx = p.call.rx
		}
		p.mu.Unlock()
		if rx != nil {
			if err := rx.Handle(buf[:n]); err != nil {
				p.log.Debug("rtp", "err", err)
			}
		}
	}
}

// aor is the phone's address of record.
func (p *Phone) aor() sip.Uri { return sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.domain} }

// registrarURI is where REGISTER goes.
func (p *Phone) registrarURI() sip.Uri {
	h, port, _ := sip.ParseAddr(p.cfg.Registrar)
	return sip.Uri{Scheme: "sip", Host: h, Port: port}
}

// Register registers once (answering a digest challenge) and keeps the
// registration refreshed at half the granted time until Unregister or
// the end of Run.
func (p *Phone) Register(ctx context.Context) error {
	if err := p.waitReady(ctx); err != nil {
		return err
	}
	if err := p.register(ctx, p.cfg.Expires); err != nil {
		return err
	}
	p.mu.Lock()
	if p.regCancel == nil {
		rctx, cancel := context.WithCancel(p.ctx)
		p.regCancel = cancel
		go p.refresh(rctx)
	}
	p.mu.Unlock()
	p.emit(Event{Type: EvRegistered})
	return nil
}

// Unregister removes the registration (Expires: 0) and stops refreshing.
func (p *Phone) Unregister(ctx context.Context) error {
	p.mu.Lock()
	if p.regCancel != nil {
		p.regCancel()
		p.regCancel = nil
	}
	p.mu.Unlock()
	return p.register(ctx, 0)
}

// Granted is the registration time the registrar granted (0 before
// registering or after un-registering).
func (p *Phone) Granted() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.granted
}

func (p *Phone) refresh(ctx context.Context) {
	wait := p.Granted() / 2
	for {
		if wait < time.Second {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := p.register(rctx, p.cfg.Expires)
		cancel()
		if err != nil {
			p.log.Warn("re-register failed", "err", err)
			wait = 5 * time.Second
			continue
		}
		wait = p.Granted() / 2
	}
}

func (p *Phone) register(ctx context.Context, expires time.Duration) error {
	p.mu.Lock()
	if p.regCallID == "" {
		p.regCallID = uuid.NewString()
		p.regTag = sip.GenerateTagN(16)
	}
	p.regCSeq++
	callID, tag, cseq := p.regCallID, p.regTag, p.regCSeq
	p.mu.Unlock()

	req := sip.NewRequest(sip.REGISTER, p.registrarURI())
	from := sip.FromHeader{DisplayName: p.cfg.DisplayName, Address: p.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	to := sip.ToHeader{Address: p.aor()}
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	ct := p.dlg.ContactHDR
	req.AppendHeader(sip.HeaderClone(&ct))
	req.AppendHeader(sip.NewHeader("User-Agent", p.cfg.UserAgent))
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&exp)
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("softphone %s: REGISTER: %w", p.cfg.User, err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.cfg.AuthUser, Password: p.cfg.Password})
		if err != nil {
			return fmt.Errorf("softphone %s: REGISTER with auth: %w", p.cfg.User, err)
		}
		p.mu.Lock()
		p.regCSeq = req.CSeq().SeqNo
		p.mu.Unlock()
	}
	if res.StatusCode != sip.StatusOK {
		return &CallError{Code: res.StatusCode, Reason: res.Reason}
	}
	granted := expires
	if expires > 0 {
		for _, h := range res.GetHeaders("Contact") {
			c, ok := h.(*sip.ContactHeader)
			if !ok || c.Address.Host != p.host || c.Address.Port != p.port {
				continue
			}
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					granted = time.Duration(n) * time.Second
				}
			}
		}
	}
	p.mu.Lock()
	p.granted = granted
	p.mu.Unlock()
	return nil
}

// State returns the call state.
func (p *Phone) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// SetTone changes the tone sent in calls (0 = silence), at once.
func (p *Phone) SetTone(hz float64) { p.toneHz.Store(math.Float64bits(hz)) }

// Heard analyses the last window of received audio (at most 1 s).
func (p *Phone) Heard(window time.Duration) media.Analysis {
	p.mu.Lock()
	var rx *media.Receiver
	if p.call != nil {
		rx = p.call.rx
	}
	p.mu.Unlock()
	if rx == nil {
		return media.Analysis{}
	}
	n := int(window * media.Rate / time.Second)
	return media.Analyse(rx.Recent(n), media.Rate)
}

// HeardSamples returns the last window of received audio (at most 1 s) as
// decoded 8 kHz samples; nil when there is no call.
func (p *Phone) HeardSamples(window time.Duration) []int16 {
	p.mu.Lock()
	var rx *media.Receiver
	if p.call != nil {
		rx = p.call.rx
	}
	p.mu.Unlock()
	if rx == nil {
		return nil
	}
	return rx.Recent(int(window * media.Rate / time.Second))
}

// HeardFrequency is the dominant frequency of the last 200 ms received
// (0 for silence or no call).
func (p *Phone) HeardFrequency() float64 { return p.Heard(200 * time.Millisecond).Freq }

// ReceivedPackets counts the RTP packets received in the current call.
func (p *Phone) ReceivedPackets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call == nil || p.call.rx == nil {
		return 0
	}
	return p.call.rx.Packets()
}

// Digits returns the RFC 4733 digits received in the current call.
func (p *Phone) Digits() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call == nil || p.call.rx == nil {
		return ""
	}
	return p.call.rx.Digits()
}

// SendDigits sends DTMF digits as RFC 4733 events in the current call.
func (p *Phone) SendDigits(digits string) error {
	p.mu.Lock()
	var tx *media.Sender
	if p.call != nil {
		tx = p.call.tx
	}
	p.mu.Unlock()
	if tx == nil {
		return errors.New("softphone: no call with media")
	}
	return tx.SendDigits(digits)
}

// LastInvite returns what the last incoming INVITE carried.
func (p *Phone) LastInvite() (InviteInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastInv == nil {
		return InviteInfo{}, false
	}
	return *p.lastInv, true
}

// MWI returns the last message-waiting state received.
func (p *Phone) MWI() (MWI, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mwi == nil {
		return MWI{}, false
	}
	return *p.mwi, true
}

// startMedia (re)starts media for the negotiated codec: the receiver
// always, the sender only when localDir allows sending. Called with p.mu
// held.
func (p *Phone) startMedia(c *activeCall, rm remoteMedia, codec media.Codec, localDir string) {
	if c.rx == nil {
		c.rx = media.NewReceiver(rm.dtmfPT, func(d rune) { p.emit(Event{Type: EvDigit, Digit: d}) })
	} else {
		c.rx.SetDTMFPayloadType(rm.dtmfPT)
	}
	if c.stopMed != nil {
		c.stopMed()
		<-c.medDone
		c.stopMed, c.medDone = nil, nil
	}
	c.codec, c.dtmf, c.localDir, c.remDir = codec, rm.dtmfPT != 0, localDir, rm.dir
	c.tx = nil
	if !sends(localDir) || rm.addr.Port == 0 {
		return
	}
	c.tx = media.NewSender(p.rtp, rm.addr, codec, rm.dtmfPT)
	mctx, cancel := context.WithCancel(p.ctx)
	c.stopMed, c.medDone = cancel, make(chan struct{})
	tone := media.Tone{Rate: media.Rate}
	tx, done := c.tx, c.medDone
	go func() {
		defer close(done)
		if err := tx.Run(mctx, func(f []int16) {
			tone.Fill(f, math.Float64frombits(p.toneHz.Load()), p.cfg.ToneAmplitude)
		}); err != nil {
			p.log.Debug("rtp sender", "err", err)
		}
	}()
}

// MediaDirection returns the current call's SDP directions: the phone's
// own and the other side's ("" when there is no call).
func (p *Phone) MediaDirection() (local, remote string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call == nil {
		return "", ""
	}
	return p.call.localDir, p.call.remDir
}

// endCall clears the call (if it is still c) and reports it.
func (p *Phone) endCall(c *activeCall, code int, reason string) {
	p.mu.Lock()
	if p.call != c {
		p.mu.Unlock()
		return
	}
	p.call = nil
	p.state = Idle
	stop, done := c.stopMed, c.medDone
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	p.emit(Event{Type: EvEnded, Code: code, Reason: reason})
}

// pickCodec returns the first of the other side's codecs we accept.
func (p *Phone) pickCodec(rm remoteMedia) (media.Codec, bool) {
	for _, c := range rm.codecs {
		for _, ours := range p.cfg.Codecs {
			if c == ours {
				return c, true
			}
		}
	}
	return 0, false
}

func (p *Phone) rtpPort() int { return p.rtp.LocalAddr().(*net.UDPAddr).Port }
