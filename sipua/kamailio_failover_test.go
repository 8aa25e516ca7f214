package sipua

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// failoverPair is two kamailio registrars on different loopback
// addresses and a UA registering at the first, failing over to the
// second.
type failoverPair struct {
	k1, k2   *testpeer.Kamailio
	u        *runningUA
	failback time.Duration
}

const foUser, foPass = "1001", "pw1001"

// startFailoverPair starts kamailio on 127.0.0.1 and on 127.0.0.2 and a
// UA with both as registrars (20 s expiry, 1 s keepalive probes, failback
// after failback).
func startFailoverPair(t *testing.T, failback time.Duration) *failoverPair {
	t.Helper()
	users := map[string]string{foUser: foPass}
	k1 := testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: users, Host: "127.0.0.1"})
	k2 := testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: users, Host: "127.0.0.2"})
	e := Extension{Name: "101", Account: Account{User: foUser, Password: foPass, Domain: "pbx.test",
		Registrars: []string{k1.Addr(), k2.Addr()}, Expires: 20 * time.Second}}
	u := startUA(t, Config{Extensions: []Extension{e},
		Timing: Timing{Keepalive: time.Second, Failback: failback, RetryMin: 200 * time.Millisecond, RetryMax: time.Second}})
	return &failoverPair{k1: k1, k2: k2, u: u, failback: failback}
}

// bound reports whether k's location table has our contact (UA listener).
func (p *failoverPair) bound(t *testing.T, k *testpeer.Kamailio) bool {
	t.Helper()
	cs, err := k.Contacts(foUser)
	if err != nil {
		t.Fatalf("kamailio %s: %v", k.Addr(), err)
	}
	for _, c := range cs {
		if strings.Contains(c.Address, "@"+p.u.ListenAddr()) && c.Expires > 0 {
			return true
		}
	}
	return false
}

