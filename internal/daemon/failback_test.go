package daemon

import (
	"context"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim"
)

// system.failover_retry_s reaches the user agent's failback period when a
// configuration is applied (its default, 300 s, when absent).
func TestFailoverRetryReachesTheUserAgent(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := Defaults()
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
		if err := d.Apply(context.Background(), c); err != nil {
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
