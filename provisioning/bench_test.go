package provisioning_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
)

// benchClient is a bare paho client for the cloud side of the benchmarks:
// one subscription, no per-iteration setup.
func benchClient(b *testing.B, e *env, filter string) (mqtt.Client, <-chan mqtt.Message) {
	ch := make(chan mqtt.Message, 256)
	o := mqtt.NewClientOptions().AddBroker(e.url).SetClientID("bench-cloud-" + filter).SetOrderMatters(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	b.Cleanup(func() { c.Disconnect(100) })
	if tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	return c, ch
}

// waitOnline waits for the base's birth: commands are not queued for a
// base that is not connected yet, and the first measurement must not
// include the connection.
func waitOnline(b *testing.B, e *env, base *base) {
	_, status := benchClient(b, e, provisioning.TopicsFor(base.id).Status)
	for {
		select {
		case m := <-status:
			s, err := provisioning.DecodeStatus(m.Payload())
			if err == nil && s.Online && s.Session == base.agent.Session() {
				return
			}
		case <-time.After(10 * time.Second):
			b.Fatal("base not online")
		}
	}
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkConfigApplied measures a full configuration (8 extensions with
// devices) from the cloud's publish to the base's reported state showing
// it applied, through the in-process broker on loopback: decode, validate,
// Apply, atomic save with fsync, state publish.
//
// Sub-benchmarks: "disk" keeps the state directory in the test's temp
// directory (fsync reaches the disk); "tmpfs" in /dev/shm, which isolates
// the agent and broker from the disk's fsync latency.
//
// Brokers: "mochi" is sim/broker in this process, "mosquitto" is Debian's
// mosquitto as a separate process; both over TCP on 127.0.0.1.
func BenchmarkConfigApplied(b *testing.B) {
	for _, br := range []struct {
		name string
		env  func(testing.TB, bool) *env
	}{{"mochi", mochiEnv}, {"mosquitto", mosquittoEnv}} {
		b.Run(br.name+"/disk", func(b *testing.B) { benchConfigApplied(b, br.env(b, false), b.TempDir()) })
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			b.Run(br.name+"/tmpfs", func(b *testing.B) {
				dir, err := os.MkdirTemp("/dev/shm", "provbench-")
				if err != nil {
					b.Skip(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
				benchConfigApplied(b, br.env(b, false), dir)
			})
		}
	}
}

func benchConfigApplied(b *testing.B, e *env, dir string) {
	radio := provisioningtest.NewRadio(provisioningtest.Linx(), provisioningtest.Headset())
	base := startBase(b, e, dir, radio)
	waitOnline(b, e, base)
	c, states := benchClient(b, e, provisioning.TopicsFor(base.id).State)
	cfg := provisioningtest.SampleConfig(base.id, 1)
	for i := 3; i <= 8; i++ {
		ext := cfg.Extensions[0]
		ext.Number = fmt.Sprintf("1%02d", i)
		ext.Devices = provisioning.Devices{}
		cfg.Extensions = append(cfg.Extensions, ext)
	}
	cfg.Extensions[1].Devices = provisioning.Devices{Linx: provisioningtest.Linx().ID, Headset: provisioningtest.Headset().ID}
	topic := provisioning.TopicsFor(base.id).Desired
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg.Version = uint64(i + 1)
		payload, _ := json.Marshal(cfg)
		t0 := time.Now()
		c.Publish(topic, 1, true, payload)
	wait:
		for {
			select {
			case m := <-states:
				st, err := provisioning.DecodeState(m.Payload())
				if err == nil && st.Config.AppliedVersion == cfg.Version {
					break wait
				}
				if err == nil && st.Config.Rejected != nil && st.Config.Rejected.Version == cfg.Version {
					b.Fatalf("rejected: %+v", st.Config.Rejected.Errors)
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("version %d not reported applied", cfg.Version)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	report(b, lat)
}

// BenchmarkRegisterCommandToRadio measures a register-device command from
// the cloud's publish to the radio's OpenRegistration call, through the
// in-process broker on loopback.
func BenchmarkRegisterCommandToRadio(b *testing.B) {
	b.Run("mochi", func(b *testing.B) { benchRegister(b, mochiEnv(b, false)) })
	b.Run("mosquitto", func(b *testing.B) { benchRegister(b, mosquittoEnv(b, false)) })
}

func benchRegister(b *testing.B, e *env) {
	base := startBase(b, e, b.TempDir(), nil)
	waitOnline(b, e, base)
	c, results := benchClient(b, e, provisioning.TopicsFor(base.id).Results)
	topic := provisioning.TopicsFor(base.id).Commands
	var lat []time.Duration
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		payload, _ := json.Marshal(provisioning.Command{Schema: 1, ID: id, Base: base.id, Name: provisioning.CmdRegisterDevice,
			Args: json.RawMessage(`{"window_s":60,"pin":"1234"}`)})
		t0 := time.Now()
		c.Publish(topic, 1, false, payload)
		select {
		case <-base.radio.Opened():
			lat = append(lat, time.Since(t0))
		case <-time.After(10 * time.Second):
			b.Fatal("radio not opened")
		}
		b.StopTimer()
		// End the window and wait for the final result before the next one.
		_ = base.radio.CloseRegistration(ctx)
		for done := false; !done; {
			select {
			case m := <-results:
				r, err := provisioning.DecodeResult(m.Payload())
				done = err == nil && r.ID == id && provisioning.IsFinal(r.Status)
			case <-time.After(10 * time.Second):
				b.Fatal("no final result")
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	report(b, lat)
}
