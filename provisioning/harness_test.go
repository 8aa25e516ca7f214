package provisioning_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/internal/testpeer"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

func logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(failLog(t), &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// testLogs holds each test's log lines (one buffer per test, shared by
// every logger made for it); they are printed only when the test fails,
// so a failure seen once in CI comes with the base's and broker's side.
var testLogs sync.Map // testing.TB → *lockedBuffer

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 4<<20 { // bounded: a runaway loop must not eat the memory
		b.buf.Write(p)
	}
	return len(p), nil
}

func failLog(t testing.TB) io.Writer {
	if w, ok := testLogs.Load(t); ok {
		return w.(*lockedBuffer)
	}
	b := &lockedBuffer{}
	testLogs.Store(t, b)
	// Registered first, so it runs after the cleanups that stop the
	// bases and brokers: their last lines are in.
	t.Cleanup(func() {
		testLogs.Delete(t)
		if t.Failed() {
			b.mu.Lock()
			fmt.Fprintf(os.Stderr, "--- log of %s:\n%s", t.Name(), b.buf.String())
			b.mu.Unlock()
		}
	})
	return b
}

// env is a broker the tests run against, which they can stop and start
// again on the same address.
type env struct {
	name     string
	url      string
	baseTLS  *tls.Config // the device's client certificate
	cloudTLS *tls.Config // the administrator's client certificate
	stop     func()
	start    func()
}

func mochiEnv(t testing.TB, withTLS bool) *env {
	t.Helper()
	e := &env{name: "mochi"}
	var srvTLS *tls.Config
	if withTLS {
		e.name = "mochi-mtls"
		pki, err := broker.NewPKI("test CA")
		if err != nil {
			t.Fatal(err)
		}
		srv, _ := pki.Issue("localhost", true)
		dev, _ := pki.Issue("bs-1", false)
		adm, _ := pki.Issue("admin", false)
		srvTLS = pki.ServerTLS(srv)
		e.baseTLS, e.cloudTLS = pki.ClientTLS(dev), pki.ClientTLS(adm)
	}
	var mu sync.Mutex
	var b *broker.Broker
	addr := "127.0.0.1:0"
	e.start = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		var err error
		for i := 0; i < 50; i++ { // the old listener's port may take a moment to free
			b, err = broker.Start(broker.Options{Addr: addr, TLS: srvTLS, Logger: logger(t)})
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		addr = b.Addr()
		e.url = b.URL()
	}
	e.stop = func() {
		mu.Lock()
		defer mu.Unlock()
		b.Close()
	}
	e.start()
	t.Cleanup(func() { b.Close() })
	return e
}

// mosquittoEnv runs Debian's mosquitto (peers.md §1): plain and anonymous,
// or mutual TLS with the client certificate's CN as user name.
func mosquittoEnv(t testing.TB, withTLS bool) *env {
	t.Helper()
	bin := testpeer.Require(t, "mosquitto")[0]
	dir := t.TempDir()
	port := testpeer.FreePort(t, false)
	e := &env{name: "mosquitto"}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nprotocol mqtt\nset_tcp_nodelay true\npersistence false\nper_listener_settings false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nconnection_messages true\nuser root\n", port)
	scheme := "tcp"
	if withTLS {
		e.name = "mosquitto-mtls"
		scheme = "ssl"
		pki, err := broker.NewPKI("test CA")
		if err != nil {
			t.Fatal(err)
		}
		srv, _ := pki.Issue("localhost", true)
		dev, _ := pki.Issue("bs-1", false)
		adm, _ := pki.Issue("admin", false)
		ca, _ := pki.WriteCA(dir, "ca")
		crt, key, err := srv.WriteFiles(dir, "server")
		if err != nil {
			t.Fatal(err)
		}
		// The ACL recommended in docs/mqtt-api.md §2: a base reaches its
		// own subtree only; the portal's user everything under bs/v1.
		acl := filepath.Join(dir, "acl")
		if err := os.WriteFile(acl, []byte(mosquittoACL), 0o600); err != nil {
			t.Fatal(err)
		}
		conf += fmt.Sprintf("allow_anonymous false\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\ntls_version tlsv1.2\nacl_file %s\n", ca, crt, key, acl)
		e.baseTLS, e.cloudTLS = pki.ClientTLS(dev), pki.ClientTLS(adm)
	} else {
		conf += "allow_anonymous true\n"
	}
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	e.url = fmt.Sprintf("%s://%s", scheme, addr)
	var mu sync.Mutex
	var proc *testpeer.Proc
	e.start = func() {
		mu.Lock()
		defer mu.Unlock()
		proc = testpeer.Start(t, dir, bin, "-c", cf)
		testpeer.WaitListening(t, addr, 10*time.Second, proc)
	}
	e.stop = func() {
		mu.Lock()
		defer mu.Unlock()
		proc.Stop()
	}
	e.start()
	return e
}

