package panel

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/sim/phone"
)

type fakeLine struct {
	ear   []int16
	rings []phone.Ring
}

func (f *fakeLine) EarAudio() []int16   { return f.ear }
func (f *fakeLine) Rings() []phone.Ring { return f.rings }

func get(t *testing.T, h http.Handler, method, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header(), string(b)
}

// The page and its scripts are served from the embedded assets, with the
// right types; the page names every asset it loads.
func TestAssetsServed(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, hdr, body := get(t, h, "GET", "/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", code, hdr.Get("Content-Type"))
	}
	for _, asset := range []struct{ path, ctype string }{{"/panel.js", "text/javascript"}, {"/plot.js", "text/javascript"}, {"/panel.css", "text/css"}} {
		if !strings.Contains(body, `"`+asset.path[1:]+`"`) {
			t.Errorf("index.html does not load %s", asset.path)
		}
		code, hdr, b := get(t, h, "GET", asset.path)
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), asset.ctype) || len(b) < 100 {
			t.Errorf("GET %s: %d %q, %d bytes", asset.path, code, hdr.Get("Content-Type"), len(b))
		}
	}
	// Nothing is fetched from the network: no absolute URLs in the assets.
	for _, name := range []string{"index.html", "panel.js", "plot.js", "panel.css"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if i := strings.Index(string(b), bad); i >= 0 && !strings.Contains(string(b[i:min(len(b), i+40)]), "www.w3.org/2000/svg") {
				t.Errorf("%s loads from the network: %q", name, b[i:min(len(b), i+40)])
			}
		}
	}
	if code, _, _ := get(t, h, "GET", "/nonesuch.js"); code != 404 {
		t.Errorf("GET /nonesuch.js: %d", code)
	}
	if code, _, _ := get(t, h, "POST", "/line"); code != 405 {
		t.Errorf("POST /line: %d, want 405", code)
	}
}

// The line feed gives the last ms of line audio, sample for sample, and the
// ring bursts with their times.
func TestLineFeed(t *testing.T) {
	ear := make([]int16, 8000)
	for i := range ear {
		ear[i] = int16(i - 4000)
	}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	fl := &fakeLine{ear: ear, rings: []phone.Ring{{Start: t0, End: t0.Add(2 * time.Second), Vrms: 70, Hz: 20, Valid: true}, {Start: t0.Add(6 * time.Second), Vrms: 70, Hz: 20, Valid: true}}}
	h, err := New(Options{Line: fl, Now: func() time.Time { return t0.Add(7 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := get(t, h, "GET", "/line?ms=100")
	if code != 200 {
		t.Fatalf("GET /line: %d %s", code, body)
	}
	var v struct {
		Now     time.Time `json:"now"`
		Rate    int       `json:"rate"`
		Samples string    `json:"samples"`
		Rings   []struct {
			Start time.Time  `json:"start"`
			End   *time.Time `json:"end"`
			Valid bool       `json:"valid"`
		} `json:"rings"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(v.Samples)
	if err != nil {
		t.Fatal(err)
	}
	if v.Rate != 8000 || len(b) != 2*800 {
		t.Fatalf("rate %d, %d bytes; want 8000 and 1600", v.Rate, len(b))
	}
	for i := 0; i < 800; i++ {
		if got, want := int16(binary.LittleEndian.Uint16(b[2*i:])), ear[8000-800+i]; got != want {
			t.Fatalf("sample %d = %d, want %d", i, got, want)
		}
	}
	if len(v.Rings) != 2 || !v.Rings[0].Start.Equal(t0) || v.Rings[0].End == nil || !v.Rings[0].End.Equal(t0.Add(2*time.Second)) || v.Rings[1].End != nil {
		t.Fatalf("rings %+v", v.Rings)
	}
	if !v.Now.Equal(t0.Add(7 * time.Second)) {
		t.Errorf("now %v", v.Now)
	}
	for _, q := range []string{"ms=5", "ms=4001", "ms=x", "ms=1.5"} {
		code, _, body := get(t, h, "GET", "/line?"+q)
		if code != 400 || !strings.Contains(body, `"error":"ms: `) {
			t.Errorf("GET /line?%s: %d %s", q, code, body)
		}
	}
	h2, _ := New(Options{})
	if code, _, body := get(t, h2, "GET", "/line"); code != 404 || !strings.Contains(body, "no line feed") {
		t.Errorf("without a line: %d %s", code, body)
	}
}

// Recordings are served by bare name from the recording directory only.
func TestRecordings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rec")
	h, err := New(Options{RecordDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("the recording directory was not made: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.wav"), []byte("RIFF...."), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.wav"), []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, hdr, body := get(t, h, "GET", "/recordings/a.wav"); code != 200 || body != "RIFF...." || hdr.Get("Content-Type") != "audio/wav" {
		t.Errorf("GET a.wav: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
	for path, want := range map[string]int{
		"/recordings/none.wav":                            404,
		"/recordings/..%2Fsecret.wav":                     400,
		"/recordings/a.txt":                               400,
		"/recordings/.hidden.wav":                         400,
		"/recordings/" + strings.Repeat("x", 61) + ".wav": 400,
	} {
		if code, _, body := get(t, h, "GET", path); code != want || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d.wav"), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, h, "GET", "/recordings/d.wav"); code != 404 {
		t.Errorf("a directory served: %d", code)
	}
	code, _, body := get(t, h, "GET", "/config.json")
	if code != 200 || !strings.Contains(body, `"record_dir":"`+dir+`"`) || !strings.Contains(body, `"line":false`) {
		t.Errorf("config: %d %s", code, body)
	}
	h2, _ := New(Options{})
	if code, _, _ := get(t, h2, "GET", "/recordings/a.wav"); code != 404 {
		t.Errorf("without a recording directory: %d", code)
	}
}

func TestCheckRecordingName(t *testing.T) {
	for _, ok := range []string{"a.wav", "call-1_x.wav", "x.y.wav"} {
		if err := CheckRecordingName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{"": "5 to 64", ".wav": "5 to 64", "../a.wav": "starts with a dot",
		"a/b.wav": "0x2f", "a.WAV": "does not end", "a b.wav": "0x20", "é.wav": "0xc3"} {
		if err := CheckRecordingName(bad); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: %v, want an error with %q", bad, err, why)
		}
	}
}

func FuzzCheckRecordingName(f *testing.F) {
	for _, s := range []string{"a.wav", "../x.wav", ".a.wav", "a\x00.wav", "a/b.wav"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckRecordingName(s) != nil {
			return
		}
		if filepath.Base(s) != s || strings.ContainsAny(s, "/\\\x00") || s[0] == '.' || !strings.HasSuffix(s, ".wav") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzParseMs(f *testing.F) {
	for _, s := range []string{"", "256", "20", "4000", "-1", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMs(s)
		if err == nil && (ms < minLineMs || ms > maxLineMs) {
			t.Fatalf("%q gave %d", s, ms)
		}
	})
}
