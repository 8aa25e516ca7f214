package sipua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// udpRegistrar is a minimal registrar on a loopback UDP socket: it records
// REGISTERs with their source, counts CRLF keepalives and answers 200
// while alive (silent otherwise).
type udpRegistrar struct {
	pc         net.PacketConn
	alive      atomic.Bool
	keepalives atomic.Int32
	mu         sync.Mutex
	regs       []*sip.Request
	srcs       []string
	got        chan *sip.Request
	nat        string // if set, Via received/rport claim this host:port
}

func newUDPRegistrar(t testing.TB, alive bool) *udpRegistrar {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRegistrar{pc: pc, got: make(chan *sip.Request, 64)}
	r.alive.Store(alive)
	t.Cleanup(func() { pc.Close() })
	go r.loop()
	return r
}

func (r *udpRegistrar) addr() string { return r.pc.LocalAddr().String() }
func (r *udpRegistrar) port() int    { return r.pc.LocalAddr().(*net.UDPAddr).Port }

func (r *udpRegistrar) loop() {
	buf := make([]byte, 65535)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		if len(bytes.TrimSpace(b)) == 0 {
			r.keepalives.Add(1)
			continue
		}
		msg, err := sip.ParseMessage(append([]byte(nil), b...))
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Method != sip.REGISTER {
			continue
		}
		r.mu.Lock()
		r.regs = append(r.regs, req)
		r.srcs = append(r.srcs, from.String())
		r.mu.Unlock()
		select {
		case r.got <- req:
		default:
		}
		if !r.alive.Load() {
			continue
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		r.mu.Lock()
		nat := r.nat
		r.mu.Unlock()
		if nat != "" {
			h, p, _ := net.SplitHostPort(nat)
			res.Via().Params.Add("received", h)
			res.Via().Params.Add("rport", p)
		}
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
}

func (r *udpRegistrar) next(t *testing.T, d time.Duration) *sip.Request {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(d):
		t.Fatalf("registrar %s: no REGISTER within %v", r.addr(), d)
		return nil
	}
}

