package provisioning

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func sample() *Config {
	return &Config{
		Schema: SchemaVersion, Base: "bs-1", Version: 4,
		System: System{Registrars: []string{"sip:pbx.example.net", "sip:10.0.0.2:5070;transport=tcp"}, ToneRegion: "CA", TimeZone: "America/Toronto",
			DialPlan: []string{"[2-9]11", "1[2-9]xx[2-9]xxxxxx", "011x.", "*xx"}, RegistrationWindowS: 60},
		Extensions: []Extension{
			{Number: "101", DisplayName: "Ann", SIP: SIPAccount{User: "ann", Password: "pw", Domain: "pbx.example.net"}, CallerID: "+15145550101",
				Devices: Devices{Port: "port1", Linx: "dect-1"}},
			{Number: "102", DisplayName: "Bob", SIP: SIPAccount{User: "bob", Password: "pw2", Domain: "pbx.example.net", Transport: "tls", SRTPRequired: true,
				OutboundProxy: "sips:[2001:db8::1]:5061"}, Devices: Devices{Headset: "dect-2"}},
		},
	}
}

var known = []Device{{ID: "port1", Type: DevicePort}, {ID: "dect-1", Type: DeviceLinx}, {ID: "dect-2", Type: DeviceHeadset}, {ID: "dect-3", Type: DeviceLinx}}

func TestValidateAcceptsGoodConfig(t *testing.T) {
	if errs := Validate(sample(), "bs-1", known); errs != nil {
		t.Fatalf("valid config rejected: %v", errs)
	}
}

func TestValidateReportsEveryErrorWithPath(t *testing.T) {
	c := sample()
	c.Version = 0
	c.Base = "bs-2"
	c.System.Registrars = append(c.System.Registrars, "http://x", "sip:pbx.example.net")
	c.System.ToneRegion = "UK"
	c.System.TimeZone = "Mars/Olympus"
	c.System.RegistrationWindowS = 121
	c.System.FailoverRetryS = 5
	c.System.DialPlan = []string{"1[9-2]x", ".1", "12a"}
	c.Extensions[0].Devices.Linx = "dect-2"    // a headset under linx
	c.Extensions[0].CallerID = "5551234"       // not E.164
	c.Extensions[1].Devices.Headset = "dect-9" // unknown
	c.Extensions[1].SIP.Transport = "udp"      // with srtp_required
	c.Extensions = append(c.Extensions, Extension{Number: "101", DisplayName: "", SIP: SIPAccount{User: "a b", Domain: "-bad-"},
		VoicemailNumber: "*98x", Devices: Devices{Port: "port1", Linx: "dect-3"}})
	c.Extensions = append(c.Extensions, Extension{Number: "1a", DisplayName: "Zed", SIP: SIPAccount{User: "z", Password: "p", Domain: "300.1.1.1",
		Registrars: []string{"sip:user@host"}}, Devices: Devices{Linx: "bad id!"}})
	got := Validate(c, "bs-1", known)
	want := []string{
		"base", "version",
		"system.registrars[2]", "system.registrars[3]",
		"system.failover_retry_s", "system.registration_window_s",
		"system.tone_region", "system.time_zone",
		"system.dial_plan[0]", "system.dial_plan[1]", "system.dial_plan[2]",
		"extensions[0].caller_id", "extensions[0].devices.linx",
		"extensions[1].sip.srtp_required", "extensions[1].devices.headset",
		"extensions[2].number", "extensions[2].display_name", "extensions[2].sip.user", "extensions[2].sip.password", "extensions[2].sip.domain",
		"extensions[2].voicemail_number", "extensions[2].devices.port",
		"extensions[3].number", "extensions[3].sip.domain", "extensions[3].sip.registrars[0]", "extensions[3].devices.linx",
	}
	var paths []string
	for _, e := range got {
		paths = append(paths, e.Path)
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Fatalf("paths:\n%s\nwant:\n%s\nerrors:\n%v", strings.Join(paths, "\n"), strings.Join(want, "\n"), got)
	}
	// The messages say what is wrong.
	msgs := map[string]string{}
	for _, e := range got {
		msgs[e.Path] = e.Message
	}
	for path, frag := range map[string]string{
		"extensions[0].devices.linx":    "is a headset, not a linx",
		"extensions[1].devices.headset": "unknown device dect-9",
		"extensions[2].devices.port":    "already assigned at extensions[0].devices.port",
		"extensions[2].number":          "already defined at extensions[0]",
		"system.registration_window_s":  "121 is out of range (10 to 120",
	} {
		if !strings.Contains(msgs[path], frag) {
			t.Errorf("%s: message %q lacks %q", path, msgs[path], frag)
		}
	}
}

