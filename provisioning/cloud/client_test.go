package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
	"basestation/sim/broker"
)

// scriptedBase answers every command with accepted, then (after delay)
// succeeded, straight from paho: no agent involved.
func scriptedBase(t *testing.T, url, base string, delay time.Duration) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("scripted-" + base))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tp := provisioning.TopicsFor(base)
	reply := func(id, status string) {
		b, _ := json.Marshal(provisioning.Result{Schema: 1, ID: id, Base: base, Status: status, Time: time.Now()})
		c.Publish(tp.Results, 1, false, b)
	}
	c.Subscribe(tp.Commands, 1, func(_ mqtt.Client, m mqtt.Message) {
		cmd, err := provisioning.DecodeCommand(m.Payload())
		if err != nil {
			return
		}
		reply(cmd.ID, provisioning.StatusAccepted)
		go func() {
			time.Sleep(delay)
			reply(cmd.ID, provisioning.StatusSucceeded)
		}()
	}).WaitTimeout(5 * time.Second)
}

func dial(t *testing.T, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, Options{Brokers: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestConcurrentCommandsShareTheResultsSubscription: several waiters on
// the same results topic each get their own results, in order, and one
// finishing does not unsubscribe the others.
func TestConcurrentCommandsShareTheResultsSubscription(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	scriptedBase(t, br.URL(), "bs-1", 300*time.Millisecond)
	c := dial(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seen []string
			id := fmt.Sprintf("cc-%d", i)
			r, err := c.CommandID(ctx, "bs-1", id, provisioning.CmdPage, nil, func(r provisioning.Result) {
				if r.ID != id {
					errs <- fmt.Errorf("%s saw result of %s", id, r.ID)
				}
				seen = append(seen, r.Status)
			})
			switch {
			case err != nil:
				errs <- err
			case r.Status != provisioning.StatusSucceeded || len(seen) != 2 || seen[0] != provisioning.StatusAccepted:
				errs <- fmt.Errorf("%s: %+v after %v", id, r, seen)
			}
		}()
		time.Sleep(50 * time.Millisecond) // staggered: earlier ones finish while later ones wait
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRetainedReads(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	c := dial(t, br.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Desired(ctx, "bs-9"); !errors.Is(err, ErrNoDesired) {
		t.Fatalf("desired: %v", err)
	}
	if _, err := c.State(ctx, "bs-9"); !errors.Is(err, ErrNoState) {
		t.Fatalf("state: %v", err)
	}
	// A base whose will says offline gets no command.
	off, _ := json.Marshal(provisioning.Status{Schema: 1, Base: "bs-9", Online: false, Session: "s1"})
	br.Publish(provisioning.TopicsFor("bs-9").Status, off, true, 1)
	if _, err := c.Command(ctx, "bs-9", provisioning.CmdPage, nil, nil); !errors.Is(err, ErrOffline) {
		t.Fatalf("command to offline base: %v", err)
	}
	st, _ := json.Marshal(provisioning.State{Schema: 1, Base: "bs-8", Config: provisioning.ConfigState{AppliedVersion: 4}})
	br.Publish(provisioning.TopicsFor("bs-8").State, st, true, 1)
	br.Publish("bs/v1/bs-7/state", []byte("not json"), true, 1)
	bases, err := c.Bases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bases) != 2 || bases[0].ID != "bs-8" || bases[0].State.Config.AppliedVersion != 4 || bases[1].ID != "bs-9" || bases[1].Status.Online {
		t.Fatalf("bases: %+v", bases)
	}
	// A desired document that does not decode is reported, not used.
	br.Publish(provisioning.TopicsFor("bs-8").Desired, []byte(`{"schema":1,"surprise":1}`), true, 1)
	if _, err := c.Desired(ctx, "bs-8"); err == nil {
		t.Fatal("undecodable desired document accepted")
	}
	// Update against a base that never answers: bounded by the context.
	good, _ := json.Marshal(provisioning.Config{Schema: 1, Base: "bs-8", Version: 4,
		System: provisioning.System{Registrars: []string{"sip:pbx.example.net"}, ToneRegion: "US", TimeZone: "UTC"}})
	br.Publish(provisioning.TopicsFor("bs-8").Desired, good, true, 1)
	short, cancel2 := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel2()
	_, _, err = c.Update(short, "bs-8", func(*provisioning.Config) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update: %v", err)
	}
	if d, _ := c.Desired(ctx, "bs-8"); d == nil || d.Version != 5 {
		t.Fatalf("published version %+v, want 5", d)
	}
}

// mqtt.topic_root is honoured: a base and the cloud on the root
// "acme/prod/bs" talk on that tree only (the configuration, its state, the
// birth message, commands and results), nothing appears under the default
// bs/v1, and a configuration published under bs/v1 does not reach the base.
func TestTopicRoot(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	const root = "acme/prod/bs"
	app := provisioningtest.NewApplier()
	a, err := provisioning.NewAgent(provisioning.Options{BaseID: "bs-1", TopicRoot: root, Brokers: []string{br.URL()}, StateDir: t.TempDir(),
		Applier: app, Radio: provisioningtest.NewRadio(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Topics().Desired; got != root+"/bs-1/config/desired" {
		t.Fatalf("desired topic %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The default root's portal publishes a configuration the base must
	// not see.
	other, _ := json.Marshal(provisioning.Config{Schema: 1, Base: "bs-1", Version: 9,
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1"}, ToneRegion: "US", TimeZone: "UTC"}})
	br.Publish(provisioning.TopicsFor("bs-1").Desired, other, true, 1)

	octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
	defer ocancel()
	c, err := Dial(octx, Options{Brokers: []string{br.URL()}, TopicRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := &provisioning.Config{Schema: 1, Base: "bs-1", Version: 3,
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1"}, ToneRegion: "US", TimeZone: "UTC"}}
	st, err := c.Push(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Config.AppliedVersion != 3 {
		t.Fatalf("applied %d, want 3", st.Config.AppliedVersion)
	}
	if r, err := c.Command(ctx, "bs-1", provisioning.CmdPage, nil, nil); err != nil || r.Status != provisioning.StatusSucceeded {
		t.Fatalf("page under %s: %+v %v", root, r, err)
	}
	if bases, err := c.Bases(ctx); err != nil || len(bases) != 1 {
		t.Fatalf("bases under %s: %+v %v", root, bases, err)
	}
	for _, topic := range []string{root + "/bs-1/state", root + "/bs-1/status"} {
		if _, ok := br.Retained(topic); !ok {
			t.Errorf("nothing retained on %s", topic)
		}
	}
	for _, topic := range []string{"bs/v1/bs-1/state", "bs/v1/bs-1/status"} {
		if _, ok := br.Retained(topic); ok {
			t.Errorf("the base published on the default tree: %s", topic)
		}
	}
	if app.Count() != 1 || a.AppliedVersion() != 3 {
		t.Fatalf("the base applied %d configurations, version %d: the default tree's reached it", app.Count(), a.AppliedVersion())
	}
	for _, bad := range []string{"a/+/b", "a/#", "/a", "a/", "a//b"} {
		if _, err := provisioning.NewAgent(provisioning.Options{BaseID: "bs-1", TopicRoot: bad, Brokers: []string{br.URL()}, StateDir: t.TempDir(),
			Applier: app, Radio: provisioningtest.NewRadio()}); err == nil || !strings.Contains(err.Error(), "topic root") {
			t.Errorf("topic root %q: %v", bad, err)
		}
	}
}
