package provisioning

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones must validate on a board without /usr/share/zoneinfo
	"unicode"
	"unicode/utf8"
)

// FieldError is one problem in a document, with the path of the field in
// JSON terms: "extensions[1].devices.linx".
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Path + ": " + e.Message }

// ValidationError is a rejected configuration with every problem found.
type ValidationError struct {
	Version uint64
	Errors  []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "configuration version %d rejected (%d error", e.Version, len(e.Errors))
	if len(e.Errors) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Limits of the configuration document.
const (
	MaxExtensions = 64
	MaxRegistrars = 4
	maxPatterns   = 32
)

type checker struct{ errs []FieldError }

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks a configuration for base (empty: any base) and returns
// every problem found, in document order. known lists the devices the base
// knows (its phone port and its paired DECT devices); nil skips the checks
// that need them (existence and type of assigned devices), which lets the
// cloud validate before it knows the base's devices. A nil result means the
// document is valid.
func Validate(cfg *Config, base string, known []Device) []FieldError {
	var c checker
	if cfg.Schema != SchemaVersion {
		c.add("schema", "unsupported schema version %d (want %d)", cfg.Schema, SchemaVersion)
	}
	if base != "" && cfg.Base != base {
		c.add("base", "document is for base %q, this is base %q", cfg.Base, base)
	}
	if cfg.Version == 0 {
		c.add("version", "must be at least 1")
	}
	validateSystem(&c, &cfg.System)

	if len(cfg.Extensions) > MaxExtensions {
		c.add("extensions", "%d extensions exceed the limit of %d", len(cfg.Extensions), MaxExtensions)
	}
	var knownByID map[string]Device
	if known != nil {
		knownByID = make(map[string]Device, len(known))
		for _, d := range known {
			knownByID[d.ID] = d
		}
	}
	numbers := map[string]int{}
	owner := map[string]string{} // device id -> path of its first assignment
	for i := range cfg.Extensions {
		e := &cfg.Extensions[i]
		p := fmt.Sprintf("extensions[%d]", i)
		switch {
		case !isDigits(e.Number, 2, 6):
			c.add(p+".number", "%q is not an extension number (2 to 6 digits)", e.Number)
		default:
			if j, dup := numbers[e.Number]; dup {
				c.add(p+".number", "extension %s is already defined at extensions[%d]", e.Number, j)
			} else {
				numbers[e.Number] = i
			}
		}
		checkText(&c, p+".display_name", e.DisplayName, 1, 64)
		validateAccount(&c, p+".sip", &e.SIP)
		if e.CallerID != "" && !isE164(e.CallerID) {
			c.add(p+".caller_id", "%q is not an E.164 number (+ country code and number, 8 to 15 digits)", e.CallerID)
		}
		if e.VoicemailNumber != "" && !isDialString(e.VoicemailNumber, 16) {
			c.add(p+".voicemail_number", "%q is not a dialable number (digits, * and #, at most 16)", e.VoicemailNumber)
		}
		for _, t := range deviceTypes {
			id := e.Devices.Get(t)
			if id == "" {
				continue
			}
			dp := p + ".devices." + string(t)
			if !isDeviceID(id) {
				c.add(dp, "%q is not a device id", id)
				continue
			}
			if first, taken := owner[id]; taken {
				c.add(dp, "device %s is already assigned at %s; a device belongs to one extension at most", id, first)
			} else {
				owner[id] = dp
			}
			if knownByID == nil {
				continue
			}
			d, ok := knownByID[id]
			switch {
			case !ok:
				c.add(dp, "unknown device %s: not paired with this base", id)
			case d.Type != t:
				c.add(dp, "device %s is a %s, not a %s", id, d.Type, t)
			}
		}
	}
	return c.errs
}

