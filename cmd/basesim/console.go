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
	"strings"
)

// consoleCommand turns a console line into an API request.
func consoleCommand(line string) (method, path, body string, err error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", "", "", nil
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "status":
		return "GET", "/v1/base", "", nil
	case "firmware":
		return "GET", "/v1/firmware", "", nil
	case "port", "phone":
		return "GET", "/v1/ports/1", "", nil
	case "offhook", "onhook":
		return "POST", "/v1/ports/1/" + f[0], "", nil
	case "dial", "dtmf":
		return "POST", "/v1/ports/1/dial", `{"digits":` + q(arg(1)) + `}`, nil
	case "rotary", "pulse":
		return "POST", "/v1/ports/1/dial", `{"digits":` + q(arg(1)) + `,"mode":"pulse"}`, nil
	case "flash":
		if arg(1) != "" {
			return "POST", "/v1/ports/1/flash", `{"ms":` + arg(1) + `}`, nil
		}
		return "POST", "/v1/ports/1/flash", "", nil
	case "record":
		return "POST", "/v1/ports/1/record", `{"path":` + q(arg(1)) + `,"both":true}`, nil
	case "stoprec":
		return "POST", "/v1/ports/1/stop-recording", "", nil
	case "devices":
		return "GET", "/v1/devices", "", nil
	case "add":
		return "POST", "/v1/devices", `{"kind":` + q(arg(1)) + `}`, nil
	case "dev":
		if len(f) < 2 {
			return "", "", "", errors.New("usage: dev NAME [ACTION [ARG]]")
		}
		if len(f) == 2 {
			return "GET", "/v1/devices/" + f[1], "", nil
		}
		switch f[2] {
		case "pair":
			return "POST", "/v1/devices/" + f[1] + "/pair", `{"pin":` + q(arg(3)) + `}`, nil
		case "dial":
			return "POST", "/v1/devices/" + f[1] + "/dial", `{"digits":` + q(arg(3)) + `}`, nil
		case "range":
			return "POST", "/v1/devices/" + f[1] + "/range", `{"in":` + fmt.Sprint(arg(3) != "out") + `}`, nil
		}
		return "POST", "/v1/devices/" + f[1] + "/" + f[2], "", nil
	case "button":
		ms := arg(1)
		if ms == "" {
			ms = "200"
		}
		return "POST", "/v1/base/button", `{"held_ms":` + ms + `}`, nil
	case "radio":
		switch arg(1) {
		case "reset":
			return "POST", "/v1/radio/reset", "", nil
		case "faults":
			num := func(s string) string {
				if s == "" {
					return "0"
				}
				return s
			}
			return "POST", "/v1/radio/faults", `{"corrupt_rate":` + num(arg(2)) + `,"drop_rate":` + num(arg(3)) + `,"dup_rate":` + num(arg(4)) + `}`, nil
		}
		return "GET", "/v1/radio", "", nil
	case "pbx":
		return "GET", "/v1/pbx", "", nil
	case "vm", "voicemail":
		n, o := arg(2), arg(3)
		if n == "" {
			n = "1"
		}
		if o == "" {
			o = "0"
		}
		return "POST", "/v1/pbx/voicemail", `{"extension":` + q(arg(1)) + `,"new":` + n + `,"old":` + o + `}`, nil
	case "sp", "softphone":
		if len(f) < 2 {
			return "GET", "/v1/softphones", "", nil
		}
		if len(f) == 2 {
			return "GET", "/v1/softphones/" + f[1], "", nil
		}
		switch f[2] {
		case "call":
			return "POST", "/v1/softphones/" + f[1] + "/call", `{"to":` + q(arg(3)) + `}`, nil
		case "tone":
			return "POST", "/v1/softphones/" + f[1] + "/tone", `{"hz":` + arg(3) + `}`, nil
		case "digits":
			return "POST", "/v1/softphones/" + f[1] + "/digits", `{"digits":` + q(arg(3)) + `}`, nil
		}
		return "POST", "/v1/softphones/" + f[1] + "/" + f[2], "", nil
	}
	return "", "", "", fmt.Errorf("unknown command %q (type help)", f[0])
}

const consoleHelp = `console commands (each is a control-API request; see docs/simulator.md):
  status                         the base: LEDs, registrations, lines, devices
  port | offhook | onhook        the analog phone on port 1
  dial DIGITS | rotary DIGITS    dial by DTMF or pulse (rotary)
  flash [MS]                     hook flash (default 600 ms)
  record FILE.wav | stoprec      record the line audio (left: ear, right: mouth)
  devices | add linx|headset     simulated DECT devices
  dev NAME [pair PIN|offhook|answer|onhook|dial DIGITS|range in|out|power-on|power-off]
  button [MS]                    press the base's button (>= 3000 ms opens registration)
  firmware                       the simulated slots, bootloader state and signed builds (--firmware)
  radio [reset | faults C D U]   the DECT module: link stats; reset it; inject corrupt/drop/dup rates
  pbx | vm EXT NEW [OLD]         the stand-in PBX; set voicemail counts
  sp [EXT [call TO|answer|hangup|tone HZ|digits D]]   the other users' softphones
  quit`

func consoleLoop(ctx context.Context, in io.Reader, out io.Writer, h http.Handler) {
	sc := bufio.NewScanner(in)
	fmt.Fprint(out, "> ")
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
		case "help", "?":
			fmt.Fprintln(out, consoleHelp)
		case "quit", "exit":
			return
		default:
			fmt.Fprintln(out, consoleDo(h, line))
		}
		fmt.Fprint(out, "> ")
	}
}

// consoleDo runs one console line through the control API handler.
func consoleDo(h http.Handler, line string) string {
	method, path, body, err := consoleCommand(line)
	if err != nil {
		return "error: " + err.Error()
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	s := strings.TrimSpace(rec.Body.String())
	if rec.Code >= 400 {
		return fmt.Sprintf("error (%d): %s", rec.Code, s)
	}
	return s
}
