package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/provisioning/cloud"
)

// natsCluster is a 3-node NATS server cluster (Debian's nats-server) on
// 127.0.0.1, each node with JetStream and an MQTT listener; stopped by PID.
type natsCluster struct {
	MQTT []string // tcp://127.0.0.1:PORT of each node's MQTT listener
}

func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	bin := testpeer.Require(t, "nats-server")[0]
	const nodes = 3
	type ports struct{ client, cluster, mqtt int }
	p := make([]ports, nodes)
	for i := range p {
		p[i] = ports{testpeer.FreePort(t, false), testpeer.FreePort(t, false), testpeer.FreePort(t, false)}
	}
	c := &natsCluster{}
	dir := t.TempDir()
	procs := make([]*testpeer.Proc, nodes)
	for i := range nodes {
		var routes []string
		for j := range nodes {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p[j].cluster))
			}
		}
		nd := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		if err := os.MkdirAll(nd, 0o700); err != nil {
			t.Fatal(err)
		}
		// The MQTT sessions' streams and consumers kept in memory with
		// one replica: the fleet's sessions are clean, and three replicas
		// of a thousand consumers are more than this machine's two cores
		// carry next to the fleet.
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
  max_memory_store: 256MB
  max_file_store: 1GB
}
cluster {
  name: fleet
  listen: 127.0.0.1:%d
  routes: [%s]
}
mqtt {
  listen: 127.0.0.1:%d
  stream_replicas: 1
  consumer_replicas: 1
  consumer_memory_storage: true
}
`, i+1, p[i].client, nd, p[i].cluster, strings.Join(routes, ", "), p[i].mqtt)
		cf := filepath.Join(nd, "nats.conf")
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		procs[i] = testpeer.Start(t, nd, bin, "-c", cf)
		c.MQTT = append(c.MQTT, fmt.Sprintf("tcp://127.0.0.1:%d", p[i].mqtt))
	}
	for i := range nodes {
		testpeer.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", p[i].mqtt), 20*time.Second, procs[i])
	}
	// JetStream elects its meta leader after the routes are up; MQTT
	// sessions work from then on. Wait until a client connects on each.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, u := range c.MQTT {
		for {
			dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
			cl, err := cloud.Dial(dctx, cloud.Options{Brokers: []string{u}, ClientID: fmt.Sprintf("probe-%d", i)})
			dcancel()
			if err == nil {
				cl.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("NATS node %d's MQTT listener %s never took a session: %v\n%s", i+1, u, err, procs[i].Output())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return c
}

// TestFleetShardsNATSCluster runs 2 shards × 250 bases against a 3-node
// NATS cluster's MQTT listeners and kamailio: the bases of both shards
// connect to node 1, each shard's cloud side to node 2 (shard 1) or
// node 3 (shard 2), so every push and every report crosses the cluster.
// Each shard's report must pass.
func TestFleetShardsNATSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet run")
	}
	n := fleetSize(t, 500)
	first := netip.MustParseAddr("127.2.0.1")
	nc := startNATSCluster(t)
	kam := kamailioFor(t, "nats-", first, n)
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	reps := make([]*report, 2)
	errs := make([]error, 2)
	for k := 1; k <= 2; k++ {
		o := options{N: n, Shard: shard{k, 2}, Prefix: "nats-", Broker: nc.MQTT[0], CloudBroker: nc.MQTT[k],
			Registrar: kam.URI(), FirstIP: first, SIPPort: 25061, Boot: 10 * time.Second, BootGrace: 30 * time.Second,
			Steady: 15 * time.Second, Pushes: 10, PushRate: 5, PushShortfall: 0.1, Configs: true, CfgRate: 50, Fast: true, QuietRadio: true}
		wg.Go(func() { reps[k-1], errs[k-1] = run(ctx, o) })
	}
	wg.Wait()
	for k, rep := range reps {
		if errs[k] != nil {
			t.Errorf("shard %d/2: %v", k+1, errs[k])
			continue
		}
		var b bytesBuffer
		rep.table(&b)
		t.Logf("shard %d/2 report:\n%s", k+1, b.String())
		if !rep.Pass {
			t.Errorf("shard %d/2 failed: %v", k+1, rep.Failures)
		}
		if rep.Bases != n/2 || rep.Registered != n/2 || rep.Latency["push→window"].N < 9 {
			t.Errorf("shard %d/2: %d bases, %d registered, %d windows measured", k+1, rep.Bases, rep.Registered, rep.Latency["push→window"].N)
		}
	}
}
