package sipua

import (
	"basestation/endpoint"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestParseMessageSummary(t *testing.T) {
	body := "Messages-Waiting: yes\r\nMessage-Account: sip:1001@pbx.example\r\nVoice-Message: 2/8 (1/0)\r\nFax-Message: 0/1\r\n\r\nTo: x\r\n"
	ms, err := ParseMessageSummary([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !ms.Waiting || ms.Account != "sip:1001@pbx.example" {
		t.Errorf("%+v", ms)
	}
	if v := ms.Counts["voice-message"]; v != (MessageCounts{New: 2, Old: 8, UrgentNew: 1}) {
		t.Errorf("voice %+v", v)
	}
	if v := ms.Counts["fax-message"]; v != (MessageCounts{Old: 1}) {
		t.Errorf("fax %+v", v)
	}
	for _, bad := range []struct{ body, want string }{
		{"Voice-Message: 1/2\n", "no Messages-Waiting"},
		{"Messages-Waiting: maybe\n", "neither yes nor no"},
		{"Messages-Waiting: yes\nVoice-Message: 1-2\n", "line 2 voice-message"},
		{"Messages-Waiting: yes\nVoice-Message: 1/2 (3/4\n", "urgent"},
		{"Messages-Waiting yes\n", "missing ':'"},
		{"Messages-Waiting: no\nVoice-Message: -1/2\n", "non-negative"},
	} {
		_, err := ParseMessageSummary([]byte(bad.body))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.body, err, bad.want)
		}
	}
}

func FuzzParseMessageSummary(f *testing.F) {
	f.Add([]byte("Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"))
	f.Add([]byte("Messages-Waiting: no\nMessage-Account: sip:a@b\n\nVoice-Message: 1/1\n"))
	f.Add([]byte("Voice-Message: 4294967296/1\nMessages-Waiting: yes"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseMessageSummary(b)
		if err != nil {
			if ms.Waiting || ms.Counts != nil {
				t.Fatalf("error with a half-filled result: %+v", ms)
			}
			return
		}
		for k, c := range ms.Counts {
			if !msgClasses[k] || c.New < 0 || c.Old < 0 || c.UrgentNew < 0 || c.UrgentOld < 0 {
				t.Fatalf("bad counts %q %+v", k, c)
			}
		}
	})
}

// digestResponse computes RFC 7616 qop=auth response independently.
func digestResponse(alg, user, realm, pass, method, uri, nonce, nc, cnonce string) string {
	h := func(s string) string {
		if alg == "SHA-256" {
			x := sha256.Sum256([]byte(s))
			return hex.EncodeToString(x[:])
		}
		x := md5.Sum([]byte(s))
		return hex.EncodeToString(x[:])
	}
	ha1 := h(user + ":" + realm + ":" + pass)
	ha2 := h(method + ":" + uri)
	return h(strings.Join([]string{ha1, nonce, nc, cnonce, "auth", ha2}, ":"))
}

func challengeRes(code int, hdrs ...string) *sip.Response {
	method := sip.REGISTER
	if code == 407 {
		method = sip.INVITE
	}
	return challengeFor(method, code, hdrs...)
}

// challengeFor is a 401/407 answering a request of the given method.
func challengeFor(method sip.RequestMethod, code int, hdrs ...string) *sip.Response {
	res := sip.NewResponse(code, "Unauthorized")
	res.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	name := "WWW-Authenticate"
	if code == 407 {
		name = "Proxy-Authenticate"
	}
	for _, h := range hdrs {
		res.AppendHeader(sip.NewHeader(name, h))
	}
	return res
}

// The authenticator prefers SHA-256, computes correct responses with an
// increasing nonce count per challenge, and reports stale nonces.
func TestAuthenticator(t *testing.T) {
	a := newAuthenticator("1001", "secret")
	stale, err := a.challenged(challengeRes(401,
		`Digest realm="pbx", nonce="n1", qop="auth", algorithm=MD5`,
		`Digest realm="pbx", nonce="n1", qop="auth,auth-int", algorithm=SHA-256`))
	if err != nil || stale {
		t.Fatal(err, stale)
	}
	for i := 1; i <= 2; i++ {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "pbx"})
		if err := a.authorize(req); err != nil {
			t.Fatal(err)
		}
		cred, err := digest.ParseCredentials(req.GetHeader("Authorization").Value())
		if err != nil {
			t.Fatal(err)
		}
		nc := fmt.Sprintf("%08x", i)
		want := digestResponse("SHA-256", "1001", "pbx", "secret", "REGISTER", "sip:pbx", "n1", nc, cred.Cnonce)
		if cred.Algorithm != "SHA-256" || cred.Nc != i || cred.Response != want || cred.QOP != "auth" {
			t.Errorf("attempt %d: %+v, want response %s", i, cred, want)
		}
	}
	stale, err = a.challenged(challengeRes(407, `Digest realm="pbx", nonce="n2", stale=true`))
	if err != nil || !stale {
		t.Errorf("stale: %v %v", stale, err)
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1002", Host: "pbx"})
	if err := a.authorize(req); err != nil {
		t.Fatal(err)
	}
	// The INVITE was challenged by the proxy only: it carries the proxy's
	// credentials, not the registrar's (two would push a UDP INVITE past
	// 1300 bytes).
	if req.GetHeader("Proxy-Authorization") == nil || req.GetHeader("Authorization") != nil {
		t.Error("want Proxy-Authorization alone on the INVITE")
	}
	// A registrar that challenges INVITEs too gets both.
	if _, err := a.challenged(challengeFor(sip.INVITE, 401, `Digest realm="pbx", nonce="n3", qop="auth"`)); err != nil {
		t.Fatal(err)
	}
	req2 := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1002", Host: "pbx"})
	if err := a.authorize(req2); err != nil {
		t.Fatal(err)
	}
	if req2.GetHeader("Proxy-Authorization") == nil || req2.GetHeader("Authorization") == nil {
		t.Error("both credentials expected once both challenged the INVITE")
	}
	cred, _ := digest.ParseCredentials(req.GetHeader("Proxy-Authorization").Value())
	h := md5.Sum([]byte("1001:pbx:secret"))
	h2 := md5.Sum([]byte("INVITE:sip:1002@pbx"))
	x := md5.Sum([]byte(hex.EncodeToString(h[:]) + ":n2:" + hex.EncodeToString(h2[:])))
	if cred.Response != hex.EncodeToString(x[:]) {
		t.Errorf("MD5 without qop: %s, want %s", cred.Response, hex.EncodeToString(x[:]))
	}
	for _, bad := range []string{`Basic realm="x"`, `Digest realm="x", nonce="n", algorithm=SHA-999`, `Digest realm="x"`, `Digest nonce="n", qop="auth-int"`} {
		if _, err := a.challenged(challengeRes(401, bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzPickChallenge(f *testing.F) {
	f.Add(`Digest realm="pbx", nonce="n1", qop="auth", algorithm=MD5`)
	f.Add(`Digest realm="a,b", nonce="", stale=TRUE, opaque="x", algorithm=SHA-256, qop="auth-int, auth"`)
	f.Add(`Digest `)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := pickChallenge([]sip.Header{sip.NewHeader("WWW-Authenticate", v)})
		if err == nil && (c.Nonce == "" || c.Realm == "") {
			t.Fatalf("accepted a challenge without nonce/realm: %+v", c)
		}
	})
}

func TestBackoff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prevMax := time.Duration(0)
	for n := 1; n <= 12; n++ {
		d := backoff(n, 2*time.Second, 300*time.Second, r)
		full := min(2*time.Second<<(n-1), 300*time.Second)
		if d < full/2 || d > full {
			t.Errorf("n=%d: %v not in [%v, %v]", n, d, full/2, full)
		}
		if full < prevMax {
			t.Errorf("cap decreased")
		}
		prevMax = full
	}
}

func TestClassifyAndRetryAfter(t *testing.T) {
	mk := func(code int, hdr string) *sip.Response {
		r := sip.NewResponse(code, "x")
		if hdr != "" {
			r.AppendHeader(sip.NewHeader("Retry-After", hdr))
		}
		return r
	}
	cases := []struct {
		res  *sip.Response
		err  error
		want regOutcome
	}{
		{mk(200, ""), nil, regOK},
		{mk(403, ""), nil, regForbidden},
		{mk(503, ""), nil, regFailover},
		{mk(500, ""), nil, regFailover},
		{mk(404, ""), nil, regRetry},
		{nil, ErrTimeout, regFailover},
		{nil, errors.New("connection refused"), regFailover},
	}
	for _, c := range cases {
		if got := classify(c.res, c.err); got != c.want {
			t.Errorf("%v %v: %v, want %v", c.res, c.err, got, c.want)
		}
	}
	for hdr, want := range map[string]time.Duration{"120": 120 * time.Second, "30 (maintenance);duration=10": 30 * time.Second, "x": 0, "-5": 0, "999999": 0} {
		if got := retryAfter(mk(503, hdr)); got != want {
			t.Errorf("Retry-After %q: %v, want %v", hdr, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Extensions: []Extension{{Name: "101", Account: Account{User: "1001", Domain: "pbx.example", Registrars: []string{"pbx.example:5060", "10.0.0.2"}}}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{Listen: "nope", AdvertiseIP: "x", RTPPortMin: 20, RTPPortMax: 10, Extensions: []Extension{
		{Name: "101", Account: Account{User: "", Domain: "pbx"}},
		{Name: "101", Account: Account{User: "a", Domain: "pbx", Transport: "sctp", SRTP: "maybe", Registrars: []string{"h:99999"}}},
	}}
	err := bad.Validate()
	for _, want := range []string{"listen", "advertise IP", "RTP port range", "user", "transport", "srtp", "registrar 1", "listed twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	if _, err := New(bad, nil); err == nil {
		t.Error("New accepted a bad config")
	}
}

func TestCallerIDOf(t *testing.T) {
	mk := func(from string, hdrs ...string) *sip.Request {
		msg := "INVITE sip:1001@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: " + from + ";tag=1\r\nTo: <sip:1001@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
		for _, h := range hdrs {
			msg += h + "\r\n"
		}
		m, err := sip.ParseMessage([]byte(msg + "Content-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return m.(*sip.Request)
	}
	cases := []struct {
		req  *sip.Request
		want endpoint.CallerID
	}{
		{mk(`"Alice" <sip:5551234@pbx>`), endpoint.CallerID{Number: "5551234", Name: "Alice"}},
		{mk(`<sip:1002@pbx>`, `P-Asserted-Identity: "Bob B" <sip:+15559876@pbx>`), endpoint.CallerID{Number: "+15559876", Name: "Bob B"}},
		{mk(`"Anonymous" <sip:anonymous@anonymous.invalid>`), endpoint.CallerID{Reason: endpoint.Private}},
		{mk(`<sip:1002@pbx>`, `Privacy: id`), endpoint.CallerID{Reason: endpoint.Private}},
		{mk(`"Far" <sip:unknown@pbx>`), endpoint.CallerID{Name: "Far", Reason: endpoint.OutOfArea}},
	}
	for i, c := range cases {
		got := callerIDOf(c.req)
		got.Time = time.Time{}
		if got != c.want {
			t.Errorf("case %d: %+v, want %+v", i, got, c.want)
		}
	}
}

func FuzzRouteSet(f *testing.F) {
	f.Add(`<sip:127.0.0.1:5070;lr;ftag=x>, <sip:p2.example;lr>`)
	f.Add(`"a,b" <sip:x@y;lr>,<sip:z>`)
	f.Add(`<<>>,,`)
	f.Fuzz(func(t *testing.T, v string) {
		for _, u := range routeSetFrom([]sip.Header{sip.NewHeader("Record-Route", v)}, true) {
			_ = u.String()
		}
	})
}

// With port 0, a UDP port whose number is taken for TCP is skipped, not
// fatal.
func TestListenPairSkipsATakenTCPPort(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	pc, tl, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	if tl.Addr().(*net.TCPAddr).Port != port {
		t.Fatalf("UDP %d and TCP %v differ", port, tl.Addr())
	}
	pc.Close()
	// Keep TCP on that port and ask for it explicitly: a clear error.
	held = append(held, tl)
	if _, _, err := listenPair(fmt.Sprintf("127.0.0.1:%d", port)); err == nil || !strings.Contains(err.Error(), "listen tcp") {
		t.Fatalf("taken port: %v", err)
	}
	if _, _, err := listenPair("no-port"); err == nil || !strings.Contains(err.Error(), "no-port") {
		t.Fatalf("bad address: %v", err)
	}
}
