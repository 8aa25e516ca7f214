package broker

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// A base that restarts reconnects with the same client id at once, often
// while the broker is still taking its old connection down. mochi then
// removes the subscriptions (and the client-table entry) by client id in
// the old connection's goroutine, which can run after the new connection
// subscribed: the base said it was online and never heard a command (a CI
// failure, TestEventLogAcrossRestarts). The broker must finish the old
// connection before it admits the new one.
func TestSameIDReconnectKeepsItsSubscriptions(t *testing.T) {
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub, err := connect(t, b.URL(), "pub", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 60
	var prev mqtt.Client
	for i := range rounds {
		if prev != nil {
			prev.Disconnect(0)
		}
		o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("bs-1").SetCleanSession(true).
			SetConnectTimeout(3 * time.Second).SetAutoReconnect(false)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("round %d: connect: %v", i, tok.Error())
		}
		got := make(chan string, 4)
		if tok := c.Subscribe("cmd/bs-1", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("round %d: subscribe: %v", i, tok.Error())
		}
		// Give a late teardown of the old connection time to do its harm.
		time.Sleep(20 * time.Millisecond)
		want := fmt.Sprintf("cmd %d", i)
		if tok := pub.Publish("cmd/bs-1", 1, false, want); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("round %d: publish: %v", i, tok.Error())
		}
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("round %d: got %q, want %q", i, m, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d of %d: the reconnected client never got its message: its subscription was lost", i+1, rounds)
		}
		prev = c
	}
	prev.Disconnect(0)
}

// OnPublish is told of each accepted message, with its publisher.
func TestOnPublishReportsMessages(t *testing.T) {
	got := make(chan Message, 8)
	b, err := Start(Options{OnPublish: func(m Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := connect(t, b.URL(), "dev7", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Publish("bs/v1/dev7/state", 1, true, "hello"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		if m != (Message{Client: "dev7", Topic: "bs/v1/dev7/state", Bytes: 5, QoS: 1, Retain: true}) {
			t.Fatalf("reported %+v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the publish was not reported")
	}
}
