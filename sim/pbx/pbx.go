package pbx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config configures the PBX. The zero value (plus Users) is valid.
type Config struct {
	// Addr is the UDP and TCP listen address; "127.0.0.1:0" (the default)
	// picks a random port that is free for both.
	Addr string
	// Users maps extension → password. Only these extensions can register
	// and be called.
	Users map[string]string
	// Auth turns on digest authentication (MD5, qop=auth): 401 on REGISTER,
	// 407 on INVITE, SUBSCRIBE and REFER, like the project's kamailio config.
	Auth bool
	// Realm is the digest realm; default the listen IP.
	Realm string
	// VoicemailNumber is the voicemail access number; default "*97".
	VoicemailNumber string
	// VoicemailToneHz is the prompt tone voicemail plays; default 440.
	VoicemailToneHz float64
	// VoicemailMaxDuration ends a voicemail call with BYE; default 2 minutes.
	VoicemailMaxDuration time.Duration
	// MinExpires, DefaultExpires and MaxExpires bound registrations
	// (kamailio's registrar: 10, 600, 3600 seconds).
	MinExpires, DefaultExpires, MaxExpires time.Duration
	// RingTimeout ends an unanswered call with 480; default 60 s
	// (SetRingTimeout changes it for one extension).
	RingTimeout time.Duration
	// NoUnsolicitedMWI turns off the NOTIFYs sent to registered contacts
	// that have no message-summary subscription.
	NoUnsolicitedMWI bool
	// UserAgent is the Server/User-Agent header; default "basesim-pbx".
	UserAgent string
	// CallLogSize is how many finished calls Calls keeps; default 100.
	CallLogSize int
	// Now is the clock for registration expiry and nonces; default time.Now.
	Now func() time.Time
	// OnEvent, if set, is called (outside the PBX's locks, from the
	// goroutine that made the change; it must not block) for registration
	// changes, call state changes and voicemail count changes.
	OnEvent func(Event)
}

// EventKind names what changed.
type EventKind string

// Event kinds.
const (
	EvRegistered   EventKind = "registered"   // Ext's contacts changed; Detail lists how many
	EvUnregistered EventKind = "unregistered" // Ext has no contact left (un-REGISTER or expiry)
	EvCall         EventKind = "call"         // Call holds the call's new state
	EvVoicemail    EventKind = "voicemail"    // Ext's counts changed; Detail is "new/old"
)

// Event is a change in the PBX, for a console or a test.
type Event struct {
	Kind   EventKind
	Ext    string
	Call   CallInfo
	Detail string
}

func (p *PBX) emit(e Event) {
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(e)
	}
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.VoicemailNumber == "" {
		c.VoicemailNumber = "*97"
	}
	if c.VoicemailToneHz == 0 {
		c.VoicemailToneHz = 440
	}
	if c.VoicemailMaxDuration == 0 {
		c.VoicemailMaxDuration = 2 * time.Minute
	}
	if c.MinExpires == 0 {
		c.MinExpires = 10 * time.Second
	}
	if c.DefaultExpires == 0 {
		c.DefaultExpires = 600 * time.Second
	}
	if c.MaxExpires == 0 {
		c.MaxExpires = 3600 * time.Second
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 60 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "basesim-pbx"
	}
	if c.CallLogSize == 0 {
		c.CallLogSize = 100
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// PBX is the registrar, back-to-back user agent, voicemail and
// message-waiting server.
type PBX struct {
	cfg  Config
	log  *slog.Logger
	host string
	port int
	auth *digestAuth

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	udpCli *sipgo.Client
	tcpCli *sipgo.Client
	dlgUDP *sipgo.DialogUA
	dlgTCP *sipgo.DialogUA
	pc     net.PacketConn
	ln     net.Listener

	down atomic.Bool // SetOutage

	ready chan struct{} // closed once the UDP socket is in sipgo's pool
	// ctx ends when Run's context ends; background work hangs off it.
	ctx  context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	users     map[string]string
	bindings  map[string][]*binding // ext → contacts
	legs      map[string]*leg       // Call-ID → leg
	calls     map[string]*call      // active, by call ID
	callLog   []CallInfo            // finished, oldest first
	nextCall  int
	subs      map[string]*subscription // Call-ID → subscription
	mailboxes map[string]Counts        // ext → voice-message counts
	ringFor   map[string]time.Duration // ext → its own RingTimeout (SetRingTimeout)
	last      *InviteInfo
	ran       bool
	closing   bool
	active    int           // call and notify goroutines running
	idle      chan struct{} // signalled when active drops to 0 while closing
}

// New opens the listeners (so Addr is known at once) and prepares the
// handlers; Run serves.
func New(cfg Config, log *slog.Logger) (*PBX, error) {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	p := &PBX{
		cfg: cfg, log: log.With("sub", "pbx"), ready: make(chan struct{}),
		users: map[string]string{}, bindings: map[string][]*binding{}, legs: map[string]*leg{},
		calls: map[string]*call{}, subs: map[string]*subscription{}, mailboxes: map[string]Counts{},
		ringFor: map[string]time.Duration{},
		idle:    make(chan struct{}, 1),
	}
	p.ctx, p.stop = context.WithCancel(context.Background())
	for u, pw := range cfg.Users {
		if u == "" || strings.ContainsAny(u, "@:;<> \t\r\n") {
			return nil, fmt.Errorf("pbx: bad extension %q", u)
		}
		if u == cfg.VoicemailNumber {
			return nil, fmt.Errorf("pbx: extension %q is the voicemail number", u)
		}
		p.users[u] = pw
	}
	if err := p.listen(); err != nil {
		return nil, err
	}
	realm := cfg.Realm
	if realm == "" {
		realm = p.host
	}
	var err error
	if p.auth, err = newDigestAuth(realm, cfg.Now); err != nil {
		p.closeListeners()
		return nil, err
	}
	if err := p.setupSIP(); err != nil {
		p.closeListeners()
		return nil, err
	}
	return p, nil
}

// listen binds UDP and TCP on the same port.
func (p *PBX) listen() error {
	host, portStr, err := net.SplitHostPort(p.cfg.Addr)
	if err != nil {
		return fmt.Errorf("pbx: listen address %q: %w", p.cfg.Addr, err)
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("pbx: listen address %q: host must be an IP literal", p.cfg.Addr)
	}
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, portStr))
		if err != nil {
			return fmt.Errorf("pbx: udp listen %s: %w", p.cfg.Addr, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			pc.Close()
			if portStr == "0" {
				continue // the random UDP port is taken for TCP: try another
			}
			return fmt.Errorf("pbx: tcp listen %s: %w", p.cfg.Addr, err)
		}
		p.pc, p.ln, p.host, p.port = pc, ln, host, port
		return nil
	}
	return fmt.Errorf("pbx: no port free for both UDP and TCP on %s", host)
}

