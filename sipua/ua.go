package sipua

import (
	"basestation/endpoint"
	"context"
	"crypto/tls"
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

// Resolver is the DNS the user agent uses (net.DefaultResolver fits).
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// UA is the SIP user agent: one registration per extension, calls between
// the PBX and the endpoints attached to each extension.
type UA struct {
	log *slog.Logger

	// Resolver and LocalIPFor may be replaced before Run (tests).
	Resolver Resolver
	// LocalIPFor returns the local IP of the route towards remote
	// ("host:port"); it is polled to notice address changes.
	LocalIPFor func(remote string) (net.IP, error)

	events  chan Event
	panics  atomic.Int64 // handler panics contained by guard (tests assert 0)
	dropped atomic.Int64 // UDP datagrams dropped unanswered by udpPrefilter

	mu       sync.Mutex
	cfg      Config
	timing   Timing
	snap     atomic.Pointer[Config] // cfg with Timing defaulted, for lock-free reads
	exts     map[string]*extension
	calls    map[string]*call // by Call-ID
	running  bool
	runCtx   context.Context
	attached map[endpoint.Endpoint]*epState

	// SIP stack, set up by Run.
	sua        *sipgo.UserAgent
	srv        *sipgo.Server
	udp        net.PacketConn
	tcp        net.Listener
	listenHost string
	listenPort int
	clientsMu  sync.Mutex
	clients    map[string]*sipgo.Client
	wg         sync.WaitGroup
}

// New validates cfg and builds a user agent. Nothing is sent until Run.
func New(cfg Config, log *slog.Logger) (*UA, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sipua: %w: %w", ErrInvalidConfig, err)
	}
	u := &UA{
		log:        log.With("subsystem", "sipua"),
		Resolver:   net.DefaultResolver,
		LocalIPFor: nil,
		events:     make(chan Event, 256),
		cfg:        cfg,
		timing:     cfg.Timing.withDefaults(),
		exts:       map[string]*extension{},
		calls:      map[string]*call{},
		attached:   map[endpoint.Endpoint]*epState{},
		clients:    map[string]*sipgo.Client{},
	}
	u.setSnap(cfg)
	u.LocalIPFor = u.defaultLocalIP
	for _, e := range cfg.Extensions {
		u.exts[e.Name] = newExtension(u, e)
	}
	return u, nil
}

// Events returns the channel of registration, MWI, call and quality
// events. It is buffered; when the reader falls behind, the oldest events
// are dropped (and logged), never blocking SIP processing.
func (u *UA) Events() <-chan Event { return u.events }

func (u *UA) emit(e Event) {
	for {
		select {
		case u.events <- e:
			return
		default:
		}
		select {
		case old := <-u.events:
			u.log.Warn("event queue full, dropping oldest", "event", fmt.Sprintf("%T", old))
		default:
		}
	}
}

// defaultLocalIP is the listener's IP when it is bound to one, else the
// kernel's source address towards remote.
func (u *UA) defaultLocalIP(remote string) (net.IP, error) {
	u.mu.Lock()
	host := u.listenHost
	u.mu.Unlock()
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return ip, nil
	}
	return localIPFor(remote)
}

// localIPFor asks the kernel which source address it would use towards
// remote (no packet is sent).
func localIPFor(remote string) (net.IP, error) {
	c, err := net.Dial("udp", remote)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP, nil
}

// ListenAddr returns the bound SIP address once Run has started (for
// tests and logs); empty before.
func (u *UA) ListenAddr() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.udp == nil {
		return ""
	}
	return net.JoinHostPort(u.listenHost, strconv.Itoa(u.listenPort))
}

