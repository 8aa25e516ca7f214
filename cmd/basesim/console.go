package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
)

// The console: each line is one control-API request. Words after the
// command's own arguments may be key=value pairs that become the request's
// JSON fields (numbers and true/false as such), e.g.
//
//	dial 102 tone_ms=50 level_dbm0=-20
//	sp 555 call 101 name="Dr Who" number=+16135550199 privacy=true

// splitLine splits a console line into words; "double quotes" keep spaces.
func splitLine(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, have := false, false
	for _, c := range line {
		switch {
		case c == '"':
			in, have = !in, true
		case !in && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(c)
			have = true
		}
	}
	if in {
		return nil, errors.New("unbalanced double quote")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// fields turns key=value words into a JSON object, merged over base.
func fields(words []string, base map[string]any) (string, error) {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("%q is not key=value", w)
		}
		switch {
		case v == "true" || v == "false":
			m[k] = v == "true"
		default:
			if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.HasPrefix(v, "+") && k != "digits" && k != "number" && k != "to" && k != "pin" {
				m[k] = f
			} else {
				m[k] = v
			}
		}
	}
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// consoleCommand turns a console line into an API request.
func consoleCommand(line string) (method, path, body string, err error) {
	f, err := splitLine(line)
	if err != nil || len(f) == 0 {
		return "", "", "", err
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	// rest returns the key=value words from i on, as a body over base.
	rest := func(i int, base map[string]any) (string, string, string, error) {
		var kv []string
		if i < len(f) {
			kv = f[i:]
		}
		b, err := fields(kv, base)
		return method, path, b, err
	}
	post := func(p string, i int, base map[string]any) (string, string, string, error) {
		method, path = "POST", p
		return rest(i, base)
	}
	get := func(p string) (string, string, string, error) { return "GET", p, "", nil }
	switch f[0] {
	case "status":
		return get("/v1/base")
	case "firmware":
		return get("/v1/firmware")
	case "port", "phone":
		return get("/v1/ports/1")
	case "line":
		switch arg(1) {
		case "":
			return get("/v1/ports/1/line")
		case "clear":
			return post("/v1/ports/1/line", 2, nil)
		case "fault", "set":
			return post("/v1/ports/1/line", 2, nil)
		}
		return "", "", "", errors.New("usage: line [fault KEY=VALUE… | clear]")
	case "offhook", "onhook":
		return post("/v1/ports/1/"+f[0], 1, nil)
	case "dial", "dtmf":
		return post("/v1/ports/1/dial", 2, map[string]any{"digits": arg(1)})
	case "rotary", "pulse":
		return post("/v1/ports/1/dial", 2, map[string]any{"digits": arg(1), "mode": "rotary"})
	case "flash":
		if ms, err := strconv.Atoi(arg(1)); err == nil {
			return post("/v1/ports/1/flash", 2, map[string]any{"ms": ms})
		}
		return post("/v1/ports/1/flash", 1, nil)
	case "play":
		if strings.Contains(arg(1), "=") || arg(1) == "" {
			return post("/v1/ports/1/play", 1, nil)
		}
		return post("/v1/ports/1/play", 2, map[string]any{"path": arg(1)})
	case "record":
		return post("/v1/ports/1/record", 2, map[string]any{"path": arg(1), "both": true})
	case "stoprec":
		return post("/v1/ports/1/stop-recording", 1, nil)
	case "devices":
		return get("/v1/devices")
	case "add":
		return post("/v1/devices", 2, map[string]any{"kind": arg(1)})
	case "dev":
		if len(f) < 2 {
			return "", "", "", errors.New("usage: dev NAME [ACTION [ARG] [KEY=VALUE…]]")
		}
		if len(f) == 2 {
			return get("/v1/devices/" + f[1])
		}
		p := "/v1/devices/" + f[1] + "/" + f[2]
		switch f[2] {
		case "pair":
			return post(p, 4, map[string]any{"pin": arg(3)})
		case "dial":
			return post(p, 4, map[string]any{"digits": arg(3)})
		case "range":
			return post(p, 4, map[string]any{"in": arg(3) != "out"})
		case "play":
			if strings.Contains(arg(3), "=") || arg(3) == "" {
				return post(p, 3, nil)
			}
			return post(p, 4, map[string]any{"path": arg(3)})
		}
		return post(p, 3, nil)
	case "button":
		ms, err := strconv.Atoi(arg(1))
		if err != nil {
			ms = 200
		}
		return post("/v1/base/button", 2, map[string]any{"held_ms": ms})
	case "radio":
		switch arg(1) {
		case "reset":
			return post("/v1/radio/reset", 2, nil)
		case "faults":
			num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
			return post("/v1/radio/faults", 5, map[string]any{"corrupt_rate": num(arg(2)), "drop_rate": num(arg(3)), "dup_rate": num(arg(4))})
		}
		return get("/v1/radio")
	case "pbx":
		return get("/v1/pbx")
	case "broker":
		return get("/v1/broker")
	case "outage":
		if (arg(1) != "pbx" && arg(1) != "broker") || (arg(2) != "on" && arg(2) != "off") {
			return "", "", "", errors.New("usage: outage pbx|broker on|off")
		}
		return post("/v1/"+arg(1)+"/outage", 3, map[string]any{"on": arg(2) == "on"})
	case "vm", "voicemail":
		n, o := 1, 0
		if v, err := strconv.Atoi(arg(2)); err == nil {
			n = v
		}
		if v, err := strconv.Atoi(arg(3)); err == nil {
			o = v
		}
		return post("/v1/pbx/voicemail", 4, map[string]any{"extension": arg(1), "new": n, "old": o})
	case "events":
		if n, err := strconv.Atoi(arg(1)); err == nil {
			return get(fmt.Sprintf("/v1/events?limit=%d", n))
		}
		return get("/v1/events")
	case "callers":
		return get("/v1/callers")
	case "caller":
		switch arg(1) {
		case "add":
			return post("/v1/callers", 3, map[string]any{"number": arg(2)})
		case "rm", "remove":
			return "DELETE", "/v1/callers/" + arg(2), "", nil
		}
		return "", "", "", errors.New("usage: caller add NUMBER [name=… when_called=ring|answer|busy|no_answer|reject] | caller rm NUMBER")
	case "sp", "softphone":
		if len(f) < 2 {
			return get("/v1/callers")
		}
		if len(f) == 2 {
			return get("/v1/callers/" + f[1])
		}
		p := "/v1/callers/" + f[1] + "/" + f[2]
		switch f[2] {
		case "call":
			return post(p, 4, map[string]any{"to": arg(3)})
		case "tone":
			hz, _ := strconv.ParseFloat(arg(3), 64)
			return post(p, 4, map[string]any{"hz": hz})
		case "digits":
			return post(p, 4, map[string]any{"digits": arg(3)})
		}
		return post(p, 3, nil)
	}
	return "", "", "", fmt.Errorf("unknown command %q (type help)", f[0])
}

const consoleHelp = `console commands (each is a control-API request; see docs/simulator.md).
KEY=VALUE words after a command become fields of its request.
  status                         the base: LEDs, registrations, lines, devices
  port | offhook | onhook        the analog phone on port 1
  dial DIGITS [tone_ms= gap_ms= level_dbm0= twist_db= freq_offset_pct=]   keypad
  rotary DIGITS [pps= break_pct= interdigit_ms=]                          rotary dial
  flash [MS]                     hook flash (default 600 ms)
  play FILE [digits= digits_at_ms= gain_db= wait=true]   a WAV/raw file into the mouthpiece
  line | line fault KEY=VALUE… | line clear   the line: feed, polarity, current; faults
  record FILE.wav | stoprec      record the line audio (left: ear, right: mouth)
  devices | add linx|headset     simulated DECT devices
  dev NAME [pair PIN|offhook|answer|onhook|dial DIGITS|range in|out|power-on|power-off|play FILE|signal rssi=|battery percent=]
  button [MS]                    press the base's button (>= 3000 ms opens registration)
  firmware                       the simulated slots, bootloader state and signed builds (--firmware)
  radio [reset | faults C D U]   the DECT module: link stats; reset it; inject corrupt/drop/dup rates
  pbx | broker | vm EXT NEW [OLD]   the stand-in PBX and broker; set voicemail counts
  outage pbx|broker on|off       take the PBX or the broker away, and back
  callers | caller add NUMBER [name="…" when_called=busy…] | caller rm NUMBER
  sp EXT [call TO [name= number= identity= privacy=true]|answer|reject|hangup|tone HZ|digits D|behaviour when_called=…]
  events [N]                     the event history (the stream: GET /v1/events/stream)
  quit                           stop the simulator`

// consoleLoop reads commands until quit (true) or the end of input (false).
func consoleLoop(ctx context.Context, in io.Reader, out io.Writer, h http.Handler, asJSON bool) bool {
	sc := bufio.NewScanner(in)
	fmt.Fprint(out, "> ")
	for sc.Scan() {
		if ctx.Err() != nil {
			return false
		}
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
		case "help", "?":
			fmt.Fprintln(out, consoleHelp)
		case "quit", "exit":
			return true
		default:
			fmt.Fprintln(out, consoleDo(h, line, asJSON))
		}
		fmt.Fprint(out, "> ")
	}
	return false
}

// consoleDo runs one console line through the control API handler.
func consoleDo(h http.Handler, line string, asJSON bool) string {
	method, path, body, err := consoleCommand(line)
	if err != nil {
		return "error: " + err.Error()
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	s := strings.TrimSpace(rec.Body.String())
	if rec.Code >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(s), &e) == nil && e.Error != "" && !asJSON {
			return fmt.Sprintf("error (%d): %s", rec.Code, e.Error)
		}
		return fmt.Sprintf("error (%d): %s", rec.Code, s)
	}
	if asJSON {
		return s
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	return human(v)
}

// human renders an answer as short lines: one per object of a list, or
// one per top-level field, with the empty and zero values left out.
func human(v any) string {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return "(none)"
		}
		var lines []string
		for _, e := range x {
			lines = append(lines, "- "+flat(e))
		}
		return strings.Join(lines, "\n")
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				if k == "result" {
					return fmt.Sprint(e)
				}
			}
		}
		var lines []string
		for _, k := range sortedKeys(x) {
			if s := flat(x[k]); s != "" {
				lines = append(lines, k+": "+s)
			}
		}
		return strings.Join(lines, "\n")
	}
	return flat(v)
}

// flat renders a value on one line: k=v pairs, nested with dots.
func flat(v any) string {
	var parts []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x[k])
			}
		case []any:
			if len(x) == 0 {
				return
			}
			if prefix == "" {
				for _, e := range x {
					walk("", e)
				}
				return
			}
			parts = append(parts, fmt.Sprintf("%s=[%d]", prefix, len(x)))
		case nil:
		default:
			if x == false || x == "" || x == float64(0) {
				return
			}
			s := fmt.Sprint(x)
			if f, ok := x.(float64); ok {
				s = strconv.FormatFloat(f, 'f', -1, 64)
			}
			if x == true {
				s = "yes"
			}
			if prefix == "" {
				parts = append(parts, s)
			} else {
				parts = append(parts, prefix+"="+s)
			}
		}
	}
	walk("", v)
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
