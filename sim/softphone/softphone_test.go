package softphone_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/softphone"
	"basestation/sim/softphone/media"
)

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func start(t *testing.T, cfg softphone.Config) *softphone.Phone {
	t.Helper()
	ph, err := softphone.New(cfg, logger(t))
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
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return ph
}

// startKamailio runs kamailio as registrar/proxy with digest auth.
func startKamailio(t *testing.T, users map[string]string) string {
	t.Helper()
	bin := testpeer.Require(t, "kamailio")[0]
	dir := t.TempDir()
	port := testpeer.FreePort(t, false)
	cfg, err := os.ReadFile("testdata/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(cfg), "PORT", fmt.Sprint(port))
	text = strings.ReplaceAll(text, "CTLSOCK", filepath.Join(dir, "ctl"))
	var u strings.Builder
	u.WriteString("event_route[htable:mod-init] {\n")
	for name, pw := range users {
		fmt.Fprintf(&u, "\t$sht(users=>%s) = \"%s\";\n", name, pw)
	}
	u.WriteString("}\n")
	for name, body := range map[string]string{"kamailio.cfg": text, "users.cfg": u.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc := testpeer.Start(t, dir, bin, "-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-w", dir, "-m", "32", "-M", "4")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// UDP only: probe with OPTIONS until kamailio answers anything.
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	raddr, _ := net.ResolveUDPAddr("udp4", addr)
	lp := probe.LocalAddr().(*net.UDPAddr).Port
	msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKprobe%d\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:%s>\r\nCall-ID: probe-%d\r\nCSeq: 1 OPTIONS\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", addr, lp, lp, addr, lp)
	buf := make([]byte, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if proc.Exited() || time.Now().After(deadline) {
			t.Fatalf("kamailio did not answer on %s:\n%s", addr, proc.Output())
		}
		if _, err := probe.WriteTo([]byte(msg), raddr); err != nil {
			t.Fatal(err)
		}
		_ = probe.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := probe.ReadFrom(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ") {
			break
		}
	}
	return addr
}

func heardTone(t *testing.T, ph *softphone.Phone, hz float64) {
	t.Helper()
	var last media.Analysis
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		last = ph.Heard(200 * time.Millisecond)
		if math.Abs(last.Freq-hz) < 5 && last.Purity > 0.8 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("did not hear %.0f Hz: last %+v", hz, last)
}

// The softphone against a registrar nobody here wrote: two phones register
// at kamailio with digest auth (a wrong password is refused), call each
// other through it (record-routed ACK and BYE), hear each other's tones,
// exchange RFC 4733 digits, and hang up.
func TestKamailio(t *testing.T) {
	reg := startKamailio(t, map[string]string{"201": "pw201", "202": "pw202"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bad := start(t, softphone.Config{User: "201", Password: "nope", Registrar: reg})
	var ce *softphone.CallError
	if err := bad.Register(ctx); !errors.As(err, &ce) || ce.Code != 401 {
		t.Errorf("wrong password: %v, want 401", err)
	}
	a := start(t, softphone.Config{User: "201", Password: "pw201", Registrar: reg, ToneHz: 450})
	b := start(t, softphone.Config{User: "202", Password: "pw202", Registrar: reg, ToneHz: 1650, Codecs: []media.Codec{media.PCMA}})
	for _, ph := range []*softphone.Phone{a, b} {
		if err := ph.Register(ctx); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Call(ctx, "202") }()
	ev, err := b.WaitEvent(ctx, softphone.EvIncoming)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Info.FromUser != "201" {
		t.Errorf("incoming from %q", ev.Info.FromUser)
	}
	if err := b.Answer(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	heardTone(t, a, 1650)
	heardTone(t, b, 450)
	if err := b.SendDigits("9*"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for a.Digits() != "9*" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := a.Digits(); d != "9*" {
		t.Errorf("digits %q, want 9*", d)
	}
	if err := a.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitEvent(ctx, softphone.EvEnded); err != nil {
		t.Fatal(err)
	}
	if err := a.Call(ctx, "209"); !errors.As(err, &ce) || ce.Code != 404 {
		t.Errorf("call to unknown 209: %v, want 404", err)
	}
}