// Run opens the SIP transports, registers every extension and handles
// calls until ctx ends; then it hangs up, un-registers and closes.
func (u *UA) Run(ctx context.Context) error {
	conf := u.conf()
	listen := conf.Listen
	if listen == "" {
		listen = "0.0.0.0:5060"
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: conf.TLSRootCAs}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(u.userAgent()), sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(u.udpPrefilter), sipTransports(conf.sipDSCP())))
	if err != nil {
		return fmt.Errorf("sipua: %w", err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		ua.Close()
		return fmt.Errorf("sipua: %w", err)
	}
	u.routes(srv)

	pc, tl, err := listenPair(listen)
	if err != nil {
		ua.Close()
		return err
	}
	if err := markSIPListeners(pc, tl, conf.sipDSCP()); err != nil {
		u.log.Warn("SIP packets not marked for QoS", "err", err)
	}
	laddr := pc.LocalAddr().(*net.UDPAddr)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	u.mu.Lock()
	u.sua, u.srv, u.udp, u.tcp = ua, srv, pc, tl
	u.listenHost, u.listenPort = laddr.IP.String(), laddr.Port
	u.runCtx = runCtx
	u.mu.Unlock()

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.ServeUDP(pc) }()
	tm := conf.Timing
	go func() {
		serveErr <- srv.ServeTCP(&idleListener{Listener: tl, idle: tm.TCPIdle, first: tm.TCPFirstMessage, log: u.log})
	}()
	// sipgo adds the listener to its pool asynchronously (#367): wait
	// before the first request, or it would try to bind the port again.
	if err := u.waitPool(runCtx, pc.LocalAddr().String()); err != nil {
		pc.Close()
		tl.Close()
		ua.Close()
		<-serveErr
		<-serveErr
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return err
	}
	u.log.Info("SIP listening", "addr", laddr.String())

	u.mu.Lock()
	u.running = true
	for _, e := range u.exts {
		e.start(runCtx)
	}
	u.mu.Unlock()

	var runErr error
	select {
	case <-runCtx.Done():
	case err := <-serveErr:
		if err != nil && runCtx.Err() == nil {
			runErr = fmt.Errorf("sipua: transport: %w", err)
		}
	}
	cancel()

	// Orderly shutdown: end calls (BYE/CANCEL), un-register, close.
	u.mu.Lock()
	u.running = false
	calls := make([]*call, 0, len(u.calls))
	for _, c := range u.calls {
		calls = append(calls, c)
	}
	exts := make([]*extension, 0, len(u.exts))
	for _, e := range u.exts {
		exts = append(exts, e)
	}
	u.mu.Unlock()
	for _, c := range calls {
		c.hangup("shutdown")
	}
	for _, e := range exts {
		e.stop()
	}
	u.wg.Wait()
	pc.Close()
	tl.Close()
	ua.Close()
	return runErr
}

func (u *UA) setSnap(cfg Config) {
	cfg.Timing = cfg.Timing.withDefaults()
	u.snap.Store(&cfg)
}

// conf is the current configuration (Timing with defaults applied).
func (u *UA) conf() *Config { return u.snap.Load() }

func (u *UA) userAgent() string {
	if ua := u.conf().UserAgent; ua != "" {
		return ua
	}
	return "basestationd"
}

