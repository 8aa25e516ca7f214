package main

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestFleetMosquittoKamailio is the bounded CI run: 500 bases against
// Debian's mosquitto and kamailio (both on 127.0.0.1, stopped by PID):
// a boot storm in which every base pairs its Linx with its button and the
// cloud assigns it (both extensions register), registration-mode pushes
// each completing a pairing, a new configuration to every base, and a
// broker restart; the report must pass.
func TestFleetMosquittoKamailio(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet run")
	}
	n := fleetSize(t, 500)
	first := netip.MustParseAddr("127.1.0.1")
	broker := startMosquitto(t)
	kam := kamailioFor(t, "ci-", first, n)
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	o := options{N: n, Shard: shard{1, 1}, Prefix: "ci-", Broker: broker.url, Registrar: kam.URI(),
		FirstIP: first, SIPPort: 25060, Boot: 5 * time.Second, BootGrace: 30 * time.Second, PairAtBoot: true,
		Steady: 25 * time.Second, Pushes: 20, PushRate: 5, PushShortfall: 0.1, Configs: true, CfgRate: 100,
		BrokerStop:  func(context.Context) error { broker.stop(); return nil },
		BrokerStart: func(context.Context) error { broker.start(); return nil },
		RestartAt:   14 * time.Second, Fast: true, QuietRadio: true}
	rep := runFleet(t, ctx, o)
	if !rep.Pass {
		t.Fatalf("fleet run failed: %v", rep.Failures)
	}
	if rep.Registered != n || rep.Latency["push→window"].N < 18 {
		t.Fatalf("registered %d of %d, %d windows measured", rep.Registered, n, rep.Latency["push→window"].N)
	}
}
