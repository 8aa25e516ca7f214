package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Bob calls 101: the analog phone rings with North American cadence and
// shows Bob's caller ID (decoded by the simulated phone's own FSK
// receiver); answering connects audio both ways; Bob hangs up and the
// analog phone hears busy tone.
func TestIncomingCallRingsAnalogPhoneWithCallerID(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("caller ID on the display", 10*time.Second, func() bool {
		c := e.port().Phone.CallerID
		return c != nil && c.Name == "Bob Softphone"
	})
	c := e.port().Phone.CallerID
	if c.Number != "102" {
		t.Errorf("caller ID number %q, want 102", c.Number)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("Bob connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.w.board.Phone.Speak(toneSamples(500, 3*time.Second))
	e.eventually("Bob hears 500 Hz", 5*time.Second, func() bool {
		hz := e.softphone("102").HeardHz
		return hz > 490 && hz < 510
	})
	e.eventually("the analog phone hears 1000 Hz", 5*time.Second, func() bool {
		f := dominantHz(e.w.board.Phone.EarAudio(), 4000)
		return f > 985 && f < 1015
	})
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
	e.eventually("busy tone after the far end hangs up", 5*time.Second, func() bool { return e.port().Phone.Hearing == "busy" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// Message waiting set at the PBX lights the analog phone's lamp (decoded
// VMWI FSK) and gives stutter dial tone; cleared, both go back.
func TestVoicemailLampAndStutterDialTone(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.eventually("101 subscribed to message summary", 10*time.Second, func() bool {
		for _, s := range e.w.pbx.Subscriptions() {
			if strings.Contains(s.Ext, "101") {
				return true
			}
		}
		return false
	})
	e.mustOK("POST", "/v1/pbx/voicemail", `{"extension":"101","new":2,"old":1}`, nil)
	e.eventually("the lamp lights", 10*time.Second, func() bool { return e.port().Phone.MessageWaiting })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("stutter dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "stutter-dial" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	time.Sleep(500 * time.Millisecond)
	e.mustOK("POST", "/v1/pbx/voicemail", `{"extension":"101","new":0,"old":3}`, nil)
	e.eventually("the lamp goes out", 10*time.Second, func() bool { return !e.port().Phone.MessageWaiting })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("plain dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// The control API answers bad requests with 4xx and a message, and the
// simulator keeps running.
func TestControlAPIRefusesBadRequests(t *testing.T) {
	e := startSim(t)
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1/ports/2", "", http.StatusNotFound, "no port \"2\""},
		{"POST", "/v1/ports/1/jump", "", http.StatusNotFound, "no port action \"jump\""},
		{"POST", "/v1/ports/1/dial", `{"digits":"12x"}`, http.StatusBadRequest, "digits"},
		{"POST", "/v1/ports/1/dial", `{"digits":"12","mode":"morse"}`, http.StatusBadRequest, "mode"},
		{"POST", "/v1/ports/1/dial", `{"digits":`, http.StatusBadRequest, "body"},
		{"POST", "/v1/ports/1/dial", `{"digit":"1"}`, http.StatusBadRequest, "unknown field \"digit\""},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","digits":"911"}`, http.StatusBadRequest, "duplicate key \"digits\""},
		{"POST", "/v1/ports/1/dial", `{"digits":"1"} {}`, http.StatusBadRequest, "body"},
		{"POST", "/v1/ports/1/flash", `{"ms":99999}`, http.StatusBadRequest, "ms"},
		{"POST", "/v1/ports/1/speak", `{"hz":20}`, http.StatusBadRequest, "hz"},
		{"POST", "/v1/ports/1/speak", `{"hz":700,"ms":5}`, http.StatusBadRequest, "ms"},
		{"GET", "/v1/devices/linx9", "", http.StatusNotFound, "linx9"},
		{"POST", "/v1/devices", `{"kind":"fax"}`, http.StatusBadRequest, "fax"},
		{"POST", "/v1/devices/headset7/pair", `{"pin":"1"}`, http.StatusNotFound, "headset7"},
		{"POST", "/v1/softphones/109/call", `{"to":"101"}`, http.StatusNotFound, "109"},
		{"POST", "/v1/softphones/102/tone", `{"hz":-5}`, http.StatusBadRequest, "hz"},
		{"POST", "/v1/pbx/voicemail", `{"extension":"999","new":1}`, http.StatusNotFound, "999"},
		{"POST", "/v1/base/button", `{"held_ms":-1}`, http.StatusBadRequest, "held_ms"},
		{"DELETE", "/v1/base", "", http.StatusMethodNotAllowed, "not allowed"},
		{"GET", "/v1/nothing", "", http.StatusNotFound, "no such endpoint"},
		// The instruments' endpoints.
		{"POST", "/v1/ports/1/dial", `{"digits":"1","tone_ms":1}`, http.StatusBadRequest, "tone length"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","level_dbm0":-90}`, http.StatusBadRequest, "level"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","twist_db":40}`, http.StatusBadRequest, "twist_db"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","freq_offset_pct":30}`, http.StatusBadRequest, "offset"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","mode":"rotary","pps":50}`, http.StatusBadRequest, "pps"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","mode":"rotary","break_pct":5}`, http.StatusBadRequest, "break"},
		{"POST", "/v1/ports/1/dial", `{"digits":"1","mode":"rotary","interdigit_ms":-5}`, http.StatusBadRequest, "inter-digit"},
		{"POST", "/v1/ports/1/dial", `{"digits":"` + strings.Repeat("1", 70000) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
		{"GET", "/v1/ports/1/dial", "", http.StatusMethodNotAllowed, "allowed: [POST]"},
		{"POST", "/v1/ports/1/line", `{"tip_ground_ohms":-3}`, http.StatusBadRequest, "leakage"},
		{"POST", "/v1/ports/1/line", `{"volts":3}`, http.StatusBadRequest, "unknown field"},
		{"DELETE", "/v1/ports/1/line", "", http.StatusMethodNotAllowed, "allowed"},
		{"POST", "/v1/ports/1/play", `{}`, http.StatusBadRequest, "path: missing"},
		{"POST", "/v1/ports/1/play", `{"path":"/nonexistent.wav"}`, http.StatusBadRequest, "no such file"},
		{"POST", "/v1/ports/1/play?rate=8000", `{"digits":"1"}`, http.StatusBadRequest, "query"},
		{"POST", "/v1/ports/1/play", `{"digits":"1","gain_db":99}`, http.StatusBadRequest, "gain_db"},
		{"POST", "/v1/devices/linx9/play", `{"digits":"1"}`, http.StatusNotFound, "linx9"},
		{"POST", "/v1/callers", `{"number":"a b"}`, http.StatusBadRequest, "number"},
		{"POST", "/v1/callers", `{"number":"555","when_called":"maybe"}`, http.StatusBadRequest, "when_called"},
		{"POST", "/v1/callers", `{"number":"555","name":"x\"y"}`, http.StatusBadRequest, "name"},
		{"POST", "/v1/callers", `{"number":"102"}`, http.StatusConflict, "exists"},
		{"DELETE", "/v1/callers/102", "", http.StatusConflict, "office user"},
		{"DELETE", "/v1/callers/777", "", http.StatusNotFound, "777"},
		{"POST", "/v1/callers/102/call", `{"to":"101","identity":"mailto:x"}`, http.StatusBadRequest, "identity"},
		{"POST", "/v1/callers/102/call", `{"to":"101","number":"12 3"}`, http.StatusBadRequest, "number"},
		{"POST", "/v1/callers/102/call", `{}`, http.StatusBadRequest, "to: missing"},
		{"POST", "/v1/callers/102/behaviour", `{"when_called":"busy","answer_after_ms":-1}`, http.StatusBadRequest, "answer_after_ms"},
		{"POST", "/v1/callers/102/fly", "", http.StatusNotFound, "no caller action"},
		{"GET", "/v1/events?since=x", "", http.StatusBadRequest, "since"},
		{"GET", "/v1/events?limit=0", "", http.StatusBadRequest, "limit"},
		{"GET", "/v1/events?colour=red", "", http.StatusBadRequest, "unknown parameter"},
		{"POST", "/v1/events", "", http.StatusMethodNotAllowed, "allowed"},
		{"GET", "/v1/events/stream?since=-1", "", http.StatusBadRequest, "since"},
		{"POST", "/v1/pbx/outage", `{}`, http.StatusBadRequest, "on: missing"},
		{"POST", "/v1/broker/outage", `{"on":"yes"}`, http.StatusBadRequest, "body"},
		{"POST", "/v1/devices/linx9/signal", `{"rssi":-50}`, http.StatusNotFound, "linx9"},
	}
	for _, tc := range cases {
		var body map[string]string
		st := e.call(tc.method, tc.path, tc.body, &body)
		if st != tc.status || !strings.Contains(body["error"], tc.want) {
			t.Errorf("%s %s %s: %d %q, want %d with %q", tc.method, tc.path, tc.body, st, body["error"], tc.status, tc.want)
		}
	}
	// Still running: the phone gets dial tone.
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
}

// The console runs the same actions as the control API.
func TestConsoleCommands(t *testing.T) {
	e := startSim(t)
	h := e.w.handler()
	// Short human lines by default …
	out := consoleDo(h, "offhook", false)
	if !strings.Contains(out, "hook=off-hook") || strings.Contains(out, "{") {
		t.Fatalf("offhook: %s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "daemon: ") && !strings.HasPrefix(l, "line: ") && !strings.HasPrefix(l, "phone: ") {
			t.Errorf("offhook: unexpected line %q", l)
		}
	}
	// … JSON with -json.
	if out := consoleDo(h, "onhook", true); !strings.Contains(out, `"hook":"on-hook"`) {
		t.Fatalf("onhook -json: %s", out)
	}
	if out := consoleDo(h, "dev nosuch answer", false); !strings.HasPrefix(out, "error (404)") {
		t.Fatalf("unknown device: %s", out)
	}
	if out := consoleDo(h, "frobnicate", false); !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %s", out)
	}
	if out := consoleDo(h, "status", false); !strings.Contains(out, "leds: ") {
		t.Fatalf("status: %s", out)
	}
	if out := consoleDo(h, `dial 1 tone_ms=nope`, false); !strings.HasPrefix(out, "error (400)") {
		t.Fatalf("bad field: %s", out)
	}
}
