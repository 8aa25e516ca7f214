package daemon

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"basestation/provisioning"
	"basestation/sim"
	"basestation/sipua"
)

// system.failover_retry_s reaches the user agent's failback period when a
// configuration is applied (its default, 300 s, when absent).
func TestFailoverRetryReachesTheUserAgent(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1:5999", "sip:127.0.0.2:5999"}, ToneRegion: "US", FailoverRetryS: 45},
		Extensions: []provisioning.Extension{{Number: "101", SIP: provisioning.SIPAccount{User: "101", Password: "x", Domain: "127.0.0.1"},
			Devices: provisioning.Devices{Port: PortID}}},
	}
	for _, tc := range []struct {
		retryS int
		want   time.Duration
	}{{45, 45 * time.Second}, {0, provisioning.DefaultFailoverRetryS * time.Second}, {3600, time.Hour}} {
		c.System.FailoverRetryS = tc.retryS
		c.Version++
		if err := d.applier.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		sc := d.ua.Config()
		if got := sc.Timing.Failback; got != tc.want {
			t.Errorf("failover_retry_s %d: sipua Timing.Failback %v, want %v", tc.retryS, got, tc.want)
		}
		if len(sc.Extensions) != 1 || len(sc.Extensions[0].Account.Registrars) != 2 {
			t.Errorf("failover_retry_s %d: extensions %+v", tc.retryS, sc.Extensions)
		}
	}
}

// shortRegistrar answers every REGISTER on a loopback UDP socket with 200
// and a 10 s expiry for the contact (whatever was asked), so the base
// refreshes every few seconds.
func shortRegistrar(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			req, ok := msg.(*sip.Request)
			if err != nil || !ok || req.Method != sip.REGISTER {
				continue
			}
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			if c := req.Contact(); c != nil {
				cc := c.Clone()
				cc.Params.Add("expires", "10")
				res.AppendHeader(cc)
			}
			_, _ = pc.WriteTo([]byte(res.String()), from)
		}
	}()
	return pc.LocalAddr().String()
}

// The reported registration's expires_at follows every refresh (it was
// set at the first registration only).
func TestExpiresAtMovesOnRefresh(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	go func() { _ = b.Run(bctx) }()
	reg := shortRegistrar(t)
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = "tcp://127.0.0.1:1"
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet(), SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	c := &provisioning.Config{
		Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		System: provisioning.System{Registrars: []string{"sip:" + reg}, ToneRegion: "US"},
		Extensions: []provisioning.Extension{{Number: "101", SIP: provisioning.SIPAccount{User: "101", Password: "x", Domain: "127.0.0.1"},
			Devices: provisioning.Devices{Port: PortID}}},
	}
	if err := d.applier.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	expiresAt := func() time.Time {
		for _, r := range d.reports.Registrations() {
			if r.Extension == "101" && r.State == provisioning.RegRegistered && r.ExpiresAt != nil {
				return *r.ExpiresAt
			}
		}
		return time.Time{}
	}
	var first time.Time
	waitFor(t, "registered with an expiry", func() bool { first = expiresAt(); return !first.IsZero() })
	if d := time.Until(first); d <= 0 || d > 10*time.Second {
		t.Fatalf("expires_at %v from now, want within the granted 10 s", d)
	}
	// Refreshes come every 2.5 s (a quarter of 10 s: the 32 s timeout
	// does not fit); two of them must have moved expires_at.
	deadline := time.Now().Add(8 * time.Second)
	moves, last := 0, first
	for moves < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("expires_at moved %d times in 8 s of refreshes every 2.5 s (still %v)", moves, last.Format(time.RFC3339Nano))
		}
		if e := expiresAt(); e.After(last) {
			moves, last = moves+1, e
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !time.Now().Before(last) {
		t.Errorf("expires_at %v is in the past while registered", last)
	}
}
