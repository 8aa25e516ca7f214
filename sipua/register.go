package sipua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// regIO is what the registration loop does on the network. The
// registration itself implements it; the virtual-time tests put a fake
// registrar in its place.
type regIO interface {
	// register sends one REGISTER (with digest retries) to target and
	// updates the target, server address, local IP and contact fields.
	register(ctx context.Context, target string, expires time.Duration) (*sip.Response, error)
	// unregisterAt removes contact at target (Expires: 0).
	unregisterAt(target string, contact *sip.ContactHeader, localIP string)
	// keepalive sends a NAT keepalive to the registrar in use.
	keepalive()
	// probe returns ErrUnreachable when the registrar at addr answers
	// with ICMP port unreachable (UDP only; nil otherwise).
	probe(ctx context.Context, addr netip.AddrPort) error
	// addrChanged reports a change of the local address towards it.
	addrChanged() bool
}

// regOutcome classifies a REGISTER result for the retry policy.
type regOutcome int

const (
	regOK        regOutcome = iota
	regFailover             // timeout, transport error, 5xx: try the next registrar
	regForbidden            // 403: long hold-off
	regRetry                // anything else: back off and retry
)

// classify maps a final response (or error) to the retry policy.
func classify(res *sip.Response, err error) regOutcome {
	if err != nil {
		return regFailover
	}
	switch {
	case res.IsSuccess():
		return regOK
	case res.StatusCode == 403:
		return regForbidden
	case res.StatusCode >= 500 && res.StatusCode < 600:
		return regFailover
	}
	return regRetry
}

// backoff returns the wait after n consecutive failures (n >= 1):
// min*2^(n-1), capped at max, with jitter taking 0-50 % off.
func backoff(n int, min, max time.Duration, r *rand.Rand) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jit := 1 - 0.5*r.Float64()
	return time.Duration(float64(d) * jit)
}

// retryAfter parses a Retry-After header (seconds, RFC 3261 §20.33).
func retryAfter(res *sip.Response) time.Duration {
	if res == nil {
		return 0
	}
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := strings.TrimSpace(h.Value())
	if i := strings.IndexAny(v, " ;("); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 86400 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// registration keeps one account registered.
type registration struct {
	u    *UA
	ext  string
	acct Account
	auth *authenticator
	rnd  *rand.Rand

	callID  string
	fromTag string
	cseq    uint32

	kick chan struct{}
	// io is what the loop does on the network: the registration itself,
	// or a fake in the virtual-time tests.
	io regIO

	mu        sync.Mutex
	state     RegState
	target    string // host:port of the registrar in use
	serverIPs []net.IP
	localIP   string
	contact   *sip.ContactHeader
	lastErr   string
	expires   time.Duration

	emittedTarget string        // registrar named in the last event
	expiresAt     time.Time     // when the binding lapses unless refreshed
	active        Registrar     // the registrar of the binding in force
	hasActive     bool          // active is set (registered at least once)
	failedOverAt  time.Time     // registered on a fallback since; zero on the primary
	minExpires    time.Duration // from a 423 Interval Too Brief

	natContact          *sip.ContactHeader // public contact seen by the registrar
	natLocal, natTarget string             // ... for this local IP and registrar
}

func newRegistration(u *UA, ext string, a Account) *registration {
	r := &registration{
		u: u, ext: ext, acct: a,
		auth:    newAuthenticator(a.authUser(), a.Password),
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		callID:  sip.GenerateTagN(24) + "@basestation",
		fromTag: sip.GenerateTagN(16),
		cseq:    rand.Uint32N(10000),
		kick:    make(chan struct{}, 1),
		state:   RegUnregistered,
	}
	r.io = r
	return r
}

// Registered reports whether the account is registered now.
func (r *registration) registered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == RegRegistered
}

// sendAddrLocked is where requests of the account go: the resolved
// IP:port of target (TLS keeps the host name, which sipgo verifies the
// certificate against). r.mu held.
func (r *registration) sendAddrLocked(target string) string {
	if r.acct.transport() == TLS || len(r.serverIPs) == 0 {
		return target
	}
	_, p, _ := net.SplitHostPort(target)
	return net.JoinHostPort(r.serverIPs[0].String(), p)
}

