package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"basestation/fxs"
	"basestation/provisioning"
	"basestation/sipua"
)

// The daemon is the provisioning agent's Applier.
var _ provisioning.Applier = (*Daemon)(nil)

// translation is a cloud configuration turned into what the subsystems
// take.
type translation struct {
	exts   []sipua.Extension
	attach map[string]string // device id -> extension number
	fxs    fxs.Config
	loc    *time.Location
	// failback is system.failover_retry_s: the time on a fallback
	// registrar before the primary is tried again.
	failback time.Duration
}

func (d *Daemon) translate(cfg *provisioning.Config) (*translation, []provisioning.FieldError) {
	var errs []provisioning.FieldError
	bad := func(path, format string, a ...any) {
		errs = append(errs, provisioning.FieldError{Path: path, Message: fmt.Sprintf(format, a...)})
	}
	cfg = cfg.WithDefaults()
	t := &translation{attach: map[string]string{}, loc: time.UTC,
		failback: time.Duration(cfg.System.FailoverRetryS) * time.Second}
	if cfg.System.TimeZone != "" {
		loc, err := time.LoadLocation(cfg.System.TimeZone)
		if err != nil {
			bad("system.time_zone", "%v", err)
		} else {
			t.loc = loc
		}
	}
	t.fxs = d.port.Config()
	t.fxs.Location = t.loc // caller-ID times on the phone in the base's zone
	if r := cfg.System.ToneRegion; r != "" {
		t.fxs.Region = r
	}
	plan := dialPlanOf(cfg)
	if plan != "" {
		t.fxs.DialPlan = plan
	}
	if s := cfg.System.InterDigitTimeoutS; s > 0 {
		t.fxs.InterDigitLong = time.Duration(s) * time.Second
	}
	if err := t.fxs.Validate(); err != nil {
		bad("system.dial_plan", "%v", err)
	}
	for i, e := range cfg.Extensions {
		path := fmt.Sprintf("extensions[%d]", i)
		var local []string
		for _, id := range e.Devices.IDs() {
			if _, err := d.endpointFor(id); err == nil {
				local = append(local, id)
			}
		}
		if len(local) == 0 {
			continue // no device of this extension is on this base
		}
		acct, err := accountOf(cfg, &e)
		if err != nil {
			bad(path+".sip", "%v", err)
			continue
		}
		if err := acct.Validate(); err != nil {
			bad(path+".sip", "%v", err)
			continue
		}
		t.exts = append(t.exts, sipua.Extension{Name: e.Number, Account: acct})
		for _, id := range local {
			t.attach[id] = e.Number
		}
	}
	return t, errs
}

// defaultDialPlan is the port's digit map when the configuration sets
// none: provisioning.DefaultDialPlan, the contract's default.
func defaultDialPlan() string {
	return dialPlanOf((&provisioning.Config{}).WithDefaults())
}

// dialPlanOf builds the port's digit map from the cloud's patterns, adding
// the voicemail access numbers so they always dial.
func dialPlanOf(cfg *provisioning.Config) string {
	pats := append([]string(nil), cfg.System.DialPlan...)
	if len(pats) == 0 {
		return ""
	}
	seen := map[string]bool{}
	for _, p := range pats {
		seen[p] = true
	}
	for _, e := range cfg.Extensions {
		if v := e.VoicemailNumber; v != "" && !seen[v] {
			pats = append(pats, v)
			seen[v] = true
		}
	}
	for i, p := range pats {
		if strings.HasSuffix(p, ".") {
			pats[i] = p + "T"
		}
	}
	return strings.Join(pats, "|")
}

// accountOf makes the SIP account of an extension.
func accountOf(cfg *provisioning.Config, e *provisioning.Extension) (sipua.Account, error) {
	regs := e.SIP.Registrars
	if len(regs) == 0 {
		regs = cfg.System.Registrars
	}
	a := sipua.Account{
		User:           e.SIP.User,
		AuthUser:       e.SIP.AuthUser,
		Password:       e.SIP.Password,
		Domain:         e.SIP.Domain,
		Transport:      sipua.Transport(e.SIP.Transport),
		Expires:        time.Duration(cfg.System.RegisterExpiresS) * time.Second,
		CallerIDNumber: e.CallerID,
		CallerIDName:   e.DisplayName,
		MWI:            true,
	}
	if e.SIP.SRTPRequired {
		a.SRTP = "required"
	}
	for _, r := range regs {
		hp, tr, err := hostPortOfURI(r)
		if err != nil {
			return a, fmt.Errorf("registrar %q: %w", r, err)
		}
		a.Registrars = append(a.Registrars, hp)
		if a.Transport == "" && tr != "" {
			a.Transport = sipua.Transport(tr)
		}
	}
	if e.SIP.OutboundProxy != "" {
		hp, _, err := hostPortOfURI(e.SIP.OutboundProxy)
		if err != nil {
			return a, fmt.Errorf("outbound_proxy %q: %w", e.SIP.OutboundProxy, err)
		}
		a.OutboundProxy = hp
	}
	if a.Transport == "" {
		a.Transport = "udp"
	}
	return a, nil
}

