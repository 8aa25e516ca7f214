package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// A DECT device as an instrument: what it hears (frequency), its display
// with the caller, RSSI and battery, and audio played into its microphone
// reaching the far end; pairing shows as events.
func TestDeviceInstruments(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	linx, id := e.registerDevice("linx", "2468")
	if out, err := e.bsctl("assign", "--ext", "101", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("the Linx attached", 10*time.Second, func() bool { return e.device(linx).Attached })
	var dv deviceView
	e.mustOK("POST", "/v1/devices/"+linx+"/signal", `{"rssi":-80,"link_quality":70}`, &dv)
	e.mustOK("POST", "/v1/devices/"+linx+"/battery", `{"percent":40}`, &dv)
	e.eventually("signal and battery shown", 5*time.Second, func() bool {
		s := e.device(linx)
		return s.RSSI == -80 && s.LinkQuality == 70
	})
	if st := e.call("POST", "/v1/devices/"+linx+"/play", `{"digits":"1"}`, nil); st != 409 {
		t.Fatalf("play into a device with no call: %d, want 409", st)
	}
	e.mustOK("POST", "/v1/callers/102/call", `{"to":"101","name":"Bob Display"}`, nil)
	e.eventually("the Linx shows the caller", 10*time.Second, func() bool { return e.device(linx).Caller.Name == "Bob Display" })
	e.mustOK("POST", "/v1/devices/"+linx+"/answer", "", nil)
	e.eventually("Bob connected", 10*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.mustOK("POST", "/v1/callers/102/tone", `{"hz":1000}`, nil)
	e.eventually("the Linx hears Bob's 1 kHz", 10*time.Second, func() bool {
		e.mustOK("GET", "/v1/devices/"+linx, "", &dv)
		return dv.Heard.Hz > 950 && dv.Heard.Hz < 1050
	})
	dir := t.TempDir()
	tone := make([]int16, 8000*2)
	for i := range tone {
		tone[i] = int16(6000 * math.Sin(2*math.Pi*1700*float64(i)/8000))
	}
	path := filepath.Join(dir, "tone.wav")
	if err := testpeer.WriteWAV(path, tone, 8000); err != nil {
		t.Fatal(err)
	}
	var pv playView
	e.mustOK("POST", "/v1/devices/"+linx+"/play", `{"path":"`+path+`"}`, &pv)
	if pv.Rate != dv.State.AudioRate || pv.DurationMs != 2000 {
		t.Fatalf("device play: %+v", pv)
	}
	e.eventually("Bob hears the file played into the Linx (1.7 kHz)", 5*time.Second, func() bool {
		hz := e.softphone("102").HeardHz
		return hz > 1650 && hz < 1750
	})
	e.mustOK("POST", "/v1/callers/102/hangup", "", nil)
	var h eventsView
	e.mustOK("GET", "/v1/events?limit=5000", "", &h)
	kinds := map[string]bool{}
	for _, ev := range h.Events {
		if ev.Subject == linx {
			kinds[ev.Kind] = true
		}
	}
	for _, k := range []string{"device_added", "paired", "attached", "display", "call"} {
		if !kinds[k] {
			t.Errorf("no %s event for %s (have %v)", k, linx, kinds)
		}
	}
}

// Faults from the API: a PBX outage leaves calls unanswered until it ends;
// a broker outage takes the base's cloud link down until it ends.
func TestPBXAndBrokerOutage(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	var pv map[string]any
	e.mustOK("POST", "/v1/pbx/outage", `{"on":true}`, &pv)
	if pv["outage"] != true {
		t.Fatalf("outage answer: %v", pv)
	}
	e.mustOK("POST", "/v1/callers/102/call", `{"to":"101"}`, nil)
	time.Sleep(2 * time.Second)
	if st := e.port().Daemon.State; st == "ringing" {
		t.Fatal("a call went through a PBX in outage")
	}
	e.mustOK("POST", "/v1/callers/102/hangup", "", nil)
	e.mustOK("POST", "/v1/pbx/outage", `{"on":false}`, nil)
	e.eventually("Bob idle", 10*time.Second, func() bool { return e.softphone("102").State == "idle" })
	e.mustOK("POST", "/v1/callers/102/call", `{"to":"101"}`, nil)
	e.eventually("the phone rings after the outage", 10*time.Second, func() bool { return e.port().Daemon.State == "ringing" })
	e.mustOK("POST", "/v1/callers/102/hangup", "", nil)

	cloud := func() bool {
		var b struct {
			Status struct {
				CloudConnected bool `json:"cloud_connected"`
			} `json:"status"`
		}
		e.mustOK("GET", "/v1/base", "", &b)
		return b.Status.CloudConnected
	}
	e.eventually("cloud connected", 10*time.Second, cloud)
	e.mustOK("POST", "/v1/broker/outage", `{"on":true}`, &pv)
	if pv["outage"] != true {
		t.Fatalf("broker outage answer: %v", pv)
	}
	e.eventually("the base loses the cloud", 10*time.Second, func() bool { return !cloud() })
	time.Sleep(time.Second)
	if cloud() {
		t.Fatal("the base reconnected during the outage")
	}
	e.mustOK("POST", "/v1/broker/outage", `{"on":false}`, nil)
	e.eventually("the base is back on the cloud", 15*time.Second, cloud)
}

// quit stops everything; the state directory basesim made is removed, one
// given with -state-dir is kept; the console answers in short lines.
func TestQuitStopsEverythingAndCleansUp(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	kept := filepath.Join(t.TempDir(), "state")
	for _, extra := range [][]string{nil, {"-state-dir", kept}} {
		args := append([]string{"-mqtt", "127.0.0.1:0", "-pbx", "127.0.0.1:0", "-sip", "127.0.0.1:0", "-api", "127.0.0.1:0"}, extra...)
		inR, inW := io.Pipe()
		var out syncWriter
		done := make(chan error, 1)
		go func() { done <- run(context.Background(), args, inR, &out, io.Discard) }()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "control API:") {
			if time.Now().After(deadline) {
				t.Fatalf("no banner: %s", out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintln(inW, "port")
		fmt.Fprintln(inW, "quit")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("quit did not stop basesim within 30 s (with the API up)")
		}
		inW.Close()
		s := out.String()
		if !strings.Contains(s, "phone: ") || strings.Contains(s, `{"phone"`) {
			t.Errorf("console answer to port is not short lines:\n%s", s)
		}
		left, _ := filepath.Glob(filepath.Join(tmp, "basesim-*"))
		if len(left) != 0 {
			t.Errorf("state left behind: %v", left)
		}
		if extra != nil {
			if _, err := os.Stat(kept); err != nil {
				t.Errorf("-state-dir removed: %v", err)
			}
		}
	}
}

// basesim against an outside broker (mosquitto, with a user name and
// password) and an outside PBX (kamailio): the base applies the office's
// configuration through mosquitto and registers 101 at kamailio; the
// analog phone calls Bob's softphone through kamailio.
func TestOutsideBrokerAndPBX(t *testing.T) {
	paths := testpeer.Require(t, "mosquitto", "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command(paths[1], "-b", "-c", pw, "office", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	port := testpeer.FreePort(t, false)
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nuser root\nallow_anonymous false\npassword_file %s\npersistence false\n", port, pw)), 0o644); err != nil {
		t.Fatal(err)
	}
	mq := testpeer.Start(t, dir, paths[0], "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	testpeer.WaitListening(t, addr, 10*time.Second, mq)
	users := []user{{"101", "Alice Analog", "a-pw-1"}, {"102", "Bob Softphone", "b-pw-2"}, {"103", "Carol Cordless", "c-pw-3"}}
	kusers := map[string]string{}
	for _, u := range users {
		kusers[u.Number] = u.Password
	}
	k := testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: kusers})
	e := startSimWith(t, func(o *options) {
		o.Broker, o.BrokerUser, o.BrokerPassword = "tcp://"+addr, "office", "s3cret"
		o.OutsidePBX = k.Addr()
		o.Users = users
	})
	if e.w.broker != nil || e.w.pbx != nil {
		t.Fatal("stand-ins started with outside servers")
	}
	e.eventually("101 registered at kamailio", 15*time.Second, func() bool { return e.registered("101") })
	var b map[string]any
	e.mustOK("GET", "/v1/pbx", "", &b)
	if b["outside"] != true || b["addr"] != k.Addr() {
		t.Fatalf("pbx view: %v", b)
	}
	if st := e.call("POST", "/v1/callers", `{"number":"6135550100"}`, nil); st != 409 {
		t.Fatalf("new caller on an outside PBX: %d, want 409", st)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.expectBobRings("through kamailio")
}

// A wrong broker password is refused: basesim does not start.
func TestOutsideBrokerWrongPassword(t *testing.T) {
	paths := testpeer.Require(t, "mosquitto", "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command(paths[1], "-b", "-c", pw, "office", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	port := testpeer.FreePort(t, false)
	conf := filepath.Join(dir, "mosquitto.conf")
	_ = os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nuser root\nallow_anonymous false\npassword_file %s\n", port, pw)), 0o644)
	mq := testpeer.Start(t, dir, paths[0], "-c", conf)
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	testpeer.WaitListening(t, addr, 10*time.Second, mq)
	args := []string{"-broker", "tcp://" + addr, "-broker-user", "office", "-broker-password", "wrong", "-pbx", "127.0.0.1:0", "-sip", "127.0.0.1:0", "-api", "", "-state-dir", t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, args, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("run with a wrong broker password: %v (ctx %v)", err, ctx.Err())
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// A ring timeout outside 1 s..1 h is refused before anything starts.
func TestRingTimeoutFlagChecked(t *testing.T) {
	for _, v := range []string{"500ms", "2h", "0s"} {
		var out, errs strings.Builder
		err := run(context.Background(), []string{"-console=false", "-pbx-ring-timeout", v}, strings.NewReader(""), &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "-pbx-ring-timeout") {
			t.Errorf("-pbx-ring-timeout %s: %v, want an error naming the flag", v, err)
		}
	}
}