func (p *PBX) closeListeners() {
	p.pc.Close()
	p.ln.Close()
}

func (p *PBX) setupSIP() error {
	var err error
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent(p.cfg.UserAgent), sipgo.WithUserAgentHostname(p.host))
	if err != nil {
		return fmt.Errorf("pbx: sipgo.NewUA: %w", err)
	}
	p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(p.log))
	if err != nil {
		return fmt.Errorf("pbx: sipgo.NewServer: %w", err)
	}
	p.udpCli, err = sipgo.NewClient(p.ua, sipgo.WithClientConnectionAddr(p.pc.LocalAddr().String()),
		sipgo.WithClientHostname(p.host), sipgo.WithClientPort(p.port), sipgo.WithClientNAT(), sipgo.WithClientLogger(p.log))
	if err != nil {
		return fmt.Errorf("pbx: udp client: %w", err)
	}
	p.tcpCli, err = sipgo.NewClient(p.ua, sipgo.WithClientHostname(p.host), sipgo.WithClientPort(p.port), sipgo.WithClientLogger(p.log))
	if err != nil {
		return fmt.Errorf("pbx: tcp client: %w", err)
	}
	p.dlgUDP = &sipgo.DialogUA{Client: p.udpCli, ContactHDR: p.contact("")}
	p.dlgTCP = &sipgo.DialogUA{Client: p.tcpCli, ContactHDR: p.contact("tcp")}

	p.srv.OnRegister(p.unlessDown(p.onRegister))
	p.srv.OnInvite(p.unlessDown(p.onInvite))
	p.srv.OnAck(p.onAck)
	p.srv.OnBye(p.onBye)
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		// Matching CANCELs are absorbed by the transaction layer.
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	})
	p.srv.OnOptions(p.unlessDown(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		_ = tx.Respond(res)
	}))
	p.srv.OnSubscribe(p.unlessDown(p.onSubscribe))
	p.srv.OnRefer(p.unlessDown(p.onRefer))
	p.srv.OnInfo(p.onInDialog)
	p.srv.OnUpdate(p.onInDialog)
	p.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		p.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
	})
	p.srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		_ = tx.Respond(res)
	})
	return nil
}

// unlessDown drops a request unanswered while an outage is on, as a PBX
// that cannot be reached: the sender retransmits and times out.
func (p *PBX) unlessDown(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if p.down.Load() {
			p.log.Debug("outage: request dropped", "method", req.Method, "from", req.Source())
			return
		}
		h(req, tx)
	}
}

// SetOutage starts (true) or ends an outage: new requests (REGISTER,
// INVITE, SUBSCRIBE, REFER, OPTIONS) go unanswered while it lasts.
func (p *PBX) SetOutage(on bool) { p.down.Store(on) }

// Outage reports whether an outage is on.
func (p *PBX) Outage() bool { return p.down.Load() }

const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, REFER, INFO, UPDATE"

// contact is the PBX's own Contact for the transport ("" = UDP).
func (p *PBX) contact(transport string) sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", Host: p.host, Port: p.port}
	if transport != "" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", transport)
	}
	return sip.ContactHeader{Address: u}
}

