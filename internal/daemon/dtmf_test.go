package daemon

import (
	"context"
	"math"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim"
	"basestation/sim/pbx"
	"basestation/sim/softphone"
	"basestation/sipua"
)

// goertzel is the power of f in x (8 kHz), ≈ A²/2 for a sine of
// amplitude A.
func goertzel(x []int16, f float64) float64 {
	c := 2 * math.Cos(2*math.Pi*f/8000)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	n := float64(len(x))
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / (n * n)
}

// Issue 10: with RFC 4733 negotiated, a digit keyed on the analog phone
// during a call reaches the far end as a telephone-event and none of its
// tone reaches it in the audio. The far end is the simulator's softphone
// (its own RTP receiver and G.711 decoder on a real UDP socket) behind the
// simulator's PBX; the analog phone's keypad is sim/phone's. Each digit
// is keyed in silence, so any window of received audio with power at a
// DTMF frequency is the tone leaking.
func TestKeyedDigitGoesOutOfBandOnly(t *testing.T) {
	log := quiet()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	px, err := pbx.New(pbx.Config{Users: map[string]string{"101": "pw-101", "201": "pw-201"}, Auth: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	pxDone := make(chan struct{})
	go func() { defer close(pxDone); _ = px.Run(ctx) }()
	defer func() { cancel(); <-pxDone }()

	b, err := sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bDone := make(chan struct{})
	go func() { defer close(bDone); _ = b.Run(ctx) }()
	defer func() { cancel(); <-bDone }()

	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = "tcp://127.0.0.1:1" // no cloud; the configuration is applied directly
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: log, SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	dDone := make(chan error, 1)
	go func() { dDone <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-dDone; err != nil {
			t.Errorf("daemon Run: %v", err)
		}
	}()
	pc := &provisioning.Config{
		Schema:  provisioning.SchemaVersion,
		Base:    cfg.BaseID,
		Version: 1,
		System:  provisioning.System{Registrars: []string{"sip:" + px.Addr()}, ToneRegion: "US", TimeZone: "America/Toronto"},
		Extensions: []provisioning.Extension{{
			Number: "101", DisplayName: "Alice Analog",
			SIP:     provisioning.SIPAccount{User: "101", Password: "pw-101", Domain: "127.0.0.1"},
			Devices: provisioning.Devices{Port: provisioning.PortDeviceID},
		}},
	}
	if errs := d.applier.Check(pc); len(errs) > 0 {
		t.Fatalf("Check: %v", errs)
	}
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := d.applier.Apply(actx, pc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "101 registered", func() bool {
		for _, r := range d.Status().Registrations {
			if r.Extension == "101" && r.State == provisioning.RegRegistered {
				return true
			}
		}
		return false
	})

	far, err := softphone.New(softphone.Config{User: "201", Password: "pw-201", DisplayName: "Far End", Registrar: px.Addr()}, log)
	if err != nil {
		t.Fatal(err)
	}
	farDone := make(chan struct{})
	go func() { defer close(farDone); _ = far.Run(ctx) }()
	defer func() { cancel(); <-farDone }()
	if err := far.Register(actx); err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() { callErr <- far.Call(ctx, "101") }()
	ph := b.Phone
	waitFor(t, "the analog phone rings", func() bool { return ph.State().Ringing })
	ph.OffHook()
	waitFor(t, "the call connected", func() bool { return far.State() == softphone.Connected })
	time.Sleep(500 * time.Millisecond)
	if far.ReceivedPackets() == 0 {
		t.Fatal("the far end receives no RTP")
	}

	const digits = "5193*#0D"
	dtmfHz := []float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}
	thr := math.Pow(22756*math.Pow(10, -36.0/20), 2) / 2 // -36 dBm0
	for i := 0; i < len(digits); i++ {
		// Vary the onset against the port's frames and the detector's blocks.
		time.Sleep(time.Duration(13*i) * time.Millisecond)
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		err := ph.DialDTMF(dctx, digits[i:i+1]) // 80 ms on, 80 ms off
		dcancel()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond) // the end of the tone has travelled
		x := far.HeardSamples(700 * time.Millisecond)
		if len(x) < 5000 {
			t.Fatalf("the far end holds only %d samples", len(x))
		}
		leaks, first := 0, -1
		for w := 0; w+80 <= len(x); w += 40 {
			for _, f := range dtmfHz {
				if goertzel(x[w:w+80], f) > thr {
					leaks++
					if first < 0 {
						first = w
					}
					break
				}
			}
		}
		if leaks > 0 {
			t.Errorf("digit %c: %d windows of 10 ms (5 ms apart) of the far end's audio carry DTMF, from %v into the last 700 ms",
				digits[i], leaks, time.Duration(first)*time.Second/8000)
		}
		if got := far.Digits(); len(got) != i+1 || got[i] != digits[i] {
			t.Fatalf("RFC 4733 digits at the far end %q, want %q", got, digits[:i+1])
		}
	}
	ph.OnHook()
	select {
	case err := <-callErr:
		if err != nil {
			t.Fatalf("far end's call: %v", err)
		}
	case <-time.After(5 * time.Second):
	}
}