// waitRegisteredAt waits until the UA says registered at k and k's table
// has the binding; it returns when the UA's state said so.
func (p *failoverPair) waitRegisteredAt(t *testing.T, k *testpeer.Kamailio, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	var at time.Time
	for {
		ev, _ := p.u.Registration("101")
		if ev.State == RegRegistered && ev.Registrar == k.Addr() {
			if at.IsZero() {
				at = time.Now()
			}
			if p.bound(t, k) {
				return at
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered at %s within %v: state %+v, bound %v", k.Addr(), d, ev, p.bound(t, k))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failover kills k1 by PID and waits for the UA to register at k2; it
// returns when the UA's state moved.
func (p *failoverPair) failover(t *testing.T) (killed, moved time.Time) {
	t.Helper()
	p.k1.Kill()
	killed = time.Now()
	moved = p.waitRegisteredAt(t, p.k2, 5*time.Second)
	return killed, moved
}

// inviteFrom sends an INVITE for our user from a UDP socket bound to from
// (a registrar's own address and port) and returns the final status code.
func inviteFrom(t *testing.T, from, to string) int {
	t.Helper()
	la, err := net.ResolveUDPAddr("udp", from)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		t.Fatalf("bind %s: %v", from, err)
	}
	defer c.Close()
	ra, _ := net.ResolveUDPAddr("udp", to)
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	cid := fmt.Sprintf("trust-%d", time.Now().UnixNano())
	msg := fmt.Sprintf("INVITE sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:2000@pbx.test>;tag=t1\r\nTo: <sip:%s@pbx.test>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:2000@%s>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		foUser, to, from, cid, foUser, cid, from, len(sdp), sdp)
	if _, err := c.WriteToUDP([]byte(msg), ra); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("INVITE from %s: no final answer: %v", from, err)
		}
		var code int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &code); err == nil && code >= 200 {
			if code >= 300 { // ACK the failure (same branch, RFC 3261 §17.1.1.3)
				ack := fmt.Sprintf("ACK sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
					"From: <sip:2000@pbx.test>;tag=t1\r\nTo: <sip:%s@pbx.test>\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
					foUser, to, from, cid, foUser, cid)
				_, _ = c.WriteToUDP([]byte(ack), ra)
			}
			return code
		}
	}
}

// Two kamailio registrars on 127.0.0.1 and 127.0.0.2. The first is
// killed by PID: its port answers ICMP port unreachable, and the UA
// registers at the second within 5 s; the binding was live at the first
// until it died and is at the second from then on (each kamailio's
// location table read over RPC). The first is started again; failback
// happens failover_retry_s (3 s here; the virtual-time test covers the
// 300 s default) after the failover, not before, and the second's table
// no longer has the contact (the un-REGISTER).
func TestKamailioFailoverFailback(t *testing.T) {
	p := startFailoverPair(t, 3*time.Second)
	p.waitRegisteredAt(t, p.k1, 10*time.Second)
	// Refreshes at the first keep its binding (20 s expiry) without a gap.
	end := time.Now().Add(7 * time.Second)
	for time.Now().Before(end) {
		if !p.bound(t, p.k1) {
			t.Fatal("the binding at the first registrar lapsed while registered there")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p.bound(t, p.k2) {
		t.Fatal("the second registrar has a binding before any failover")
	}
	killed, moved := p.failover(t)
	if d := moved.Sub(killed); d > 5*time.Second {
		t.Errorf("failover %v after the first registrar died, want within 5 s", d)
	}
	t.Logf("failover %v after kill", moved.Sub(killed).Round(time.Millisecond))
	p.k1 = p.k1.Restart(t)
	// Until the failback the second keeps the binding.
	for time.Since(moved) < p.failback-500*time.Millisecond {
		if ev, _ := p.u.Registration("101"); ev.Registrar != p.k2.Addr() || ev.State != RegRegistered {
			t.Fatalf("%v after the failover (failback at %v): %+v", time.Since(moved), p.failback, ev)
		}
		if !p.bound(t, p.k2) {
			t.Fatal("the binding at the second registrar lapsed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	back := p.waitRegisteredAt(t, p.k1, p.failback+5*time.Second)
	if d := back.Sub(moved); d < p.failback-300*time.Millisecond || d > p.failback+3*time.Second {
		t.Errorf("failback %v after the failover, want failover_retry_s = %v", d, p.failback)
	}
	t.Logf("failback %v after failover", back.Sub(moved).Round(time.Millisecond))
	deadline := time.Now().Add(3 * time.Second)
	for p.bound(t, p.k2) {
		if time.Now().After(deadline) {
			t.Fatal("the second registrar still has the contact after the failback: no un-REGISTER")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.k2.Output(), "expires=0") {
		t.Error("the second registrar logged no REGISTER with Expires: 0")
	}
}

// Requests to the account are accepted from the registrar the
// registration is at, and refused (403) from the other, following
// failover and failback: the other registrar's own address and port is
// the sender (the killed kamailio's address is taken by a test socket;
// a live kamailio sends from its own socket).
func TestTrustFollowsActiveRegistrar(t *testing.T) {
	p := startFailoverPair(t, 3*time.Second)
	p.waitRegisteredAt(t, p.k1, 10*time.Second)
	invite := func(k *testpeer.Kamailio, cseq int) int {
		t.Helper()
		cid := fmt.Sprintf("kam-trust-%d-%d", k.Port, cseq)
		sdp := "v=0\r\no=- 1 1 IN IP4 " + k.Host + "\r\ns=-\r\nc=IN IP4 " + k.Host + "\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		hdrs := fmt.Sprintf("From: <sip:2000@pbx.test>;tag=k%d\r\nTo: <sip:%s@pbx.test>\r\nCall-ID: %s\r\nCSeq: %d INVITE\r\n"+
			"Contact: <sip:2000@%s>\r\nContent-Type: application/sdp\r\n", cseq, foUser, cid, cseq, k.Addr())
		st, err := k.Request("INVITE", "sip:"+foUser+"@"+p.u.ListenAddr(), hdrs, sdp, cid, cseq)
		if err != nil {
			t.Fatalf("INVITE from %s: %v", k.Addr(), err)
		}
		var code int
		if _, err := fmt.Sscanf(st, "%d", &code); err != nil {
			t.Fatalf("INVITE from %s: answer %q", k.Addr(), st)
		}
		t.Logf("INVITE from %s: %s", k.Addr(), st)
		return code
	}
	// No endpoint is attached: a trusted INVITE gets 486, an untrusted 403.
	if c := invite(p.k1, 1); c != 486 {
		t.Errorf("INVITE from the active registrar %s: %d, want 486 (accepted, no phone)", p.k1.Addr(), c)
	}
	if c := invite(p.k2, 1); c != 403 {
		t.Errorf("INVITE from the other registrar %s before failover: %d, want 403", p.k2.Addr(), c)
	}
	k1addr := p.k1.Addr()
	p.failover(t)
	if c := invite(p.k2, 2); c != 486 {
		t.Errorf("INVITE from the active registrar %s after failover: %d, want 486", p.k2.Addr(), c)
	}
	if c := inviteFrom(t, k1addr, p.u.ListenAddr()); c != 403 {
		t.Errorf("INVITE from the old registrar's address %s after failover: %d, want 403", k1addr, c)
	}
	p.k1 = p.k1.Restart(t)
	p.waitRegisteredAt(t, p.k1, p.failback+5*time.Second)
	if c := invite(p.k1, 3); c != 486 {
		t.Errorf("INVITE from the primary %s after failback: %d, want 486", p.k1.Addr(), c)
	}
	if c := invite(p.k2, 3); c != 403 {
		t.Errorf("INVITE from the fallback %s after failback: %d, want 403", p.k2.Addr(), c)
	}
}
