package sipua

import (
	"basestation/endpoint"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// fakeTx is a server transaction that records the responses a handler
// gives; Done closes on Terminate.
type fakeTx struct {
	mu       sync.Mutex
	res      []*sip.Response
	got      chan *sip.Response
	done     chan struct{}
	once     sync.Once
	onCancel sip.FnTxCancel
}

func newFakeTx() *fakeTx {
	return &fakeTx{got: make(chan *sip.Response, 64), done: make(chan struct{})}
}

func (f *fakeTx) Terminate()                         { f.once.Do(func() { close(f.done) }) }
func (f *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (f *fakeTx) Done() <-chan struct{}              { return f.done }
func (f *fakeTx) Err() error                         { return nil }
func (f *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (f *fakeTx) OnCancel(fn sip.FnTxCancel) bool {
	f.mu.Lock()
	f.onCancel = fn
	f.mu.Unlock()
	return true
}
func (f *fakeTx) Respond(res *sip.Response) error {
	f.mu.Lock()
	f.res = append(f.res, res)
	f.mu.Unlock()
	select {
	case f.got <- res:
	default:
	}
	return nil
}

// codes lists the status codes answered so far.
func (f *fakeTx) codes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, r := range f.res {
		out = append(out, int(r.StatusCode))
	}
	return out
}

// final is the last final (>= 200) response, nil if none.
func (f *fakeTx) final() *sip.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.res) - 1; i >= 0; i-- {
		if f.res[i].StatusCode >= 200 {
			return f.res[i]
		}
	}
	return nil
}

// registrarAddr is where the bare UA's accounts are registered (UDP).
const registrarAddr = "127.0.0.1:5070"

// newBareUA builds a UA ready for its handlers to be called directly,
// without Run: a sipgo stack and a UDP socket but no serving goroutines,
// every extension registered at registrarAddr over UDP. Its extensions are
// 101 (user 1001) and 102 (user 1002). Usable inside a synctest bubble.
func newBareUA(t testing.TB) *UA {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", Extensions: []Extension{
		ext("101", "1001", "pw", registrarAddr),
		ext("102", "1002", "pw", registrarAddr),
	}}
	u, err := New(cfg, testLoggerTB(t))
	if err != nil {
		t.Fatal(err)
	}
	sua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		pc.Close()
		sua.Close()
	})
	u.mu.Lock()
	u.sua, u.udp = sua, pc
	u.listenHost, u.listenPort = "127.0.0.1", pc.LocalAddr().(*net.UDPAddr).Port
	u.runCtx, u.running = ctx, true
	for _, e := range u.exts {
		r := e.reg
		r.mu.Lock()
		r.state, r.target, r.serverIPs, r.localIP = RegRegistered, registrarAddr, []net.IP{net.ParseIP("127.0.0.1")}, "127.0.0.1"
		r.contact = &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: e.acct.User, Host: "127.0.0.1", Port: u.listenPort}}
		r.mu.Unlock()
		setActiveRegistrar(r, registrarAddr)
	}
	u.mu.Unlock()
	return u
}

