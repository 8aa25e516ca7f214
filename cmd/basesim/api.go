package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/sim/phone"
	"basestation/sim/radio"
)

// The control API: HTTP+JSON on loopback, documented in docs/simulator.md.
// Every error answer is {"error": "..."} with a 4xx or 5xx status.

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &apiError{http.StatusNotFound, fmt.Sprintf(format, a...)}
}

func conflict(err error) error { return &apiError{http.StatusConflict, err.Error()} }

// maxBody bounds request bodies.
const maxBody = 64 << 10

// decode reads a strict JSON body into v; an empty body leaves v as is.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badRequest("reading body: %v", err)
	}
	if len(b) > maxBody {
		return badRequest("body larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	// The project's one strict decoder: unknown fields, duplicate keys
	// (at any depth) and trailing data are refused, naming the field path.
	if err := provisioning.DecodeStrict(b, v); err != nil {
		return badRequest("body: %v", err)
	}
	return nil
}

type handler func(ctx context.Context, r *http.Request) (any, error)

func (w *world) route(mux *http.ServeMux, pattern string, h handler) {
	mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		v, err := h(ctx, r)
		rw.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusInternalServerError
			var ae *apiError
			if errors.As(err, &ae) {
				status = ae.status
			}
			rw.WriteHeader(status)
			_ = json.NewEncoder(rw).Encode(map[string]string{"error": err.Error()})
			return
		}
		if v == nil {
			v = map[string]string{"result": "ok"}
		}
		_ = json.NewEncoder(rw).Encode(v)
	})
}

// handler returns the control API.
func (w *world) handler() http.Handler {
	mux := http.NewServeMux()
	w.route(mux, "GET /v1/base", w.getBase)
	w.route(mux, "POST /v1/base/button", w.postButton)
	w.route(mux, "GET /v1/ports/{port}", w.getPort)
	w.route(mux, "POST /v1/ports/{port}/{action}", w.postPort)
	w.route(mux, "GET /v1/devices", w.getDevices)
	w.route(mux, "POST /v1/devices", w.postDevices)
	w.route(mux, "GET /v1/devices/{name}", w.getDevice)
	w.route(mux, "POST /v1/devices/{name}/{action}", w.postDevice)
	w.route(mux, "GET /v1/radio", w.getRadio)
	w.route(mux, "POST /v1/radio/faults", w.postRadioFaults)
	w.route(mux, "POST /v1/radio/reset", w.postRadioReset)
	w.route(mux, "GET /v1/pbx", w.getPBX)
	w.route(mux, "POST /v1/pbx/voicemail", w.postVoicemail)
	w.route(mux, "GET /v1/firmware", w.getFirmware)
	w.route(mux, "GET /v1/softphones", w.getSoftphones)
	w.route(mux, "GET /v1/softphones/{ext}", w.getSoftphone)
	w.route(mux, "POST /v1/softphones/{ext}/{action}", w.postSoftphone)
	w.route(mux, "/", func(ctx context.Context, r *http.Request) (any, error) {
		return nil, notFound("no such endpoint %s %s (see docs/simulator.md)", r.Method, r.URL.Path)
	})
	return mux
}

func (w *world) getBase(ctx context.Context, r *http.Request) (any, error) {
	v := map[string]any{
		"base": w.opt.BaseID,
		"leds": w.board.LEDStates(),
		"mqtt": w.broker.URL(),
		"pbx":  w.pbx.Addr(),
	}
	if d := w.daemon(); d != nil {
		v["status"], v["sip"] = d.Status(), d.SIPAddr()
	} else {
		st := w.server.Stats()
		v["virtual_board"] = map[string]any{"socket": w.opt.ServeBoard, "dect_module": w.board.Radio.Device(),
			"daemon_connected": st.Connected, "daemon_sessions": st.Sessions}
	}
	return v, nil
}

func (w *world) postButton(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		HeldMs int `json:"held_ms"`
	}
	b.HeldMs = 200
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if err := w.board.PressButton(time.Duration(b.HeldMs) * time.Millisecond); err != nil {
		return nil, badRequest("held_ms: %v", err)
	}
	return nil, nil
}

func (w *world) port(r *http.Request) (*phone.Phone, error) {
	if p := r.PathValue("port"); p != "1" {
		return nil, notFound("no port %q: the base has one phone port, 1", p)
	}
	return w.board.Phone, nil
}

type portView struct {
	Phone phone.State `json:"phone"`
	Line  string      `json:"line,omitempty"`
	Hook  string      `json:"hook,omitempty"`
}

func (w *world) getPort(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	v := portView{Phone: ph.State()}
	if d := w.daemon(); d != nil { // the daemon's view of the line, when it runs here
		v.Line, v.Hook = d.Port().State().String(), d.Port().Hook().String()
	}
	return v, nil
}

