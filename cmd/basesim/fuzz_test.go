package main

import (
	"bytes"
	"encoding/binary"
	"net/http/httptest"
	"strings"
	"testing"
)

// wavBytes builds a small WAV file for the seeds.
func wavBytes(rate, channels, bits, format int, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(format), uint16(channels), uint32(rate),
		uint32(rate * channels * bits / 8), uint16(channels * bits / 8), uint16(bits)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestParseWAV(t *testing.T) {
	s, rate, err := parseWAV(wavBytes(16000, 2, 16, 1, []byte{0x10, 0x00, 0x30, 0x00, 0xff, 0xff, 0x01, 0x00}))
	if err != nil || rate != 16000 || len(s) != 2 || s[0] != 0x20 || s[1] != 0 {
		t.Fatalf("stereo 16-bit: %v %d %v", s, rate, err)
	}
	if s, _, err := parseWAV(wavBytes(8000, 1, 8, 7, []byte{0xff, 0x00})); err != nil || s[0] != 0 || s[1] > -30000 {
		t.Fatalf("µ-law: %v %v", s, err)
	}
	for _, bad := range [][]byte{
		nil, []byte("RIFF\x00\x00\x00\x00WAVE"),
		wavBytes(44100, 1, 16, 1, []byte{0, 0}),
		wavBytes(8000, 3, 16, 1, []byte{0, 0, 0, 0, 0, 0}),
		wavBytes(8000, 1, 24, 1, []byte{0, 0, 0}),
	} {
		if _, _, err := parseWAV(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseRaw([]byte{1, 2, 3}, 8000); err == nil {
		t.Error("odd raw length accepted")
	}
	if _, err := parseRaw([]byte{1, 2}, 11025); err == nil {
		t.Error("raw at 11025 Hz accepted")
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add(wavBytes(8000, 1, 16, 1, []byte{1, 2, 3, 4}))
	f.Add(wavBytes(16000, 2, 8, 6, []byte{1, 2, 3, 4}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, rate, err := parseWAV(b)
		if err != nil {
			return
		}
		if rate != 8000 && rate != 16000 {
			t.Fatalf("rate %d accepted", rate)
		}
		if len(s) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(s), len(b))
		}
		_ = resample(s, rate, 8000)
	})
}

func FuzzPlayRequest(f *testing.F) {
	f.Add("application/json", "", `{"digits":"12","tone_ms":40,"level_dbm0":-12}`)
	f.Add("audio/wav", "digits=1&digits_at_ms=5&wait=true", "RIFF")
	f.Add("application/octet-stream", "rate=16000&gain_db=-3", "\x01\x02\x03\x04")
	f.Fuzz(func(t *testing.T, ct, query, body string) {
		r := httptest.NewRequest("POST", "/v1/ports/1/play", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		b, data, err := playRequest(r)
		if err != nil {
			return
		}
		b.Path = "" // no file reads from the fuzzer
		s, err := b.audio(data, 8000)
		if err == nil && len(s) > (maxAudioSeconds+maxAudioSeconds)*8000+len(b.Digits)*8*4000 {
			t.Fatalf("%d samples", len(s))
		}
	})
}

func FuzzConsoleCommand(f *testing.F) {
	for _, s := range []string{"dial 102 tone_ms=50", `sp 102 call 101 name="Dr Who" privacy=true`, "outage pbx on",
		"line fault tip_ring_ohms=1e4", `play "a b.wav" digits=1`, `"`, "caller add 555 when_called=busy", "dev linx1 play x.wav"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		method, path, body, err := consoleCommand(line)
		if err != nil || method == "" {
			return
		}
		if !strings.HasPrefix(path, "/v1/") {
			t.Fatalf("%q → %s %s", line, method, path)
		}
		if body != "" && !strings.HasPrefix(body, "{") {
			t.Fatalf("%q → body %q", line, body)
		}
	})
}

func FuzzCallOptions(f *testing.F) {
	f.Add("101", "Dr Who", "+16135550100", "", true)
	f.Add("101", "", "", "sip:4165550111@pbx.example.com", false)
	f.Add("101", "x", "", "tel:+1-613-555-0100;phone-context=x", false)
	f.Fuzz(func(t *testing.T, to, name, number, identity string, privacy bool) {
		o, err := callOptions(callSpec{To: to, Name: name, Number: number, Identity: identity, Privacy: privacy})
		if err != nil {
			return
		}
		for _, h := range o.Headers {
			if strings.ContainsAny(h.Value(), "\r\n") {
				t.Fatalf("header %s: %q", h.Name(), h.Value())
			}
		}
		if strings.ContainsAny(o.DisplayName, "\"\r\n") {
			t.Fatalf("display name %q", o.DisplayName)
		}
	})
}

func FuzzEventQuery(f *testing.F) {
	f.Add("since=3&limit=10", "")
	f.Add("", "17")
	f.Fuzz(func(t *testing.T, query, lastID string) {
		r := httptest.NewRequest("GET", "/v1/events", nil)
		r.URL.RawQuery = query
		r.Header.Set("Last-Event-ID", lastID)
		_, limit, err := eventQuery(r)
		if err == nil && (limit < 1 || limit > 5000) {
			t.Fatalf("limit %d", limit)
		}
	})
}
