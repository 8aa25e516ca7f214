package provisioning

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/sim/broker"
)

type nopApplier struct{ applied chan uint64 }

func (n nopApplier) Check(*Config) []FieldError { return nil }
func (n nopApplier) Apply(_ context.Context, c *Config) error {
	n.applied <- c.Version
	return nil
}
func (nopApplier) BusyExtensions() []string { return nil }

type nopRadio struct{}

func (nopRadio) OpenRegistration(context.Context, time.Duration, string) (<-chan Pairing, error) {
	return nil, ErrRegistrationBusy
}
func (nopRadio) CloseRegistration(context.Context) error    { return nil }
func (nopRadio) Devices() []Device                          { return nil }
func (nopRadio) RemoveDevice(context.Context, string) error { return ErrUnknownDevice }
func (nopRadio) Page(context.Context, time.Duration) error  { return nil }

// TestForeignTopicRefused feeds the agent messages on topics it never
// subscribed to, as a misconfigured broker or bridge could deliver them:
// each is refused with an error event naming the topic, and has no effect.
func TestForeignTopicRefused(t *testing.T) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	app := nopApplier{applied: make(chan uint64, 4)}
	a, err := NewAgent(Options{BaseID: "bs-1", Brokers: []string{br.URL()}, StateDir: t.TempDir(), Applier: app, Radio: nopRadio{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	evs := make(chan Event, 16)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(br.URL()).SetClientID("obs"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe(a.Topics().Events, 1, func(_ mqtt.Client, m mqtt.Message) {
		if ev, err := DecodeEvent(m.Payload()); err == nil {
			evs <- *ev
		}
	}).WaitTimeout(5 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, ok := br.Retained(a.Topics().Status); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not come online")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cfg := sample()
	cfg.Base = "bs-2"
	for i := range cfg.Extensions {
		cfg.Extensions[i].Devices = Devices{}
	}
	raw, _ := json.Marshal(cfg)
	for _, topic := range []string{"bs/v1/bs-2/config/desired", "bs/v1/bs-1/config/other", "elsewhere/bs-1/config/desired"} {
		a.inbox <- inMsg{topic: topic, payload: raw}
		select {
		case ev := <-evs:
			if ev.Type != EvError || ev.Topic != topic || !strings.Contains(ev.Reason, "refused") {
				t.Fatalf("%s: event %+v", topic, ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no error event", topic)
		}
	}
	select {
	case v := <-app.applied:
		t.Fatalf("foreign configuration applied (version %d)", v)
	default:
	}
	if a.AppliedVersion() != 0 {
		t.Fatal("applied version changed")
	}
}
