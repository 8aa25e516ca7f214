package sipua

import (
	"basestation/endpoint"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Transport is the SIP transport an account uses towards its registrar.
type Transport string

const (
	UDP Transport = "udp"
	TCP Transport = "tcp"
	TLS Transport = "tls"
)

// Account is the SIP identity of one extension at the cloud PBX.
type Account struct {
	// User is the SIP user part of the address of record (sip:User@Domain).
	User string
	// AuthUser is the digest user name; empty means User.
	AuthUser string
	// Password is the digest password. It is never logged.
	Password string
	// Domain is the SIP domain (realm of the AOR). When Registrars is
	// empty, the registrars are found by DNS SRV on Domain (RFC 3263),
	// falling back to Domain itself.
	Domain string
	// Registrars is the ordered list of registrar host[:port]: the first
	// is the primary, the others are failover servers.
	Registrars []string
	// OutboundProxy, if set, is host[:port] where every request of the
	// account is sent (calls and registrations alike).
	OutboundProxy string
	// Transport is udp (default), tcp or tls.
	Transport Transport
	// Expires is the registration lifetime asked for; 0 means 600 s.
	Expires time.Duration
	// SRTP "required" makes calls use RTP/SAVP with SDES keys and refuse
	// offers without; "optional" offers plain RTP but accepts SRTP;
	// "" or "off" is plain RTP only.
	SRTP string
	// CallerIDNumber and CallerIDName are the outbound caller ID. See
	// doc.go for where they are placed in an INVITE.
	CallerIDNumber string
	CallerIDName   string
	// MWI subscribes to message-summary for the account (RFC 3842).
	MWI bool
}

func (a Account) authUser() string {
	if a.AuthUser != "" {
		return a.AuthUser
	}
	return a.User
}

func (a Account) transport() Transport {
	if a.Transport == "" {
		return UDP
	}
	return a.Transport
}

func (a Account) expires() time.Duration {
	if a.Expires <= 0 {
		return 600 * time.Second
	}
	return a.Expires
}

// Validate reports what is wrong with the account, naming the field.
func (a Account) Validate() error {
	var errs []error
	if a.User == "" || strings.ContainsAny(a.User, "@:; <>\"\r\n") {
		errs = append(errs, fmt.Errorf("user %q: must be a non-empty SIP user part", a.User))
	}
	if a.AuthUser != "" && strings.ContainsAny(a.AuthUser, "\"\r\n") {
		errs = append(errs, fmt.Errorf("auth user %q: invalid characters", a.AuthUser))
	}
	if a.Domain == "" || strings.ContainsAny(a.Domain, "@;/ <>\"\r\n") {
		errs = append(errs, fmt.Errorf("domain %q: must be a host name or IP", a.Domain))
	}
	for i, r := range a.Registrars {
		if err := validHostPort(r); err != nil {
			errs = append(errs, fmt.Errorf("registrar %d %q: %w", i+1, r, err))
		}
	}
	if a.OutboundProxy != "" {
		if err := validHostPort(a.OutboundProxy); err != nil {
			errs = append(errs, fmt.Errorf("outbound proxy %q: %w", a.OutboundProxy, err))
		}
	}
	switch a.Transport {
	case "", UDP, TCP, TLS:
	default:
		errs = append(errs, fmt.Errorf("transport %q: must be udp, tcp or tls", a.Transport))
	}
	switch a.SRTP {
	case "", "off", "optional", "required":
	default:
		errs = append(errs, fmt.Errorf("srtp %q: must be off, optional or required", a.SRTP))
	}
	if a.Expires < 0 || (a.Expires > 0 && a.Expires < 10*time.Second) {
		errs = append(errs, fmt.Errorf("expires %v: must be at least 10s", a.Expires))
	}
	if strings.ContainsAny(a.CallerIDNumber, "@:; <>\"\r\n") {
		errs = append(errs, fmt.Errorf("caller ID number %q: invalid characters", a.CallerIDNumber))
	}
	if strings.ContainsAny(a.CallerIDName, "\"\r\n") {
		errs = append(errs, fmt.Errorf("caller ID name %q: invalid characters", a.CallerIDName))
	}
	return errors.Join(errs...)
}

func validHostPort(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if host == "" || strings.ContainsAny(host, "@;/ <>\"\r\n") {
		return errors.New("bad host")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return errors.New("bad port")
		}
	}
	return nil
}

// Extension is one PBX extension with a device on this base: its account
// and its calling behaviour. Endpoints are attached to it by name.
type Extension struct {
	// Name identifies the extension (usually its number, e.g. "101").
	Name    string
	Account Account
	// RingCadence is the cadence name asked of endpoints for incoming
	// calls; empty means "normal".
	RingCadence endpoint.Cadence
	// CallWaiting offers a second incoming call to a busy endpoint
	// (default true when nil).
	CallWaiting *bool
}

func (e Extension) callWaiting() bool { return e.CallWaiting == nil || *e.CallWaiting }

