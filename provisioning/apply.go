package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// What a configuration means for this base, and how it is put in force.
// ConfigApplier implements Applier over three small interfaces the daemon
// satisfies with the user agent (Accounts), the analog line and the
// devices' clocks (LineSetup), and the devices and their attachments (Attachments).
// The policy is here: which extensions get an account (those with a device
// on this base), what their accounts are, the line's dial plan and zone,
// the order of the changes, and how attachments follow the configuration.

// Account is an extension's SIP account as this base registers it.
type Account struct {
	Extension                    string
	User, AuthUser, Password     string
	Domain                       string
	Transport                    string   // udp, tcp or tls
	Registrars                   []string // host[:port], in failover order
	OutboundProxy                string   // host[:port]; "" for none
	Expires                      time.Duration
	CallerIDNumber, CallerIDName string
	SRTPRequired                 bool
}

// LineSettings are the system settings the analog line and the devices'
// clocks take. A zero field keeps the line's own setting.
type LineSettings struct {
	Region     string         // tone plan
	DialPlan   string         // digit map (see DigitMap)
	InterDigit time.Duration  // the long inter-digit timer
	Location   *time.Location // caller-ID and clock time zone; never nil in a Plan
}

// Accounts is the SIP user agent as the applier needs it.
type Accounts interface {
	// CheckAccount reports what the user agent would refuse in a.
	CheckAccount(a Account) error
	// SetAccounts puts accts in force with the system's SIP settings, all
	// or nothing.
	SetAccounts(accts []Account, s SIPSettings) error
}

// SIPSettings are the system settings the user agent takes with the
// accounts.
type SIPSettings struct {
	// Failback is the time on a fallback registrar before the primary is
	// tried again (system.failover_retry_s).
	Failback time.Duration
	// DSCP is the class SIP signalling is marked with (system.sip_dscp,
	// 0..63; 0 leaves it unmarked).
	DSCP int
	// Quality is system.call_quality with every default filled in.
	Quality CallQualitySettings
}

// LineSetup is the analog line (and the devices' clocks) as the applier
// needs it.
type LineSetup interface {
	CheckLine(s LineSettings) error
	SetLine(s LineSettings) error
}

// Attachments are the base's devices and their attachments to extensions.
type Attachments interface {
	// Lines are the base's devices now, each with its extension ("" if
	// none) and state (StateSource.Lines).
	Lines() []Line
	// Attach makes the device ring and call for ext.
	Attach(id, ext string) error
	// Detach takes the device from its extension (a ringing one stops).
	Detach(id string)
}

// Plan is a configuration turned into what the base takes.
type Plan struct {
	Accounts []Account         // the extensions with a device on this base
	Attach   map[string]string // device id -> extension number
	Line     LineSettings
	SIP      SIPSettings
}

// ConfigApplier puts configurations in force over the base's devices. Its
// methods are safe for concurrent use.
type ConfigApplier struct {
	accounts Accounts
	line     LineSetup
	devices  Attachments
	log      *slog.Logger

	// syncMu serialises attachment changes as a whole (Apply, Reattach):
	// each reads the configuration in force and makes the attachments
	// match it; two interleaved could attach a device twice or put an
	// older configuration's attachments back. Taken before mu.
	syncMu sync.Mutex
	mu     sync.Mutex
	cfg    *Config // in force; nil before the first Apply
	regs   Registrations
}

var _ Applier = (*ConfigApplier)(nil)

// NewConfigApplier returns an applier over the base's accounts, line and
// devices; log nil means slog.Default().
func NewConfigApplier(a Accounts, l LineSetup, d Attachments, log *slog.Logger) *ConfigApplier {
	if log == nil {
		log = slog.Default()
	}
	return &ConfigApplier{accounts: a, line: l, devices: d, log: log}
}

// Registrations are the registrations of the accounts in force.
func (c *ConfigApplier) Registrations() *Registrations { return &c.regs }

// Applied returns a copy of the configuration in force (nil before the
// first Apply).
func (c *ConfigApplier) Applied() *Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil
	}
	return c.cfg.Clone()
}

// PlanFor turns cfg into what the base takes, with every problem found
// named by its field path.
func (c *ConfigApplier) PlanFor(cfg *Config) (*Plan, []FieldError) {
	var errs []FieldError
	bad := func(path, format string, a ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, a...)})
	}
	cfg = cfg.WithDefaults()
	p := &Plan{Attach: map[string]string{}, SIP: SIPSettings{Failback: time.Duration(cfg.System.FailoverRetryS) * time.Second,
		DSCP: cfg.System.SIPDSCPValue(), Quality: cfg.System.QualitySettings()},
		Line: LineSettings{Region: cfg.System.ToneRegion, DialPlan: DigitMap(cfg), Location: time.UTC,
			InterDigit: time.Duration(cfg.System.InterDigitTimeoutS) * time.Second}}
	if tz := cfg.System.TimeZone; tz != "" {
		if loc, err := time.LoadLocation(tz); err != nil {
			bad("system.time_zone", "%v", err)
		} else {
			p.Line.Location = loc
		}
	}
	if err := c.line.CheckLine(p.Line); err != nil {
		bad("system.dial_plan", "%v", err)
	}
	onBase := map[string]bool{}
	for _, l := range c.devices.Lines() {
		onBase[l.Device] = true
	}
	for i, e := range cfg.Extensions {
		var local []string
		for _, id := range e.Devices.IDs() {
			if onBase[id] {
				local = append(local, id)
			}
		}
		if len(local) == 0 {
			continue // no device of this extension is on this base
		}
		acct, err := AccountOf(cfg, &e)
		if err == nil {
			err = c.accounts.CheckAccount(acct)
		}
		if err != nil {
			bad(fmt.Sprintf("extensions[%d].sip", i), "%v", err)
			continue
		}
		p.Accounts = append(p.Accounts, acct)
		for _, id := range local {
			p.Attach[id] = e.Number
		}
	}
	return p, errs
}

