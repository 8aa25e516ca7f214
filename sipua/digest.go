package sipua

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// authChallenge is one cached challenge with its nonce count.
type authChallenge struct {
	chal *digest.Challenge
	nc   int
	// methods are the request methods this kind of challenge was received
	// for: a registrar's credentials are sent pre-emptively only to those
	// (a proxy's to every method but REGISTER), so an INVITE
	// does not carry the registrar's Authorization next to the proxy's
	// (two credentials push a UDP INVITE past the 1300-byte limit of RFC
	// 3261 §18.1.1, which sipgo enforces).
	methods map[sip.RequestMethod]bool
}

// authenticator answers digest challenges (RFC 2617/7616/8760 as used by
// SIP): MD5 and SHA-256, qop=auth with nonce counts, stale nonces. It
// remembers the last challenge per header kind, so later requests (refresh
// REGISTERs, SUBSCRIBEs) carry credentials at once with an increasing nc.
type authenticator struct {
	user, pass string

	mu    sync.Mutex
	www   *authChallenge // WWW-Authenticate (registrar)
	proxy *authChallenge // Proxy-Authenticate (proxy)
}

func newAuthenticator(user, pass string) *authenticator {
	return &authenticator{user: user, pass: pass}
}

// authorize adds Authorization/Proxy-Authorization for the cached
// challenges to req (removing any old ones).
func (a *authenticator) authorize(req *sip.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	req.RemoveHeader("Authorization")
	req.RemoveHeader("Proxy-Authorization")
	for _, c := range []struct {
		ac  *authChallenge
		hdr string
	}{{a.www, "Authorization"}, {a.proxy, "Proxy-Authorization"}} {
		if c.ac == nil {
			continue
		}
		// A proxy's challenge covers every request routed through it but
		// REGISTER (kamailio challenges INVITE, REFER, SUBSCRIBE alike), so
		// its credentials go pre-emptively on them all; a registrar's only
		// on the methods it challenged.
		proxyScope := c.hdr == "Proxy-Authorization" && req.Method != sip.REGISTER
		if !c.ac.methods[req.Method] && !proxyScope {
			continue
		}
		c.ac.nc++
		cred, err := digest.Digest(c.ac.chal, digest.Options{
			Method:   string(req.Method),
			URI:      req.Recipient.String(),
			Username: a.user,
			Password: a.pass,
			Count:    c.ac.nc,
		})
		if err != nil {
			return fmt.Errorf("digest: %w", err)
		}
		req.AppendHeader(sip.NewHeader(c.hdr, cred.String()))
	}
	return nil
}

// challenged takes a 401/407 response and caches its challenge. It
// reports whether the server marked the nonce stale, or an error naming
// what was wrong with the challenge. The caller decides whether a repeated
// challenge means the credentials were refused: it does when the request
// answered a challenge received for that very request and the new
// challenge is not stale.
func (a *authenticator) challenged(res *sip.Response) (stale bool, err error) {
	var hdrName string
	switch res.StatusCode {
	case 401:
		hdrName = "WWW-Authenticate"
	case 407:
		hdrName = "Proxy-Authenticate"
	default:
		return false, fmt.Errorf("%w: status %d is not a challenge", ErrBadChallenge, res.StatusCode)
	}
	chal, err := pickChallenge(res.GetHeaders(hdrName))
	if err != nil {
		return false, fmt.Errorf("%d %s: %w", res.StatusCode, res.Reason, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	slot := &a.www
	if res.StatusCode == 407 {
		slot = &a.proxy
	}
	methods := map[sip.RequestMethod]bool{}
	if *slot != nil {
		for m := range (*slot).methods {
			methods[m] = true
		}
	}
	if cs := res.CSeq(); cs != nil {
		methods[cs.MethodName] = true
	}
	*slot = &authChallenge{chal: chal, methods: methods}
	return chal.Stale, nil
}

// forget drops the cached challenges (new registrar, new credentials).
func (a *authenticator) forget() {
	a.mu.Lock()
	a.www, a.proxy = nil, nil
	a.mu.Unlock()
}

// pickChallenge parses the challenge headers and picks the strongest
// supported one: SHA-256 before MD5 (RFC 8760 §2.4).
func pickChallenge(hdrs []sip.Header) (*digest.Challenge, error) {
	if len(hdrs) == 0 {
		return nil, fmt.Errorf("%w: no challenge header", ErrBadChallenge)
	}
	var best *digest.Challenge
	rank := func(c *digest.Challenge) int {
		switch strings.ToUpper(c.Algorithm) {
		case "SHA-256":
			return 2
		case "", "MD5":
			return 1
		}
		return 0
	}
	var errs []error
	for _, h := range hdrs {
		c, err := parseChallenge(h.Value())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rank(c) == 0 {
			errs = append(errs, fmt.Errorf("unsupported algorithm %q", c.Algorithm))
			continue
		}
		if len(c.QOP) > 0 && !c.SupportsQOP("auth") {
			errs = append(errs, fmt.Errorf("unsupported qop %q", strings.Join(c.QOP, ",")))
			continue
		}
		if best == nil || rank(c) > rank(best) {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %w", ErrBadChallenge, errors.Join(errs...))
	}
	return best, nil
}

// parseChallenge parses one WWW-/Proxy-Authenticate value.
func parseChallenge(v string) (*digest.Challenge, error) {
	c, err := digest.ParseChallenge(strings.TrimSpace(v))
	if err != nil {
		return nil, err
	}
	for i := range c.QOP {
		c.QOP[i] = strings.TrimSpace(c.QOP[i])
	}
	if c.Nonce == "" {
		return nil, errors.New("digest: challenge without nonce")
	}
	if c.Realm == "" {
		return nil, errors.New("digest: challenge without realm")
	}
	return c, nil
}