// REGISTER leaves from the SIP listener's own port, with Via and Contact
// naming that address; CRLF keepalives go to the registrar; a change of the
// local address re-registers at once with the new Contact.
func TestRegisterAddressesKeepaliveAndAddressChange(t *testing.T) {
	reg := newUDPRegistrar(t, true)
	var ip atomic.Value
	ip.Store(net.IPv4(127, 0, 0, 1))
	u, err := New(Config{Listen: "127.0.0.1:0", Extensions: []Extension{ext("101", "1001", "pw", reg.addr())},
		Timing: Timing{Keepalive: 50 * time.Millisecond, AddrCheck: 50 * time.Millisecond}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	u.LocalIPFor = func(string) (net.IP, error) { return ip.Load().(net.IP), nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()
	first := reg.next(t, 5*time.Second)
	listen := u.ListenAddr()
	reg.mu.Lock()
	src := reg.srcs[0]
	reg.mu.Unlock()
	if src != listen {
		t.Errorf("REGISTER came from %s, not from the listener %s", src, listen)
	}
	via := first.Via()
	if fmt.Sprintf("%s:%d", via.Host, via.Port) != listen || !via.Params.Has("rport") {
		t.Errorf("Via %s, want sent-by %s with rport", via.Value(), listen)
	}
	if c := first.Contact(); fmt.Sprintf("%s:%d", c.Address.Host, c.Address.Port) != listen || c.Address.User != "1001" {
		t.Errorf("Contact %s, want sip:1001@%s", c.Value(), listen)
	}
	waitReg(t, u, "101", RegRegistered, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := reg.keepalives.Load(); n < 3 {
		t.Errorf("%d keepalives in 300 ms at 50 ms interval", n)
	}
	// The address changes: a new REGISTER with the new Contact.
	ip.Store(net.IPv4(127, 0, 0, 3))
	deadline := time.Now().Add(3 * time.Second)
	for {
		req := reg.next(t, 3*time.Second)
		if c := req.Contact(); c.Address.Host == "127.0.0.3" {
			if req.CallID().Value() != first.CallID().Value() || req.CSeq().SeqNo <= first.CSeq().SeqNo {
				t.Errorf("re-REGISTER must keep the Call-ID and raise CSeq")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no re-REGISTER with the new address")
		}
	}
}

// fakeResolver answers SRV and host lookups from maps.
type fakeResolver struct {
	srv   map[string][]*net.SRV
	hosts map[string][]string
}

func (f fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if s, ok := f.srv[key]; ok {
		return key, s, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

func (f fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := f.hosts[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// With only a domain, the registrars come from DNS SRV in priority order:
// the silent first one times out and the second takes the registration.
// When the first comes back, the UA fails back to it and un-registers
// from the second.
func TestSRVFailoverAndFailback(t *testing.T) {
	primary := newUDPRegistrar(t, false)
	secondary := newUDPRegistrar(t, true)
	res := fakeResolver{
		srv: map[string][]*net.SRV{"_sip._udp.pbx.test": {
			{Target: "a.pbx.test.", Port: uint16(primary.port()), Priority: 10},
			{Target: "b.pbx.test.", Port: uint16(secondary.port()), Priority: 20},
		}},
		hosts: map[string][]string{"a.pbx.test": {"127.0.0.1"}, "b.pbx.test": {"127.0.0.1"}},
	}
	e := Extension{Name: "101", Account: Account{User: "1001", Password: "pw", Domain: "pbx.test"}}
	u, err := New(Config{Listen: "127.0.0.1:0", Extensions: []Extension{e},
		Timing: Timing{RequestTimeout: 700 * time.Millisecond, Failback: 300 * time.Millisecond}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Resolver = res
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()
	ev := waitReg(t, u, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != fmt.Sprintf("b.pbx.test:%d", secondary.port()) {
		t.Fatalf("registered at %s, want the SRV second choice", ev.Registrar)
	}
	if r := primary.next(t, time.Second); r.Recipient.Host != "pbx.test" {
		t.Errorf("Request-URI %s, want sip:pbx.test", r.Recipient.String())
	}
	primary.alive.Store(true)
	waitEvent(t, u, 5*time.Second, func(e Event) bool {
		r, ok := e.(*RegistrationEvent)
		return ok && r.State == RegRegistered && strings.HasPrefix(r.Registrar, "a.pbx.test")
	})
	// The secondary got an un-REGISTER.
	deadline := time.Now().Add(3 * time.Second)
	for {
		secondary.mu.Lock()
		found := false
		for _, r := range secondary.regs {
			if h := r.GetHeader("Expires"); h != nil && h.Value() == "0" {
				found = true
			}
		}
		secondary.mu.Unlock()
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the secondary got no un-REGISTER after failback")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Behind NAT: the registrar's Via received/rport show another address
// than our Contact, so the UA registers that public address (RFC 3581).
func TestRegisterNATContact(t *testing.T) {
	reg := newUDPRegistrar(t, true)
	reg.mu.Lock()
	reg.nat = "203.0.113.7:40123"
	reg.mu.Unlock()
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", reg.addr())}})
	first := reg.next(t, 5*time.Second)
	if c := first.Contact(); c.Address.Host != "127.0.0.1" {
		t.Fatalf("first Contact %s", c.Value())
	}
	second := reg.next(t, 5*time.Second)
	if c := second.Contact(); c.Address.Host != "203.0.113.7" || c.Address.Port != 40123 {
		t.Fatalf("second Contact %s, want the public address", c.Value())
	}
	pollReg(t, u.UA, "101", RegRegistered, 5*time.Second)
}

// closedUDPPort returns a loopback UDP address nothing listens on: a
// datagram there gets ICMP port unreachable.
func closedUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// The probe tells a closed UDP port (ICMP port unreachable) from a
// silent open one.
func TestProbeUDPSeesPortUnreachable(t *testing.T) {
	u, err := New(Config{Listen: "127.0.0.1:0"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.probeUDP(context.Background(), closedUDPPort(t)); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v, want port unreachable", err)
	}
	silent := newUDPRegistrar(t, false)
	if err := u.probeUDP(context.Background(), silent.addr()); err != nil {
		t.Errorf("open silent port: %v, want nil", err)
	}
}

// With the production 32 s transaction timeout, a primary whose port is
// closed is left within a probe round trip: the UA registers at the
// secondary within 5 s, with "port unreachable" as the primary's error.
func TestFailoverOnPortUnreachable(t *testing.T) {
	secondary := newUDPRegistrar(t, true)
	primary := closedUDPPort(t)
	e := Extension{Name: "101", Account: Account{User: "1001", Password: "pw", Domain: "127.0.0.1",
		Registrars: []string{primary, secondary.addr()}}}
	u := startUA(t, Config{Extensions: []Extension{e}})
	start := time.Now()
	f := waitReg(t, u.UA, "101", RegFailed, 5*time.Second)
	if !strings.Contains(f.LastError, "port unreachable") {
		t.Errorf("primary's error %q, want port unreachable", f.LastError)
	}
	ev := waitReg(t, u.UA, "101", RegRegistered, 5*time.Second)
	if ev.Registrar != secondary.addr() {
		t.Errorf("registered at %s, want the secondary %s", ev.Registrar, secondary.addr())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failover took %v", d)
	}
}

// Registered at the primary, whose port then closes: the next keepalive
// probe sees the ICMP error and the UA moves to the secondary at once.
func TestKeepaliveProbeFailsOverWhenPortCloses(t *testing.T) {
	primary := newUDPRegistrar(t, true)
	secondary := newUDPRegistrar(t, true)
	e := Extension{Name: "101", Account: Account{User: "1001", Password: "pw", Domain: "127.0.0.1",
		Registrars: []string{primary.addr(), secondary.addr()}}}
	u := startUA(t, Config{Extensions: []Extension{e}, Timing: Timing{Keepalive: 300 * time.Millisecond}})
	if ev := waitReg(t, u.UA, "101", RegRegistered, 5*time.Second); ev.Registrar != primary.addr() {
		t.Fatalf("registered at %s, want the primary", ev.Registrar)
	}
	primary.pc.Close()
	closed := time.Now()
	ev := waitReg(t, u.UA, "101", RegRegistered, 5*time.Second)
	if ev.Registrar != secondary.addr() {
		t.Fatalf("registered at %s, want the secondary", ev.Registrar)
	}
	if d := time.Since(closed); d > 5*time.Second {
		t.Errorf("failover %v after the port closed", d)
	}
}
