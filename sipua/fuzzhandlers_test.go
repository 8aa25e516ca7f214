package sipua

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// handlerSeeds is the seed corpus of the handler fuzz target and the
// socket test: the RFC 4475 torture messages and a complete request of
// every method, whole and with each needed header removed.
func handlerSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files := tortureFiles(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, files[n])
	}
	for _, m := range allMethods {
		lines, body := request(m, "1001")
		out = append(out, sipMsg(lines, body))
		for _, h := range []string{"To", "From", "Call-ID", "CSeq", "Contact", "Event", "Via"} {
			if s := without(lines, h); len(s) != len(lines) {
				out = append(out, sipMsg(s, body))
			}
		}
		// In-dialog shapes: a To tag.
		lines[3] += ";tag=ours"
		out = append(out, sipMsg(lines, body))
	}
	return out
}

// FuzzHandlers feeds mutated messages through sipgo's parser to the UA's
// handler for their method (behind guard, as sipgo's server calls it),
// from the trusted registrar or an outsider, over UDP or TCP. No handler
// may panic (guard counts contained panics) or block.
//
//	go test -run '^$' -fuzz FuzzHandlers -fuzztime 10m ./sipua/
func FuzzHandlers(f *testing.F) {
	for _, s := range handlerSeeds(f) {
		f.Add(s, true, false)
		f.Add(s, false, true)
	}
	u := newBareUA(f)
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte, trusted, tcp bool) {
		m, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		src, transport := "127.0.0.9:5060", "UDP"
		if trusted {
			src = registrarAddr
		}
		if tcp {
			transport = "TCP"
		}
		done := make(chan *fakeTx, 1)
		go func() { done <- dispatch(u, req, src, transport) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("handler for %s blocked", req.Method)
		}
		if n := u.panics.Swap(0); n != 0 {
			// Again without guard, for the panic's stack.
			req2, _ := parser.ParseSIP(data)
			r := req2.(*sip.Request)
			r.SetSource(src)
			r.SetTransport(transport)
			if h, ok := u.handlers()[r.Method]; ok {
				h(r, newFakeTx())
			}
			t.Fatalf("handler for %s panicked", req.Method)
		}
		u.mu.Lock()
		n := len(u.calls)
		u.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d calls left behind by %s", n, req.Method)
		}
	})
}

// The seed corpus and the fuzz corpus (testdata/fuzz/FuzzHandlers) sent
// as raw bytes to a running UA over UDP and TCP, both straight from an
// outsider and through the PBX it trusts: afterwards the UA still answers
// OPTIONS on both transports, is still registered, still rings for a
// good INVITE, and no handler panicked.
func TestHostileCorpusOverSockets(t *testing.T) {
	reg := newPBXRelay(t, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", reg.addr())}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	corpus := handlerSeeds(t)
	fz, _ := filepath.Glob("testdata/fuzz/FuzzHandlers/*")
	for _, f := range fz {
		if b, err := os.ReadFile(f); err == nil {
			if v := fuzzFileBytes(b); v != nil {
				corpus = append(corpus, v)
			}
		}
	}
	addr := u.ListenAddr()
	outsider, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	viaPBX, err := net.Dial("udp", reg.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer viaPBX.Close()
	for i, b := range corpus {
		if _, err := outsider.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := viaPBX.Write(b); err != nil {
			t.Fatal(err)
		}
		// One connection per message (a framing error ends one), kept
		// open to the end: were it closed, sipgo would answer by
		// connecting to the message's Via, DNS lookups included.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("message %d: TCP connect: %v", i, err)
		}
		defer c.Close()
		_, _ = c.Write(b)
		if i%20 == 19 {
			time.Sleep(20 * time.Millisecond) // bounded load
		}
	}
	time.Sleep(500 * time.Millisecond)

	// OPTIONS answered over UDP and TCP.
	for _, network := range []string{"udp", "tcp"} {
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		tr := strings.ToUpper(network)
		opts := fmt.Sprintf("OPTIONS sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-after-%s;rport\r\n"+
			"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: after-%s\r\nCSeq: 1 OPTIONS\r\n"+
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", addr, tr, c.LocalAddr(), network, network)
		if _, err := c.Write([]byte(opts)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
			t.Fatalf("OPTIONS over %s after the corpus: %q %v", network, line, err)
		}
	}
	if r, _ := u.Registration("101"); r.State != RegRegistered {
		t.Errorf("registration %s after the corpus", r.State)
	}
	if n := u.panics.Load(); n != 0 {
		t.Errorf("%d handler panics", n)
	}
	// A good INVITE through the PBX still rings.
	ep := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", ep); err != nil {
		t.Fatal(err)
	}
	lines, body := request("INVITE", "1001")
	lines[1] = "Via: SIP/2.0/UDP " + viaPBX.LocalAddr().String() + ";branch=z9hG4bK-good-1;rport"
	lines[4] = "Call-ID: good-after-corpus@x"
	lines[7] = "Contact: <sip:1004@" + viaPBX.LocalAddr().String() + ">"
	if _, err := viaPBX.Write(sipMsg(lines, body)); err != nil {
		t.Fatal(err)
	}
	ep.waitFor(t, "ring", 5*time.Second)
	_ = u.Detach(ep)
}

// fuzzFileBytes extracts the []byte value of a "go test fuzz v1" corpus
// file (its first argument), nil if it is not one.
func fuzzFileBytes(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "go test fuzz v1") {
		return nil
	}
	v := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(v, "[]byte(") {
		return nil
	}
	var s string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(v, "[]byte("), ")"), "%q", &s); err != nil {
		return nil
	}
	return []byte(s)
}
