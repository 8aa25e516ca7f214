package main

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"basestation/provisioning"
	"basestation/sim/broker"
)

// A wait with no news prints a line every 5 s (the production interval,
// in virtual time) and stops when told.
func TestWaitingPrintsProgressEveryFiveSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuf
		a := newApp(&out, &out)
		a.g.timeout = 30 * time.Second
		stop := a.waiting(context.Background(), "base bs-1")
		time.Sleep(4 * time.Second)
		if out.String() != "" {
			t.Fatalf("progress before 5 s: %q", out.String())
		}
		time.Sleep(7 * time.Second)
		stop()
		stop() // twice is fine
		want := "bsctl: waiting for base bs-1 (5s, --timeout 30s)...\nbsctl: waiting for base bs-1 (10s, --timeout 30s)...\n"
		if out.String() != want {
			t.Fatalf("got %q, want %q", out.String(), want)
		}
		time.Sleep(time.Minute)
		if out.String() != want {
			t.Fatalf("printed after stop: %q", out.String())
		}
	})
}

// bsctlFast is bsctlRaw with progress lines every 300 ms.
func bsctlFast(t *testing.T, args ...string) (result, time.Duration) {
	t.Helper()
	var out, errOut syncBuf
	a := newApp(&out, &errOut)
	a.tick = 300 * time.Millisecond
	start := time.Now()
	code := a.run(context.Background(), args)
	return result{code, out.String(), errOut.String()}, time.Since(start)
}

// silentBroker accepts MQTT connections and never answers.
func silentBroker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "tcp://" + l.Addr().String()
}

// A broker that accepts the connection and never answers: progress lines,
// then exitConnect at --timeout.
func TestSilentBrokerShowsProgressAndHonoursTimeout(t *testing.T) {
	url := silentBroker(t)
	r, d := bsctlFast(t, "--broker", url, "--timeout", "2s", "bases")
	expect(t, r, exitConnect, "bsctl: waiting for the broker "+url+" (", "cannot reach the broker: "+url+" did not answer within 2s (--timeout)")
	if d < 2*time.Second || d > 8*time.Second {
		t.Fatalf("gave up after %v, want --timeout 2s", d)
	}
}

// Paho gives up on a silent broker after its own connect timeout (10 s,
// then 10 s more with MQTT 3.1); --timeout longer than that still counts.
func TestSilentBrokerLongTimeout(t *testing.T) {
	t.Parallel()
	url := silentBroker(t)
	r, d := bsctlFast(t, "--broker", url, "--timeout", "23s", "bases")
	expect(t, r, exitConnect, "did not answer within 23s (--timeout)", "(20s, --timeout 23s)...")
	if d < 23*time.Second || d > 30*time.Second {
		t.Fatalf("gave up after %v, want --timeout 23s", d)
	}
}

// A base the broker has a status for, that does not answer: progress
// lines, then exitTimeout at --timeout.
func TestSilentBaseShowsProgressAndHonoursTimeout(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	now := time.Now()
	b, _ := json.Marshal(provisioning.Status{Schema: provisioning.SchemaVersion, Base: "bs-2", Online: true, Session: "s1", Time: &now})
	br.Publish(provisioning.TopicsFor("bs-2").Status, b, true, 1)
	for _, args := range [][]string{{"reboot"}, {"register"}, {"set", "--ext", "101", "--name", "x"}} {
		r, d := bsctlFast(t, append([]string{"--broker", br.URL(), "--base", "bs-2", "--timeout", "2s"}, args...)...)
		what := args[0]
		if what == "set" {
			// No desired configuration to change: said at once.
			expect(t, r, exitFailed, "no desired configuration published")
			continue
		}
		expect(t, r, exitTimeout, "bsctl: waiting for base bs-2 (", "bsctl "+what+": base bs-2 did not answer within 2s (--timeout)")
		if d < 2*time.Second || d > 8*time.Second {
			t.Fatalf("%s gave up after %v, want --timeout 2s", what, d)
		}
	}
}

// An unknown base id is said at once, with the nearest known ids and a
// pointer to bsctl bases, instead of waiting for --timeout.
func TestUnknownBaseSuggestsBases(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	for _, args := range [][]string{{"state"}, {"reboot"}, {"register"}, {"assign", "--ext", "101", "--device", "x"}} {
		start := time.Now()
		r := fb.bsctl(t, append([]string{"--base", "bs-7"}, args...)...)
		expect(t, r, exitFailed, `base "bs-7" is not known to the broker`, "did you mean bs-1?", "bsctl bases lists the bases this broker knows")
		if d := time.Since(start); d > 6*time.Second {
			t.Fatalf("%s took %v", args[0], d)
		}
	}
	r := fb.bsctl(t, "--base", "warehouse-9", "state")
	expect(t, r, exitFailed, "is not known", "bsctl bases")
	if strings.Contains(r.errOut, "did you mean") {
		t.Fatalf("suggests a base far from warehouse-9: %s", r.errOut)
	}
	expect(t, fb.bsctl(t, "--base", "bs-7", "bases"), exitOK, "no base bs-7 on this broker")
}

// --topic-root reaches bases whose mqtt.topic_root is not the default;
// without it they are not found, and an invalid root is refused by name.
func TestTopicRootFlag(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, func(o *provisioning.Options) { o.TopicRoot = "acme/bs" })
	expect(t, fb.bsctl(t, "--topic-root", "acme/bs", "--base", "bs-1", "state"), exitOK, "bs-1")
	expect(t, fb.bsctl(t, "--base", "bs-1", "state"), exitFailed, `base "bs-1" is not known`)
	r := fb.bsctl(t, "--topic-root", "acme/#", "bases")
	if r.code == exitOK || !strings.Contains(r.errOut, "topic root") {
		t.Fatalf("invalid --topic-root: exit %d, stderr %q", r.code, r.errOut)
	}
}
