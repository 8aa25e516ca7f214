package soak

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"basestation/provisioning"
)

// model is what the walk expects of the base: the configuration it
// applied, the devices paired with it, the registration window, the calls
// in progress and the mailboxes. Steps change it only as the outcome they
// expect; a base that does otherwise is a violation.
type model struct {
	version     uint64 // the configuration version in force at the base
	nextVersion uint64 // the next version the portal publishes
	assign      map[string]provisioning.Devices
	callerID    map[string]string
	deleted     map[string]bool // extensions the portal deleted
	dirty       bool            // the retained desired document is not the applied configuration

	paired  map[string]bool // by simulated device name
	powered map[string]bool
	inRange map[string]bool

	win         *window
	wrong       int // wrong PINs in a row
	lockedUntil time.Time

	calls []*call
	mwi   map[string]int // ext → new messages; -1 unknown (after a PBX outage)

	portFault bool
}

// window is an open registration window and its register-device command.
type window struct {
	pin      string
	closesAt time.Time
	cmdID    string
	res      chan cmdOutcome // the command's final result
	cancel   func()
	lost     bool // the broker restarted: the result may never arrive
}

type cmdOutcome struct {
	r   *provisioning.Result
	err error
}

// call is one call between a softphone and a device of the base.
type call struct {
	sp       string   // the softphone's extension
	ext      string   // the base's extension
	inbound  bool     // the softphone called the base
	state    string   // "ringing" (inbound: at the base's devices; outbound: at the softphone) or "connected"
	dev      string   // the device that answered or called ("" while an inbound call rings)
	ringing  []string // inbound, ringing: the devices that ring
	maybe    []string // inbound, ringing: devices that may ring too (they joined while it rang)
	spResult chan error
}

func newModel() *model {
	m := &model{
		version: 1, nextVersion: 2,
		assign:   map[string]provisioning.Devices{},
		callerID: map[string]string{},
		deleted:  map[string]bool{},
		paired:   map[string]bool{}, powered: map[string]bool{}, inRange: map[string]bool{},
		mwi: map[string]int{},
	}
	for _, u := range users {
		m.callerID[u.Number] = "+1613555" + "0" + u.Number
		m.mwi[u.Number] = 0
	}
	m.assign["101"] = provisioning.Devices{Port: provisioning.PortDeviceID}
	return m
}

// config is the configuration document of the model at version v.
func (m *model) config(v uint64, pbxAddr string) *provisioning.Config {
	c := &provisioning.Config{
		Schema:  provisioning.SchemaVersion,
		Base:    baseID,
		Version: v,
		System: provisioning.System{
			Registrars:          []string{"sip:" + pbxAddr},
			ToneRegion:          "US",
			TimeZone:            "America/Toronto",
			RegisterExpiresS:    60,
			RegistrationWindowS: 20,
		},
	}
	for _, u := range users {
		if m.deleted[u.Number] {
			continue
		}
		c.Extensions = append(c.Extensions, provisioning.Extension{
			Number: u.Number, DisplayName: u.Name,
			SIP:             provisioning.SIPAccount{User: u.Number, Password: u.Password, Domain: "127.0.0.1"},
			CallerID:        m.callerID[u.Number],
			VoicemailNumber: "*97",
			Devices:         m.assign[u.Number],
		})
	}
	return c
}

// extOf is the extension a device is assigned to ("" for none).
func (m *model) extOf(id string) string {
	for ext, d := range m.assign {
		if d.Port == id || d.Linx == id || d.Headset == id {
			return ext
		}
	}
	return ""
}

// devicesOf lists an extension's devices.
func (m *model) devicesOf(ext string) []string {
	d := m.assign[ext]
	var out []string
	for _, id := range []string{d.Port, d.Linx, d.Headset} {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (m *model) unassign(id string) {
	for ext, d := range m.assign {
		for _, t := range []provisioning.DeviceType{provisioning.DevicePort, provisioning.DeviceLinx, provisioning.DeviceHeadset} {
			if d.Get(t) == id {
				_ = d.Set(t, "")
			}
		}
		m.assign[ext] = d
	}
}

// callOf returns the call a device carries or rings for.
func (m *model) callOf(id string) *call {
	for _, c := range m.calls {
		if c.dev == id || slices.Contains(c.ringing, id) {
			return c
		}
	}
	return nil
}

func (m *model) callOfPhone(sp string) *call {
	for _, c := range m.calls {
		if c.sp == sp {
			return c
		}
	}
	return nil
}

func (m *model) extBusy(ext string) bool {
	for _, c := range m.calls {
		if c.ext == ext {
			return true
		}
	}
	return false
}

func (m *model) removeCall(c *call) {
	m.calls = slices.DeleteFunc(m.calls, func(x *call) bool { return x == c })
}

// lineWant is the line state the model expects the base to report for a
// device, and the other states it tolerates.
func (m *model) lineWant(id string) []string {
	if id == provisioning.PortDeviceID && m.portFault {
		return []string{provisioning.LineFault}
	}
	c := m.callOf(id)
	switch {
	case c == nil:
		for _, x := range m.calls {
			if x.state == "ringing" && slices.Contains(x.maybe, id) {
				return []string{provisioning.LineIdle, provisioning.LineRinging}
			}
		}
		return []string{provisioning.LineIdle}
	case c.state == "ringing" && c.inbound:
		return []string{provisioning.LineRinging}
	case c.state == "ringing":
		// Outbound, the softphone rings: the device is off-hook, dialing
		// or hearing early media.
		return []string{provisioning.LineDialing, provisioning.LineTalking}
	}
	return []string{provisioning.LineTalking}
}

func (m *model) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d", m.version)
	for _, ext := range sortedKeys(m.assign) {
		if ds := m.devicesOf(ext); len(ds) > 0 {
			fmt.Fprintf(&b, " %s=%s", ext, strings.Join(ds, ","))
		}
	}
	var p []string
	for n, ok := range m.paired {
		if ok {
			p = append(p, n)
		}
	}
	sort.Strings(p)
	fmt.Fprintf(&b, " paired=%v calls=%d", p, len(m.calls))
	return b.String()
}
