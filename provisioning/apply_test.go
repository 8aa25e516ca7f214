package provisioning

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeBase is the daemon's side of applying: accounts, line and devices,
// with a log of what was done to them.
type fakeBase struct {
	mu       sync.Mutex
	onBase   []string
	attached map[string]string // device id -> extension
	busy     map[string]bool
	accounts []Account
	line     LineSettings
	refuse   error // SetAccounts fails with it
	log      []string
}

func (f *fakeBase) CheckAccount(a Account) error {
	if a.User == "" {
		return errors.New("user: must be a non-empty SIP user part")
	}
	return nil
}

func (f *fakeBase) SetAccounts(accts []Account, _ SIPSettings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.accounts = accts
	f.log = append(f.log, fmt.Sprintf("accounts %d", len(accts)))
	return nil
}

func (f *fakeBase) CheckLine(s LineSettings) error {
	if strings.Contains(s.DialPlan, "[") && !strings.Contains(s.DialPlan, "]") {
		return errors.New("bad dial plan")
	}
	return nil
}

func (f *fakeBase) SetLine(s LineSettings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.line = s
	return nil
}

func (f *fakeBase) Lines() []Line {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Line
	for _, id := range f.onBase {
		st := LineIdle
		if f.busy[id] {
			st = LineTalking
		}
		out = append(out, Line{Device: id, Extension: f.attached[id], State: st})
	}
	return out
}

func (f *fakeBase) Attach(id, ext string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attached[id] = ext
	f.log = append(f.log, "attach "+id+" "+ext)
	return nil
}

func (f *fakeBase) Detach(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.attached, id)
	f.log = append(f.log, "detach "+id)
}

func (f *fakeBase) takeLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.log
	f.log = nil
	return l
}

func applierConfig(exts ...Extension) *Config {
	return &Config{Schema: SchemaVersion, Base: "base-1", Version: 1,
		System: System{Registrars: []string{"sip:pbx.example.com;transport=tcp"}, ToneRegion: "US"}, Extensions: exts}
}

func ext(num string, devs Devices) Extension {
	return Extension{Number: num, SIP: SIPAccount{User: num, Password: "x", Domain: "pbx.example.com"}, Devices: devs, VoicemailNumber: "*98"}
}