// setActiveRegistrar makes r registered at addr ("ip:port", UDP) as a 2xx
// from there would: the binding in force, and so the trusted flow.
func setActiveRegistrar(r *registration, addr string) {
	ap := netip.MustParseAddrPort(addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target, r.serverIPs = addr, []net.IP{net.IP(ap.Addr().AsSlice())}
	r.active = Registrar{Target: addr, Addr: ap, Transport: r.acct.transport()}
	r.hasActive = true
}

func testLoggerTB(t testing.TB) *slog.Logger {
	if tt, ok := t.(*testing.T); ok {
		return testLogger(tt)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dispatch hands req (from src over transport) to the UA's handler for
// its method, behind guard, as sipgo's server does.
func dispatch(u *UA, req *sip.Request, src, transport string) *fakeTx {
	req.SetSource(src)
	req.SetTransport(transport)
	h, ok := u.handlers()[req.Method]
	if !ok {
		h = u.onUnknownMethod
	}
	tx := newFakeTx()
	u.guard(h)(req, tx)
	return tx
}

// sipMsg builds a request from a template: lines joined with CRLF, the
// body appended with a correct Content-Length unless the template has one.
func sipMsg(lines []string, body string) []byte {
	head := strings.Join(lines, "\r\n")
	if !strings.Contains(strings.ToLower(head), "\r\ncontent-length:") {
		head += fmt.Sprintf("\r\nContent-Length: %d", len(body))
	}
	return []byte(head + "\r\n\r\n" + body)
}

// request is a complete request of method for user 1001 from the
// registrar: every header a UA needs (and a Contact, Event, SDP where the
// method wants them).
func request(method, user string) (lines []string, body string) {
	lines = []string{
		method + " sip:" + user + "@127.0.0.1:5060 SIP/2.0",
		"Via: SIP/2.0/UDP " + registrarAddr + ";branch=z9hG4bK-" + strings.ToLower(method) + "-1;rport",
		"From: \"Caller\" <sip:1004@127.0.0.1>;tag=from1",
		"To: <sip:" + user + "@127.0.0.1>",
		"Call-ID: " + strings.ToLower(method) + "-call@127.0.0.1",
		"CSeq: 1 " + method,
		"Max-Forwards: 70",
		"Contact: <sip:1004@" + registrarAddr + ">",
	}
	switch method {
	case "INVITE":
		lines = append(lines, "Content-Type: application/sdp")
		body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	case "NOTIFY":
		lines = append(lines, "Event: message-summary", "Subscription-State: active", "Content-Type: application/simple-message-summary")
		body = "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n"
	case "SUBSCRIBE":
		lines = append(lines, "Event: message-summary", "Expires: 60")
	case "REFER":
		lines = append(lines, "Refer-To: <sip:1005@127.0.0.1>")
	}
	return lines, body
}

func without(lines []string, header string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(strings.ToLower(l), strings.ToLower(header)+":") {
			out = append(out, l)
		}
	}
	return out
}

func parseReq(t testing.TB, b []byte) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage(b)
	if err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	return m.(*sip.Request)
}

var allMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "NOTIFY", "REFER", "SUBSCRIBE",
	"INFO", "UPDATE", "MESSAGE", "PRACK", "PUBLISH", "REGISTER", "FOO"}

