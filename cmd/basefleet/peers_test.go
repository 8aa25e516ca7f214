package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// fleetSize is n, or BASEFLEET_N when set (a smaller fleet while
// developing on a shared machine); under -race at most 100.
func fleetSize(t *testing.T, n int) int {
	if raceEnabled {
		n = min(n, 100)
	}
	if s := os.Getenv("BASEFLEET_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2 {
			t.Fatalf("BASEFLEET_N=%q is not a number >= 2", s)
		}
		return v
	}
	return n
}

// mosquitto is Debian's mosquitto on 127.0.0.1 at a free port, stopped
// and started again by PID.
type mosquitto struct {
	t    testing.TB
	url  string
	addr string
	dir  string
	cf   string
	bin  string
	mu   sync.Mutex
	proc *testpeer.Proc
}

func startMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	bin := testpeer.Require(t, "mosquitto")[0]
	dir := t.TempDir()
	port := testpeer.FreePort(t, false)
	// max_queued_messages: a base's retained desired configuration and
	// its commands are few; the cloud's subscriptions see every base.
	conf := fmt.Sprintf("listener %d 127.0.0.1\nprotocol mqtt\nset_tcp_nodelay true\npersistence false\n"+
		"allow_anonymous true\nmax_connections -1\nlog_dest stderr\nlog_type error\nlog_type warning\nuser root\n", port)
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &mosquitto{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, cf: cf, bin: bin}
	m.url = "tcp://" + m.addr
	m.start()
	return m
}

func (m *mosquitto) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.proc = testpeer.Start(m.t, m.dir, m.bin, "-c", m.cf)
	testpeer.WaitListening(m.t, m.addr, 10*time.Second, m.proc)
}

func (m *mosquitto) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.proc.Stop()
}

// kamailioFor starts kamailio with the SIP users of bases [0, n).
func kamailioFor(t testing.TB, prefix string, first netip.Addr, n int) *testpeer.Kamailio {
	t.Helper()
	users := map[string]string{}
	for i := 0; i < n; i++ {
		s, err := makeSpec(prefix, first, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range s.Users {
			users[u.User] = u.Password
		}
	}
	// The users' table is kamailio's configuration: parsing it takes
	// per-process memory, holding it and the contacts shared memory.
	return testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: users, PkgMB: 8 + len(users)/100, ShmMB: 64 + len(users)/200})
}

// runFleet runs o and logs the table; it fails the test with the report's
// failures.
func runFleet(t *testing.T, ctx context.Context, o options) *report {
	t.Helper()
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytesBuffer
	rep.table(&b)
	t.Logf("shard %s report:\n%s", rep.Shard, b.String())
	return rep
}

type bytesBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *bytesBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
