package provisioning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A configuration with "linx" twice in one extension's devices used to be
// applied with the last one winning, bypassing one-device-per-type. Every
// duplicate key, at any depth, is refused with its field path.
func TestDecodeConfigRefusesDuplicateKeys(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"linx twice": {`{"schema":1,"base":"bs-1","version":3,"extensions":[{"number":"101","devices":{"linx":"dect-000000001","linx":"dect-000000002"}}]}`,
			`configuration: extensions[0].devices: duplicate key "linx"`},
		"second extension": {`{"schema":1,"extensions":[{"number":"101"},{"number":"102","devices":{"port":"port1","headset":"a","port":"port1"}}]}`,
			`extensions[1].devices: duplicate key "port"`},
		"case folded": {`{"schema":1,"extensions":[{"devices":{"linx":"a","Linx":"b"}}]}`,
			`extensions[0].devices: duplicate key "Linx" (same field as "linx")`},
		"top level":   {`{"schema":1,"version":1,"version":2}`, `(document): duplicate key "version"`},
		"system":      {`{"schema":1,"system":{"tone_region":"US","tone_region":"CA"}}`, `system: duplicate key "tone_region"`},
		"sip account": {`{"schema":1,"extensions":[{"sip":{"password":"a","password":"b"}}]}`, `extensions[0].sip: duplicate key "password"`},
		"unknown nested": {`{"schema":1,"extensions":[{"number":"101","devices":{"phone":"x"}}]}`,
			`extensions[0].devices: unknown field "phone"`},
		"unknown top":   {`{"schema":1,"colour":"red"}`, `(document): unknown field "colour"`},
		"odd key quote": {`{"schema":1,"system":{"a.b":1}}`, `system: unknown field "a.b"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeConfig([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
	// The same keys once each are fine.
	ok := `{"schema":1,"base":"bs-1","version":3,"extensions":[{"number":"101","devices":{"linx":"dect-000000001","headset":"dect-000000002"}},{"number":"102","devices":{"linx":"dect-000000003"}}]}`
	if _, err := DecodeConfig([]byte(ok)); err != nil {
		t.Fatal(err)
	}
}

// Commands, their arguments and the cloud side's decoders refuse
// duplicates too; the cloud side still ignores unknown fields (a newer base
// may add some).
func TestEveryDecoderRefusesDuplicateKeys(t *testing.T) {
	for name, tc := range map[string]struct {
		decode func([]byte) error
		in     string
		want   string
	}{
		"command": {func(b []byte) error { _, err := DecodeCommand(b); return err },
			`{"schema":1,"id":"c1","id":"c2","base":"bs-1","name":"page"}`, `(document): duplicate key "id"`},
		"command args": {func(b []byte) error {
			c, err := DecodeCommand(b)
			if err != nil {
				return err
			}
			_, err = DecodeRegisterDeviceArgs(c.Args)
			return err
		}, `{"schema":1,"id":"c1","base":"bs-1","name":"register-device","args":{"pin":"1234","pin":"9999"}}`, `args: duplicate key "pin"`},
		"result": {func(b []byte) error { _, err := DecodeResult(b); return err },
			`{"schema":1,"id":"c1","base":"bs-1","status":"failed","status":"succeeded"}`, `result: (document): duplicate key "status"`},
		"event": {func(b []byte) error { _, err := DecodeEvent(b); return err },
			`{"schema":1,"base":"bs-1","type":"error","device":{"id":"a","id":"b"}}`, `event: device: duplicate key "id"`},
		"state": {func(b []byte) error { _, err := DecodeState(b); return err },
			`{"schema":1,"base":"bs-1","lines":[{"device":"port1"},{"device":"a","state":"idle","state":"talking"}]}`, `state: lines[1]: duplicate key "state"`},
		"status": {func(b []byte) error { _, err := DecodeStatus(b); return err },
			`{"schema":1,"base":"bs-1","online":true,"online":false}`, `status: (document): duplicate key "online"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeStatus([]byte(`{"schema":1,"base":"bs-1","online":true,"from_the_future":{"x":1}}`)); err != nil {
		t.Fatalf("the cloud side refused an unknown field of a newer base: %v", err)
	}
	if _, err := DecodeStatus([]byte(`{"schema":1,"base":"bs-1","online":true,"future":{"x":1,"x":2}}`)); err == nil || !strings.Contains(err.Error(), `future: duplicate key "x"`) {
		t.Fatalf("duplicate inside an unknown field: %v", err)
	}
}

func TestDecodeStrictShapes(t *testing.T) {
	type inner struct {
		A int `json:"a"`
	}
	type embedded struct {
		E string `json:"e"`
	}
	type doc struct {
		embedded
		M   map[string]inner `json:"m"`
		L   [][]inner        `json:"l"`
		P   *inner           `json:"p"`
		R   json.RawMessage  `json:"r"`
		T   time.Time        `json:"t"`
		Any any              `json:"any"`
		X   int              `json:"-"`
	}
	for _, tc := range []struct{ in, want string }{
		{`{"e":"x","m":{"k":{"a":1}},"l":[[{"a":1}]],"p":{"a":2},"r":{"z":[1,{"q":1}]},"t":"2026-01-01T00:00:00Z","any":{"u":1}}`, ""},
		{`{"m":{"k":{"a":1},"k":{"a":2}}}`, `m: duplicate key "k"`},
		{`{"m":{"k":{"a":1,"b":2}}}`, `m.k: unknown field "b"`},
		{`{"l":[[],[{"a":1},{"a":1,"a":1}]]}`, `l[1][1]: duplicate key "a"`},
		{`{"p":{"c":1}}`, `p: unknown field "c"`},
		{`{"r":{"z":[{"q":1,"q":2}]}}`, `r.z[0]: duplicate key "q"`},
		{`{"any":{"u":1,"u":1}}`, `any: duplicate key "u"`},
		{`{"e":"x","E":"y"}`, `duplicate key "E"`},
		{`{"X":1}`, `unknown field "X"`},
		{`{"e":"x"}{}`, "trailing data"},
		{`{"e":"x"`, "unexpected end"},
		{`{"m":{"":{"a":1},"":{}}}`, `m: duplicate key ""`},
		{`{"m":{"a.b":{"a":1,"a":1}}}`, `m."a.b": duplicate key "a"`},
		{`  `, "empty document"},
		{`{"any":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`, "nested deeper than 64 levels"},
		{`{"any":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`, ""},
	} {
		var d doc
		err := DecodeStrict([]byte(tc.in), &d)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want containing %q", tc.in, err, tc.want)
		}
	}
}