func (u *UA) waitPool(ctx context.Context, addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, _ := u.sua.TransportLayer().GetConnection("udp", addr); c != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("sipua: UDP listener never joined the connection pool")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// client returns a sipgo client that sends from our listener (UDP) with
// Via/Contact host ip; for TCP/TLS it connects from an ephemeral port.
func (u *UA) client(tr Transport, ip string) (*sipgo.Client, error) {
	key := string(tr) + "|" + ip
	u.clientsMu.Lock()
	defer u.clientsMu.Unlock()
	if c := u.clients[key]; c != nil {
		return c, nil
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(ip), sipgo.WithClientNAT(), sipgo.WithClientLogger(u.log)}
	if tr == UDP {
		opts = append(opts,
			sipgo.WithClientConnectionAddr(u.udp.LocalAddr().String()),
			sipgo.WithClientPort(u.listenPort))
	}
	c, err := sipgo.NewClient(u.sua, opts...)
	if err != nil {
		return nil, err
	}
	u.clients[key] = c
	return c, nil
}

// SetConfig applies a new configuration live: new extensions register,
// removed ones un-register (their calls end), changed accounts
// re-register. Endpoints stay attached by extension name. An invalid
// configuration is refused whole.
func (u *UA) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sipua: %w: %w", ErrInvalidConfig, err)
	}
	u.mu.Lock()
	old := u.exts
	u.cfg = cfg
	u.timing = cfg.Timing.withDefaults()
	u.setSnap(cfg)
	next := map[string]*extension{}
	var stop []*extension
	var endCalls []*call
	for _, ec := range cfg.Extensions {
		if e := old[ec.Name]; e != nil {
			if e.acct.equal(ec.Account) {
				e.cfg = ec
				next[ec.Name] = e
				continue
			}
			// Account changed: a new registration; endpoints move over.
			stop = append(stop, e)
			ne := newExtension(u, ec)
			ne.endpoints = e.endpoints
			// What the endpoints show: the new subscription's first
			// NOTIFY is told to them if it differs (it was compared
			// with "no messages", and a lamp lit by the old one stayed).
			ne.mwi = e.mwi
			for _, ep := range ne.endpoints {
				ep.ext = ne
			}
			e.endpoints = nil
			next[ec.Name] = ne
			continue
		}
		next[ec.Name] = newExtension(u, ec)
	}
	for name, e := range old {
		if next[name] == nil {
			stop = append(stop, e)
			for _, c := range u.calls {
				// By name: a call made before an account change
				// belongs to the extension's replaced registration
				// (soak, seed 2 step 575).
				if c.ext.name == name {
					endCalls = append(endCalls, c)
				}
			}
			for _, ep := range e.endpoints {
				ep.ext = nil
			}
		}
	}
	u.exts = next
	u.mu.Unlock()
	for _, c := range endCalls {
		c.hangup("extension removed")
	}
	// Old registrations end (un-REGISTER) before their replacements
	// start, so the events come in order.
	for _, e := range stop {
		e.stop()
	}
	u.mu.Lock()
	if u.running {
		for name, e := range next {
			if old[name] != e && u.exts[name] == e && e.cancel == nil {
				e.start(u.runCtx)
			}
		}
	}
	u.mu.Unlock()
	return nil
}

// SetAccounts is SetConfig with only the extensions replaced.
func (u *UA) SetAccounts(exts []Extension) error {
	u.mu.Lock()
	cfg := u.cfg
	u.mu.Unlock()
	cfg.Extensions = exts
	return u.SetConfig(cfg)
}

func (a Account) equal(b Account) bool {
	if len(a.Registrars) != len(b.Registrars) {
		return false
	}
	for i := range a.Registrars {
		if a.Registrars[i] != b.Registrars[i] {
			return false
		}
	}
	return a.User == b.User && a.AuthUser == b.AuthUser && a.Password == b.Password && a.Domain == b.Domain &&
		a.OutboundProxy == b.OutboundProxy && a.Transport == b.Transport && a.Expires == b.Expires &&
		a.SRTP == b.SRTP && a.CallerIDNumber == b.CallerIDNumber && a.CallerIDName == b.CallerIDName && a.MWI == b.MWI
}

// hostPortDefault splits host[:port], defaulting the port for tr.
func hostPortDefault(s string, tr Transport) (string, int) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, _ := strconv.Atoi(p)
		return h, n
	}
	if tr == TLS {
		return strings.Trim(s, "[]"), 5061
	}
	return strings.Trim(s, "[]"), 5060
}

// sipTransport returns the sipgo transport name.
func (tr Transport) sip() string { return strings.ToUpper(string(tr)) }

// listenPair opens the UDP and TCP listeners on one port. With port 0 the
// kernel picks the UDP port; if that number is taken for TCP, another is
// tried (a few times) rather than failing the user agent.
func listenPair(listen string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, nil, fmt.Errorf("sipua: listen address %q: %w", listen, err)
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	var last error
	for range tries {
		pc, err := net.ListenPacket("udp", listen)
		if err != nil {
			return nil, nil, fmt.Errorf("sipua: listen udp %s: %w", listen, err)
		}
		laddr := pc.LocalAddr().(*net.UDPAddr)
		tl, err := net.Listen("tcp", laddr.String())
		if err == nil {
			return pc, tl, nil
		}
		pc.Close()
		last = fmt.Errorf("sipua: listen tcp %s: %w", laddr, err)
	}
	return nil, nil, last
}
