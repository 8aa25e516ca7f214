// Package panel is the simulator's web panel: plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing fetched from the
// network at run time) and an http.Handler that serves them.
//
// The page talks to the control API of cmd/basesim from the browser, over
// HTTP on the same origin: it expects to be mounted one level below the API's
// root (the panel at /panel/, the API at /v1/). Besides the assets, the
// handler serves two feeds the control API does not have: the phone line's
// recent audio with its ring bursts (for the live level, the spectrum and the
// ring overlay of a recording's plot), and the WAV files recorded into the
// panel's recording directory (for the plot). docs/simulator.md, "The web
// panel", describes what it shows.
package panel

import (
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"basestation/sim/phone"
)

//go:embed assets
var assets embed.FS

// Line is the analog phone line as the panel's level meter, spectrum and
// ring overlay see it; *phone.Phone is one.
type Line interface {
	// EarAudio is the recent line audio the phone hears, 8 kHz, oldest first.
	EarAudio() []int16
	// Rings are the ring bursts the phone's ringer saw.
	Rings() []phone.Ring
}

// Options configure the panel.
type Options struct {
	// Line feeds the live level, spectrum and ring overlay; nil: the panel
	// says they are not available.
	Line Line
	// RecordDir is where the panel asks the phone to record, and from where
	// it serves recordings back by name for the plot; "": the panel can plot
	// only a WAV file opened from the browser's disk.
	RecordDir string
	// Now is the clock of the feeds' timestamps (default time.Now).
	Now func() time.Time
}

// Limits of the line feed.
const (
	lineRate  = 8000
	minLineMs = 20
	maxLineMs = 4000
	maxRings  = 32
)

type handler struct {
	opt    Options
	mux    *http.ServeMux
	static http.Handler
}

// New returns the panel's handler. Paths are relative to where it is mounted
// (use http.StripPrefix). RecordDir, if set, is created.
func New(opt Options) (http.Handler, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RecordDir != "" {
		if err := os.MkdirAll(opt.RecordDir, 0o700); err != nil {
			return nil, fmt.Errorf("panel: recording directory: %w", err)
		}
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	h := &handler{opt: opt, mux: http.NewServeMux(), static: http.FileServerFS(sub)}
	h.mux.HandleFunc("GET /config.json", h.config)
	h.mux.HandleFunc("GET /line", h.line)
	h.mux.HandleFunc("GET /recordings/{name}", h.recording)
	h.mux.HandleFunc("GET /", h.asset)
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.static.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, a ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, a...)})
}

// config tells the page which of the panel's own feeds exist.
func (h *handler) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"line":       h.opt.Line != nil,
		"record_dir": h.opt.RecordDir,
		"line_rate":  lineRate,
	})
}

type ringView struct {
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
	Vrms  float64    `json:"vrms"`
	Hz    float64    `json:"hz"`
	Valid bool       `json:"valid"`
}

type lineView struct {
	Now     time.Time  `json:"now"` // when the last sample was taken
	Rate    int        `json:"rate"`
	Samples string     `json:"samples"` // base64 of 16-bit little-endian PCM
	Rings   []ringView `json:"rings"`   // the last ones, oldest first
}

// line serves the last ms milliseconds of line audio (default 256) and the
// last ring bursts.
func (h *handler) line(w http.ResponseWriter, r *http.Request) {
	if h.opt.Line == nil {
		writeError(w, http.StatusNotFound, "no line feed: this panel was started without the phone line")
		return
	}
	ms, err := parseMs(r.URL.Query().Get("ms"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "ms: %v", err)
		return
	}
	now := h.opt.Now()
	ear := h.opt.Line.EarAudio()
	if n := ms * lineRate / 1000; len(ear) > n {
		ear = ear[len(ear)-n:]
	}
	b := make([]byte, 2*len(ear))
	for i, s := range ear {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	rings := h.opt.Line.Rings()
	if len(rings) > maxRings {
		rings = rings[len(rings)-maxRings:]
	}
	v := lineView{Now: now, Rate: lineRate, Samples: base64.StdEncoding.EncodeToString(b), Rings: []ringView{}}
	for _, rg := range rings {
		rv := ringView{Start: rg.Start, Vrms: rg.Vrms, Hz: rg.Hz, Valid: rg.Valid}
		if !rg.End.IsZero() {
			end := rg.End
			rv.End = &end
		}
		v.Rings = append(v.Rings, rv)
	}
	writeJSON(w, http.StatusOK, v)
}

// parseMs reads the line feed's length: empty is 256, else a whole number
// of milliseconds in minLineMs..maxLineMs.
func parseMs(s string) (int, error) {
	if s == "" {
		return 256, nil
	}
	ms, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of milliseconds", s)
	}
	if ms < minLineMs || ms > maxLineMs {
		return 0, fmt.Errorf("%d is outside %d..%d", ms, minLineMs, maxLineMs)
	}
	return ms, nil
}

// recording serves one WAV file of RecordDir by its bare name.
func (h *handler) recording(w http.ResponseWriter, r *http.Request) {
	if h.opt.RecordDir == "" {
		writeError(w, http.StatusNotFound, "no recording directory: this panel was started without one")
		return
	}
	name := r.PathValue("name")
	if err := CheckRecordingName(name); err != nil {
		writeError(w, http.StatusBadRequest, "recording name: %v", err)
		return
	}
	f, err := os.Open(filepath.Join(h.opt.RecordDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "no recording %q in %s", name, h.opt.RecordDir)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "recording %q: %v", name, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "recording %q is not a regular file", name)
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// CheckRecordingName accepts the bare file names the panel records to:
// 1 to 64 letters, digits, '-', '_' or '.', not starting with '.', ending
// in ".wav".
func CheckRecordingName(name string) error {
	if len(name) < len("x.wav") || len(name) > 64 {
		return fmt.Errorf("%q: want 5 to 64 characters", name)
	}
	if name[0] == '.' {
		return fmt.Errorf("%q starts with a dot", name)
	}
	if filepath.Ext(name) != ".wav" {
		return fmt.Errorf("%q does not end in .wav", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("%q has byte 0x%02x at %d (letters, digits, '-', '_', '.' only)", name, c, i)
		}
	}
	return nil
}