// Registrar is the flow of the registrar an account is registered with:
// where its REGISTERs went and over which transport. Requests from the
// PBX to the account come over this flow.
type Registrar struct {
	Target    string         // host:port as configured or from DNS SRV
	Addr      netip.AddrPort // the resolved address REGISTERs went to
	Transport Transport
}

// activeRegistrar is the registrar of the binding in force: set when a
// REGISTER succeeds, so it follows failover and failback (a failback
// attempt that fails leaves it alone). false before the first success.
func (r *registration) activeRegistrar() (Registrar, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active, r.hasActive
}

// isActiveFlow reports whether a request that arrived from src ("ip:port")
// over transport ("UDP", "TCP", "TLS", as sip.Request.Transport says)
// comes over the active registrar's flow: its address, port and
// transport. Nothing is before the first successful REGISTER.
func (r *registration) isActiveFlow(src, transport string) bool {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return false
	}
	a, ok := r.activeRegistrar()
	return ok && strings.EqualFold(transport, a.Transport.sip()) &&
		netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) == a.Addr
}

func (r *registration) setState(s RegState, lastErr string, retry time.Duration) {
	r.emitState(s, lastErr, retry, false)
}

// emitState sets the state and emits a RegistrationEvent when it changed
// (always when force: a refresh moves ExpiresAt).
func (r *registration) emitState(s RegState, lastErr string, retry time.Duration, force bool) {
	r.mu.Lock()
	registrar := r.target
	if s == RegRegistered && r.hasActive {
		registrar = r.active.Target
	}
	changed := force || r.state != s || (lastErr != "" && lastErr != r.lastErr) || (s == RegRegistered && registrar != r.emittedTarget)
	r.emittedTarget = registrar
	r.state = s
	if lastErr != "" {
		r.lastErr = lastErr
	}
	if s == RegRegistered {
		r.lastErr = ""
	}
	ev := &RegistrationEvent{Extension: r.ext, State: s, Registrar: registrar, LastError: r.lastErr, RetryIn: retry, Time: time.Now()}
	if s == RegRegistered {
		ev.Expires, ev.ExpiresAt = r.expires, r.expiresAt
	}
	r.mu.Unlock()
	if changed {
		r.u.log.Info("registration", "ext", r.ext, "state", s, "registrar", ev.Registrar, "error", ev.LastError, "retry_in", retry)
		r.u.emit(ev)
	}
}

// setRegistered records res, the 2xx to a REGISTER sent at sent to
// targets[idx], and emits the RegistrationEvent with the new expiry. The
// active registrar's address is where the 2xx came from (the TCP/TLS
// connection's peer, whichever address of a host name it reached), else
// the resolved address.
func (r *registration) setRegistered(idx int, res *sip.Response, sent time.Time) {
	granted := r.granted(res)
	from, fromErr := netip.ParseAddrPort(res.Source())
	r.mu.Lock()
	r.expires = granted
	r.expiresAt = sent.Add(granted)
	r.active = Registrar{Target: r.target, Transport: r.acct.transport()}
	if fromErr == nil {
		r.active.Addr = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	} else if len(r.serverIPs) > 0 {
		a, _ := netip.AddrFromSlice(r.serverIPs[0])
		_, p, _ := net.SplitHostPort(r.target)
		port, _ := strconv.Atoi(p)
		r.active.Addr = netip.AddrPortFrom(a.Unmap(), uint16(port))
	}
	r.hasActive = true
	switch {
	case idx == 0:
		r.failedOverAt = time.Time{}
	case r.failedOverAt.IsZero():
		r.failedOverAt = time.Now() // the moment of failover
	}
	r.mu.Unlock()
	r.emitState(RegRegistered, "", 0, true)
}

// registeredUntil reports whether the account is registered with a
// binding that has not lapsed, and when it lapses.
func (r *registration) registeredUntil() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.expiresAt, r.state == RegRegistered && time.Now().Before(r.expiresAt)
}