// The applier's policy: accounts only for extensions with a device on this
// base, attachments following the configuration (moved devices detached
// first, unchanged ones kept), busy extensions from the lines, errors by
// field path, nothing changed when the user agent refuses the accounts.
func TestConfigApplier(t *testing.T) {
	f := &fakeBase{onBase: []string{PortDeviceID, "dect-000000001"}, attached: map[string]string{}, busy: map[string]bool{}}
	c := NewConfigApplier(f, f, f, nil)
	cfg := applierConfig(ext("101", Devices{Port: PortDeviceID}), ext("102", Devices{Linx: "dect-000000001"}), ext("103", Devices{Linx: "dect-000000009"}))
	p, errs := c.PlanFor(cfg)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(p.Accounts) != 2 || p.Accounts[0].Transport != "udp" || p.Accounts[0].Registrars[0] != "pbx.example.com" {
		t.Fatalf("accounts %+v", p.Accounts)
	}
	if !strings.Contains(p.Line.DialPlan, "|*98") || !strings.Contains(p.Line.DialPlan, "011x.T") {
		t.Errorf("digit map %q lacks the voicemail number or the timer", p.Line.DialPlan)
	}
	if err := c.Apply(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := f.takeLog(), []string{"accounts 2", "attach dect-000000001 102", "attach port1 101"}; !slices.Equal(got, want) {
		t.Fatalf("apply did %q, want %q", got, want)
	}
	f.busy[PortDeviceID] = true
	if got := c.BusyExtensions(); !slices.Equal(got, []string{"101"}) {
		t.Errorf("busy %v", got)
	}

	// The Linx moves to 101; the port stays (its call is kept).
	cfg2 := applierConfig(ext("101", Devices{Port: PortDeviceID, Linx: "dect-000000001"}))
	cfg2.Version = 2
	if err := c.Apply(t.Context(), cfg2); err != nil {
		t.Fatal(err)
	}
	if got, want := f.takeLog(), []string{"accounts 1", "detach dect-000000001", "attach dect-000000001 101"}; !slices.Equal(got, want) {
		t.Fatalf("re-apply did %q, want %q", got, want)
	}
	if c.Applied().Version != 2 {
		t.Errorf("applied version %d", c.Applied().Version)
	}

	// Refused accounts change nothing.
	f.refuse = errors.New("no")
	cfg3 := applierConfig(ext("104", Devices{Port: PortDeviceID}))
	cfg3.Version = 3
	if err := c.Apply(t.Context(), cfg3); err == nil || !strings.Contains(err.Error(), "SIP accounts") {
		t.Fatalf("refused accounts: %v", err)
	}
	if got := f.takeLog(); len(got) != 0 || c.Applied().Version != 2 {
		t.Fatalf("a refused configuration did %q (in force: %d)", got, c.Applied().Version)
	}

	// Every problem names its field.
	bad := applierConfig(ext("105", Devices{Port: PortDeviceID}))
	bad.Extensions[0].SIP.User = ""
	bad.System.TimeZone = "Nowhere/Atlantis"
	bad.System.DialPlan = []string{"[12"}
	var paths []string
	for _, e := range c.Check(bad) {
		paths = append(paths, e.Path)
	}
	if want := []string{"system.time_zone", "system.dial_plan", "extensions[0].sip"}; !slices.Equal(paths, want) {
		t.Fatalf("errors at %v, want %v", paths, want)
	}
}

// The registrations reported are those of the accounts in force.
func TestRegistrationsOfAccountsInForce(t *testing.T) {
	var r Registrations
	if rec, _ := r.Update(Registration{Extension: "101", State: RegRegistering}); rec {
		t.Fatal("a registration of no account in force was recorded")
	}
	r.setAccounts(map[string]bool{"101": true, "102": true})
	if rec, ch := r.Update(Registration{Extension: "101", State: RegRegistered}); !rec || !ch {
		t.Fatal("101's registration not recorded as a change")
	}
	if _, ch := r.Update(Registration{Extension: "101", State: RegRegistered}); ch {
		t.Fatal("the same state again counted as a change")
	}
	if got := r.Unregistered(); !slices.Equal(got, []string{"extension 102 not registered ()"}) {
		t.Fatalf("unregistered %q", got)
	}
	r.setAccounts(map[string]bool{"102": true})
	r.prune()
	if got := r.List(); len(got) != 0 || r.Registered("101") {
		t.Fatalf("101 removed but still listed: %+v", got)
	}
}

// The registration window's one outcome goes to the one caller.
func TestPairingSlot(t *testing.T) {
	var s PairingSlot
	ch, err := s.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(); !errors.Is(err, ErrRegistrationBusy) {
		t.Fatalf("second open: %v", err)
	}
	p, ok := Closed("timeout")
	if !ok || !s.Deliver(p) || !errors.Is((<-ch).Err, ErrRegistrationTimeout) {
		t.Fatal("the timeout did not reach the caller")
	}
	if s.Deliver(Pairing{}) {
		t.Fatal("delivered with nobody waiting")
	}
	if _, ok := Closed("paired"); ok {
		t.Fatal("a window closed by its pairing has an outcome of its own")
	}
}

func TestHostPortOfURI(t *testing.T) {
	cases := []struct{ in, hp, tr string }{
		{"sip:pbx.example.com", "pbx.example.com", ""},
		{"sip:pbx.example.com:5070;transport=TCP", "pbx.example.com:5070", "tcp"},
		{"sips:101@pbx.example.com", "pbx.example.com", "tls"},
		{"sip:[2001:db8::1]:5060", "[2001:db8::1]:5060", ""},
	}
	for _, c := range cases {
		hp, tr, err := HostPortOfURI(c.in)
		if err != nil || hp != c.hp || tr != c.tr {
			t.Errorf("%s: %q %q %v, want %q %q", c.in, hp, tr, err, c.hp, c.tr)
		}
	}
	for _, in := range []string{"sip:", "sip:a:b:c"} {
		if _, _, err := HostPortOfURI(in); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func FuzzHostPortOfURI(f *testing.F) {
	f.Add("sip:pbx.example.com:5070;transport=tcp")
	f.Add("sips:u@[::1]")
	f.Fuzz(func(t *testing.T, u string) {
		hp, _, err := HostPortOfURI(u)
		if err == nil && hp == "" {
			t.Fatalf("%q: no host and no error", u)
		}
	})
}
