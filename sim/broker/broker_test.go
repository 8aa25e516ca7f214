package broker

import (
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func connect(t *testing.T, url, id string, tlsCfg *tls.Config, will bool) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetConnectTimeout(3 * time.Second).SetAutoReconnect(false)
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	if will {
		o.SetWill("t/"+id+"/status", "offline", 1, true)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errTimeout
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

type strErr string

func (e strErr) Error() string { return string(e) }

const errTimeout = strErr("timeout")

func TestPlainPublishSubscribeRetainedAndWill(t *testing.T) {
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || !strings.HasPrefix(b.URL(), "tcp://") {
		t.Fatalf("addr %s url %s", b.Addr(), b.URL())
	}
	dev, err := connect(t, b.URL(), "dev1", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if tok := dev.Publish("t/dev1/state", 1, true, "hello"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if p, ok := b.Retained("t/dev1/state"); !ok || string(p) != "hello" {
		t.Fatalf("retained %q %v", p, ok)
	}
	obs, err := connect(t, b.URL(), "obs", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]string{}
	obs.Subscribe("t/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got[m.Topic()] = string(m.Payload())
		mu.Unlock()
	}).WaitTimeout(3 * time.Second)
	if !b.Kick("dev1") {
		t.Fatal("dev1 not connected")
	}
	if b.Kick("nobody") {
		t.Fatal("kicked a client that does not exist")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		ok := got["t/dev1/state"] == "hello" && got["t/dev1/status"] == "offline"
		mu.Unlock()
		if ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["t/dev1/state"] != "hello" || got["t/dev1/status"] != "offline" {
		t.Fatalf("observer saw %v", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_ = b.Close() // a second Close is harmless
}

func TestRefusesNonLoopback(t *testing.T) {
	if _, err := Start(Options{Addr: "0.0.0.0:0"}); err == nil {
		t.Fatal("bound a wildcard address")
	}
}

func TestMutualTLS(t *testing.T) {
	pki, err := NewPKI("ca")
	if err != nil {
		t.Fatal(err)
	}
	rogue, _ := NewPKI("rogue")
	srv, _ := pki.Issue("localhost", true)
	good, _ := pki.Issue("bs-1", false)
	bad, _ := rogue.Issue("bs-1", false)
	var mu sync.Mutex
	var seen []ClientInfo
	b, err := Start(Options{TLS: pki.ServerTLS(srv), ACL: func(c ClientInfo, topic string, write bool) bool {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		return !write || strings.HasPrefix(topic, "bs/v1/"+c.CommonName+"/")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "ssl://") {
		t.Fatal(b.URL())
	}
	c, err := connect(t, b.URL(), "bs-1", pki.ClientTLS(good), false)
	if err != nil {
		t.Fatalf("good certificate refused: %v", err)
	}
	if tok := c.Publish("bs/v1/bs-1/state", 1, true, "x"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("allowed publish: %v", tok.Error())
	}
	if _, ok := b.Retained("bs/v1/bs-1/state"); !ok {
		t.Fatal("allowed publish not retained")
	}
	// QoS 0 to a denied topic is dropped silently.
	c.Publish("bs/v1/bs-2/state", 0, true, "x").WaitTimeout(time.Second)
	time.Sleep(50 * time.Millisecond)
	if _, ok := b.Retained("bs/v1/bs-2/state"); ok {
		t.Fatal("ACL did not stop a publish on another base's topic")
	}
	mu.Lock()
	if len(seen) == 0 || seen[0].CommonName != "bs-1" {
		t.Fatalf("ACL saw %+v", seen)
	}
	mu.Unlock()
	if _, err := connect(t, b.URL(), "rogue", pki.ClientTLS(bad), false); err == nil {
		t.Fatal("rogue certificate accepted")
	}
	if _, err := connect(t, b.URL(), "anon", pki.ClientTLS(nil), false); err == nil {
		t.Fatal("client without certificate accepted")
	}
	if _, err := connect(t, "tcp://"+b.Addr(), "plain", nil, false); err == nil {
		t.Fatal("plain TCP accepted on the TLS listener")
	}
}

// An outage drops every client (the will is sent) and refuses CONNECT;
// retained messages survive it.
func TestOutage(t *testing.T) {
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := connect(t, b.URL(), "dev1", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("t/keep", 1, true, "kept"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if n := b.Clients(); n != 1 {
		t.Fatalf("%d clients", n)
	}
	b.SetOutage(true)
	deadline := time.Now().Add(3 * time.Second)
	for c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.IsConnectionOpen() || !b.Outage() {
		t.Fatal("client still connected in an outage")
	}
	if p, ok := b.Retained("t/dev1/status"); !ok || string(p) != "offline" {
		t.Errorf("will not sent: %q %v", p, ok)
	}
	if _, err := connect(t, b.URL(), "dev2", nil, false); err == nil {
		t.Fatal("CONNECT accepted in an outage")
	}
	b.SetOutage(false)
	if _, err := connect(t, b.URL(), "dev3", nil, false); err != nil {
		t.Fatalf("CONNECT after the outage: %v", err)
	}
	if p, ok := b.Retained("t/keep"); !ok || string(p) != "kept" {
		t.Errorf("retained lost: %q %v", p, ok)
	}
}
