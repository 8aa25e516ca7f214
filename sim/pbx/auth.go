package pbx

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Digest authentication (RFC 3261 §22.4 with RFC 2617 MD5 and qop=auth), the
// server side. Nonces are stateless: a timestamp and an HMAC of it under a
// per-PBX secret, valid for nonceLifetime.

const nonceLifetime = 300 * time.Second

type digestAuth struct {
	realm  string
	secret [32]byte
	now    func() time.Time
}

func newDigestAuth(realm string, now func() time.Time) (*digestAuth, error) {
	a := &digestAuth{realm: realm, now: now}
	if _, err := rand.Read(a.secret[:]); err != nil {
		return nil, fmt.Errorf("digest secret: %w", err)
	}
	return a, nil
}

func (a *digestAuth) nonce() string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(a.now().UnixNano()))
	m := hmac.New(sha256.New, a.secret[:])
	m.Write(ts[:])
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(m.Sum(nil)[:16])
}

// nonceState is "ok", "stale" or "bad".
func (a *digestAuth) checkNonce(n string) string {
	raw, err := hex.DecodeString(n)
	if err != nil || len(raw) != 24 {
		return "bad"
	}
	m := hmac.New(sha256.New, a.secret[:])
	m.Write(raw[:8])
	if !hmac.Equal(m.Sum(nil)[:16], raw[8:]) {
		return "bad"
	}
	t := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	age := a.now().Sub(t)
	if age < -time.Second || age > nonceLifetime {
		return "stale"
	}
	return "ok"
}

// challenge is the value of WWW-Authenticate / Proxy-Authenticate.
func (a *digestAuth) challenge(stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5`, a.realm, a.nonce())
	if stale {
		s += ", stale=true"
	}
	return s
}

// credentials are the parsed fields of a Digest Authorization header.
type credentials struct {
	Username, Realm, Nonce, URI, Response string
	Algorithm, QOP, NC, CNonce, Opaque    string
}

// parseCredentials parses `Digest k=v, k="v", ...` (RFC 2617 §3.2.2).
func parseCredentials(v string) (credentials, error) {
	var c credentials
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return c, fmt.Errorf("authorization scheme %q is not Digest", scheme)
	}
	if len(rest) > 4096 {
		return c, errors.New("authorization header longer than 4096 bytes")
	}
	seen := map[string]bool{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return c, fmt.Errorf("authorization parameter without value near %q", trunc(rest))
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		if strings.ContainsAny(key, " \t\",") {
			return c, fmt.Errorf("bad authorization parameter name %q", trunc(key))
		}
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			closed := false
			for ; i < len(rest); i++ {
				ch := rest[i]
				if ch == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				b.WriteByte(ch)
			}
			if !closed {
				return c, fmt.Errorf("unterminated quoted value for %s", key)
			}
			val = b.String()
			rest = rest[i+1:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" {
			if rest[0] != ',' {
				return c, fmt.Errorf("expected comma after %s", key)
			}
			rest = strings.TrimLeft(rest[1:], " \t")
		}
		if seen[key] {
			return c, fmt.Errorf("authorization parameter %s repeated", key)
		}
		seen[key] = true
		switch key {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = strings.ToLower(val)
		case "algorithm":
			c.Algorithm = val
		case "qop":
			c.QOP = val
		case "nc":
			c.NC = val
		case "cnonce":
			c.CNonce = val
		case "opaque":
			c.Opaque = val
		}
	}
	for k, v := range map[string]string{"username": c.Username, "realm": c.Realm, "nonce": c.Nonce, "uri": c.URI, "response": c.Response} {
		if v == "" {
			return c, fmt.Errorf("authorization lacks %s", k)
		}
	}
	if c.Algorithm != "" && !strings.EqualFold(c.Algorithm, "MD5") {
		return c, fmt.Errorf("digest algorithm %q not supported (MD5 only)", c.Algorithm)
	}
	switch c.QOP {
	case "":
	case "auth":
		if c.NC == "" || c.CNonce == "" {
			return c, errors.New("qop=auth without nc or cnonce")
		}
	default:
		return c, fmt.Errorf("qop %q not supported (auth only)", c.QOP)
	}
	return c, nil
}

func trunc(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// expectedResponse computes the digest response for the credentials.
func expectedResponse(c credentials, method, password string) string {
	ha1 := md5hex(c.Username + ":" + c.Realm + ":" + password)
	ha2 := md5hex(method + ":" + c.URI)
	if c.QOP == "auth" {
		return md5hex(ha1 + ":" + c.Nonce + ":" + c.NC + ":" + c.CNonce + ":" + c.QOP + ":" + ha2)
	}
	return md5hex(ha1 + ":" + c.Nonce + ":" + ha2)
}

// authResult is the outcome of verify.
type authResult int

const (
	authMissing authResult = iota // no usable credentials: challenge
	authOK
	authStale    // good password, old nonce: challenge with stale=true
	authBad      // wrong password or malformed: challenge again
	authNotFound // unknown user
)

// verify checks the header value hdr (empty if absent) for method, against
// the users table. It returns the result and the authenticated user name.
func (a *digestAuth) verify(hdr, method string, users map[string]string) (authResult, string, error) {
	if hdr == "" {
		return authMissing, "", nil
	}
	c, err := parseCredentials(hdr)
	if err != nil {
		return authBad, "", err
	}
	if c.Realm != a.realm {
		return authBad, c.Username, fmt.Errorf("realm %q is not %q", c.Realm, a.realm)
	}
	pw, ok := users[c.Username]
	if !ok {
		return authNotFound, c.Username, fmt.Errorf("unknown user %q", c.Username)
	}
	ns := a.checkNonce(c.Nonce)
	if ns == "bad" {
		return authBad, c.Username, errors.New("nonce was not issued by this server")
	}
	if !hmac.Equal([]byte(expectedResponse(c, method, pw)), []byte(c.Response)) {
		return authBad, c.Username, errors.New("wrong password (digest response mismatch)")
	}
	if ns == "stale" {
		return authStale, c.Username, nil
	}
	return authOK, c.Username, nil
}