// Config is the user agent's whole configuration.
type Config struct {
	// Listen is the local SIP address (UDP and TCP), e.g. "0.0.0.0:5060".
	// An empty host means all interfaces; port 0 picks a free port.
	Listen string
	// AdvertiseIP, if set, is the IP put in Via/Contact/SDP instead of
	// the local address of the route towards the registrar.
	AdvertiseIP string
	// RTPPortMin/Max bound the local RTP ports (even ports; 0 = any).
	RTPPortMin, RTPPortMax int
	// TLSRootCAs verifies TLS registrars (nil = the system pool).
	TLSRootCAs *x509.CertPool
	// UserAgent is the User-Agent header value.
	UserAgent string
	// Extensions with a device on this base, one registration each.
	Extensions []Extension
	// EmergencyNumbers are dialled through any registered account when
	// the extension's own registration is down. Nil means {"911", "933"}.
	EmergencyNumbers []string
	// Timing; zero values take the defaults documented on Timing.
	Timing Timing
	// Quality sets the call-quality reports and alerts (quality.go).
	Quality QualityConfig
	// SIPDSCP marks the SIP packets sent (UDP, TCP and TLS): 0 means CS3
	// (24); negative leaves them unmarked. RTPDSCP marks RTP and RTCP:
	// 0 means EF (46); negative unmarked. See qos.go.
	SIPDSCP, RTPDSCP int
}

// Timing holds the retry and keepalive intervals. Zero fields take the
// defaults named in brackets.
type Timing struct {
	RetryMin       time.Duration // first retry after a failure [2s]
	RetryMax       time.Duration // retry back-off cap [300s]
	ForbiddenHold  time.Duration // hold-off after 403 [20min]
	Failback       time.Duration // on a fallback registrar, the primary is tried this long after the failover, and again each period it stays down [5min]
	Keepalive      time.Duration // NAT keepalive (UDP CRLF) [25s]
	AddrCheck      time.Duration // local-address change check [15s: an idle base sleeps]
	RequestTimeout time.Duration // a REGISTER/SUBSCRIBE without answer counts as timeout [32s = 64*T1]
	MWIResubscribe time.Duration // SUBSCRIBE expiry asked [3600s]
	InviteNoAnswer time.Duration // outbound call given up after ringing this long [180s]
	// RingNoAnswer: an incoming call nobody answers (and the caller does
	// not cancel) is refused with 480 and stops ringing after this long
	// [180s, RFC 3261 Timer C].
	RingNoAnswer time.Duration
	// TCPIdle closes an accepted TCP connection that has been silent
	// this long [5min]; TCPFirstMessage closes one that has not
	// delivered a complete message header within this time of being
	// accepted [30s]. Connections the UA opened itself are not affected.
	TCPIdle         time.Duration
	TCPFirstMessage time.Duration
}

// Config returns the configuration in force (as given to New or the last
// SetConfig, Timing without the defaults filled in).
func (u *UA) Config() Config {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.cfg
	c.Extensions = append([]Extension(nil), c.Extensions...)
	return c
}

func (t Timing) withDefaults() Timing {
	d := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	d(&t.RetryMin, 2*time.Second)
	d(&t.RetryMax, 300*time.Second)
	d(&t.ForbiddenHold, 20*time.Minute)
	d(&t.Failback, 5*time.Minute)
	d(&t.Keepalive, 25*time.Second)
	d(&t.AddrCheck, 15*time.Second)
	d(&t.RequestTimeout, 32*time.Second)
	d(&t.MWIResubscribe, time.Hour)
	d(&t.InviteNoAnswer, 180*time.Second)
	d(&t.RingNoAnswer, 180*time.Second)
	d(&t.TCPIdle, 5*time.Minute)
	d(&t.TCPFirstMessage, 30*time.Second)
	return t
}

func (c Config) emergency() []string {
	if c.EmergencyNumbers == nil {
		return []string{"911", "933"}
	}
	return c.EmergencyNumbers
}

// Validate reports every problem of the configuration, naming the
// extension and field.
func (c Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
		}
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		errs = append(errs, fmt.Errorf("advertise IP %q: not an IP address", c.AdvertiseIP))
	}
	if c.RTPPortMin < 0 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax {
		errs = append(errs, fmt.Errorf("RTP port range %d-%d: invalid", c.RTPPortMin, c.RTPPortMax))
	}
	if err := c.Quality.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SIPDSCP > 63 {
		errs = append(errs, fmt.Errorf("SIP DSCP %d: must be 0..63 (or negative: unmarked)", c.SIPDSCP))
	}
	if c.RTPDSCP > 63 {
		errs = append(errs, fmt.Errorf("RTP DSCP %d: must be 0..63 (or negative: unmarked)", c.RTPDSCP))
	}
	seen := map[string]bool{}
	for _, e := range c.Extensions {
		if err := e.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("extension %q: listed twice", e.Name))
		}
		seen[e.Name] = true
	}
	return errors.Join(errs...)
}

func (e Extension) validate() error {
	if e.Name == "" || strings.ContainsAny(e.Name, " \r\n") {
		return fmt.Errorf("extension %q: name must be non-empty without spaces", e.Name)
	}
	if err := e.Account.Validate(); err != nil {
		return fmt.Errorf("extension %q: account: %w", e.Name, err)
	}
	return nil
}
