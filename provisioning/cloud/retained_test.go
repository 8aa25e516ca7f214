package cloud

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

// slowRetainProxy sits between a client and the broker and holds the
// broker's stream for delay at every retained PUBLISH: the SUBACK reaches
// the client at once, the retained message (and everything after it, in
// order, as a broker sends it) only delay later. A loaded broker or a
// slow link looks like this to the client.
func slowRetainProxy(t *testing.T, brokerAddr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			bc, err := net.Dial("tcp", brokerAddr)
			if err != nil {
				cc.Close()
				return
			}
			mu.Lock()
			conns = append(conns, cc, bc)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(bc, cc) }()
			go func() { defer wg.Done(); copyHoldingRetained(cc, bc, delay) }()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// copyHoldingRetained copies MQTT packets from src to dst, sleeping delay
// before each retained PUBLISH.
func copyHoldingRetained(dst io.Writer, src io.Reader, delay time.Duration) {
	r := bufio.NewReader(src)
	for {
		first, err := r.ReadByte()
		if err != nil {
			return
		}
		pkt := []byte{first}
		n, mul := 0, 1
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			pkt = append(pkt, b)
			n += int(b&0x7f) * mul
			mul *= 128
			if b&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if first>>4 == 3 && first&1 == 1 { // PUBLISH, RETAIN
			time.Sleep(delay)
		}
		if _, err := dst.Write(append(pkt, body...)); err != nil {
			return
		}
	}
}

// TestRetainedReadWaitsForASlowBroker: a retained document that the
// broker sends well after the SUBACK is still read (the client waited
// 1 s and then concluded there was none: soak seed 1 step 8 and F6's
// "no desired configuration" under load), and a topic with nothing
// retained is still reported empty through the same slow path.
func TestRetainedReadWaitsForASlowBroker(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	cfg := provisioningtest.SampleConfig("bs-1", 7)
	b, _ := json.Marshal(cfg)
	br.Publish(provisioning.TopicsFor("bs-1").Desired, b, true, 1)
	st, _ := json.Marshal(provisioning.State{Schema: 1, Base: "bs-1", Config: provisioning.ConfigState{AppliedVersion: 7}})
	br.Publish(provisioning.TopicsFor("bs-1").State, st, true, 1)

	c := dial(t, slowRetainProxy(t, br.Addr(), 1500*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := c.Desired(ctx, "bs-1")
	if err != nil {
		t.Fatalf("desired behind a slow broker: %v", err)
	}
	if got.Version != 7 {
		t.Fatalf("desired version %d, want 7", got.Version)
	}
	if s, err := c.State(ctx, "bs-1"); err != nil || s.Config.AppliedVersion != 7 {
		t.Fatalf("state behind a slow broker: %+v %v", s, err)
	}
	bases, err := c.Bases(ctx)
	if err != nil || len(bases) != 1 || bases[0].ID != "bs-1" || bases[0].State == nil {
		t.Fatalf("bases behind a slow broker: %+v %v", bases, err)
	}
	if _, err := c.Desired(ctx, "bs-2"); !errors.Is(err, ErrNoDesired) {
		t.Fatalf("desired of a base with none: %v", err)
	}
	// Reads at once share the sync topic; each ends at its own marker.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := c.Desired(ctx, "bs-1"); err != nil || d.Version != 7 {
				errs <- errors.Join(err, errors.New("concurrent read wrong"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSubscribeRefusedIsAnError: a filter the broker refuses is an error
// naming it, not a topic that seems empty.
func TestSubscribeRefusedIsAnError(t *testing.T) {
	br, err := broker.Start(broker.Options{ACL: func(c broker.ClientInfo, topic string, write bool) bool {
		return topic != provisioning.TopicsFor("bs-2").Desired
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	c := dial(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Desired(ctx, "bs-2")
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("refused subscription: %v", err)
	}
	if _, err := c.Desired(ctx, "bs-3"); !errors.Is(err, ErrNoDesired) {
		t.Fatalf("allowed topic: %v", err)
	}
}

// versionBase plays a base that applies every desired version it receives
// and reports it, keeping an earlier rejection in its reports until a
// newer version is applied (as the agent does).
func versionBase(t *testing.T, url, base string, applied, rejected uint64) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("vbase-" + base))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tp := provisioning.TopicsFor(base)
	var mu sync.Mutex
	report := func() {
		mu.Lock()
		st := provisioning.State{Schema: 1, Base: base, Config: provisioning.ConfigState{AppliedVersion: applied},
			Devices: []provisioning.Device{{ID: provisioning.PortDeviceID, Type: provisioning.DevicePort}}}
		if rejected > applied {
			st.Config.Rejected = &provisioning.Rejected{Version: rejected, Errors: []provisioning.FieldError{{Path: "(document)", Message: `unknown field "surprise"`}}}
		}
		mu.Unlock()
		b, _ := json.Marshal(st)
		c.Publish(tp.State, 1, true, b).WaitTimeout(5 * time.Second)
	}
	report()
	c.Subscribe(tp.Desired, 1, func(_ mqtt.Client, m mqtt.Message) {
		cfg, err := provisioning.DecodeConfig(m.Payload())
		if err != nil {
			return
		}
		// Something else changes first (a registration): a live report
		// that still carries the old rejection.
		go func() {
			report()
			mu.Lock()
			if cfg.Version > applied {
				applied = cfg.Version
			}
			mu.Unlock()
			report()
		}()
	}).WaitTimeout(5 * time.Second)
}

// TestUpdateSkipsARejectedVersion (soak F6): after a broker restart the
// portal republished v43 while the base still reports v44 rejected;
// Update must publish v45, not a second v44 whose answer would be the old
// rejection.
func TestUpdateSkipsARejectedVersion(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	cfg := provisioningtest.SampleConfig("bs-1", 43)
	b, _ := json.Marshal(cfg)
	br.Publish(provisioning.TopicsFor("bs-1").Desired, b, true, 1)
	versionBase(t, br.URL(), "bs-1", 43, 44)
	c := dial(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next, st, err := c.Update(ctx, "bs-1", func(cfg *provisioning.Config) error {
		cfg.Extensions[0].DisplayName = "changed"
		return nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if next.Version != 45 || st.Config.AppliedVersion != 45 {
		t.Fatalf("update published v%d, base applied %d; want 45 (44 was rejected)", next.Version, st.Config.AppliedVersion)
	}
}

// TestPushSurvivesBrokerRestart: a Push waiting for the base's report
// when the broker restarts (its session is clean: the broker forgets the
// subscription) still sees the report after the client reconnects (soak
// seed 1 step 421, where a takeover of the client id had the same effect).
func TestPushSurvivesBrokerRestart(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := br.Addr()
	c := dial(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := provisioningtest.SampleConfig("bs-1", 5)
	done := make(chan error, 1)
	go func() {
		_, err := c.Push(ctx, cfg, nil)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // subscribed, published
	br.Close()
	br2, err := broker.Start(broker.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer br2.Close()
	// The client reconnects by itself (within its 5 s back-off); the base
	// reports afterwards.
	deadline := time.Now().Add(12 * time.Second)
	for !c.c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Retained, as the base publishes it: a subscription made again at
	// any time gets it.
	st, _ := json.Marshal(provisioning.State{Schema: 1, Base: "bs-1", Config: provisioning.ConfigState{AppliedVersion: 5}})
	if err := br2.Publish(provisioning.TopicsFor("bs-1").State, st, true, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("push across the restart: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the push did not see the report made after the broker restarted")
	}
}