// Every handler, for every method, answers 400 to a request missing a
// header it needs, from the registrar and from an outsider, and never
// panics. (A NOTIFY or REFER without To used to be a nil-pointer panic.)
func TestHandlersRefuseMissingHeaders(t *testing.T) {
	u := newBareUA(t)
	for _, m := range allMethods {
		for _, h := range []string{"To", "From", "Call-ID", "CSeq", "Contact", "Event"} {
			lines, body := request(m, "1001")
			stripped := without(lines, h)
			if len(stripped) == len(lines) {
				continue // the method's request has no such header
			}
			if h == "Contact" && m != "INVITE" && m != "SUBSCRIBE" && m != "REFER" {
				continue // only dialog-creating requests need a Contact
			}
			for _, src := range []string{registrarAddr, "127.0.0.9:5060"} {
				req := parseReq(t, sipMsg(stripped, body))
				tx := dispatch(u, req, src, "UDP")
				codes := tx.codes()
				if m == "ACK" {
					if len(codes) != 0 {
						t.Errorf("ACK without %s from %s: answered %v", h, src, codes)
					}
					continue
				}
				if len(codes) != 1 || codes[0] != 400 {
					t.Errorf("%s without %s from %s: answered %v, want [400]", m, h, src, codes)
				}
			}
		}
	}
	if n := u.panics.Load(); n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// The guard's other checks: two Content-Lengths, a CSeq naming another
// method, an unknown Require (420 with Unsupported), a non-SIP
// Request-URI scheme (416), an unknown method (405 with Allow).
func TestGuardChecks(t *testing.T) {
	u := newBareUA(t)
	cases := []struct {
		name   string
		method string
		edit   func([]string) []string
		code   int
		hdr    string
	}{
		{"two Content-Lengths", "OPTIONS", func(l []string) []string { return append(l, "Content-Length: 0", "Content-Length: 0") }, 400, ""},
		{"CSeq method mismatch", "BYE", func(l []string) []string {
			return append(without(l, "CSeq"), "CSeq: 1 INVITE")
		}, 400, ""},
		{"unknown Require", "OPTIONS", func(l []string) []string { return append(l, "Require: nothingwecanhandle") }, 420, "Unsupported"},
		{"tel Request-URI", "OPTIONS", func(l []string) []string {
			l[0] = "OPTIONS tel:+15551234 SIP/2.0"
			return l
		}, 416, ""},
		{"unknown method", "INFO", func(l []string) []string { return l }, 405, "Allow"},
		{"SUBSCRIBE", "SUBSCRIBE", func(l []string) []string { return l }, 489, ""},
		{"unknown event", "NOTIFY", func(l []string) []string {
			return append(without(l, "Event"), "Event: presence")
		}, 489, ""},
	}
	for _, c := range cases {
		lines, body := request(c.method, "1001")
		b := sipMsg(c.edit(lines), body)
		m, err := sip.ParseMessage(b)
		if err != nil {
			t.Errorf("%s: sipgo refuses to parse: %v", c.name, err)
			continue
		}
		tx := dispatch(u, m.(*sip.Request), registrarAddr, "UDP")
		res := tx.final()
		if res == nil || int(res.StatusCode) != c.code {
			t.Errorf("%s: answered %v, want %d", c.name, tx.codes(), c.code)
			continue
		}
		if c.hdr != "" && res.GetHeader(c.hdr) == nil {
			t.Errorf("%s: %d without %s", c.name, c.code, c.hdr)
		}
	}
}

// Trust: only the flow the registration uses (address, port and
// transport of the active registrar) may ring the phone or light the
// lamp. The same IP on another port, or another transport, is refused;
// an outsider gets the same 403 for a user that exists and one that does
// not (no enumeration).
func TestTrustIsTheRegistrationFlow(t *testing.T) {
	u := newBareUA(t)
	ep := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", ep); err != nil {
		t.Fatal(err)
	}
	send := func(method, user, src, transport string) int {
		lines, body := request(method, user)
		lines[4] = fmt.Sprintf("Call-ID: %s-%s-%s-%s@x", method, user, src, transport)
		tx := dispatch(u, parseReq(t, sipMsg(lines, body)), src, transport)
		if r := tx.final(); r != nil {
			return int(r.StatusCode)
		}
		return 0
	}
	for _, c := range []struct {
		name, method, user, src, transport string
		want                               int
	}{
		{"INVITE same IP other port", "INVITE", "1001", "127.0.0.1:5071", "UDP", 403},
		{"INVITE same IP:port over TCP", "INVITE", "1001", registrarAddr, "TCP", 403},
		{"INVITE outsider known user", "INVITE", "1001", "127.0.0.9:5070", "UDP", 403},
		{"INVITE outsider unknown user", "INVITE", "7777", "127.0.0.9:5070", "UDP", 403},
		{"INVITE registrar unknown user", "INVITE", "7777", registrarAddr, "UDP", 404},
		{"NOTIFY same IP other port", "NOTIFY", "1001", "127.0.0.1:5071", "UDP", 403},
		{"NOTIFY over TCP", "NOTIFY", "1001", registrarAddr, "TCP", 403},
		{"NOTIFY outsider unknown user", "NOTIFY", "7777", "127.0.0.9:5070", "UDP", 403},
		{"NOTIFY registrar", "NOTIFY", "1001", registrarAddr, "UDP", 200},
	} {
		if got := send(c.method, c.user, c.src, c.transport); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if ep.has("ring") {
		t.Error("an untrusted INVITE rang the phone")
	}
	ep.waitFor(t, "mwi true", time.Second) // the one trusted NOTIFY

	// The registration moves to another registrar (failover): the old one
	// is no longer trusted, the new one is.
	for _, name := range []string{"101", "102"} {
		setActiveRegistrar(u.exts[name].reg, "127.0.0.3:5080")
	}
	if got := send("NOTIFY", "1001", registrarAddr, "UDP"); got != 403 {
		t.Errorf("NOTIFY from the registrar failed over from: %d, want 403", got)
	}
	if got := send("NOTIFY", "1001", "127.0.0.3:5080", "UDP"); got != 200 {
		t.Errorf("NOTIFY from the active registrar: %d, want 200", got)
	}
}

// An incoming call nobody answers and the caller never cancels rings for
// Timing.RingNoAnswer (default 180 s, virtual time), then the UA answers
// 480 and every endpoint stops ringing.
func TestIncomingCallNoAnswerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newBareUA(t)
		if got := u.conf().Timing.RingNoAnswer; got != 180*time.Second {
			t.Fatalf("default RingNoAnswer %v, want 180s", got)
		}
		eps := []*fakeEndpoint{newFakeEndpoint("analog", 0), newFakeEndpoint("dect", 0)}
		for _, ep := range eps {
			if _, err := u.Attach("101", ep); err != nil {
				t.Fatal(err)
			}
		}
		lines, body := request("INVITE", "1001")
		req := parseReq(t, sipMsg(lines, body))
		var tx *fakeTx
		done := make(chan struct{})
		go func() {
			defer close(done)
			tx = dispatch(u, req, registrarAddr, "UDP")
		}()
		time.Sleep(179 * time.Second)
		synctest.Wait()
		for _, ep := range eps {
			if !ep.has("ring") || ep.has("stop-ringing") {
				t.Fatalf("%s at 179 s: %q, want ringing", ep.name, ep.log)
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("INVITE still pending at 181 s")
		}
		if r := tx.final(); r == nil || r.StatusCode != 480 {
			t.Errorf("final answer %v, want 480", tx.codes())
		}
		for _, ep := range eps {
			if !ep.has("stop-ringing") {
				t.Errorf("%s still ringing: %q", ep.name, ep.log)
			}
		}
		u.mu.Lock()
		n := len(u.calls)
		u.mu.Unlock()
		if n != 0 {
			t.Errorf("%d calls left", n)
		}
		for _, ep := range eps {
			_ = u.Detach(ep)
		}
	})
}

