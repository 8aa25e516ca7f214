package daemon

import (
	"strings"
	"testing"

	"basestation/internal/settings"
	"basestation/provisioning"
	"basestation/sim"
)

// testConfig is the defaults with the two settings that have none.
func testConfig() settings.Config {
	c := settings.Defaults()
	c.Board, c.BaseID = "virtual:/run/basesim/board.sock", "base-1"
	return c
}

// One default dial plan: the cloud contract's (provisioning.DefaultDialPlan,
// documented in docs/mqtt-api.md §3.2) is the port's before any
// configuration arrives and after one without a dial_plan is applied. The
// port used to start with fxs's own plan (1xxx extensions) and switch to
// the contract's ([1-8]xx) with the first configuration.
func TestOneDefaultDialPlan(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, p := range provisioning.DefaultDialPlan() {
		if strings.HasSuffix(p, ".") {
			p += "T" // variable length: complete on the inter-digit timer
		}
		pats = append(pats, p)
	}
	want := strings.Join(pats, "|")
	if got := d.port.Config().DialPlan; got != want {
		t.Fatalf("the port starts with dial plan %q, want the contract's default %q", got, want)
	}
	c := &provisioning.Config{Schema: provisioning.SchemaVersion, Base: "base-1", Version: 1,
		System: provisioning.System{Registrars: []string{"sip:127.0.0.1:5999"}, ToneRegion: "US"}}
	tr, errs := d.applier.PlanFor(c)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if tr.Line.DialPlan != want {
		t.Fatalf("a configuration without dial_plan applies %q, want %q", tr.Line.DialPlan, want)
	}
	for _, n := range []string{"101", "6135550199", "16135550199", "*98"} {
		if !d.port.DialComplete(n) {
			t.Errorf("%s does not complete under the default plan", n)
		}
	}
}

// mqtt.topic_root reaches the agent: the base's topics are under it (it
// used to be validated and then ignored).
func TestTopicRootReachesTheAgent(t *testing.T) {
	for _, root := range []string{"", "acme/prod/bs"} {
		b, err := sim.NewBoard(sim.Config{Log: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cfg := testConfig()
		cfg.StateDir = t.TempDir()
		cfg.SIP.Listen = "127.0.0.1:0"
		want := provisioning.TopicsFor(cfg.BaseID).State
		if root != "" {
			cfg.MQTT.TopicRoot = root
			want = root + "/" + cfg.BaseID + "/state"
		}
		if err := cfg.Validate(nil); err != nil {
			t.Fatal(err)
		}
		d, err := New(cfg, Options{Board: b.HAL(), Log: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.agent.Topics().State; got != want {
			t.Errorf("topic_root %q: state on %q, want %q", root, got, want)
		}
	}
}