func TestValidateWithoutKnownDevicesSkipsExistence(t *testing.T) {
	c := sample()
	c.Extensions[0].Devices.Linx = "dect-77"
	if errs := Validate(c, "", nil); errs != nil {
		t.Fatalf("unexpected errors without device list: %v", errs)
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"unknown field": {`{"schema":1,"base":"b","version":1,"colour":"red"}`, `unknown field "colour"`},
		"wrong type":    {`{"schema":1,"base":"b","version":"7"}`, "version: expected uint64"},
		"nested type":   {`{"schema":1,"extensions":[{"devices":{"linx":5}}]}`, "extensions.devices.linx: expected string"},
		"schema":        {`{"schema":2,"base":"b","version":1}`, "unsupported schema version 2"},
		"trailing":      {`{"schema":1} {}`, "trailing data"},
		"truncated":     {`{"schema":1,`, "unexpected end"},
		"syntax":        {`{"schema":1,,}`, "malformed JSON at byte"},
		"empty":         {``, "empty payload"},
		"huge":          {`{"x":"` + strings.Repeat("a", MaxPayload) + `"}`, "exceeds"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeConfig([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestSIPURIAndDialPatterns(t *testing.T) {
	for _, u := range []string{"sip:pbx.example.net", "sips:pbx.example.net:5061", "sip:10.1.2.3:5060;transport=udp;lr", "sip:[::1]:5060"} {
		if err := CheckSIPURI(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"pbx.example.net", "sip:", "sip:a@b", "sip:host:0", "sip:host:65536", "sip:host;maddr=x", "sip:[::1", "sip:1.2.3.999"} {
		if err := CheckSIPURI(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, p := range append(DefaultDialPlan(), "[13-5]x.", "#", "x") {
		if err := CheckDialPattern(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"", ".", "1..", "[]", "[2-]", "[a]", "[12", "1-2", strings.Repeat("1", 33)} {
		if err := CheckDialPattern(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestExampleDocumentsInAPIDocDecode(t *testing.T) {
	// Every JSON example in docs/mqtt-api.md decodes with the decoder of
	// its kind (the doc names it in the block's info string).
	b, err := os.ReadFile("../docs/mqtt-api.md")
	if err != nil {
		t.Fatalf("the contract document must be in the repository: %v", err)
	}
	docDevices := []Device{{ID: "port1", Type: DevicePort}, {ID: "dect-0a1b2c3d", Type: DeviceLinx}, {ID: "dect-0e0f1011", Type: DeviceHeadset}}
	n := 0
	for _, blk := range strings.Split(string(b), "```json")[1:] {
		// The info string names the kind: ```json config
		head, body, _ := strings.Cut(blk, "\n")
		payload, _, _ := strings.Cut(body, "```")
		kind := strings.TrimSpace(head)
		var err error
		switch kind {
		case "config":
			var c *Config
			c, err = DecodeConfig([]byte(payload))
			if err == nil {
				if errs := Validate(c, "bs-1", docDevices); errs != nil {
					err = &ValidationError{Errors: errs}
				}
			}
		case "invalid-config":
			var c *Config
			c, err = DecodeConfig([]byte(payload))
			if err == nil {
				errs := Validate(c, "bs-1", docDevices)
				var got []string
				for _, e := range errs {
					got = append(got, e.Path)
				}
				if strings.Join(got, " ") != "extensions[1].devices.port extensions[1].devices.linx" {
					t.Errorf("invalid-config example: errors %v", errs)
				}
			}
		case "command":
			_, err = DecodeCommand([]byte(payload))
		case "result":
			_, err = DecodeResult([]byte(payload))
		case "firmware-job":
			_, err = DecodeFirmwareJob([]byte(payload))
		case "event":
			_, err = DecodeEvent([]byte(payload))
		case "state":
			_, err = DecodeState([]byte(payload))
		case "status":
			_, err = DecodeStatus([]byte(payload))
		default:
			t.Errorf("json block without a known kind (%q): %.60s", kind, body)
			continue
		}
		n++
		if err != nil {
			t.Errorf("%s example: %v\n%s", kind, err, payload)
		}
		if !json.Valid([]byte(payload)) {
			t.Errorf("%s example is not valid JSON", kind)
		}
	}
	if n < 15 {
		t.Errorf("only %d examples found in docs/mqtt-api.md", n)
	}
}