func validateSystem(c *checker, s *System) {
	if len(s.Registrars) == 0 {
		c.add("system.registrars", "at least one registrar is required")
	}
	checkURIs(c, "system.registrars", s.Registrars)
	checkRange(c, "system.failover_retry_s", s.FailoverRetryS, 10, 3600)
	checkRange(c, "system.register_expires_s", s.RegisterExpiresS, 60, 3600)
	checkRange(c, "system.inter_digit_timeout_s", s.InterDigitTimeoutS, 1, 30)
	checkRange(c, "system.registration_window_s", s.RegistrationWindowS, 10, MaxRegistrationWindowS)
	validateQuality(c, s)
	switch s.ToneRegion {
	case "US", "CA":
	default:
		c.add("system.tone_region", "%q is not a supported tone plan (US or CA)", s.ToneRegion)
	}
	if err := checkTimeZone(s.TimeZone); err != nil {
		c.add("system.time_zone", "%v", err)
	}
	if len(s.DialPlan) > maxPatterns {
		c.add("system.dial_plan", "%d patterns exceed the limit of %d", len(s.DialPlan), maxPatterns)
	}
	for i, pat := range s.DialPlan {
		if err := CheckDialPattern(pat); err != nil {
			c.add(fmt.Sprintf("system.dial_plan[%d]", i), "%v", err)
		}
	}
}

func validateAccount(c *checker, p string, a *SIPAccount) {
	if !isSIPUser(a.User) {
		c.add(p+".user", "%q is not a SIP user name (1 to 64 characters, no spaces, @ or :)", a.User)
	}
	if a.AuthUser != "" && !isSIPUser(a.AuthUser) {
		c.add(p+".auth_user", "%q is not a SIP user name (1 to 64 characters, no spaces, @ or :)", a.AuthUser)
	}
	switch {
	case a.Password == "":
		c.add(p+".password", "is required")
	case len(a.Password) > 128:
		c.add(p+".password", "longer than 128 bytes")
	case strings.IndexFunc(a.Password, unicode.IsControl) >= 0 || !utf8.ValidString(a.Password):
		c.add(p+".password", "contains control characters or invalid UTF-8")
	}
	if !isHost(a.Domain) {
		c.add(p+".domain", "%q is not a host name or IP address", a.Domain)
	}
	checkURIs(c, p+".registrars", a.Registrars)
	if a.OutboundProxy != "" {
		if err := CheckSIPURI(a.OutboundProxy); err != nil {
			c.add(p+".outbound_proxy", "%v", err)
		}
	}
	switch a.Transport {
	case "", "udp", "tcp":
		if a.SRTPRequired {
			c.add(p+".srtp_required", "SRTP keys travel in the SIP signalling: srtp_required needs transport tls")
		}
	case "tls":
	default:
		c.add(p+".transport", "%q is not a transport (udp, tcp or tls)", a.Transport)
	}
}

func checkURIs(c *checker, p string, uris []string) {
	if len(uris) > MaxRegistrars {
		c.add(p, "%d registrars exceed the limit of %d", len(uris), MaxRegistrars)
	}
	seen := map[string]bool{}
	for i, u := range uris {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if err := CheckSIPURI(u); err != nil {
			c.add(ip, "%v", err)
		} else if seen[u] {
			c.add(ip, "%s is listed twice", u)
		}
		seen[u] = true
	}
}

func checkRange(c *checker, p string, v, lo, hi int) {
	if v != 0 && (v < lo || v > hi) {
		c.add(p, "%d is out of range (%d to %d; 0 or absent means the default)", v, lo, hi)
	}
}

func checkText(c *checker, p, s string, lo, hi int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		c.add(p, "is not valid UTF-8")
	case n < lo:
		c.add(p, "is required")
	case n > hi:
		c.add(p, "is %d characters long (at most %d)", n, hi)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		c.add(p, "contains control characters")
	}
}

func checkTimeZone(tz string) error {
	if tz == "" {
		return fmt.Errorf("is required (an IANA zone such as America/New_York)")
	}
	if tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return fmt.Errorf("%q is not an IANA time zone name", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("%q is not a known IANA time zone", tz)
	}
	return nil
}

func isDigits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isE164(s string) bool {
	return len(s) > 1 && s[0] == '+' && s[1] != '0' && isDigits(s[1:], 8, 15)
}

