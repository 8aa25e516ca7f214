package provisioning

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// The broker connection: paho's options, one connection attempt, and what
// happens on every (re)connect (subscribe, then say online).

func (a *Agent) clientOptions(ctx context.Context) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions()
	for _, b := range a.o.Brokers {
		o.AddBroker(b)
	}
	o.SetClientID(a.o.ClientID)
	if a.o.Username != "" {
		o.SetUsername(a.o.Username)
		o.SetPassword(a.o.Password)
	}
	if a.o.TLS != nil {
		o.SetTLSConfig(a.o.TLS.Clone())
	}
	o.SetCleanSession(true)
	o.SetOrderMatters(false)
	o.SetAutoReconnect(false) // keepConnected reconnects
	o.SetConnectRetry(false)
	o.SetKeepAlive(a.o.KeepAlive)
	o.SetPingTimeout(10 * time.Second)
	o.SetConnectTimeout(a.o.ConnectTimeout)
	o.SetWriteTimeout(10 * time.Second)
	o.SetWill(a.topics.Status, string(a.statusPayload(false)), 1, true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { a.enqueue(ctx, m) })
	o.SetOnConnectHandler(func(c mqtt.Client) { a.onConnect(ctx, c) })
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		a.online.Store(false)
		a.notify()
		a.log.Warn("provisioning: connection to broker lost", "err", err)
		select {
		case a.lost <- err:
		default:
		}
	})
	// Say why a connection attempt failed at each broker (refused, TLS
	// handshake, bad certificate, not authorised).
	o.SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
		if n, ok := n.(mqtt.ConnectionNotificationBrokerFailed); ok {
			a.log.Warn("provisioning: connection to broker failed", "broker", n.Broker.Redacted(), "err", n.Reason)
		}
	})
	return o
}

// connectOnce makes one connection attempt (every broker in turn) and
// returns its outcome, or ctx's error when ctx ends first.
func (a *Agent) connectOnce(ctx context.Context) error {
	return WaitToken(ctx, a.client.Connect())
}

// enqueue hands a message to the loop; it runs in paho's per-message
// goroutine (OrderMatters=false), so blocking here is allowed and bounded
// by the broker's in-flight window.
func (a *Agent) enqueue(ctx context.Context, m mqtt.Message) {
	select {
	case a.inbox <- inMsg{topic: m.Topic(), payload: m.Payload()}:
	case <-ctx.Done():
	}
}

// onConnect runs in its own goroutine on every (re)connect: subscribe
// again (CleanSession) and let the loop republish birth and state.
func (a *Agent) onConnect(ctx context.Context, c mqtt.Client) {
	a.log.Info("provisioning: connected to broker")
	handler := func(_ mqtt.Client, m mqtt.Message) { a.enqueue(ctx, m) }
	// The SUBACK's codes count, not only the token: a refused subscription
	// would leave a base that says it is online deaf to its commands. A
	// broker (mochi) may refuse one as "packet identifier in use" (0x91)
	// while its own in-flight ids collide: that is retried.
	// A base that cannot subscribe does not say it is online: it drops
	// the connection and keepConnected makes a new one after its back-off.
	if err := a.subscribe(ctx, c, handler); err != nil {
		a.log.Error("provisioning: not subscribed; connecting again", "err", err)
		c.Disconnect(250)
		select {
		case a.lost <- err:
		default:
		}
		return
	}
	a.online.Store(true)
	a.notify()
	select {
	case a.connected <- struct{}{}:
	default:
	}
}

// subscribe subscribes to the base's desired-configuration and command
// topics and checks the broker's answer for each.
func (a *Agent) subscribe(ctx context.Context, c mqtt.Client, handler mqtt.MessageHandler) error {
	const idInUse = 0x91
	for try := 1; ; try++ {
		tok := c.SubscribeMultiple(map[string]byte{a.topics.Desired: 1, a.topics.Commands: 1}, handler)
		if err := WaitTokenFor(ctx, tok, 10*time.Second); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		retry := false
		for topic, code := range tok.(*mqtt.SubscribeToken).Result() {
			switch {
			case code < 0x80:
			case code == idInUse && try < 5:
				retry = true
			default:
				return fmt.Errorf("subscription to %s refused by the broker (code %#x)", topic, code)
			}
		}
		if !retry {
			return nil
		}
		a.log.Warn("provisioning: subscription refused (packet id in use); subscribing again", "try", try)
	}
}

// Connected reports whether the agent is connected to a broker (the base's
// cloud LED).
func (a *Agent) Connected() bool { return a.online.Load() }

func (a *Agent) onConnected() {
	a.publish(a.topics.Status, a.statusPayload(true), true)
	a.publishState()
	queued := a.offline
	a.offline = nil
	for _, m := range queued {
		a.publish(m.topic, m.payload, false)
	}
	if a.dropped > 0 {
		a.publishEvent(Event{Type: EvError, Reason: fmt.Sprintf("%d events and results were dropped while the broker was unreachable", a.dropped)})
		a.dropped = 0
	}
}