// SetConfig (a ring cadence change keeps the extension and rewrites its
// settings) races the MWI subscription reading the account: under -race
// this used to report extension.cfg written by SetConfig and read by
// subscribeWith.
func TestSetConfigRacesMWISubscription(t *testing.T) {
	u := newBareUA(t)
	cfg := u.conf()
	base := *cfg
	base.Extensions = append([]Extension(nil), cfg.Extensions...)
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	// The account is unchanged, so the extension and its registration
	// (registered, as newBareUA made it) stay.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			_, _, _ = e.subscribeWith(ctx, nil, time.Minute)
			cancel()
		}
	}()
	for i := range 50 {
		next := base
		next.Extensions = append([]Extension(nil), base.Extensions...)
		next.Extensions[0].RingCadence = endpoint.Cadence(fmt.Sprintf("cadence%d", i%2))
		if err := u.SetConfig(next); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	u.mu.Lock()
	same := u.exts["101"] == e
	u.mu.Unlock()
	if !same {
		t.Fatal("a cadence change replaced the extension")
	}
}

// Trust from the outside, over real sockets: the UA is registered over
// UDP at a PBX on 127.0.0.1. An INVITE or NOTIFY from 127.0.0.1 on another
// port, or over TCP, is refused 403 and neither rings nor lights the lamp;
// an outsider gets the same 403 for a user that does not exist; the PBX
// itself gets 404 for that user and rings the phone for ours.
func TestTrustOverSockets(t *testing.T) {
	reg := newPBXRelay(t, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", reg.addr())}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", ep); err != nil {
		t.Fatal(err)
	}
	addr := u.ListenAddr()
	n := 0
	// ask sends method for user over network, straight to the UA or (pbx)
	// through the registrar's relay, and returns the final status code.
	ask := func(network, method, user string, pbx bool) string {
		n++
		dst := addr
		if pbx {
			dst = reg.addr()
		}
		c, err := net.Dial(network, dst)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		lines, body := request(method, user)
		tr := strings.ToUpper(network)
		lines[1] = fmt.Sprintf("Via: SIP/2.0/%s %s;branch=z9hG4bK-trust-%d;rport", tr, c.LocalAddr(), n)
		lines[4] = fmt.Sprintf("Call-ID: trust-%d@x", n)
		lines[7] = "Contact: <sip:1004@" + c.LocalAddr().String() + ";transport=" + network + ">"
		if _, err := c.Write(sipMsg(lines, body)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 65535)
		var acc string
		for {
			k, err := c.Read(buf)
			if err != nil {
				return "no answer: " + err.Error()
			}
			acc += string(buf[:k])
			// Responses (several over TCP in one read); the final one.
			for _, part := range strings.Split(acc, "SIP/2.0 ")[1:] {
				code := part[:3]
				if code[0] != '1' {
					return code
				}
			}
		}
	}
	other, err := net.ListenPacket("udp4", "127.0.0.1:0") // another port on the registrar's IP
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	for _, c := range []struct {
		name, network, method, user string
		pbx                         bool
		want                        string
	}{
		{"INVITE, 127.0.0.1 other port, UDP", "udp", "INVITE", "1001", false, "403"},
		{"INVITE over TCP", "tcp", "INVITE", "1001", false, "403"},
		{"INVITE outsider, unknown user", "udp", "INVITE", "7777", false, "403"},
		{"INVITE outsider, unknown user, TCP", "tcp", "INVITE", "7777", false, "403"},
		{"NOTIFY, other port, UDP", "udp", "NOTIFY", "1001", false, "403"},
		{"NOTIFY over TCP", "tcp", "NOTIFY", "1001", false, "403"},
		{"INVITE from the PBX, unknown user", "udp", "INVITE", "7777", true, "404"},
	} {
		if got := ask(c.network, c.method, c.user, c.pbx); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	time.Sleep(200 * time.Millisecond)
	// (The attach itself told the phone "mwi false": its mailbox is empty.)
	if ep.has("ring") || ep.has("mwi true") {
		t.Fatalf("an untrusted request reached the phone: %q", ep.log)
	}
	// The PBX's own NOTIFY lights the lamp.
	if got := ask("udp", "NOTIFY", "1001", true); got != "200" {
		t.Errorf("NOTIFY from the PBX: %s, want 200", got)
	}
	ep.waitFor(t, "mwi true", 2*time.Second)
}
