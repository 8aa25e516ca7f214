package pbx

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

func newTestPBX(t testing.TB, auth bool) *PBX {
	t.Helper()
	p, err := New(Config{Users: map[string]string{"101": "pw101", "102": "pw102"}, Auth: auth},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.closeListeners(); _ = p.ua.Close() })
	return p
}

func parseReq(t testing.TB, raw string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// handle runs a handler on req and returns the final response.
func handle(t testing.TB, h func(*sip.Request, sip.ServerTransaction), req *sip.Request) *sip.Response {
	t.Helper()
	tx := siptest.NewServerTxRecorder(req)
	h(req, tx)
	rs := tx.Result()
	if len(rs) == 0 {
		t.Fatalf("no response to\n%s", req)
	}
	return rs[len(rs)-1]
}

func register(cseq, contacts, expires string) string {
	s := "REGISTER sip:127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-" + cseq + "\n" +
		"From: <sip:101@127.0.0.1>;tag=abc\nTo: <sip:101@127.0.0.1>\nCall-ID: reg-1\n" +
		"CSeq: " + cseq + " REGISTER\nMax-Forwards: 70\n"
	if contacts != "" {
		s += "Contact: " + contacts + "\n"
	}
	if expires != "" {
		s += "Expires: " + expires + "\n"
	}
	return s + "Content-Length: 0\n\n"
}

// RFC 3261 §10.3 behaviour at the message level: several contacts in one
// REGISTER, per-contact expires, a query without Contact, out-of-order CSeq,
// and Contact: * with Expires: 0.
func TestRegistrarMessages(t *testing.T) {
	p := newTestPBX(t, false)
	res := handle(t, p.onRegister, parseReq(t, register("1", "<sip:101@127.0.0.1:6001>, <sip:101@127.0.0.1:6002>;expires=60", "300")))
	if res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("two contacts: %s", res)
	}
	regs := p.Registrations()
	if len(regs) != 2 {
		t.Fatalf("registrations %+v", regs)
	}
	for _, r := range regs {
		want := 300 * time.Second
		if strings.Contains(r.Contact, "6002") {
			want = 60 * time.Second
		}
		if d := time.Until(r.Expires); d > want || d < want-5*time.Second {
			t.Errorf("%s expires in %v, want %v", r.Contact, d, want)
		}
	}
	// Query: no Contact, bindings listed, nothing changed.
	res = handle(t, p.onRegister, parseReq(t, register("2", "", "")))
	if res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("query: %s", res)
	}
	// Old CSeq for the same Call-ID and contact: refused, nothing applied.
	res = handle(t, p.onRegister, parseReq(t, register("1", "<sip:101@127.0.0.1:6001>", "0")))
	if res.StatusCode != 500 || len(p.Registrations()) != 2 {
		t.Fatalf("out-of-order: %d, %d bindings", res.StatusCode, len(p.Registrations()))
	}
	// Wildcard needs Expires: 0.
	res = handle(t, p.onRegister, parseReq(t, register("3", "*", "60")))
	if res.StatusCode != 400 {
		t.Fatalf("Contact: * with Expires 60: %d", res.StatusCode)
	}
	res = handle(t, p.onRegister, parseReq(t, register("4", "*", "0")))
	if res.StatusCode != 200 || len(p.Registrations()) != 0 {
		t.Fatalf("Contact: * removal: %d, %+v", res.StatusCode, p.Registrations())
	}
	res = handle(t, p.onRegister, parseReq(t, register("5", "<sip:101@127.0.0.1:6001>", "soon")))
	if res.StatusCode != 400 {
		t.Fatalf("bad Expires: %d", res.StatusCode)
	}
}

// With auth on, an unauthenticated REGISTER is challenged with qop=auth.
func TestRegistrarChallenge(t *testing.T) {
	p := newTestPBX(t, true)
	res := handle(t, p.onRegister, parseReq(t, register("1", "<sip:101@127.0.0.1:6001>", "300")))
	if res.StatusCode != 401 {
		t.Fatalf("got %d, want 401", res.StatusCode)
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil || !strings.Contains(h.Value(), `qop="auth"`) || !strings.Contains(h.Value(), `realm="127.0.0.1"`) {
		t.Fatalf("challenge %v", h)
	}
	if len(p.Registrations()) != 0 {
		t.Fatal("unauthenticated REGISTER was applied")
	}
}

// Any request bytes given to the registrar, BYE, ACK and REFER handlers get
// a response (or, for ACK, none) without panics, and never register a
// contact without a host.
func FuzzHandlers(f *testing.F) {
	f.Add([]byte(register("1", "<sip:101@127.0.0.1:6001>;expires=60, <sip:101@h:1>", "300")))
	f.Add([]byte(register("7", "*", "0")))
	f.Add([]byte("BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("REFER sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 3 REFER\r\nRefer-To: <sip:103@h>\r\nContent-Length: 0\r\n\r\n"))
	pbxs := []*PBX{newTestPBX(f, false), newTestPBX(f, true)}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range pbxs {
			m, err := sip.ParseMessage(b)
			if err != nil {
				return
			}
			req, ok := m.(*sip.Request)
			if !ok {
				return
			}
			if _, err := sip.ServerTxKeyMake(req); err != nil || req.CSeq() == nil || req.Via() == nil {
				return
			}
			var h func(*sip.Request, sip.ServerTransaction)
			req = req.Clone()
			switch req.Method {
			case sip.REGISTER:
				h = p.onRegister
			case sip.BYE:
				h = p.onBye
			case sip.REFER:
				h = p.onRefer
			case sip.ACK:
				p.onAck(req, nil)
				return
			default:
				return
			}
			tx := siptest.NewServerTxRecorder(req)
			h(req, tx)
			if len(tx.Result()) == 0 {
				t.Fatalf("no response to %s", req.Method)
			}
			for _, r := range p.Registrations() {
				if !strings.Contains(r.Contact, "@") && !strings.HasPrefix(r.Contact, "sip:") {
					t.Fatalf("odd contact %q", r.Contact)
				}
			}
		}
	})
}