func (w *world) postPort(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	var b struct {
		Digits string  `json:"digits"`
		Mode   string  `json:"mode"` // dtmf (default) or pulse
		Ms     int     `json:"ms"`
		Path   string  `json:"path"`
		Both   bool    `json:"both"`
		Hz     float64 `json:"hz"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "speak":
		if b.Hz < 100 || b.Hz > 3900 {
			return nil, badRequest("hz: %v is outside 100..3900", b.Hz)
		}
		if b.Ms == 0 {
			b.Ms = 3000
		}
		if b.Ms < 20 || b.Ms > 60000 {
			return nil, badRequest("ms: %d is outside 20..60000", b.Ms)
		}
		s := make([]int16, b.Ms*8)
		for i := range s {
			s[i] = int16(8000 * math.Sin(2*math.Pi*b.Hz*float64(i)/8000))
		}
		ph.Speak(s)
	case "offhook":
		ph.OffHook()
	case "onhook":
		ph.OnHook()
	case "flash":
		if b.Ms == 0 {
			b.Ms = 600
		}
		if b.Ms < 10 || b.Ms > 5000 {
			return nil, badRequest("ms: flash of %d ms is outside 10..5000", b.Ms)
		}
		if err := ph.Flash(ctx, time.Duration(b.Ms)*time.Millisecond); err != nil {
			return nil, conflict(err)
		}
	case "dial":
		if b.Digits == "" {
			return nil, badRequest("digits: missing")
		}
		switch b.Mode {
		case "", "dtmf":
			err = ph.DialDTMF(ctx, b.Digits)
		case "pulse", "rotary":
			err = ph.DialRotary(ctx, b.Digits)
		default:
			return nil, badRequest("mode: %q is not dtmf or pulse", b.Mode)
		}
		if err != nil {
			if errors.Is(err, phone.ErrBadDigit) {
				return nil, badRequest("digits: %v", err)
			}
			return nil, conflict(err)
		}
	case "record":
		if b.Path == "" {
			return nil, badRequest("path: missing")
		}
		if err := ph.Record(b.Path, b.Both); err != nil {
			return nil, conflict(err)
		}
	case "stop-recording":
		if err := ph.StopRecording(); err != nil {
			return nil, conflict(err)
		}
	default:
		return nil, notFound("no port action %q (offhook, onhook, flash, dial, speak, record, stop-recording)", a)
	}
	return ph.State(), nil
}

type deviceView struct {
	Name  string            `json:"name"`
	State radio.DeviceState `json:"state"`
}

func (w *world) getDevices(ctx context.Context, r *http.Request) (any, error) {
	out := []deviceView{}
	for _, n := range w.board.DeviceNames() {
		d, _ := w.board.Device(n)
		out = append(out, deviceView{n, d.State()})
	}
	return out, nil
}

func (w *world) postDevices(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Kind  string `json:"kind"`
		Model string `json:"model"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	name, d, err := w.board.AddDevice(b.Kind, radio.DeviceOptions{Model: b.Model})
	if err != nil {
		return nil, badRequest("kind: %v", err)
	}
	return deviceView{name, d.State()}, nil
}

func (w *world) device(r *http.Request) (string, *radio.Device, error) {
	n := r.PathValue("name")
	d, err := w.board.Device(n)
	if err != nil {
		return "", nil, notFound("%v", err)
	}
	return n, d, nil
}

func (w *world) getDevice(ctx context.Context, r *http.Request) (any, error) {
	n, d, err := w.device(r)
	if err != nil {
		return nil, err
	}
	return deviceView{n, d.State()}, nil
}

func (w *world) postDevice(ctx context.Context, r *http.Request) (any, error) {
	n, d, err := w.device(r)
	if err != nil {
		return nil, err
	}
	var b struct {
		PIN    string `json:"pin"`
		Digits string `json:"digits"`
		In     *bool  `json:"in"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "power-on":
		d.PowerOn()
	case "power-off":
		d.PowerOff()
	case "pair":
		if b.PIN == "" {
			b.PIN = "0000"
		}
		if err := d.Pair(ctx, b.PIN); err != nil {
			return nil, conflict(fmt.Errorf("pairing %s: %w", n, err))
		}
	case "offhook":
		err = d.OffHook()
	case "answer":
		err = d.Answer()
	case "onhook", "hangup":
		err = d.HangUp()
	case "flash":
		err = d.Flash()
	case "dial":
		if b.Digits == "" {
			return nil, badRequest("digits: missing")
		}
		err = d.Dial(b.Digits)
	case "range":
		if b.In == nil {
			return nil, badRequest(`in: missing (true: in range, false: out of range)`)
		}
		d.SetInRange(*b.In)
	default:
		return nil, notFound("no device action %q (power-on, power-off, pair, offhook, answer, onhook, flash, dial, range)", a)
	}
	if err != nil {
		return nil, conflict(err)
	}
	return deviceView{n, d.State()}, nil
}

func (w *world) getRadio(ctx context.Context, r *http.Request) (any, error) {
	return map[string]any{
		"faults":            w.board.Radio.Faults(),
		"stats":             w.board.Radio.Stats(),
		"registration_open": w.board.Radio.RegistrationOpen(),
		"table":             w.board.Radio.Table(),
	}, nil
}

// postRadioFaults injects faults on the host-module serial link.
func (w *world) postRadioFaults(ctx context.Context, r *http.Request) (any, error) {
	var f struct {
		Corrupt float64 `json:"corrupt_rate"`
		Drop    float64 `json:"drop_rate"`
		Dup     float64 `json:"dup_rate"`
	}
	if err := decode(r, &f); err != nil {
		return nil, err
	}
	for name, v := range map[string]float64{"corrupt_rate": f.Corrupt, "drop_rate": f.Drop, "dup_rate": f.Dup} {
		if v < 0 || v > 0.5 {
			return nil, badRequest("%s: %v is outside 0..0.5", name, v)
		}
	}
	w.board.Radio.SetFaults(radio.Faults{CorruptRate: f.Corrupt, DropRate: f.Drop, DupRate: f.Dup})
	return w.board.Radio.Faults(), nil
}

// postRadioReset resets the DECT module as a watchdog or brown-out would.
func (w *world) postRadioReset(ctx context.Context, r *http.Request) (any, error) {
	if err := decode(r, &struct{}{}); err != nil {
		return nil, err
	}
	w.board.Radio.ResetModule()
	return nil, nil
}

func (w *world) getPBX(ctx context.Context, r *http.Request) (any, error) {
	return map[string]any{
		"addr":          w.pbx.Addr(),
		"registrations": w.pbx.Registrations(),
		"calls":         w.pbx.Calls(),
	}, nil
}

func (w *world) postVoicemail(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Extension string `json:"extension"`
		New       int    `json:"new"`
		Old       int    `json:"old"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if b.New < 0 || b.Old < 0 {
		return nil, badRequest("new/old: message counts cannot be negative")
	}
	if err := w.pbx.SetVoicemail(b.Extension, b.New, b.Old); err != nil {
		return nil, notFound("extension: %v", err)
	}
	return w.pbx.Voicemail(b.Extension), nil
}

type softphoneView struct {
	Extension     string  `json:"extension"`
	State         string  `json:"state"`
	HeardHz       float64 `json:"heard_hz"`
	Digits        string  `json:"digits_received"`
	LastCallerID  string  `json:"last_caller_id,omitempty"`
	LastFrom      string  `json:"last_from,omitempty"`
	LastIdentity  string  `json:"last_identity,omitempty"`
	ReceivedAudio int     `json:"received_packets"`
}

func (w *world) viewSoftphone(ext string) (softphoneView, error) {
	p, err := w.softphone(ext)
	if err != nil {
		return softphoneView{}, notFound("%v", err)
	}
	v := softphoneView{Extension: ext, State: string(p.State()), HeardHz: p.HeardFrequency(), Digits: p.Digits(), ReceivedAudio: p.ReceivedPackets()}
	if inv, ok := p.LastInvite(); ok {
		v.LastCallerID = inv.FromName
		v.LastFrom = inv.FromUser
		v.LastIdentity = inv.PPI
		if inv.PAI != "" {
			v.LastIdentity = inv.PAI
		}
	}
	return v, nil
}

func (w *world) getSoftphones(ctx context.Context, r *http.Request) (any, error) {
	out := []softphoneView{}
	for _, ext := range w.softphoneNames() {
		v, err := w.viewSoftphone(ext)
		if err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func (w *world) getSoftphone(ctx context.Context, r *http.Request) (any, error) {
	return w.viewSoftphone(r.PathValue("ext"))
}

func (w *world) postSoftphone(ctx context.Context, r *http.Request) (any, error) {
	ext := r.PathValue("ext")
	p, err := w.softphone(ext)
	if err != nil {
		return nil, notFound("%v", err)
	}
	var b struct {
		To     string  `json:"to"`
		Hz     float64 `json:"hz"`
		Digits string  `json:"digits"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "call":
		if b.To == "" {
			return nil, badRequest("to: missing")
		}
		// The call rings until answered: do not hold the request.
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Call(cctx, b.To); err != nil {
				w.log.Info("softphone call ended", "ext", ext, "to", b.To, "result", err)
			}
		}()
	case "answer":
		err = p.Answer()
	case "hangup":
		err = p.Hangup(ctx)
	case "tone":
		if b.Hz < 0 || b.Hz > 3800 {
			return nil, badRequest("hz: %v is outside 0..3800", b.Hz)
		}
		p.SetTone(b.Hz)
	case "digits":
		err = p.SendDigits(b.Digits)
	default:
		return nil, notFound("no softphone action %q (call, answer, hangup, tone, digits)", a)
	}
	if err != nil {
		return nil, conflict(err)
	}
	return w.viewSoftphone(ext)
}

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
