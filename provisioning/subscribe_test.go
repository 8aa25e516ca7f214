package provisioning_test

import (
	"sync/atomic"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim/broker"
)

// A base whose subscription the broker refuses does not say it is online
// deaf to its commands: it drops the connection, connects again, and is
// online once it is subscribed, hearing its commands.
func TestRefusedSubscriptionIsNotOnline(t *testing.T) {
	cmds := provisioning.TopicsFor("bs-1").Commands
	var refusals atomic.Int32
	b, err := broker.Start(broker.Options{Logger: logger(t), ACL: func(c broker.ClientInfo, topic string, write bool) bool {
		if !write && topic == cmds && refusals.Load() < 3 {
			refusals.Add(1)
			return false
		}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &env{name: "acl", url: b.URL()}
	c := dialCloud(t, e)
	base := startBase(t, e, t.TempDir(), nil)
	// While refused the base's status never says online.
	for refusals.Load() < 3 {
		if st, err := c.Status(tctx(t, 5*time.Second), base.id); err == nil && st.Online {
			t.Fatalf("status online after %d refused subscriptions", refusals.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitStatus(t, c, base.id, true, base.agent.Session())
	r := command(t, c, base, "after-refusals", provisioning.CmdEventLog, nil)
	if r.Status != provisioning.StatusSucceeded {
		t.Fatalf("event-log after the refusals: %+v", r)
	}
}