// targets returns the ordered registrar list: configured, or DNS SRV of
// the domain (RFC 3263 §4.2), or the domain itself.
func (r *registration) targets(ctx context.Context) []string {
	a := r.acct
	tr := a.transport()
	if a.OutboundProxy != "" {
		h, p := hostPortDefault(a.OutboundProxy, tr)
		return []string{net.JoinHostPort(h, strconv.Itoa(p))}
	}
	if len(a.Registrars) > 0 {
		out := make([]string, len(a.Registrars))
		for i, s := range a.Registrars {
			h, p := hostPortDefault(s, tr)
			out[i] = net.JoinHostPort(h, strconv.Itoa(p))
		}
		return out
	}
	if net.ParseIP(a.Domain) == nil {
		proto := "udp"
		service := "sip"
		switch tr {
		case TCP:
			proto = "tcp"
		case TLS:
			proto, service = "tcp", "sips"
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, srvs, err := r.u.Resolver.LookupSRV(lctx, service, proto, a.Domain)
		cancel()
		if err == nil && len(srvs) > 0 {
			out := make([]string, 0, len(srvs))
			for _, s := range srvs {
				out = append(out, net.JoinHostPort(strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Port))))
			}
			return out
		}
	}
	h, p := hostPortDefault(a.Domain, tr)
	return []string{net.JoinHostPort(h, strconv.Itoa(p))}
}

// resolve returns the IPs of host (literal or DNS).
func (r *registration) resolve(ctx context.Context, target string) ([]net.IP, error) {
	h, _, _ := net.SplitHostPort(target)
	if ip := net.ParseIP(h); ip != nil {
		return []net.IP{ip}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.u.Resolver.LookupHost(lctx, h)
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %s", h)
	}
	return ips, nil
}

// run keeps the account registered until ctx ends, then un-registers.
func (r *registration) run(ctx context.Context) {
	var targets []string
	idx := 0
	failures := 0
	notBefore := map[string]time.Time{}
	tried := 0 // targets tried since the last success
	for ctx.Err() == nil {
		t := r.u.conf().Timing
		if len(targets) == 0 {
			targets = r.targets(ctx)
			idx = 0
		}
		target := targets[idx]
		if nb, ok := notBefore[target]; ok && time.Now().Before(nb) {
			// Retry-After still running: try another server, or wait.
			if tried < len(targets) {
				idx = (idx + 1) % len(targets)
				tried++
				continue
			}
			r.sleep(ctx, time.Until(nb))
			tried = 0
			continue
		}
		// A refresh of a live binding must be answered before the binding
		// lapses: the state never says registered past ExpiresAt.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if until, ok := r.registeredUntil(); ok {
			actx, cancel = context.WithDeadline(ctx, until)
		} else {
			r.mu.Lock()
			r.target = target
			r.mu.Unlock()
			r.setState(RegRegistering, "", 0)
		}
		sent := time.Now()
		res, err := r.io.register(actx, target, r.expiresWanted())
		cancel()
		if ctx.Err() != nil {
			break
		}
		if err == nil && res.StatusCode == 423 && r.raiseExpires(res) {
			continue // 423 Interval Too Brief: again with Min-Expires
		}
		switch classify(res, err) {
		case regOK:
			failures, tried = 0, 0
			r.setRegistered(idx, res, sent)
			// hold returns when the registration must be redone (at the
			// index it names) or ctx ended; the loop does both.
			var why holdEnd
			idx, why = r.hold(ctx, targets, idx, sent)
			if why != holdUnreachable {
				continue
			}
			// ICMP port unreachable from the registrar: it is gone, so
			// is the binding; move on as after a failed REGISTER.
			failures++
			tried++
			r.auth.forget()
			if len(targets) > 1 {
				idx = (idx + 1) % len(targets)
			}
			r.setState(RegFailed, "registrar "+target+": port unreachable", 0)
		case regForbidden:
			failures++
			r.setState(RegForbidden, describe(res, err), t.ForbiddenHold)
			r.sleep(ctx, t.ForbiddenHold)
		case regFailover:
			failures++
			tried++
			if ra := retryAfter(res); ra > 0 {
				notBefore[target] = time.Now().Add(ra)
			}
			r.auth.forget()
			if len(targets) > 1 && tried < len(targets) {
				idx = (idx + 1) % len(targets)
				r.setState(RegFailed, describe(res, err), 0)
				continue
			}
			// Every server failed: back off, then start over from the
			// primary (SRV is looked up again).
			wait := backoff(failures, t.RetryMin, t.RetryMax, r.rnd)
			if ra := retryAfter(res); ra > wait {
				wait = ra
			}
			r.setState(RegFailed, describe(res, err), wait)
			r.sleep(ctx, wait)
			targets, tried = nil, 0
		default:
			failures++
			wait := backoff(failures, t.RetryMin, t.RetryMax, r.rnd)
			r.setState(RegFailed, describe(res, err), wait)
			r.sleep(ctx, wait)
		}
	}
	r.unregister()
}

