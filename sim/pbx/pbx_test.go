package pbx_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/sim/pbx"
	"basestation/sim/softphone"
	"basestation/sim/softphone/media"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() || os.Getenv("PBX_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var users = map[string]string{"101": "pw101", "102": "pw102", "103": "pw103", "104": "pw104"}

func startPBX(t *testing.T, cfg pbx.Config) *pbx.PBX {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = users
	}
	p, err := pbx.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pbx.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("pbx.Run did not return")
		}
	})
	return p
}

func startPhone(t *testing.T, cfg softphone.Config) *softphone.Phone {
	t.Helper()
	ph, err := softphone.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ph.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("softphone.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("softphone.Run did not return")
		}
	})
	return ph
}

func tctx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitTone(t *testing.T, ph *softphone.Phone, hz float64) {
	t.Helper()
	var last float64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		a := ph.Heard(200 * time.Millisecond)
		last = a.Freq
		if math.Abs(a.Freq-hz) < 5 && a.Purity > 0.8 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("phone did not hear %.0f Hz (last %.1f Hz)", hz, last)
}

// Two phones register with digest auth and call each other through the
// PBX; each hears the other's tone, digits pass, BYE from either side ends
// both legs, and the PBX's tables show it all.
func TestCallBothWaysWithAudio(t *testing.T) {
	var evMu sync.Mutex
	var events []string
	p := startPBX(t, pbx.Config{Auth: true, OnEvent: func(e pbx.Event) {
		evMu.Lock()
		defer evMu.Unlock()
		if e.Kind == pbx.EvCall {
			events = append(events, fmt.Sprintf("call %s %s->%s %s", e.Call.ID, e.Call.Caller, e.Call.Dialled, e.Call.State))
		} else {
			events = append(events, fmt.Sprintf("%s %s", e.Kind, e.Ext))
		}
	}})
	a := startPhone(t, softphone.Config{User: "101", Password: "pw101", DisplayName: "Alice", Registrar: p.Addr(), ToneHz: 700})
	b := startPhone(t, softphone.Config{User: "102", Password: "pw102", Registrar: p.Addr(), ToneHz: 1300, AutoAnswer: true, AnswerDelay: 100 * time.Millisecond,
		Codecs: []media.Codec{media.PCMA, media.PCMU}})
	ctx := tctx(t, 20*time.Second)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}
	regs := p.Registrations()
	if len(regs) != 2 || regs[0].Ext != "101" || regs[1].Ext != "102" || regs[0].UserAgent != "basesim-softphone" {
		t.Fatalf("registrations %+v", regs)
	}
	if a.Granted() != 600*time.Second {
		t.Errorf("granted %v, want 600s", a.Granted())
	}

	if err := a.Call(ctx, "102"); err != nil {
		t.Fatal(err)
	}
	waitTone(t, a, 1300)
	waitTone(t, b, 700)
	if inv, ok := b.LastInvite(); !ok || inv.FromUser != "101" || inv.FromName != "Alice" {
		t.Errorf("callee saw INVITE %+v", inv)
	}
	if li, ok := p.LastInvite(); !ok || li.FromUser != "101" || li.FromName != "Alice" || li.UserAgent != "basesim-softphone" {
		t.Errorf("PBX last INVITE %+v", li)
	}
	if err := a.SendDigits("12#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "digits at 102", func() bool { return b.Digits() == "12#" })
	cs := p.Calls()
	if len(cs) != 1 || cs[0].State != "answered" || cs[0].Caller != "101" || cs[0].Callee != "102" {
		t.Fatalf("calls %+v", cs)
	}
	time.Sleep(100 * time.Millisecond)
	if err := b.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "caller idle", func() bool { return a.State() == softphone.Idle })
	waitFor(t, 3*time.Second, "call logged as ended", func() bool {
		cs := p.Calls()
		return len(cs) == 1 && cs[0].State == "ended" && cs[0].EndedBy == "102"
	})

	evMu.Lock()
	got := strings.Join(events, "; ")
	evMu.Unlock()
	if want := "registered 101; registered 102; call c1 101->102 ringing; call c1 101->102 answered; call c1 101->102 ended"; got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}

	// And the other way: 101 answers by command, the caller hangs up.
	b.SetTone(500)
	callErr := make(chan error, 1)
	go func() { callErr <- b.Call(ctx, "101") }()
	ev, err := a.WaitEvent(ctx, softphone.EvIncoming)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Info.FromUser != "102" {
		t.Errorf("incoming from %q, want 102", ev.Info.FromUser)
	}
	if err := a.Answer(); err != nil {
		t.Fatal(err)
	}
	if err := <-callErr; err != nil {
		t.Fatal(err)
	}
	waitTone(t, a, 500)
	waitTone(t, b, 700)
	time.Sleep(100 * time.Millisecond)
	if err := b.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "callee idle", func() bool { return a.State() == softphone.Idle })
	waitFor(t, 3*time.Second, "second call logged", func() bool {
		cs := p.Calls()
		return len(cs) == 2 && cs[1].State == "ended" && cs[1].EndedBy == "102" && cs[1].Callee == "101"
	})
}

// SetRingTimeout gives one extension its own no-answer timeout; zero
// returns it to Config.RingTimeout, and a removed extension loses it.
func TestSetRingTimeout(t *testing.T) {
	p := startPBX(t, pbx.Config{Users: map[string]string{"101": "pw", "102": "pw"}, RingTimeout: 5 * time.Second})
	if err := p.SetRingTimeout("101", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if a, b := p.RingTimeout("101"), p.RingTimeout("102"); a != 2*time.Second || b != 5*time.Second {
		t.Errorf("ring timeouts 101 %v 102 %v, want 2s and 5s", a, b)
	}
	for _, c := range []struct {
		ext string
		d   time.Duration
	}{{"999", time.Second}, {"101", -time.Second}, {"101", 2 * time.Hour}} {
		if err := p.SetRingTimeout(c.ext, c.d); err == nil {
			t.Errorf("SetRingTimeout(%q, %v) accepted", c.ext, c.d)
		}
	}
	if err := p.SetRingTimeout("101", 0); err != nil || p.RingTimeout("101") != 5*time.Second {
		t.Errorf("zero: %v, %v, want the default 5s", err, p.RingTimeout("101"))
	}
	_ = p.SetRingTimeout("102", 3*time.Second)
	p.RemoveUser("102")
	_ = p.SetUser("102", "pw")
	if d := p.RingTimeout("102"); d != 5*time.Second {
		t.Errorf("re-added 102 rings %v, want the default", d)
	}
}
