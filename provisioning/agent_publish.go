package provisioning

import (
	"context"
	"encoding/json"
	"time"
)

// The agent's publishing to the broker.

// publish sends a QoS 1 message without waiting. Retained messages (state,
// status) are republished on every connect, so when the connection is
// down they are skipped; events and results are queued (bounded) and sent
// on reconnect.
func (a *Agent) publish(topic string, payload []byte, retained bool) {
	if !a.client.IsConnectionOpen() {
		if retained {
			return
		}
		if len(a.offline) >= maxOffline {
			a.offline = a.offline[1:]
			a.dropped++
		}
		a.offline = append(a.offline, outMsg{topic, payload})
		return
	}
	tok := a.client.Publish(topic, 1, retained, payload)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := WaitToken(a.runCtx, tok); err != nil && a.runCtx.Err() == nil {
			a.log.Warn("provisioning: publish failed", "topic", topic, "err", err)
		}
	}()
}

// publishNow publishes and waits up to timeout for the acknowledgement.
func (a *Agent) publishNow(topic string, payload []byte, retained bool, timeout time.Duration) {
	tok := a.client.Publish(topic, 1, retained, payload)
	if err := WaitTokenFor(context.Background(), tok, timeout); err != nil {
		a.log.Warn("provisioning: publish failed", "topic", topic, "err", err)
	}
}

func (a *Agent) publishEvent(ev Event) {
	a.seq++
	ev.Schema, ev.Base, ev.Seq = SchemaVersion, a.o.BaseID, a.seq
	if ev.Time.IsZero() {
		ev.Time = a.o.Now().UTC()
	}
	a.evlog.add(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		a.log.Error("provisioning: unexpected: encode event", "err", err)
		return
	}
	a.publish(a.topics.Events, b, false)
}

func (a *Agent) publishResult(r Result) {
	r.Schema, r.Base = SchemaVersion, a.o.BaseID
	if r.Time.IsZero() {
		r.Time = a.o.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		a.log.Error("provisioning: unexpected: encode result", "err", err)
		return
	}
	a.publish(a.topics.Results, b, false)
}