// expiresWanted is the expiry to ask for: the account's, raised to a
// registrar's Min-Expires after a 423.
func (r *registration) expiresWanted() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.acct.expires(), r.minExpires)
}

// raiseExpires takes Min-Expires from a 423; false if absent or no raise.
func (r *registration) raiseExpires(res *sip.Response) bool {
	h := res.GetHeader("Min-Expires")
	if h == nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || n <= 0 || n > 86400 {
		return false
	}
	d := time.Duration(n) * time.Second
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= max(r.acct.expires(), r.minExpires) {
		return false
	}
	r.minExpires = d
	return true
}

// sleep waits d, or until ctx ends or a kick (address change, config).
func (r *registration) sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	case <-r.kick:
	}
}

// refreshGuard is the time left, after a refresh that got no answer
// (Timing.RequestTimeout), for the REGISTER to the next registrar (with
// its digest challenge) before the binding lapses.
const refreshGuard = 5 * time.Second

// refreshAfter is when to refresh a binding granted for g: at half time,
// but early enough that a refresh nobody answers (reqTimeout) is followed
// by a REGISTER to the next registrar before the binding lapses; never
// before a quarter of g.
func refreshAfter(g, reqTimeout time.Duration) time.Duration {
	d := g / 2
	if late := g - reqTimeout - refreshGuard; late < d {
		d = late
	}
	return max(d, g/4)
}

// holdEnd says why hold returned.
type holdEnd int

const (
	holdStop        holdEnd = iota // ctx ended
	holdRefresh                    // register again at the index returned
	holdUnreachable                // the registrar's port is closed (ICMP)
)

// minFailbackWindow is the least time before the refresh a failback
// attempt needs; with less, the refresh goes first and the failback right
// after it.
const minFailbackWindow = 2 * time.Second