// Check validates cfg against the live base (Applier).
func (c *ConfigApplier) Check(cfg *Config) []FieldError {
	_, errs := c.PlanFor(cfg)
	return errs
}

// Apply puts cfg in force (Applier). The SIP accounts change first; if
// the user agent refuses them, nothing else changes. The line keeps its
// previous settings if it refuses the new ones (logged: the accounts are
// already in force).
func (c *ConfigApplier) Apply(_ context.Context, cfg *Config) error {
	p, errs := c.PlanFor(cfg)
	if len(errs) > 0 {
		return fmt.Errorf("configuration version %d: %v", cfg.Version, errs[0])
	}
	on := make(map[string]bool, len(p.Accounts))
	for _, a := range p.Accounts {
		on[a.Extension] = true
	}
	prev := c.regs.setAccounts(on)
	if err := c.accounts.SetAccounts(p.Accounts, p.SIP); err != nil {
		c.regs.setAccounts(prev)
		return fmt.Errorf("SIP accounts: %w", err)
	}
	c.regs.prune()
	if err := c.line.SetLine(p.Line); err != nil {
		c.log.Warn("analog port settings not applied", "error", err)
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	c.cfg = cfg.Clone()
	c.mu.Unlock()
	c.syncAttachments(p.Attach)
	c.log.Info("configuration applied", "version", cfg.Version, "extensions", len(p.Accounts), "devices", len(p.Attach))
	return nil
}

// Reattach makes the attachments match the configuration in force again
// (a device paired again, a device object renewed).
func (c *ConfigApplier) Reattach() {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	cfg := c.Applied()
	if cfg == nil {
		return
	}
	p, _ := c.PlanFor(cfg)
	c.syncAttachments(p.Attach)
}

// syncAttachments (under syncMu): devices that moved or were removed are
// detached first (a ringing one stops at once), then the new ones are
// attached in id order. Unchanged ones keep their calls.
func (c *ConfigApplier) syncAttachments(want map[string]string) {
	cur := map[string]bool{}
	for _, l := range c.devices.Lines() {
		if l.Extension != "" && want[l.Device] != l.Extension {
			c.devices.Detach(l.Device)
		} else if l.Extension != "" {
			cur[l.Device] = true
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		if !cur[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := c.devices.Attach(id, want[id]); err != nil {
			c.log.Warn("device not attached", "device", id, "extension", want[id], "error", err)
		}
	}
}

// BusyExtensions lists the extensions with a call up or being set up on a
// device of this base (Applier).
func (c *ConfigApplier) BusyExtensions() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range c.devices.Lines() {
		if l.Extension != "" && !seen[l.Extension] && l.Busy() {
			seen[l.Extension] = true
			out = append(out, l.Extension)
		}
	}
	sort.Strings(out)
	return out
}

// DigitMap is the analog line's digit map for cfg: its dial plan's
// patterns (the contract's default when it has none), a variable-length
// pattern ended by the inter-digit timer ("T"), and every extension's
// voicemail access number so it always dials.
func DigitMap(cfg *Config) string {
	pats := append([]string(nil), cfg.System.DialPlan...)
	if len(pats) == 0 {
		pats = DefaultDialPlan()
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

// AccountOf is extension e's SIP account under cfg (with its defaults
// filled): the extension's registrars or the system's, the transport from
// the account, a registrar URI or udp.
func AccountOf(cfg *Config, e *Extension) (Account, error) {
	regs := e.SIP.Registrars
	if len(regs) == 0 {
		regs = cfg.System.Registrars
	}
	a := Account{
		Extension: e.Number, User: e.SIP.User, AuthUser: e.SIP.AuthUser, Password: e.SIP.Password,
		Domain: e.SIP.Domain, Transport: e.SIP.Transport,
		Expires:        time.Duration(cfg.System.RegisterExpiresS) * time.Second,
		CallerIDNumber: e.CallerID, CallerIDName: e.DisplayName, SRTPRequired: e.SIP.SRTPRequired,
	}
	for _, r := range regs {
		hp, tr, err := HostPortOfURI(r)
		if err != nil {
			return a, fmt.Errorf("registrar %q: %w", r, err)
		}
		a.Registrars = append(a.Registrars, hp)
		if a.Transport == "" && tr != "" {
			a.Transport = tr
		}
	}
	if e.SIP.OutboundProxy != "" {
		hp, _, err := HostPortOfURI(e.SIP.OutboundProxy)
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

// HostPortOfURI turns sip:[user@]host[:port][;transport=x] (or sips:,
// whose transport is tls) into host[:port] and the transport.
func HostPortOfURI(u string) (hostport, transport string, err error) {
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
