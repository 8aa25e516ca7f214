package provisioning

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedConfigs(f *testing.F) {
	good, _ := json.Marshal(sample())
	f.Add(good)
	f.Add([]byte(`{"schema":1,"base":"bs-1","version":1,"system":{"registrars":["sip:a"],"tone_region":"US","time_zone":"UTC"},"extensions":[]}`))
	f.Add([]byte(`{"schema":1,"extensions":[{"devices":{"linx":5}}]}`))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`{"schema":1,`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
}

// FuzzDecodeConfig: the decoder never panics, and what it accepts
// round-trips through JSON to an equal document.
func FuzzDecodeConfig(f *testing.F) {
	seedConfigs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConfig(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeConfig(out)
		if err != nil {
			t.Fatalf("re-decode of encoded config: %v", err)
		}
		a, _ := json.Marshal(c2)
		if string(a) != string(out) {
			t.Fatalf("round trip differs:\n%s\n%s", out, a)
		}
	})
}

// FuzzValidate: validation never panics, every error has a path and a
// message, and it is deterministic.
func FuzzValidate(f *testing.F) {
	seedConfigs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConfig(b)
		if err != nil {
			return
		}
		errs := Validate(c, "bs-1", known)
		for _, e := range errs {
			if e.Path == "" || e.Message == "" {
				t.Fatalf("error without path or message: %+v", e)
			}
		}
		if len(Validate(c, "bs-1", known)) != len(errs) {
			t.Fatal("validation is not deterministic")
		}
		if errs == nil {
			// A valid document survives the defaults and still validates.
			if e2 := Validate(c.WithDefaults(), "bs-1", known); e2 != nil {
				t.Fatalf("defaults made a valid config invalid: %v", e2)
			}
		}
	})
}

// FuzzDecodeCommand covers the envelope and every argument decoder.
func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"schema":1,"id":"c1","base":"bs-1","name":"register-device","args":{"window_s":60,"pin":"1234"}}`))
	f.Add([]byte(`{"schema":1,"id":"c2","base":"bs-1","name":"remove-device","args":{"device":"dect-1"}}`))
	f.Add([]byte(`{"schema":1,"id":"c3","base":"bs-1","name":"page","args":{"duration_s":5},"expires_at":"2026-11-22T10:00:00Z"}`))
	f.Add([]byte(`{"schema":1,"id":"c4","base":"bs-1","name":"resync","args":null}`))
	f.Add([]byte(`{"schema":1,"id":"","name":"x"}`))
	f.Add([]byte(`{"schema":1,"id":"c5","base":"bs-1","name":"page","args":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		if !validCommandID(c.ID) || c.Name == "" || c.Schema != SchemaVersion {
			t.Fatalf("accepted %+v", c)
		}
		if a, err := DecodeRegisterDeviceArgs(c.Args); err == nil {
			if a.WindowS != 0 && (a.WindowS < 10 || a.WindowS > 120) || a.PIN != "" && len(a.PIN) != 4 {
				t.Fatalf("bad register args accepted: %+v", a)
			}
		}
		if a, err := DecodeRemoveDeviceArgs(c.Args); err == nil && !isDeviceID(a.Device) {
			t.Fatalf("bad device accepted: %+v", a)
		}
		if a, err := DecodePageArgs(c.Args); err == nil && (a.DurationS < 0 || a.DurationS > 60) {
			t.Fatalf("bad page args accepted: %+v", a)
		}
		_ = decodeNoArgs(c.Args)
	})
}

// FuzzDecodeCloudSide covers the decoders the cloud runs on what bases
// publish.
func FuzzDecodeCloudSide(f *testing.F) {
	st, _ := json.Marshal(State{Schema: 1, Base: "bs-1", Devices: []Device{{ID: "port1", Type: DevicePort}}})
	f.Add(st)
	f.Add([]byte(`{"schema":1,"id":"c1","base":"bs-1","status":"accepted","time":"2026-11-22T10:00:00Z"}`))
	f.Add([]byte(`{"schema":1,"base":"bs-1","seq":3,"time":"2026-11-22T10:00:00Z","type":"device-paired","device":{"id":"d","type":"linx"}}`))
	f.Add([]byte(`{"schema":1,"base":"bs-1","online":false,"session":"ab"}`))
	f.Add([]byte(`{"schema":1,"base":"BS 1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeResult(b); err == nil && (r.ID == "" || r.Status == "") {
			t.Fatalf("result accepted: %+v", r)
		}
		if e, err := DecodeEvent(b); err == nil && e.Type == "" {
			t.Fatalf("event accepted: %+v", e)
		}
		if s, err := DecodeState(b); err == nil && !ValidBaseID(s.Base) {
			t.Fatalf("state accepted: %+v", s)
		}
		if s, err := DecodeStatus(b); err == nil && !ValidBaseID(s.Base) {
			t.Fatalf("status accepted: %+v", s)
		}
		_, _, _ = ParseTopic(string(b))
	})
}

// FuzzStoreLoad: whatever is in config.json, Load never panics and either
// returns an intact configuration or an error; it never returns a
// configuration whose checksum did not verify.
func FuzzStoreLoad(f *testing.F) {
	dir := f.TempDir()
	s, _ := OpenStore(dir, quiet())
	_ = s.Save(versioned(1))
	good, _ := os.ReadFile(filepath.Join(dir, configFile))
	f.Add(good)
	f.Add([]byte(`{"format":1,"sha256":"00","body":{}}`))
	f.Add([]byte(`{"format":1,"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","body":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := t.TempDir()
		st, _ := OpenStore(d, quiet())
		_ = st.Save(versioned(1))
		if err := os.WriteFile(filepath.Join(d, configFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		// Remove the fallback so the fuzzed file is all there is.
		_ = os.Remove(filepath.Join(d, prevFile))
		c, _, err := st.Load()
		if err != nil {
			return
		}
		if err := consistent(c); err != nil {
			t.Fatalf("loaded a mixed configuration: %v", err)
		}
	})
}

func FuzzDecodeFirmwareUpdateArgs(f *testing.F) {
	f.Add([]byte(`{"url":"https://fw.example/b.raucb","version":"1.2.0","size":1048576,"sha256":"` + strings.Repeat("ab", 32) + `"}`))
	f.Add([]byte(`{"url":"http://x","version":"1.x","size":-1,"sha256":"zz","allow_downgrade":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeFirmwareUpdateArgs(b)
		if err != nil {
			return
		}
		if a.Size <= 0 || len(a.SHA256) != 64 || !strings.HasPrefix(a.URL, "https") {
			t.Fatalf("accepted bad args %+v", a)
		}
		if _, err := ParseFirmwareVersion(a.Version); err != nil {
			t.Fatalf("accepted version %q: %v", a.Version, err)
		}
	})
}

func FuzzDecodeFirmwareJob(f *testing.F) {
	f.Add([]byte(`{"schema":1,"id":"j1","base":"bs-1","name":"firmware-update","state":"downloading","version":"1.2.0","bytes":10,"total":20,"time":"2026-11-22T17:05:00Z"}`))
	f.Add([]byte(`{"schema":1,"id":"j1","base":"bs-1","name":"firmware-update","state":"rejected","reason":"busy","version":"1.2.0","time":"2026-11-22T17:05:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeFirmwareJob(b)
		if err != nil {
			return
		}
		if !jobStateKnown(j.State) || (j.State == JobRejected && j.Reason == "") {
			t.Fatalf("accepted job %+v", j)
		}
	})
}
