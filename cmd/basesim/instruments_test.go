package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/pbx"
	"basestation/sim/slic"
)

// callBob lifts the analog phone and checks Bob's phone (102) rings, then
// hangs both up.
func (e *simEnv) expectBobRings(what string) {
	e.t.Helper()
	e.eventually(what+": Bob's phone rings", 10*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually(what+": Bob idle again", 10*time.Second, func() bool { return e.softphone("102").State == "idle" })
}

// A caller added from the API calls the analog phone with a display name
// and a number of its choosing: the phone's display shows them; with
// privacy it shows "private"; a sip: identity gives the number too.
func TestCallerPresentationOnThePhoneDisplay(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	var c callerView
	e.mustOK("POST", "/v1/callers", `{"number":"6135550100","name":"Front Desk"}`, &c)
	if c.Number != "6135550100" || c.WhenCalled != "ring" || c.State != "idle" {
		t.Fatalf("new caller: %+v", c)
	}
	cases := []struct {
		body             string
		number, name     string
		private, cleared bool
	}{
		{`{"to":"101","name":"Dr Who"}`, "6135550100", "Dr Who", false, false},
		{`{"to":"101","name":"Acme Corp","number":"+16135550199"}`, "6135550199", "Acme Corp", false, false},
		{`{"to":"101","name":"Lab","identity":"sip:4165550111@pbx.example.com"}`, "4165550111", "Lab", false, false},
		{`{"to":"101","name":"Secret","privacy":true}`, "", "", true, false},
	}
	for i, tc := range cases {
		before := e.port().Phone.CallerID
		e.mustOK("POST", "/v1/callers/6135550100/call", tc.body, &c)
		if c.State == "idle" {
			t.Fatalf("call %d: the answer shows the caller idle (the state before the call): %+v", i, c)
		}
		e.eventually(fmt.Sprintf("call %d: caller ID on the display", i), 10*time.Second, func() bool {
			cid := e.port().Phone.CallerID
			return cid != nil && (before == nil || cid.Received.After(before.Received))
		})
		cid := e.port().Phone.CallerID
		if tc.private {
			if !cid.Private || cid.Number != "" {
				t.Errorf("call %d: display %+v, want private", i, cid)
			}
		} else if !strings.HasSuffix(cid.Number, tc.number) || cid.Name != tc.name {
			t.Errorf("call %d: display %q %q, want %q %q", i, cid.Number, cid.Name, tc.number, tc.name)
		}
		e.mustOK("POST", "/v1/callers/6135550100/hangup", "", &c)
		if c.State != "idle" {
			t.Errorf("call %d: after hangup the caller is %q", i, c.State)
		}
		e.eventually("the phone stops ringing", 8*time.Second, func() bool { return e.port().Daemon.State != "ringing" })
	}
	e.mustOK("DELETE", "/v1/callers/6135550100", "", nil)
	if st := e.call("GET", "/v1/callers/6135550100", "", nil); st != http.StatusNotFound {
		t.Errorf("removed caller answers %d", st)
	}
}

// A caller's behaviour when called: busy gives the analog phone a busy
// tone; answer connects.
func TestCallerBusyAndAnswerBehaviour(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/callers", `{"number":"6135550200","name":"Busy Bee","when_called":"busy"}`, nil)
	e.mustOK("POST", "/v1/callers", `{"number":"6135550300","name":"Eager","when_called":"answer","answer_after_ms":200}`, nil)
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"6135550200"}`, nil)
	e.eventually("busy tone", 15*time.Second, func() bool { return e.port().Phone.Hearing == "busy" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	time.Sleep(300 * time.Millisecond)
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"6135550300"}`, nil)
	e.eventually("the eager caller answers", 15*time.Second, func() bool { return e.softphone("6135550300").State == "connected" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// Rotary dialing at 8 and at 12 pulses per second, at 66/34 and 60/40,
// both collect the number. Under -race on a loaded machine a 12 pps
// number is missed now and then (1 in 6–9 seen; 1 in 36 measured with a
// second -race test running beside it): the simulated chip's 5 ms
// loop-closure debounce (a time.AfterFunc in sim/slic) ran ~50 ms late,
// the phone's next hook move cancelled it, and the chip reported 25
// loop changes for 27 hook-switch moves; the daemon got each change it
// was given within 11 ms. In virtual time the daemon collects 12 pps
// 60/40 (fxs TestPulseDialingSpeeds). So one more try is allowed and
// logged with the chip's counts; two misses fail.
func TestRotaryDialSpeeds(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	for _, body := range []string{
		`{"digits":"102","mode":"rotary","pps":8,"break_pct":66}`,
		`{"digits":"102","mode":"rotary","pps":12,"break_pct":60}`,
	} {
		for try := 1; ; try++ {
			start := time.Now()
			var v portView
			e.mustOK("POST", "/v1/ports/1/offhook", "", &v)
			if v.Phone.Hook != "off-hook" || v.Daemon == nil || v.Daemon.Hook != "off-hook" || !v.Line.OffHook {
				t.Fatalf("offhook answer does not show the state after it: %+v", v)
			}
			e.mustOK("POST", "/v1/ports/1/dial", body, nil)
			if e.within(10*time.Second, func() bool { return e.softphone("102").State == "incoming" }) {
				break
			}
			e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
			if try == 2 {
				t.Fatalf("%s: Bob's phone did not ring, twice (PBX calls: %+v)", body, e.w.pbx.Calls())
			}
			var moves, seen int
			for _, ev := range e.w.board.SLIC.TimelineSince(start) {
				switch ev.Kind {
				case slic.HookSwitch:
					moves++
				case slic.LoopDetect:
					seen++
				}
			}
			t.Logf("%s: not collected (try %d; the hook switch moved %d times, the chip's loop detect changed %d times); again", body, try, moves, seen)
		}
		e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
		e.eventually("Bob idle again", 10*time.Second, func() bool { return e.softphone("102").State == "idle" })
	}
}

// within polls cond until it holds (true) or d passes (false).
func (e *simEnv) within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// The keypad's tone length, level, twist and frequency offset: inside the
// detector's tolerances the number is collected, a keypad 6 % off is not.
func TestKeypadSettings(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	for _, body := range []string{
		`{"digits":"102","tone_ms":50,"gap_ms":50}`,
		`{"digits":"102","level_dbm0":-20,"twist_db":4,"freq_offset_pct":1}`,
	} {
		e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
		e.mustOK("POST", "/v1/ports/1/dial", body, nil)
		e.expectBobRings(body)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102","freq_offset_pct":6}`, nil)
	time.Sleep(3 * time.Second)
	if st := e.softphone("102").State; st != "idle" {
		t.Fatalf("digits 6 %% off their frequencies were taken: Bob is %s", st)
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// A hook flash of a given length: 500 ms is a flash (the call stays), 1.5 s
// is a hang-up.
func TestFlashLength(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.eventually("Bob's phone rings", 10*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	e.mustOK("POST", "/v1/callers/102/answer", "", nil)
	e.eventually("connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.mustOK("POST", "/v1/ports/1/flash", `{"ms":500}`, nil)
	time.Sleep(time.Second)
	if st := e.softphone("102").State; st != "connected" {
		t.Fatalf("a 500 ms flash ended the call: Bob is %s", st)
	}
	e.mustOK("POST", "/v1/ports/1/flash", `{"ms":1500}`, nil)
	e.eventually("a 1.5 s flash hangs up", 5*time.Second, func() bool { return e.softphone("102").State == "idle" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// sseEvents reads the event stream into a channel until the test ends.
func (e *simEnv) sseEvents(query string) <-chan event {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.api.URL+"/v1/events/stream"+query, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan event, 1000)
	done := make(chan struct{})
	e.t.Cleanup(func() { res.Body.Close(); <-done })
	go func() {
		defer close(done)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev event
				if json.Unmarshal([]byte(d), &ev) == nil {
					select {
					case ch <- ev:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// Ringing, the caller-ID burst, the tones heard, the LEDs and pairing come
// as timestamped events, on the SSE stream and in the bounded history.
func TestEventsStreamAndHistory(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	stream := e.sseEvents("")
	e.mustOK("POST", "/v1/callers/102/call", `{"to":"101","name":"Bob Events"}`, nil)
	e.eventually("caller ID shown", 10*time.Second, func() bool { return e.port().Phone.CallerID != nil })
	e.mustOK("POST", "/v1/callers/102/hangup", "", nil)
	e.mustOK("POST", "/v1/base/button", `{"held_ms":3500}`, nil)
	want := map[string]bool{"line/ring_on": false, "line/ring_off": false, "phone/caller_id": false, "base/led": false, "sip/call": false, "dect/registration_window": false, "mqtt/publish": false}
	var ringOn, cid time.Time
	deadline := time.After(15 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case ev := <-stream:
			k := ev.Source + "/" + ev.Kind
			if done, ok := want[k]; ok && !done {
				want[k] = true
				missing--
			}
			if k == "line/ring_on" && ringOn.IsZero() {
				ringOn = ev.Time
			}
			if k == "phone/caller_id" {
				cid = ev.Time
				if ev.Detail["name"] != "Bob Events" {
					t.Errorf("caller_id event: %v", ev.Detail)
				}
			}
		case <-deadline:
			t.Fatalf("events missing from the stream: %v", want)
		}
	}
	// The caller-ID burst comes between the first and the second ring.
	if d := cid.Sub(ringOn); d < 1500*time.Millisecond || d > 5*time.Second {
		t.Errorf("caller ID %v after the first ring, want between the rings", d)
	}
	var h eventsView
	e.mustOK("GET", "/v1/events?limit=5000", "", &h)
	if len(h.Events) < 6 || h.FirstSeq != 1 {
		t.Fatalf("history: %d events from %d", len(h.Events), h.FirstSeq)
	}
	for i := 1; i < len(h.Events); i++ {
		if h.Events[i].Seq != h.Events[i-1].Seq+1 {
			t.Fatalf("history not in sequence at %d", i)
		}
	}
	var more eventsView
	e.mustOK("GET", fmt.Sprintf("/v1/events?since=%d", h.NextSince), "", &more)
	for _, ev := range more.Events {
		if ev.Seq <= h.NextSince {
			t.Fatalf("since=%d returned %d", h.NextSince, ev.Seq)
		}
	}
	// A stream resumed with Last-Event-ID starts after it.
	req, _ := http.NewRequest("GET", e.api.URL+"/v1/events?limit=1", nil)
	req.Header.Set("Last-Event-ID", fmt.Sprint(h.NextSince))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var one eventsView
	_ = json.NewDecoder(res.Body).Decode(&one)
	res.Body.Close()
	if len(one.Events) == 1 && one.Events[0].Seq != h.NextSince+1 {
		t.Errorf("Last-Event-ID %d: first event %d", h.NextSince, one.Events[0].Seq)
	}
}

// The line as an instrument: feed, polarity, loop current, ring voltage,
// hook; and a line fault set from the API shows in it.
func TestLineInstrument(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	var l struct {
		Linefeed      string  `json:"linefeed"`
		Polarity      string  `json:"polarity"`
		LoopCurrentMA float64 `json:"loop_current_ma"`
		LoopVolts     float64 `json:"loop_volts"`
		RingVrms      float64 `json:"ring_vrms"`
		Ringing       bool    `json:"ringing"`
		OffHook       bool    `json:"off_hook"`
	}
	e.mustOK("GET", "/v1/ports/1/line", "", &l)
	if l.OffHook || l.LoopCurrentMA > 0.5 || l.Polarity != "forward" || l.LoopVolts < 20 {
		t.Fatalf("idle line: %+v", l)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("GET", "/v1/ports/1/line", "", &l)
	if !l.OffHook || l.LoopCurrentMA < 15 || l.LoopCurrentMA > 45 {
		t.Fatalf("off-hook line: %+v", l)
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	time.Sleep(500 * time.Millisecond)
	e.mustOK("POST", "/v1/callers/102/call", `{"to":"101"}`, nil)
	e.eventually("ring voltage on the line", 10*time.Second, func() bool {
		e.mustOK("GET", "/v1/ports/1/line", "", &l)
		return l.Ringing && l.Polarity == "ringing"
	})
	if l.RingVrms < 40 || l.RingVrms > 100 {
		t.Errorf("ring voltage %v Vrms", l.RingVrms)
	}
	e.mustOK("POST", "/v1/callers/102/hangup", "", nil)
	e.eventually("ringing stops", 8*time.Second, func() bool { return e.port().Daemon.State != "ringing" })
	var m struct {
		Conditions struct {
			TipRingOhms float64 `json:"tip_ring_ohms"`
		} `json:"conditions"`
		LoopCurrentMA float64 `json:"loop_current_ma"`
	}
	e.mustOK("POST", "/v1/ports/1/line", `{"tip_ring_ohms":20000}`, &m)
	if m.Conditions.TipRingOhms != 20000 || m.LoopCurrentMA < 1 {
		t.Fatalf("leakage of 20 kΩ tip-ring: %+v", m)
	}
	e.mustOK("POST", "/v1/ports/1/line", ``, &m)
	if m.Conditions.TipRingOhms != 0 {
		t.Fatalf("line not cleared: %+v", m)
	}
}

// sox writes a DTMF WAV: each digit 100 ms of its two tones, 100 ms of
// silence, at rate.
func soxDTMF(t *testing.T, dir, digits string, rate int) string {
	t.Helper()
	sox := testpeer.Require(t, "sox")[0]
	freqs := map[rune][2]int{'1': {697, 1209}, '2': {697, 1336}, '0': {941, 1336}}
	var parts []string
	for i, d := range digits {
		f := freqs[d]
		p := filepath.Join(dir, fmt.Sprintf("d%d.wav", i))
		cmd := exec.Command(sox, "-n", "-r", fmt.Sprint(rate), "-b", "16", "-c", "1", p,
			"synth", "0.1", "sine", fmt.Sprint(f[0]), "sine", fmt.Sprint(f[1]), "channels", "1", "vol", "0.3", "pad", "0", "0.1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, out)
		}
		parts = append(parts, p)
	}
	out := filepath.Join(dir, fmt.Sprintf("dtmf-%d.wav", rate))
	if b, err := exec.Command(sox, append(parts, out)...).CombinedOutput(); err != nil {
		t.Fatalf("sox concat: %v\n%s", err, b)
	}
	return out
}

// A DTMF WAV made with sox, played into the mouthpiece, is detected by the
// daemon: at 8 kHz, at 16 kHz (resampled), and digits mixed into a file
// of other sound, uploaded in the request's body.
func TestPlayWAVIntoTheMouthpiece(t *testing.T) {
	dir := t.TempDir()
	wav8 := soxDTMF(t, dir, "102", 8000)
	wav16 := soxDTMF(t, dir, "102", 16000)
	hum := filepath.Join(dir, "hum.wav")
	sox := testpeer.Require(t, "sox")[0]
	if out, err := exec.Command(sox, "-n", "-r", "16000", "-b", "16", "-c", "1", hum, "synth", "1.5", "sine", "200", "vol", "0.05").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	if st := e.call("POST", "/v1/ports/1/play", `{"path":"`+wav8+`"}`, nil); st != http.StatusConflict {
		t.Fatalf("play on-hook: %d, want 409", st)
	}
	for _, body := range []string{`{"path":"` + wav8 + `","wait":true}`, `{"path":"` + wav16 + `","wait":true}`} {
		e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
		var v playView
		e.mustOK("POST", "/v1/ports/1/play", body, &v)
		if !v.Played || v.Rate != 8000 || v.DurationMs < 550 || v.DurationMs > 650 {
			t.Fatalf("play %s: %+v", body, v)
		}
		e.expectBobRings(body)
	}
	b, err := os.ReadFile(hum)
	if err != nil {
		t.Fatal(err)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	req, _ := http.NewRequest("POST", e.api.URL+"/v1/ports/1/play?digits=102&digits_at_ms=300&wait=true", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "audio/wav")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("uploaded play: %d", res.StatusCode)
	}
	e.expectBobRings("hum mixed with digits")
	// Too large an upload: 413, and the simulator goes on.
	req, _ = http.NewRequest("POST", e.api.URL+"/v1/ports/1/play", strings.NewReader(strings.Repeat("x", maxUpload+10)))
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d", res.StatusCode)
	}
	e.port()
}

// A caller whose behaviour is no_answer leaves the base's call ringing,
// unanswered, until the stand-in PBX's ring timeout (-pbx-ring-timeout,
// here 3 s) ends it with 480: judged from the PBX's call log and the
// caller's phone through the control API. A caller's own
// ring_timeout_ms (1.5 s) then ends the next call sooner.
func TestCallerNoAnswerUntilTheRingTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	e := startSimWith(t, func(o *options) { o.RingTimeout = timeout })
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	var pv struct {
		RingTimeoutMs int64          `json:"ring_timeout_ms"`
		Calls         []pbx.CallInfo `json:"calls"`
	}
	e.mustOK("GET", "/v1/pbx", "", &pv)
	if pv.RingTimeoutMs != timeout.Milliseconds() {
		t.Fatalf("GET /v1/pbx ring_timeout_ms = %d, want %d", pv.RingTimeoutMs, timeout.Milliseconds())
	}
	e.mustOK("POST", "/v1/callers", `{"number":"6135550400","name":"Nobody Home","when_called":"no_answer"}`, nil)
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"6135550400"}`, nil)
	call := func() (pbx.CallInfo, bool) {
		e.mustOK("GET", "/v1/pbx", "", &pv)
		for i := len(pv.Calls) - 1; i >= 0; i-- {
			if pv.Calls[i].Dialled == "6135550400" {
				return pv.Calls[i], true
			}
		}
		return pbx.CallInfo{}, false
	}
	e.eventually("the caller's phone rings", 15*time.Second, func() bool { return e.softphone("6135550400").State == "incoming" })
	c, ok := call()
	if !ok || c.State != "ringing" {
		t.Fatalf("PBX call log while the caller rings: %+v", pv.Calls)
	}
	// Until the timeout it stays unanswered.
	for time.Since(c.Start) < timeout-500*time.Millisecond {
		if s := e.softphone("6135550400").State; s != "incoming" {
			t.Fatalf("%v after the INVITE the caller is %q, want still ringing", time.Since(c.Start).Round(time.Millisecond), s)
		}
		if c, _ = call(); c.State != "ringing" {
			t.Fatalf("%v after the INVITE the PBX call is %+v, want ringing", time.Since(c.Start).Round(time.Millisecond), c)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.eventually("the PBX ends the call", timeout+5*time.Second, func() bool { c, _ = call(); return c.State == "ended" })
	if c.Status != 480 || !c.Answered.IsZero() || c.Callee != "" {
		t.Errorf("ended call: status %d answered %v callee %q, want 480, never answered", c.Status, c.Answered, c.Callee)
	}
	if d := c.Ended.Sub(c.Start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("the call rang %v, want the ring timeout %v", d, timeout)
	}
	e.eventually("the caller's phone stops ringing", 5*time.Second, func() bool { return e.softphone("6135550400").State == "idle" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)

	// The caller's own timeout, through its behaviour, beats the PBX's.
	if st := e.call("POST", "/v1/callers/6135550400/behaviour", `{"when_called":"no_answer","ring_timeout_ms":500}`, nil); st != http.StatusBadRequest {
		t.Errorf("ring_timeout_ms 500: %d, want 400", st)
	}
	var cv callerView
	e.mustOK("POST", "/v1/callers/6135550400/behaviour", `{"when_called":"no_answer","ring_timeout_ms":1500}`, &cv)
	if cv.RingTimeoutMs != 1500 {
		t.Fatalf("caller view after the behaviour: %+v", cv)
	}
	time.Sleep(300 * time.Millisecond)
	first := c.ID
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"6135550400"}`, nil)
	e.eventually("the second call ends", 20*time.Second, func() bool { c, _ = call(); return c.ID != first && c.State == "ended" })
	if d := c.Ended.Sub(c.Start); c.Status != 480 || d < 1500*time.Millisecond || d >= timeout {
		t.Errorf("with the caller's 1.5 s: status %d after %v, want 480 after 1.5 s", c.Status, d)
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}