// base is an agent with fake daemon parts.
type base struct {
	id      string
	dir     string
	applier *provisioningtest.Applier
	radio   *provisioningtest.Radio
	state   *provisioningtest.State
	agent   *provisioning.Agent
	cancel  context.CancelFunc
	done    chan error
	reboots chan struct{}
}

func startBase(t testing.TB, e *env, dir string, radio *provisioningtest.Radio) *base {
	t.Helper()
	return startBaseWith(t, e, dir, radio, nil)
}

// startBaseWith is startBase with the agent's options changed by opt.
func startBaseWith(t testing.TB, e *env, dir string, radio *provisioningtest.Radio, opt func(*provisioning.Options)) *base {
	t.Helper()
	if radio == nil {
		radio = provisioningtest.NewRadio()
	}
	b := &base{id: "bs-1", dir: dir, applier: provisioningtest.NewApplier(), radio: radio, state: &provisioningtest.State{}, reboots: make(chan struct{}, 4)}
	o := provisioning.Options{
		BaseID: b.id, Brokers: []string{e.url}, TLS: e.baseTLS, StateDir: dir,
		Applier: b.applier, Radio: b.radio, State: b.state, Firmware: "test-1.0",
		Reboot:               func(context.Context) error { b.reboots <- struct{}{}; return nil },
		Logger:               logger(t),
		MaxReconnectInterval: 500 * time.Millisecond, ConnectRetryInterval: 200 * time.Millisecond,
		ConnectTimeout: 2 * time.Second,
	}
	if opt != nil {
		opt(&o)
	}
	a, err := provisioning.NewAgent(o)
	if err != nil {
		t.Fatal(err)
	}
	b.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan error, 1)
	go func() { b.done <- a.Run(ctx) }()
	t.Cleanup(b.stop)
	return b
}

func (b *base) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		panic("agent did not stop within 10 s")
	}
}

func dialCloud(t testing.TB, e *env) *cloud.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cloud.Dial(ctx, cloud.Options{Brokers: []string{e.url}, TLS: e.cloudTLS, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// tctx bounds a test step. In CI, where every package's tests run at once
// on 2 cores, the bound is tripled: it only limits how long a failure
// takes to show, never what passes.
func tctx(t testing.TB, d time.Duration) context.Context {
	if testpeer.InCI() {
		d *= 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitState polls the retained state until ok accepts it.
func waitState(t testing.TB, c *cloud.Client, base string, what string, ok func(*provisioning.State) bool) *provisioning.State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last *provisioning.State
	for time.Now().Before(deadline) {
		st, err := c.State(tctx(t, 5*time.Second), base)
		if err == nil {
			last = st
			if ok(st) {
				return st
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("state never showed %s; last: %+v", what, last)
	return nil
}

// eventLog collects a base's events.
type eventLog struct {
	mu  sync.Mutex
	evs []provisioning.Event
}

func watchEvents(t testing.TB, c *cloud.Client, base string) *eventLog {
	l := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		close(ready)
		c.Events(ctx, base, func(ev provisioning.Event) {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		})
	}()
	<-ready
	time.Sleep(100 * time.Millisecond) // let the subscription settle
	t.Cleanup(func() { cancel(); <-done })
	return l
}

func (l *eventLog) wait(t testing.TB, what string, ok func(provisioning.Event) bool) provisioning.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, ev := range l.evs {
			if ok(ev) {
				l.mu.Unlock()
				return ev
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no event %s; got %+v", what, l.evs)
	return provisioning.Event{}
}

func paths(errs []provisioning.FieldError) string {
	var p []string
	for _, e := range errs {
		p = append(p, e.Path)
	}
	return strings.Join(p, ",")
}

// mqttObserver delivers the decoded status messages published on topic
// after it subscribed (the retained one first).
func mqttObserver(t testing.TB, url, topic string, out chan<- provisioning.Status) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("observer").SetOrderMatters(true))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if s, err := provisioning.DecodeStatus(m.Payload()); err == nil {
			select {
			case out <- *s:
			default:
			}
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return c
}

const mosquittoACL = `user admin
topic readwrite bs/v1/#

pattern read  bs/v1/%u/config/desired
pattern read  bs/v1/%u/commands
pattern write bs/v1/%u/state
pattern write bs/v1/%u/status
pattern write bs/v1/%u/results
pattern write bs/v1/%u/events
`
