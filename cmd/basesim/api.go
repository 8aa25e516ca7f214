package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"basestation/provisioning"
)

// The control API: HTTP+JSON on loopback, documented in docs/simulator.md.
// Every error answer is {"error": "..."} with a 4xx or 5xx status; every
// name in a body, request or answer, is snake_case.

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

// maxBody bounds JSON request bodies.
const maxBody = 64 << 10

// readBody reads at most limit bytes of r's body; more is a 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest("reading body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit)}
	}
	return b, nil
}

// decode reads a strict JSON body into v; an empty body leaves v as is.
func decode(r *http.Request, v any) error {
	b, err := readBody(r, maxBody)
	if err != nil {
		return err
	}
	return decodeBytes(b, v)
}

func decodeBytes(b []byte, v any) error {
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

// writeJSON answers v, or err as {"error": ...} with its status.
func writeJSON(rw http.ResponseWriter, v any, err error) {
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
}

func (w *world) route(mux *http.ServeMux, pattern string, h handler) {
	mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		v, err := h(ctx, r)
		writeJSON(rw, v, err)
	})
}

// handler returns the control API. A new endpoint is one line here; a
// request whose path exists under another method gets 405, any other
// unknown path under /v1/ 404. The web panel is mounted beside it (withPanel).
func (w *world) handler() http.Handler {
	mux := http.NewServeMux()
	w.route(mux, "GET /v1/base", w.getBase)
	w.route(mux, "POST /v1/base/button", w.postButton)
	w.route(mux, "GET /v1/ports/{port}", w.getPort)
	w.route(mux, "GET /v1/ports/{port}/line", w.getLine)
	w.route(mux, "POST /v1/ports/{port}/line", w.postLine)
	w.route(mux, "POST /v1/ports/{port}/play", w.postPlay)
	w.route(mux, "POST /v1/ports/{port}/{action}", w.postPort)
	w.route(mux, "GET /v1/devices", w.getDevices)
	w.route(mux, "POST /v1/devices", w.postDevices)
	w.route(mux, "GET /v1/devices/{name}", w.getDevice)
	w.route(mux, "POST /v1/devices/{name}/play", w.postDevicePlay)
	w.route(mux, "POST /v1/devices/{name}/{action}", w.postDevice)
	w.route(mux, "GET /v1/radio", w.getRadio)
	w.route(mux, "POST /v1/radio/faults", w.postRadioFaults)
	w.route(mux, "POST /v1/radio/reset", w.postRadioReset)
	w.route(mux, "GET /v1/pbx", w.getPBX)
	w.route(mux, "POST /v1/pbx/voicemail", w.postVoicemail)
	w.route(mux, "POST /v1/pbx/outage", w.postPBXOutage)
	w.route(mux, "GET /v1/broker", w.getBroker)
	w.route(mux, "POST /v1/broker/outage", w.postBrokerOutage)
	w.route(mux, "GET /v1/firmware", w.getFirmware)
	for _, base := range []string{"/v1/callers", "/v1/softphones"} { // softphones: the older name
		w.route(mux, "GET "+base, w.getCallers)
		w.route(mux, "POST "+base, w.postCallers)
		w.route(mux, "GET "+base+"/{ext}", w.getCaller)
		w.route(mux, "DELETE "+base+"/{ext}", w.deleteCaller)
		w.route(mux, "POST "+base+"/{ext}/{action}", w.postCaller)
	}
	w.route(mux, "GET /v1/events", w.getEvents)
	mux.HandleFunc("GET /v1/events/stream", w.streamEvents)
	mux.HandleFunc("/v1/", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, nil, unrouted(mux, r))
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, nil, notFound("no such endpoint %s %s (the control API is under /v1/, see docs/simulator.md)", r.Method, r.URL.Path))
	})
	return mux
}

// unrouted explains a request no route took: 405 naming the methods the
// path has, else 404.
func unrouted(mux *http.ServeMux, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pat := mux.Handler(r2); pat != "/v1/" && pat != "/" && pat != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		return &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %v)", r.Method, r.URL.Path, allow)}
	}
	return notFound("no such endpoint %s %s (see docs/simulator.md)", r.Method, r.URL.Path)
}

func (w *world) getBase(ctx context.Context, r *http.Request) (any, error) {
	v := map[string]any{
		"base": w.opt.BaseID,
		"leds": w.board.LEDStates(),
		"mqtt": w.brokerURL(),
		"pbx":  w.pbxAddr(),
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
	return map[string]any{"held_ms": b.HeldMs, "leds": w.board.LEDStates()}, nil
}
