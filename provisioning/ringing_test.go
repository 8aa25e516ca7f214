package provisioning_test

import (
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
)

// Taking a device away from a busy extension is applied at once when the
// device is only ringing (it stops, the others go on), and deferred when
// the device carries the call.
func TestDeviceChangeDefersOnlyForTheDeviceInTheCall(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	if _, err := push(t, c, provisioningtest.SampleConfig(b.id, 1)); err != nil {
		t.Fatal(err)
	}
	// 101 has the phone port; it is ringing.
	b.applier.SetBusy("101")
	b.state.Set(nil, []provisioning.Line{{Device: provisioning.PortDeviceID, Extension: "101", State: provisioning.LineRinging}})
	v2 := provisioningtest.SampleConfig(b.id, 1)
	v2.Version = 2
	v2.Extensions[0].Devices.Port = ""
	if _, err := push(t, c, v2); err != nil {
		t.Fatal(err)
	}
	if v := b.applier.Current().Version; v != 2 {
		t.Fatalf("unassigning a ringing device was not applied at once (applied %d)", v)
	}
	// Now the port is back and talking: taking it away waits.
	v3 := provisioningtest.SampleConfig(b.id, 1)
	v3.Version = 3
	if _, err := push(t, c, v3); err != nil {
		t.Fatal(err)
	}
	b.state.Set(nil, []provisioning.Line{{Device: provisioning.PortDeviceID, Extension: "101", State: provisioning.LineTalking}})
	v4 := provisioningtest.SampleConfig(b.id, 1)
	v4.Version = 4
	v4.Extensions[0].Devices.Port = ""
	done := make(chan error, 1)
	go func() {
		_, err := c.Push(tctx(t, 15*time.Second), v4, nil)
		done <- err
	}()
	waitState(t, c, b.id, "v4 pending", func(s *provisioning.State) bool { return s.Config.Pending != nil && s.Config.Pending.Version == 4 })
	if v := b.applier.Current().Version; v != 3 {
		t.Fatalf("applied %d while the port carries the call", v)
	}
	b.applier.SetBusy()
	b.state.Set(nil, nil)
	b.agent.StateChanged()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
