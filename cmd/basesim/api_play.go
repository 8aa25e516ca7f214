package main

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"basestation/sim/phone"
)

// maxUpload bounds an audio file sent in a play request's body.
const maxUpload = 16 << 20

// playBody is a play request: a file (or an uploaded body), keypad digits,
// or both mixed.
type playBody struct {
	Path       string  `json:"path"`
	Format     string  `json:"format"` // wav or raw; default from the file name (.wav) or the Content-Type
	Rate       int     `json:"rate"`   // raw: 8000 or 16000
	GainDB     float64 `json:"gain_db"`
	Wait       bool    `json:"wait"`         // answer once played (at most 25 s)
	DigitsAtMs int     `json:"digits_at_ms"` // where the digits start in the file
	dialBody
}

// playRequest reads a play request: JSON, or an audio body (Content-Type
// audio/wav, audio/x-wav, audio/L16 or application/octet-stream) with the
// same fields as query parameters.
func playRequest(r *http.Request) (playBody, []byte, error) {
	var b playBody
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct == "" || ct == "application/json" {
		if err := decode(r, &b); err != nil {
			return b, nil, err
		}
		if len(r.URL.Query()) > 0 {
			return b, nil, badRequest("query parameters go with an audio body; a JSON body carries the fields")
		}
		return b, nil, nil
	}
	switch ct {
	case "audio/wav", "audio/x-wav", "audio/wave":
		b.Format = "wav"
	case "audio/l16", "application/octet-stream":
		b.Format = "raw"
	default:
		return b, nil, &apiError{http.StatusUnsupportedMediaType, "Content-Type " + ct + " (want application/json, audio/wav, audio/L16 or application/octet-stream)"}
	}
	q := r.URL.Query()
	for k, v := range q {
		if len(v) != 1 {
			return b, nil, badRequest("query: %s given %d times", k, len(v))
		}
		var err error
		switch k {
		case "format":
			b.Format = v[0]
		case "rate":
			b.Rate, err = strconv.Atoi(v[0])
		case "gain_db":
			b.GainDB, err = strconv.ParseFloat(v[0], 64)
		case "wait":
			b.Wait, err = strconv.ParseBool(v[0])
		case "digits":
			b.Digits = v[0]
		case "digits_at_ms":
			b.DigitsAtMs, err = strconv.Atoi(v[0])
		case "tone_ms":
			b.ToneMs, err = strconv.Atoi(v[0])
		case "gap_ms":
			b.GapMs, err = strconv.Atoi(v[0])
		case "level_dbm0", "twist_db":
			var f float64
			f, err = strconv.ParseFloat(v[0], 64)
			if k == "level_dbm0" {
				b.LevelDBm0 = &f
			} else {
				b.TwistDB = &f
			}
		case "freq_offset_pct":
			b.FreqOffsetPct, err = strconv.ParseFloat(v[0], 64)
		default:
			return b, nil, badRequest("query: unknown parameter %q", k)
		}
		if err != nil {
			return b, nil, badRequest("query %s: %q: %v", k, v[0], err)
		}
	}
	data, err := readBody(r, maxUpload)
	if err != nil {
		return b, nil, err
	}
	if len(data) == 0 {
		return b, nil, badRequest("body: empty audio")
	}
	return b, data, nil
}

// audio builds the samples a play request asks for, at rate.
func (b *playBody) audio(data []byte, rate int) ([]int16, error) {
	if b.Path != "" && data != nil {
		return nil, badRequest("path: give a path or an audio body, not both")
	}
	if b.Path == "" && data == nil && b.Digits == "" {
		return nil, badRequest("path: missing (or digits, or an audio body)")
	}
	if b.GainDB < -60 || b.GainDB > 20 {
		return nil, badRequest("gain_db: %v outside -60..20", b.GainDB)
	}
	if b.DigitsAtMs < 0 || b.DigitsAtMs > maxAudioSeconds*1000 {
		return nil, badRequest("digits_at_ms: %d outside 0..%d", b.DigitsAtMs, maxAudioSeconds*1000)
	}
	if b.Path != "" {
		var err error
		if data, err = os.ReadFile(b.Path); err != nil {
			return nil, badRequest("path: %v", err)
		}
		if len(data) > maxUpload {
			return nil, &apiError{http.StatusRequestEntityTooLarge, "path: file larger than 16 MiB"}
		}
	}
	var s []int16
	if data != nil {
		format := b.Format
		if format == "" {
			format = "raw"
			if strings.HasSuffix(strings.ToLower(b.Path), ".wav") || strings.HasPrefix(string(data), "RIFF") {
				format = "wav"
			}
		}
		src := b.Rate
		var err error
		switch format {
		case "wav":
			if b.Rate != 0 {
				return nil, badRequest("rate: a WAV file carries its rate")
			}
			s, src, err = parseWAV(data)
		case "raw":
			if src == 0 {
				src = 8000
			}
			s, err = parseRaw(data, src)
		default:
			return nil, badRequest("format: %q is not wav or raw", format)
		}
		if err != nil {
			return nil, badRequest("%v", err)
		}
		s = gain(resample(s, src, rate), b.GainDB)
	}
	if b.Digits != "" {
		c, err := b.keypad()
		if err != nil {
			return nil, err
		}
		d, err := phone.DTMFSamples(b.Digits, c)
		if err != nil {
			return nil, badRequest("digits: %v", err)
		}
		s = mix(s, resample(d, 8000, rate), b.DigitsAtMs*rate/1000)
	}
	return s, nil
}

type playView struct {
	Samples    int   `json:"samples"`
	Rate       int   `json:"rate"`
	DurationMs int64 `json:"duration_ms"`
	Played     bool  `json:"played"` // wait: it has all been sent
	State      any   `json:"state"`  // the port or device after the action
}

func (w *world) postPlay(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	b, data, err := playRequest(r)
	if err != nil {
		return nil, err
	}
	s, err := b.audio(data, 8000)
	if err != nil {
		return nil, err
	}
	if ph.Hook().String() != "off-hook" {
		return nil, conflict(phone.ErrOnHook)
	}
	v := playView{Samples: len(s), Rate: 8000, DurationMs: int64(len(s)) / 8}
	if b.Wait {
		wctx, cancel := context.WithTimeout(ctx, 25*time.Second)
		defer cancel()
		if err := ph.SpeakWait(wctx, s); err != nil {
			return nil, conflict(err)
		}
		v.Played = true
	} else {
		ph.Speak(s)
	}
	v.State = w.viewPort()
	return v, nil
}

func (w *world) postDevicePlay(ctx context.Context, r *http.Request) (any, error) {
	n, d, err := w.device(r)
	if err != nil {
		return nil, err
	}
	b, data, err := playRequest(r)
	if err != nil {
		return nil, err
	}
	rate := d.State().AudioRate
	if rate == 0 {
		return nil, conflict(errNoAudio(n))
	}
	s, err := b.audio(data, rate)
	if err != nil {
		return nil, err
	}
	if !d.Speak(s) {
		return nil, conflict(errNoAudio(n))
	}
	v := playView{Samples: len(s), Rate: rate, DurationMs: int64(len(s)) * 1000 / int64(rate)}
	if b.Wait {
		v.Played = waitFor(ctx, 25*time.Second, func() bool { return d.Speaking() == 0 })
	}
	v.State = w.viewDevice(n, d)
	return v, nil
}

type noAudio string

func (e noAudio) Error() string { return string(e) + " has no audio channel (not in a call)" }

func errNoAudio(n string) error { return noAudio(n) }