// hasExactDuplicate is an independent judge for the fuzz target: a plain
// recursive walk over the tokens that knows nothing of Go types.
func hasExactDuplicate(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() (bool, error)
	walk = func() (bool, error) {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return false, nil
		}
		dup := false
		if d == '{' {
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false, err
				}
				ks := fmt.Sprint(k)
				dup = dup || seen[ks]
				seen[ks] = true
				sub, err := walk()
				if err != nil {
					return false, err
				}
				dup = dup || sub
			}
		} else {
			for dec.More() {
				sub, err := walk()
				if err != nil {
					return false, err
				}
				dup = dup || sub
			}
		}
		_, err = dec.Token()
		return dup, err
	}
	dup, err := walk()
	if err != nil {
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false
	}
	return dup
}

// FuzzDecodeStrict: DecodeStrict never panics; what it accepts has no key
// twice at any depth (an independent walk says so), encoding/json with
// DisallowUnknownFields accepts it too with the same result, and the
// re-encoded value decodes strictly to an equal value.
func FuzzDecodeStrict(f *testing.F) {
	seedConfigs(f)
	f.Add([]byte(`{"schema":1,"extensions":[{"devices":{"linx":"a","linx":"b"}}]}`))
	f.Add([]byte(`{"schema":1,"extensions":[{"devices":{"linx":"a","LINX":"b"}}]}`))
	f.Add([]byte(`{"schema":1,"system":{"dial_plan":["1xx"],"registrars":[]},"system":{}}`))
	f.Add([]byte(`{"schema":1,"id":"x","name":"page","args":{"duration_s":5,"duration_s":6}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, target := range []func() any{func() any { return new(Config) }, func() any { return new(Command) }} {
			v := target()
			err := DecodeStrict(b, v)
			if err != nil {
				continue
			}
			if hasExactDuplicate(b) {
				t.Fatalf("accepted a document with a duplicate key: %q", b)
			}
			w := target()
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(w); err != nil {
				t.Fatalf("accepted what encoding/json refuses (%v): %q", err, b)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("decoded %+v, encoding/json %+v", v, w)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			again := target()
			if err := DecodeStrict(out, again); err != nil {
				t.Fatalf("re-decode of %s: %v", out, err)
			}
			out2, _ := json.Marshal(again)
			if !bytes.Equal(out, out2) {
				t.Fatalf("round trip changed %s into %s", out, out2)
			}
		}
	})
}