// hostPortOfURI turns sip:host[:port][;transport=x] into host[:port] and
// the transport.
func hostPortOfURI(u string) (hostport, transport string, err error) {
	s := u
	switch {
	case strings.HasPrefix(s, "sip:"):
		s = s[4:]
	case strings.HasPrefix(s, "sips:"):
		s, transport = s[5:], "tls"
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	params := ""
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s, params = s[:i], s[i+1:]
	}
	for _, p := range strings.Split(params, ";") {
		if v, ok := strings.CutPrefix(p, "transport="); ok {
			transport = strings.ToLower(v)
		}
	}
	if s == "" {
		return "", "", errors.New("no host")
	}
	if _, _, err := net.SplitHostPort(s); err != nil && strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
		return "", "", err
	}
	return s, transport, nil
}

// Check validates a configuration against the live base (implements
// provisioning.Applier).
func (d *Daemon) Check(cfg *provisioning.Config) []provisioning.FieldError {
	_, errs := d.translate(cfg)
	return errs
}

// Apply puts a configuration in force (implements provisioning.Applier).
// The SIP accounts change first; if the user agent refuses them, nothing
// else changes.
func (d *Daemon) Apply(ctx context.Context, cfg *provisioning.Config) error {
	t, errs := d.translate(cfg)
	if len(errs) > 0 {
		return fmt.Errorf("configuration version %d: %v", cfg.Version, errs[0])
	}
	// The registrations reported are those of the accounts in force: an
	// extension removed from the configuration (or left with no device on
	// this base) loses its entry now, and the user agent's late events for
	// it are ignored. The set changes before the accounts do so that the
	// first events of a new account are not missed.
	accounts := make(map[string]bool, len(t.exts))
	for _, e := range t.exts {
		accounts[e.Name] = true
	}
	d.mu.Lock()
	prevAccounts := d.accounts
	d.accounts = accounts
	d.mu.Unlock()
	sc := d.ua.Config()
	sc.Extensions = t.exts
	sc.Timing.Failback = t.failback
	if err := d.ua.SetConfig(sc); err != nil {
		d.mu.Lock()
		d.accounts = prevAccounts
		d.mu.Unlock()
		return fmt.Errorf("SIP accounts: %w", err)
	}
	d.mu.Lock()
	for ext := range d.regs {
		if !accounts[ext] {
			delete(d.regs, ext)
		}
	}
	d.mu.Unlock()
	if err := d.port.SetConfig(t.fxs); err != nil {
		// The accounts are already in force; the port keeps its previous
		// tone and dial plan. Report it without undoing the accounts.
		d.log.Warn("analog port settings not applied", "error", err)
	}
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.mu.Lock()
	d.applied = cfg.Clone()
	d.loc = t.loc
	d.mu.Unlock()
	d.radio.SyncClock() // the devices' clock, in the (maybe new) time zone
	d.syncAttachments(t.attach)
	d.log.Info("configuration applied", "version", cfg.Version, "extensions", len(t.exts), "devices", len(t.attach))
	return nil
}

// reattach re-runs the attachments of the configuration in force (a device
// paired again, a device object renewed).
func (d *Daemon) reattach() {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.mu.Lock()
	cfg := d.applied
	d.mu.Unlock()
	if cfg == nil {
		return
	}
	t, _ := d.translate(cfg)
	d.syncAttachments(t.attach)
}

// syncAttachments makes the endpoints' attachments match want (the caller
// holds syncMu): devices
// that moved or were removed are detached first (a ringing one stops at
// once), then the new ones are attached. Unchanged ones keep their calls.
func (d *Daemon) syncAttachments(want map[string]string) {
	d.mu.Lock()
	var drop []string
	for id, a := range d.attached {
		if want[id] != a.ext {
			drop = append(drop, id)
		}
	}
	d.mu.Unlock()
	for _, id := range drop {
		d.detach(id)
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ext := want[id]
		d.mu.Lock()
		cur := d.attached[id]
		d.mu.Unlock()
		if cur != nil {
			continue
		}
		ep, err := d.endpointFor(id)
		if err != nil {
			d.log.Warn("device not attached", "device", id, "extension", ext, "error", err)
			continue
		}
		rep, err := d.ua.Attach(ext, ep)
		if err != nil {
			d.log.Warn("device not attached", "device", id, "extension", ext, "error", err)
			continue
		}
		d.mu.Lock()
		d.attached[id] = &attachment{ext: ext, ep: ep, report: rep}
		d.mu.Unlock()
	}
	d.agent.StateChanged()
}

// detach takes a device away from its extension.
func (d *Daemon) detach(id string) {
	d.mu.Lock()
	a := d.attached[id]
	delete(d.attached, id)
	d.mu.Unlock()
	if a == nil {
		return
	}
	if err := d.ua.Detach(a.ep); err != nil {
		d.log.Warn("detach", "device", id, "error", err)
	}
	_ = a.ep.StopRinging()
}

// BusyExtensions lists the extensions with a call up or being set up
// (implements provisioning.Applier).
func (d *Daemon) BusyExtensions() []string {
	d.mu.Lock()
	type al struct {
		ext   string
		line  lineDev
		fault string
	}
	var lines []al
	for id, a := range d.attached {
		if id == PortID {
			lines = append(lines, al{a.ext, d.port, d.faults[id]})
		} else if dev := d.dectEP[id]; dev != nil {
			lines = append(lines, al{a.ext, dev, d.faults[id]})
		}
	}
	d.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		if busy(l.line, l.fault) && !seen[l.ext] {
			seen[l.ext] = true
			out = append(out, l.ext)
		}
	}
	sort.Strings(out)
	return out
}