// Addr is the "ip:port" the PBX listens on (UDP and TCP).
func (p *PBX) Addr() string { return net.JoinHostPort(p.host, strconv.Itoa(p.port)) }

// Realm is the digest realm.
func (p *PBX) Realm() string { return p.auth.realm }

// Run serves until ctx ends; then it hangs up active calls, closes the
// listeners and returns nil. It may be called once.
func (p *PBX) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.ran {
		p.mu.Unlock()
		return errors.New("pbx: Run called twice")
	}
	p.ran = true
	p.mu.Unlock()
	stopLink := context.AfterFunc(ctx, p.stop)
	defer stopLink()

	errc := make(chan error, 2)
	go func() { errc <- p.srv.ServeUDP(p.pc) }()
	go func() { errc <- p.srv.ServeTCP(p.ln) }()
	// sipgo adds the socket to its pool asynchronously (emiago/sipgo#367):
	// requests sent before that would try to bind the port again.
	laddr := p.pc.LocalAddr().String()
	for !p.pooled(laddr) {
		select {
		case <-ctx.Done():
		case err := <-errc:
			p.shutdown()
			return fmt.Errorf("pbx: serve: %w", err)
		case <-time.After(2 * time.Millisecond):
			continue
		}
		break
	}
	close(p.ready)
	p.log.Info("pbx listening", "addr", p.Addr(), "auth", p.cfg.Auth, "users", len(p.users))

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			p.shutdown()
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				p.shutdown()
				return nil
			}
			p.shutdown()
			return fmt.Errorf("pbx: serve: %w", err)
		case <-tick.C:
			p.expire()
		}
	}
}

func (p *PBX) shutdown() {
	p.stop()
	// Call goroutines see p.ctx done and send BYEs; give them a moment.
	p.mu.Lock()
	p.closing = true
	n := p.active
	p.mu.Unlock()
	if n > 0 {
		select {
		case <-p.idle:
		case <-time.After(3 * time.Second):
			p.log.Warn("pbx: calls still ending at shutdown")
		}
	}
	p.closeListeners()
	_ = p.ua.Close()
}

// track counts a background goroutine; it returns false once the PBX is
// shutting down.
func (p *PBX) track() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.active++
	return true
}

func (p *PBX) untrack() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	if p.active == 0 && p.closing {
		select {
		case p.idle <- struct{}{}:
		default:
		}
	}
}

func (p *PBX) pooled(laddr string) bool {
	c, err := p.ua.TransportLayer().GetConnection("udp", laddr)
	return err == nil && c != nil
}

// waitReady blocks until the PBX can send requests.
func (p *PBX) waitReady(ctx context.Context) error {
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// client returns the sipgo client for a transport name.
func (p *PBX) client(transport string) *sipgo.Client {
	if strings.EqualFold(transport, "tcp") {
		return p.tcpCli
	}
	return p.udpCli
}

func (p *PBX) dialogUA(transport string) *sipgo.DialogUA {
	if strings.EqualFold(transport, "tcp") {
		return p.dlgTCP
	}
	return p.dlgUDP
}

func (p *PBX) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("respond failed", "code", code, "err", err)
	}
}

// authenticate checks a request's credentials; when they do not pass it
// sends the challenge or refusal and returns false. proxy selects 407 /
// Proxy-Authorization (INVITE, SUBSCRIBE, REFER) over 401 / Authorization
// (REGISTER). identity is the user the request claims to be (To for
// REGISTER, From otherwise); the authenticated user must be the same.
func (p *PBX) authenticate(req *sip.Request, tx sip.ServerTransaction, proxy bool, identity string) bool {
	if !p.cfg.Auth {
		return true
	}
	hname, cname, code, reason := "Authorization", "WWW-Authenticate", sip.StatusUnauthorized, "Unauthorized"
	if proxy {
		hname, cname, code, reason = "Proxy-Authorization", "Proxy-Authenticate", sip.StatusProxyAuthRequired, "Proxy Authentication Required"
	}
	val := ""
	if h := req.GetHeader(hname); h != nil {
		val = h.Value()
	}
	p.mu.Lock()
	users := p.users
	p.mu.Unlock()
	res, user, err := p.auth.verify(val, string(req.Method), users)
	switch res {
	case authOK:
		if user != identity {
			p.log.Info("auth: user does not match identity", "method", req.Method, "auth_user", user, "identity", identity)
			p.respond(tx, req, sip.StatusForbidden, "Forbidden (auth user is not "+identity+")")
			return false
		}
		return true
	case authStale:
		p.respond(tx, req, code, reason, sip.NewHeader(cname, p.auth.challenge(true)))
	default:
		if err != nil {
			p.log.Info("auth failed", "method", req.Method, "user", user, "from", req.Source(), "err", err)
		}
		p.respond(tx, req, code, reason, sip.NewHeader(cname, p.auth.challenge(false)))
	}
	return false
}
