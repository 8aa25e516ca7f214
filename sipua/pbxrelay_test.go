package sipua

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// pbxRelay stands in for the cloud PBX's front door: the UA registers
// with it, and every request of a test's SIP peers (SIPp callers,
// notifiers) reaches the UA through it, from the registrar's own
// address, port and transport, as it does through a real PBX. The UA
// trusts only that flow.
//
// Datagrams from peers go to the UA. From the UA: a REGISTER is answered
// 200 here when there is no backend; other requests go to the backend
// (a SIPp server playing the PBX) or else to the peer heard from last;
// responses go back to the peer whose request they answer (by Via branch).
type pbxRelay struct {
	t       testing.TB
	pc      net.PacketConn
	backend *net.UDPAddr

	mu       sync.Mutex
	ua       *net.UDPAddr
	lastPeer net.Addr
	branches map[string]net.Addr
}

// newPBXRelay starts a relay; backend ("" for none) receives the UA's
// requests.
func newPBXRelay(t testing.TB, backend string) *pbxRelay {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &pbxRelay{t: t, pc: pc, branches: map[string]net.Addr{}}
	if backend != "" {
		if r.backend, err = net.ResolveUDPAddr("udp4", backend); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() { defer close(done); r.loop() }()
	return r
}

func (r *pbxRelay) addr() string { return r.pc.LocalAddr().String() }

func (r *pbxRelay) loop() {
	buf := make([]byte, 65535)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		if len(bytes.TrimSpace(b)) == 0 {
			continue // keepalive
		}
		msg, err := sip.ParseMessage(b)
		if err != nil {
			continue
		}
		r.mu.Lock()
		if req, ok := msg.(*sip.Request); ok && req.Method == sip.REGISTER && (r.ua == nil || r.ua.String() == from.String()) {
			r.ua = from.(*net.UDPAddr)
		}
		fromUA := r.ua != nil && r.ua.String() == from.String()
		var to net.Addr
		switch m := msg.(type) {
		case *sip.Request:
			if !fromUA {
				// Proxy it: our Via on top, so the UA answers us.
				r.lastPeer = from
				br := ""
				if v := m.Via(); v != nil {
					br, _ = v.Params.Get("branch")
				}
				ours := "z9hG4bK-r-" + br
				r.branches[ours] = from
				add := "Via: SIP/2.0/UDP " + r.addr() + ";branch=" + ours + "\r\n"
				if m.Method == sip.INVITE && m.To() != nil && !m.To().Params.Has("tag") {
					// Stay in the dialog's path, as a PBX does, so the
					// UA's in-dialog requests keep their order with our
					// relayed responses.
					add += "Record-Route: <sip:" + r.addr() + ";lr>\r\n"
				}
				i := bytes.Index(b, []byte("\r\n"))
				b = append(b[:i+2:i+2], append([]byte(add), b[i+2:]...)...)
				to = r.ua
				break
			}
			if m.Method == sip.REGISTER && r.backend == nil {
				r.mu.Unlock()
				r.answerRegister(m, from)
				continue
			}
			to = r.lastPeer
			if r.backend != nil {
				to = r.backend
			}
			// A Request-URI naming a peer (a dialog's remote target) is
			// forwarded there.
			if ru := m.Recipient; ru.Port != 0 {
				if a, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(ru.Host, strconv.Itoa(ru.Port))); err == nil && a.String() != r.addr() {
					to = a
				}
			}
		case *sip.Response:
			if !fromUA {
				to = r.ua
				break
			}
			// Our Via is on top: take it off and send to the peer.
			v := m.Via()
			if v == nil {
				break
			}
			br, _ := v.Params.Get("branch")
			to = r.branches[br]
			if to == nil {
				break
			}
			m.RemoveHeader("Via")
			b = []byte(m.String())
		}
		r.mu.Unlock()
		if testing.Verbose() {
			r.t.Logf("relay %s -> %v: %s", from, to, strings.SplitN(string(b), "\r\n", 2)[0])
		}
		if to != nil && !isNilAddr(to) {
			_, _ = r.pc.WriteTo(b, to)
		}
	}
}

func isNilAddr(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	return ok && u == nil
}

func (r *pbxRelay) answerRegister(req *sip.Request, from net.Addr) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if c := req.Contact(); c != nil {
		cc := c.Clone()
		exp := "60"
		if e := req.GetHeader("Expires"); e != nil {
			exp = e.Value()
		}
		cc.Params.Add("expires", exp)
		res.AppendHeader(cc)
	}
	_, _ = r.pc.WriteTo([]byte(res.String()), from)
}