func isDialString(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '*' && s[i] != '#' {
			return false
		}
	}
	return true
}

// isDeviceID accepts 1..64 characters of [A-Za-z0-9._:-].
func isDeviceID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == ':' || ch == '-') {
			return false
		}
	}
	return true
}

// isSIPUser accepts the RFC 3261 user characters (unreserved, escaped and
// user-unreserved), 1..64 of them.
func isSIPUser(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' {
			continue
		}
		if !strings.ContainsRune("-_.!~*'()&=+$,;?/%", rune(ch)) {
			return false
		}
	}
	return true
}

// isHost accepts a DNS host name, an IPv4 address or a bracketed IPv6
// address.
func isHost(s string) bool {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		return err == nil && a.Is6()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Is4()
	}
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	allDigits := true
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
			if ch < '0' || ch > '9' {
				allDigits = false
			}
		}
	}
	return !allDigits // "300.1.1.1" is a bad IP, not a host name
}

// CheckSIPURI checks a registrar or proxy URI of the form
// sip[s]:host[:port][;transport=udp|tcp|tls][;lr].
func CheckSIPURI(u string) error {
	rest, ok := strings.CutPrefix(u, "sip:")
	if !ok {
		rest, ok = strings.CutPrefix(u, "sips:")
	}
	if !ok {
		return fmt.Errorf("%q is not a SIP URI (sip:host[:port][;transport=udp|tcp|tls])", u)
	}
	hostport, params, _ := strings.Cut(rest, ";")
	if strings.Contains(hostport, "@") {
		return fmt.Errorf("%q: a registrar or proxy URI has no user part", u)
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		if i := strings.Index(hostport, "]"); i >= 0 {
			host = hostport[:i+1]
			if p, ok := strings.CutPrefix(hostport[i+1:], ":"); ok {
				port = p
			} else if hostport[i+1:] != "" {
				return fmt.Errorf("%q: malformed host", u)
			}
		}
	} else if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	if !isHost(host) {
		return fmt.Errorf("%q: %q is not a host name or IP address", u, host)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("%q: port %q is not 1 to 65535", u, port)
		}
	}
	if params != "" {
		for _, prm := range strings.Split(params, ";") {
			switch prm {
			case "transport=udp", "transport=tcp", "transport=tls", "lr":
			default:
				return fmt.Errorf("%q: unsupported URI parameter %q (transport=udp|tcp|tls or lr)", u, prm)
			}
		}
	}
	return nil
}

// CheckDialPattern checks one dial-plan pattern: digits, * and #; x for any
// digit; [..] for a set of digits with ranges (e.g. [2-9] or [135-7]); and a
// trailing "." after an element for "zero or more of it". At most 32
// characters.
func CheckDialPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty pattern")
	}
	if len(p) > 32 {
		return fmt.Errorf("pattern %q is longer than 32 characters", p)
	}
	elems := 0
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch >= '0' && ch <= '9', ch == '*', ch == '#', ch == 'x', ch == 'X':
			elems++
		case ch == '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return fmt.Errorf("pattern %q: unclosed [ at %d", p, i)
			}
			if err := checkDigitSet(p[i+1 : i+end]); err != nil {
				return fmt.Errorf("pattern %q: %v", p, err)
			}
			i += end
			elems++
		case ch == '.':
			if elems == 0 || p[i-1] == '.' {
				return fmt.Errorf("pattern %q: '.' at %d does not follow an element", p, i)
			}
		default:
			return fmt.Errorf("pattern %q: unexpected %q at %d", p, ch, i)
		}
	}
	return nil
}

func checkDigitSet(s string) error {
	if s == "" {
		return fmt.Errorf("empty digit set []")
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < '0' || ch > '9' {
			return fmt.Errorf("digit set [%s] may hold digits and ranges only", s)
		}
		if i+2 < len(s) && s[i+1] == '-' {
			if s[i+2] < ch || s[i+2] > '9' {
				return fmt.Errorf("bad range %c-%c in [%s]", ch, s[i+2], s)
			}
			i += 2
		}
	}
	return nil
}
