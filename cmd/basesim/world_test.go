package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// simEnv is a whole simulated office for a test: the daemon on the
// simulated board, the in-process broker, the stand-in PBX, Bob's
// softphone, and the control API served over loopback HTTP.
type simEnv struct {
	t   *testing.T
	w   *world
	api *httptest.Server
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("BASESIM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startSim(t *testing.T) *simEnv {
	t.Helper()
	return startSimWith(t, nil)
}

// startSimWith is startSim with the options changed by tune first.
func startSimWith(t *testing.T, tune func(*options)) *simEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opt := defaultOptions()
	opt.MQTT, opt.PBX, opt.SIP, opt.API = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", ""
	opt.StateDir = t.TempDir()
	opt.Log = testLogger(t)
	opt.Fast = true
	if tune != nil {
		tune(&opt)
	}
	w, err := newWorld(ctx, opt)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
	defer scancel()
	if err := w.seedConfig(sctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &simEnv{t: t, w: w, api: httptest.NewServer(w.handler())}
	t.Cleanup(func() {
		e.api.Close()
		cancel()
		select {
		case <-w.baseDone: // the daemon and the firmware platform stopped
		case <-time.After(10 * time.Second):
			t.Error("the base's loop did not end within 10 s")
		}
		time.Sleep(300 * time.Millisecond)
	})
	return e
}

// call makes one control-API request and decodes the answer into out
// (when not nil); it returns the HTTP status.
func (e *simEnv) call(method, path, body string, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(out); err != nil {
			e.t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

func (e *simEnv) mustOK(method, path, body string, out any) {
	e.t.Helper()
	var raw json.RawMessage
	if st := e.call(method, path, body, &raw); st != http.StatusOK {
		e.t.Fatalf("%s %s %s: status %d: %s", method, path, body, st, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func (e *simEnv) eventually(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	if testpeer.InCI() {
		d *= 3 // every package's tests share 2 cores in CI; this only bounds a failure
	}
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *simEnv) port() portView {
	var v portView
	e.mustOK("GET", "/v1/ports/1", "", &v)
	return v
}

func (e *simEnv) softphone(ext string) callerView {
	var v callerView
	e.mustOK("GET", "/v1/softphones/"+ext, "", &v)
	return v
}

func (e *simEnv) registered(ext string) bool {
	for _, r := range e.w.daemon().Status().Registrations {
		if r.Extension == ext && r.State == "registered" {
			return true
		}
	}
	return false
}

// The analog phone calls Bob's softphone through the stand-in PBX, as
// docs/simulator.md tells a person to: lift, dial, Bob answers, audio both
// ways checked by frequency at each phone, hang up.
func TestAnalogPhoneCallsSoftphone(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("dial tone", 2*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.eventually("Bob's phone rings", 5*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	e.eventually("ringback", 3*time.Second, func() bool { return e.port().Phone.Hearing == "ringback" })
	sp := e.softphone("102")
	if !strings.Contains(sp.LastIdentity, "+16135550101") || sp.LastCallerID != "Alice Analog" {
		t.Errorf("Bob sees the call from %q (identity %q), want 101's outbound caller ID \"Alice Analog\" +16135550101", sp.LastCallerID, sp.LastIdentity)
	}
	e.mustOK("POST", "/v1/softphones/102/answer", "", nil)
	e.eventually("Bob hears the analog phone's speech", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	// The analog phone speaks a 700 Hz tone; Bob sends 1000 Hz.
	e.w.board.Phone.Speak(toneSamples(700, 3*time.Second))
	e.eventually("Bob hears 700 Hz", 5*time.Second, func() bool {
		hz := e.softphone("102").HeardHz
		return hz > 690 && hz < 710
	})
	e.eventually("the analog phone hears Bob's 1000 Hz", 5*time.Second, func() bool {
		f := dominantHz(e.w.board.Phone.EarAudio(), 4000)
		return f > 985 && f < 1015
	})
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually("Bob's call ends", 5*time.Second, func() bool { return e.softphone("102").State == "idle" })
}
