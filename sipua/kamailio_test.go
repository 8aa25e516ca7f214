package sipua

import (
	"basestation/endpoint"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func ext(name, user, pass, registrar string) Extension {
	return Extension{Name: name, Account: Account{User: user, Password: pass, Domain: "127.0.0.1", Registrars: []string{registrar}}}
}

// Registration with digest auth at a real kamailio; a wrong password
// fails with the 401 as last error; un-REGISTER at shutdown.
func TestKamailioRegister(t *testing.T) {
	k := startKamailio(t, map[string]string{"1001": "pw1001", "1002": "pw1002"})
	good := ext("101", "1001", "pw1001", k.addr())
	bad := ext("102", "1002", "wrong", k.addr())
	u := startUA(t, Config{Extensions: []Extension{good, bad}, Timing: Timing{RetryMin: 200 * time.Millisecond, RetryMax: time.Second}})
	ev := pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != k.addr() || ev.Expires <= 0 {
		t.Errorf("registered event %+v", ev)
	}
	k.waitLog(t, "MARK-REGISTERED sip:1001@127.0.0.1", 5*time.Second)
	f := pollReg(t, u.UA, "102", RegFailed, 10*time.Second)
	if f.LastError != "401 Unauthorized" {
		t.Errorf("wrong-password error %q, want 401 Unauthorized", f.LastError)
	}
	u.stop(t)
	k.waitLog(t, "expires=0", 5*time.Second)
}

// The password never reaches the log, even at debug level and through
// failures (wrong password, a call attempt).
func TestPasswordNeverLogged(t *testing.T) {
	k := startKamailio(t, map[string]string{"1001": "Secr3tPw!", "1002": "pw1002"})
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{Listen: "127.0.0.1:0", Extensions: []Extension{
		ext("101", "1001", "Secr3tPw!", k.addr()), ext("102", "1002", "Wr0ngPw!", k.addr())},
		Timing: Timing{RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond}}
	u, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	pollReg(t, u, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	rep, _ := u.Attach("101", ep)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1999"})
	ep.waitFor(t, "tone ", 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	out := buf.String()
	if len(out) < 100 {
		t.Fatalf("suspiciously little log: %q", out)
	}
	for _, pw := range []string{"Secr3tPw!", "Wr0ngPw!"} {
		if strings.Contains(out, pw) {
			t.Errorf("password %q found in the log", pw)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Over TCP the UA registers with the connection's own address as Contact
// and takes an incoming call over that connection (kamailio reaches us
// through it), with audio to a UDP baresip.
func TestKamailioTCP(t *testing.T) {
	k := startKamailio(t, map[string]string{"1001": "pw1001", "1002": "pw1002"})
	e := ext("101", "1001", "pw1001", k.addr())
	e.Account.Transport = TCP
	u := startUA(t, Config{Extensions: []Extension{e}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for !hasLine(k.proc.Output(), "MARK-REGISTERED sip:1001@", "transport=tcp") {
		if time.Now().After(deadline) {
			t.Fatal("kamailio did not register a TCP contact")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := startBaresip(t, "1002", "pw1002", k.addr(), 700, "manual")
	ep := newFakeEndpoint("analog", 440)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	b.command("dial", "sip:1001@"+k.addr())
	ep.waitFor(t, "ring 1002", 10*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	b.waitEvent("CALL_ESTABLISHED", 5*time.Second)
	time.Sleep(1200 * time.Millisecond)
	recentTone(t, "call over TCP signalling", ep, 700)
	rep(endpoint.Event{Kind: endpoint.OnHook})
	b.waitEvent("CALL_CLOSED", 5*time.Second)
}