// hold keeps a registration made at sent alive: it refreshes in time
// (refreshAfter), sends NAT keepalives and probes the registrar for ICMP
// port unreachable (UDP), watches the local address, and while on a
// fallback registrar tries the primary Timing.Failback after the moment
// of failover (refreshes do not move that moment; a failed attempt
// starts the period again). It returns the index to register at next.
func (r *registration) hold(ctx context.Context, targets []string, idx int, sent time.Time) (int, holdEnd) {
	t := r.u.conf().Timing
	r.mu.Lock()
	granted := r.expires
	r.mu.Unlock()
	refreshAt := sent.Add(refreshAfter(granted, t.RequestTimeout))
	refresh := time.NewTimer(time.Until(refreshAt))
	defer refresh.Stop()
	keep := time.NewTicker(t.Keepalive)
	defer keep.Stop()
	addr := time.NewTicker(t.AddrCheck)
	defer addr.Stop()
	fb := time.NewTimer(time.Hour)
	fb.Stop()
	defer fb.Stop()
	armFailback := func() <-chan time.Time {
		r.mu.Lock()
		since := r.failedOverAt
		r.mu.Unlock()
		if idx == 0 || since.IsZero() {
			return nil
		}
		fb.Reset(time.Until(since.Add(r.u.conf().Timing.Failback)))
		return fb.C
	}
	failback := armFailback()
	// A probe waits up to probeWait for an ICMP error: it runs beside
	// the loop (one at a time), which goes on handling its timers.
	// It probes the active registrar's address; a result for another
	// (the registration failed back meanwhile) is dropped.
	type probeResult struct {
		addr netip.AddrPort
		err  error
	}
	pctx, pcancel := context.WithCancel(ctx)
	probed := make(chan probeResult, 1)
	probing := false
	defer func() {
		pcancel()
		if probing {
			<-probed
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return idx, holdStop
		case <-r.kick:
			return idx, holdRefresh
		case <-refresh.C:
			return idx, holdRefresh
		case <-keep.C:
			r.io.keepalive()
			if a, ok := r.activeRegistrar(); ok && !probing {
				probing = true
				go func() { probed <- probeResult{a.Addr, r.io.probe(pctx, a.Addr)} }()
			}
		case res := <-probed:
			probing = false
			if a, _ := r.activeRegistrar(); res.addr == a.Addr && errors.Is(res.err, ErrUnreachable) {
				r.u.log.Warn("registrar unreachable (ICMP port unreachable), failing over", "ext", r.ext, "registrar", targets[idx])
				return idx, holdUnreachable
			}
		case <-addr.C:
			if r.io.addrChanged() {
				r.u.log.Info("local address changed, re-registering", "ext", r.ext)
				return idx, holdRefresh
			}
		case <-failback:
			failback = nil
			window := time.Until(refreshAt)
			if window < minFailbackWindow {
				// The refresh first; the failback is due at once after it.
				return idx, holdRefresh
			}
			r.mu.Lock()
			prev, prevContact, prevIPs, prevLocal := r.target, r.contact, r.serverIPs, r.localIP
			r.mu.Unlock()
			fctx, cancel := context.WithTimeout(ctx, min(window, t.RequestTimeout))
			fsent := time.Now()
			res, err := r.io.register(fctx, targets[0], r.expiresWanted())
			cancel()
			if ctx.Err() == nil && classify(res, err) == regOK {
				r.u.log.Info("failed back to primary registrar", "ext", r.ext, "registrar", targets[0], "from", prev)
				r.io.unregisterAt(prev, prevContact, prevLocal)
				idx = 0
				r.setRegistered(0, res, fsent)
				r.mu.Lock()
				granted = r.expires
				r.mu.Unlock()
				refreshAt = fsent.Add(refreshAfter(granted, t.RequestTimeout))
				refresh.Reset(time.Until(refreshAt))
				continue
			}
			// Still down (or stopping): stay where we are, with the
			// fallback's flow (the attempt moved the target fields, and
			// the un-REGISTER at shutdown goes to the fallback), and try
			// again a whole period later.
			r.mu.Lock()
			r.target, r.serverIPs, r.localIP = prev, prevIPs, prevLocal
			r.failedOverAt = time.Now()
			r.mu.Unlock()
			r.auth.forget()
			if ctx.Err() != nil {
				return idx, holdStop
			}
			r.u.log.Info("primary registrar still down", "ext", r.ext, "registrar", targets[0], "error", describe(res, err))
			failback = armFailback()
		}
	}
}

// granted is the expiry the registrar granted for our contact.
func (r *registration) granted(res *sip.Response) time.Duration {
	r.mu.Lock()
	ours := r.contact
	r.mu.Unlock()
	def := r.acct.expires()
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if ours != nil && (c.Address.Host != ours.Address.Host || c.Address.Port != ours.Address.Port || c.Address.User != ours.Address.User) {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if e := res.GetHeader("Expires"); e != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(e.Value())); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return def
}

func describe(res *sip.Response, err error) string {
	if err != nil {
		if errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sip.ErrTransactionTimeout) {
			return "timeout"
		}
		return err.Error()
	}
	return fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
}
