package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KamailioOptions shape a kamailio started as the office's PBX: registrar,
// proxy and voicemail notifier.
type KamailioOptions struct {
	// Users are the SIP users (digest user = SIP user) and their
	// passwords.
	Users map[string]string
	// CallerIDs lists, per user, the extra identities (caller-ID numbers)
	// the user may assert with P-Preferred-Identity besides its own user
	// name, as a PBX's "outbound caller ID" setting does.
	CallerIDs map[string][]string
	// NoAuth disables digest authentication.
	NoAuth bool
	// Host is the loopback address kamailio binds (in 127.0.0.0/8, e.g.
	// 127.0.0.2 for a second registrar); empty means 127.0.0.1.
	Host string
	// Port is the SIP port (UDP and TCP); 0 picks a free one. A fixed
	// port starts kamailio again where a killed one was.
	Port int
	// TLS, if set, makes kamailio listen for SIP over TLS too.
	TLS *KamailioTLS
	// ShmMB and PkgMB are kamailio's shared and per-process memory in MB
	// (0: 32 and 4). Thousands of users (their table is in the
	// configuration) need more of both.
	ShmMB, PkgMB int
}

// KamailioTLS is kamailio's TLS listener (Debian's kamailio-tls-modules).
type KamailioTLS struct {
	// CertFile and KeyFile are the server certificate chain and key (PEM).
	CertFile, KeyFile string
	// Port is the TLS port; 0 picks a free one.
	Port int
}

// Kamailio is a running kamailio 5.6 acting as a small PBX on Host
// (127.0.0.1 unless set; UDP and TCP on Port, TLS on TLSPort when asked),
// configured like a real one:
//
//   - REGISTER with digest auth (www-challenge; the auth user must be the
//     To user), memory-only location table;
//   - initial INVITE/REFER/MESSAGE/SUBSCRIBE with proxy digest auth (the
//     auth user must be the From user), record-routed, to the callee's
//     registered contact; in-dialog requests by loose routing;
//   - caller identity (RFC 3325): whatever P-Asserted-Identity a phone
//     sends is removed; a P-Preferred-Identity whose number the
//     authenticated user may use becomes P-Asserted-Identity (with its
//     display name), otherwise the PBX asserts the user's own identity
//     with the From display name;
//   - message waiting (RFC 3842): it answers SUBSCRIBE for
//     message-summary itself (200 with Expires and a Contact) like a
//     voicemail server, remembers the subscription dialog, and
//     NotifyMWI sends a NOTIFY in that dialog from kamailio's own socket.
//
// Every outcome is logged with a fixed marker (MARK-REGISTERED,
// MARK-AUTHFAIL, MARK-ROUTE, MARK-PAI, MARK-MWI-SUBSCRIBED, MARK-404,
// MARK-FAILURE, MARK-INDIALOG) so tests can grep Output.
type Kamailio struct {
	Host    string
	Port    int
	TLSPort int // 0 without TLS
	Dir     string
	Proc    *Proc
	Opts    KamailioOptions // as started, with Host and ports filled in
	ctl     string
	cmd     string // kamcmd
}

const kamailioCfg = `#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
auto_aliases=no
dns=no
rev_dns=no
listen=udp:MYHOST:MYPORT
listen=tcp:MYHOST:MYPORT
alias="MYHOST:MYPORT"
alias="localhost:MYPORT"
#!ifdef WITH_TLS
enable_tls=yes
listen=tls:MYHOST:MYTLSPORT
alias="MYHOST:MYTLSPORT"
alias="localhost:MYTLSPORT"
#!endif
tcp_connection_lifetime=3605
disable_sctp=yes

#!ifdef WITH_TLS
loadmodule "tls.so"
modparam("tls", "config", "MYTLSCFG")
#!endif
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "htable.so"
loadmodule "auth.so"
loadmodule "ctl.so"

modparam("ctl", "binrpc", "unix:MYCTL")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 10)
modparam("registrar", "default_expires", 600)
modparam("registrar", "max_expires", 3600)
modparam("rr", "enable_full_lr", 1)
modparam("auth", "nonce_expire", 300)
modparam("htable", "htable", "users=>size=8;autoexpire=0")
modparam("htable", "htable", "cids=>size=8;autoexpire=0")
modparam("htable", "htable", "mwi=>size=8;autoexpire=0")

include_file "users.cfg"

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("OPTIONS") && uri==myself && $rU==$null) {
		sl_send_reply("200", "Keepalive");
		exit;
	}
	if (is_method("SUBSCRIBE") && $hdr(Event) =~ "^message-summary") {
		route(VOICEMAIL);
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			xlog("L_INFO", "MARK-INDIALOG $rm $ru\n");
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) { t_relay(); }
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) { t_relay(); }
		exit;
	}
	if (is_method("REGISTER")) {
#!ifndef NO_AUTH
		if (!pv_www_authenticate("$td", "$sht(users=>$au)", "0")) {
			xlog("L_INFO", "MARK-AUTHFAIL REGISTER $tu au=$au\n");
			www_challenge("$td", "0");
			exit;
		}
		if ($au != $tU) {
			xlog("L_INFO", "MARK-FORBIDDEN REGISTER $tu au=$au\n");
			sl_send_reply("403", "Forbidden");
			exit;
		}
		consume_credentials();
#!endif
		if (!save("location")) {
			sl_reply_error();
		}
		xlog("L_INFO", "MARK-REGISTERED $tu contact=$ct expires=$hdr(Expires)\n");
		exit;
	}
	if (is_method("INVITE|SUBSCRIBE|REFER|MESSAGE")) {
#!ifndef NO_AUTH
		if (!pv_proxy_authenticate("$fd", "$sht(users=>$au)", "0")) {
			xlog("L_INFO", "MARK-AUTHFAIL $rm $fu au=$au\n");
			proxy_challenge("$fd", "0");
			exit;
		}
		if ($au != $fU) {
			xlog("L_INFO", "MARK-FORBIDDEN $rm $fu au=$au\n");
			sl_send_reply("403", "Forbidden");
			exit;
		}
		consume_credentials();
#!endif
		record_route();
	}
	if (is_method("INVITE")) {
		route(IDENTITY);
	}
	if (!lookup("location")) {
		xlog("L_INFO", "MARK-404 $rm $ru\n");
		sl_send_reply("404", "Not Found");
		exit;
	}
	xlog("L_INFO", "MARK-ROUTE $rm $fu -> $ru\n");
	t_on_failure("FAIL");
	t_relay();
	exit;
}

# RFC 3325 at the edge of the trust domain: a phone's own assertion is never
# trusted; its preferred identity is asserted when the user may use it.
route[IDENTITY] {
	remove_hf("P-Asserted-Identity");
	$var(user) = $fU;
	$var(name) = $fn;
	if (is_present_hf("P-Preferred-Identity")) {
		$var(ppi) = $hdr(P-Preferred-Identity);
		$var(puser) = $(var(ppi){nameaddr.uri}{uri.user});
		if ($var(puser) == $fU || $sht(cids=>$fU:$var(puser)) == 1) {
			$var(user) = $var(puser);
			if ($(var(ppi){nameaddr.name}) != "") {
				$var(name) = $(var(ppi){nameaddr.name});
			}
		} else {
			xlog("L_INFO", "MARK-PPI-REFUSED $fU may not use $var(puser)\n");
		}
		remove_hf("P-Preferred-Identity");
	}
	$var(name) = $(var(name){s.trim}{s.unquote}{s.trim});
	if ($var(name) != "" && $var(name) != $null) {
		append_hf("P-Asserted-Identity: \"$var(name)\" <sip:$var(user)@$fd>\r\n");
	} else {
		append_hf("P-Asserted-Identity: <sip:$var(user)@$fd>\r\n");
	}
	xlog("L_INFO", "MARK-PAI $fU asserted $var(user) name=$var(name)\n");
}

# The voicemail server's notifier side: accept the subscription, remember
# its dialog for NotifyMWI.
route[VOICEMAIL] {
#!ifndef NO_AUTH
	if (!has_totag()) {
		if (!pv_proxy_authenticate("$fd", "$sht(users=>$au)", "0")) {
			xlog("L_INFO", "MARK-AUTHFAIL $rm $fu au=$au\n");
			proxy_challenge("$fd", "0");
			exit;
		}
		if ($au != $fU) {
			sl_send_reply("403", "Forbidden");
			exit;
		}
		consume_credentials();
	}
#!endif
	$var(exp) = $hdr(Expires);
	if ($var(exp) == $null || $var(exp) == "") {
		$var(exp) = "3600";
	}
	append_to_reply("Expires: $var(exp)\r\nContact: <sip:voicemail@MYHOST:MYPORT>\r\n");
	sl_send_reply("200", "OK");
	if (has_totag()) {
		$var(ttag) = $tt;
	} else {
		$var(ttag) = $ltt(s);
	}
	if ($var(exp) == "0") {
		$sht(mwi=>$fU) = $null;
		xlog("L_INFO", "MARK-MWI-UNSUBSCRIBED $fU\n");
		exit;
	}
	$sht(mwi=>$fU) = $ci + "|" + $ft + "|" + $var(ttag) + "|" + $(ct{nameaddr.uri}) + "|" + $fu + "|" + $si + ":" + $sp;
	xlog("L_INFO", "MARK-MWI-SUBSCRIBED $fU callid=$ci contact=$ct expires=$var(exp)\n");
}

# Requests kamailio sends itself (the voicemail NOTIFYs): log them and
# their replies.
event_route[tm:local-request] {
	xlog("L_INFO", "MARK-LOCAL $rm $ru callid=$ci\n");
	t_on_reply("LOCALREPLY");
}

onreply_route[LOCALREPLY] {
	xlog("L_INFO", "MARK-LOCAL-REPLY $rs $rr $rm callid=$ci cseq=$cs\n");
}

failure_route[FAIL] {
	xlog("L_INFO", "MARK-FAILURE $rm $T_reply_code\n");
}
`

// StartKamailio starts kamailio on a free loopback port (or o.Port) of
// o.Host with the given users and waits until it listens. It is stopped
// (by PID) at cleanup.
func StartKamailio(t testing.TB, o KamailioOptions) *Kamailio {
	t.Helper()
	bins := Require(t, "kamailio", "kamcmd")
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(o.Host); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		t.Fatalf("kamailio: host %q is not an IPv4 loopback address", o.Host)
	}
	if o.Port == 0 {
		o.Port = FreePortOn(t, o.Host)
	}
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	text := strings.ReplaceAll(kamailioCfg, "MYPORT", fmt.Sprint(o.Port))
	text = strings.ReplaceAll(text, "MYHOST", o.Host)
	text = strings.ReplaceAll(text, "MYCTL", ctl)
	var tlsOpt *KamailioTLS
	if o.TLS != nil {
		RequireFile(t, kamailioTLSModule)
		c := *o.TLS
		if c.Port == 0 {
			c.Port = FreePortOn(t, o.Host)
		}
		tlsOpt = &c
		o.TLS = &c
		cfg := filepath.Join(dir, "tls.cfg")
		text = strings.ReplaceAll(text, "MYTLSPORT", fmt.Sprint(c.Port))
		text = strings.ReplaceAll(text, "MYTLSCFG", cfg)
		tc := fmt.Sprintf("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"+
			"private_key = %s\ncertificate = %s\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n",
			c.KeyFile, c.CertFile)
		if err := os.WriteFile(cfg, []byte(tc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("event_route[htable:mod-init] {\n")
	users := make([]string, 0, len(o.Users))
	for u := range o.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		if !safeToken(u) || strings.ContainsAny(o.Users[u], "\"\\\r\n$") {
			t.Fatalf("kamailio: user %q or its password cannot be written to the configuration", u)
		}
		fmt.Fprintf(&b, "\t$sht(users=>%s) = \"%s\";\n", u, o.Users[u])
		for _, id := range o.CallerIDs[u] {
			if !safeToken(id) {
				t.Fatalf("kamailio: caller ID %q of %s is not a plain number", id, u)
			}
			fmt.Fprintf(&b, "\t$sht(cids=>%s:%s) = 1;\n", u, id)
		}
	}
	b.WriteString("}\n")
	if len(users) == 0 {
		b.Reset() // kamailio refuses an empty route block
		b.WriteString("# no users\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "users.cfg"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	shm, pkg := o.ShmMB, o.PkgMB
	if shm <= 0 {
		shm = 32
	}
	if pkg <= 0 {
		pkg = 4
	}
	args := []string{"-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-w", dir, "-m", fmt.Sprint(shm), "-M", fmt.Sprint(pkg)}
	if o.NoAuth {
		args = append(args, "-A", "NO_AUTH")
	}
	if tlsOpt != nil {
		args = append(args, "-A", "WITH_TLS")
	}
	proc := Start(t, dir, bins[0], args...)
	WaitListening(t, net.JoinHostPort(o.Host, fmt.Sprint(o.Port)), 10*time.Second, proc)
	k := &Kamailio{Host: o.Host, Port: o.Port, Dir: dir, Proc: proc, Opts: o, ctl: ctl, cmd: bins[1]}
	if tlsOpt != nil {
		k.TLSPort = tlsOpt.Port
		WaitListening(t, k.TLSAddr(), 10*time.Second, proc)
	}
	return k
}

// kamailioTLSModule is the module Debian's kamailio-tls-modules ships.
const kamailioTLSModule = "/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so"

// FreePortOn is FreePort for any loopback address: a port free for UDP
// and TCP on host, not handed out before by this process.
func FreePortOn(t testing.TB, host string) int {
	t.Helper()
	if host == "127.0.0.1" {
		return FreePort(t, false)
	}
	portMu.Lock()
	defer portMu.Unlock()
	for range 200 {
		u, err := net.ListenPacket("udp4", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("bind %s: %v", host, err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort(host, fmt.Sprint(port)))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		if port < 20000 || portsGiven[port] {
			continue
		}
		portsGiven[port] = true
		return port
	}
	t.Fatalf("no free port on %s", host)
	return 0
}

// Kill ends kamailio at once with SIGKILL to its PID (and its children,
// its process group) and waits for it: its ports close, so a datagram
// sent there gets ICMP port unreachable.
func (k *Kamailio) Kill() {
	p := k.Proc
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Restart starts a new kamailio with the same options, address and
// ports (after Kill): its location table starts empty.
func (k *Kamailio) Restart(t testing.TB) *Kamailio {
	t.Helper()
	k.Kill()
	return StartKamailio(t, k.Opts)
}

func safeToken(s string) bool {
	return s != "" && regexp.MustCompile(`^[A-Za-z0-9+*#._-]+$`).MatchString(s)
}

// Addr is kamailio's host:port (UDP and TCP).
func (k *Kamailio) Addr() string { return net.JoinHostPort(k.Host, fmt.Sprint(k.Port)) }

// TLSAddr is kamailio's TLS host:port ("" without TLS).
func (k *Kamailio) TLSAddr() string {
	if k.TLSPort == 0 {
		return ""
	}
	return net.JoinHostPort(k.Host, fmt.Sprint(k.TLSPort))
}

// URI is kamailio as a registrar URI.
func (k *Kamailio) URI() string { return "sip:" + k.Addr() }

// Output is kamailio's log so far.
func (k *Kamailio) Output() string { return k.Proc.Output() }

// WaitLog waits for a marker in kamailio's log or fails the test.
func (k *Kamailio) WaitLog(t testing.TB, marker string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(k.Proc.Output(), marker) {
		if time.Now().After(deadline) {
			t.Fatalf("kamailio never logged %q within %v", marker, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RPC runs one kamcmd command against this kamailio's control socket
// (string arguments need kamcmd's "s:" prefix), bounded to 5 s.
func (k *Kamailio) RPC(args ...string) (string, error) {
	cmd := exec.Command(k.cmd, append([]string{"-s", "unix:" + k.ctl}, args...)...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return string(out), fmt.Errorf("kamcmd %s: no answer within 5 s", strings.Join(args, " "))
	}
	if err != nil {
		return string(out), fmt.Errorf("kamcmd %s: %v: %s", strings.Join(args, " "), err, out)
	}
	if strings.HasPrefix(string(out), "error:") {
		return string(out), fmt.Errorf("kamcmd %s: %s", args[0], strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// MWISubscription is a message-summary subscription kamailio accepted.
type MWISubscription struct {
	CallID, SubscriberTag, NotifierTag string
	Contact                            string // where NOTIFYs go
	AOR                                string // the subscriber's From URI
	Source                             string // ip:port the SUBSCRIBE came from
}

var htValue = regexp.MustCompile(`value:\s*([^\n]+)`)

// MWISubscription returns user's current message-summary subscription.
func (k *Kamailio) MWISubscription(user string) (MWISubscription, error) {
	out, err := k.RPC("htable.get", "mwi", "s:"+user)
	if err != nil {
		return MWISubscription{}, err
	}
	m := htValue.FindStringSubmatch(out)
	if m == nil {
		return MWISubscription{}, fmt.Errorf("kamailio: no message-summary subscription of %s (%q)", user, strings.TrimSpace(out))
	}
	f := strings.Split(strings.TrimSpace(m[1]), "|")
	if len(f) != 6 {
		return MWISubscription{}, fmt.Errorf("kamailio: subscription record %q of %s is malformed", m[1], user)
	}
	return MWISubscription{CallID: f[0], SubscriberTag: f[1], NotifierTag: f[2], Contact: f[3], AOR: f[4], Source: f[5]}, nil
}

// NotifyMWI sends, as the voicemail server, a message-summary NOTIFY with
// newMsgs/oldMsgs voice messages in user's subscription dialog (from
// kamailio's own socket, so the phone sees it come from its registrar) and
// returns the final response line, e.g. "200 OK".
func (k *Kamailio) NotifyMWI(user string, cseq, newMsgs, oldMsgs int) (string, error) {
	s, err := k.MWISubscription(user)
	if err != nil {
		return "", err
	}
	waiting := "no"
	if newMsgs > 0 {
		waiting = "yes"
	}
	aor := s.AOR
	if i := strings.IndexByte(aor, ';'); i >= 0 {
		aor = aor[:i]
	}
	hdrs := fmt.Sprintf("From: <%s>;tag=%s\r\nTo: <%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d NOTIFY\r\n"+
		"Contact: <sip:voicemail@%s>\r\nEvent: message-summary\r\nSubscription-State: active;expires=3600\r\n"+
		"Content-Type: application/simple-message-summary\r\n",
		aor, s.NotifierTag, aor, s.SubscriberTag, s.CallID, cseq, k.Addr())
	body := fmt.Sprintf("Messages-Waiting: %s\r\nMessage-Account: %s\r\nVoice-Message: %d/%d (0/0)\r\n", waiting, aor, newMsgs, oldMsgs)
	return k.Request("NOTIFY", s.Contact, hdrs, body, s.CallID, cseq)
}

// Request sends a request from kamailio's own socket (tm's t_uac_start)
// to ruri, with headers (From, To, Call-ID callID, CSeq cseq, ...,
// each line ending in CRLF) and body, and returns the final response
// line, e.g. "403 Forbidden".
func (k *Kamailio) Request(method, ruri, headers, body, callID string, cseq int) (string, error) {
	if out, err := k.RPC("tm.t_uac_start", method, ruri, ".", ".", headers, body); err != nil {
		return out, err
	}
	// The binrpc transport cannot wait for the reply: kamailio logs it.
	marker := fmt.Sprintf("callid=%s cseq=%d", callID, cseq)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(k.Proc.Output(), "\n") {
			if i := strings.Index(l, "MARK-LOCAL-REPLY "); i >= 0 && strings.HasSuffix(l, marker) {
				if f := strings.Fields(l[i:]); len(f) >= 3 && f[1] >= "200" {
					st := l[i+len("MARK-LOCAL-REPLY "):]
					return strings.TrimSpace(st[:strings.Index(st, " "+method+" ")]), nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("kamailio: no final reply to the %s (%s) within 5 s", method, marker)
}

// Contact is one binding in kamailio's location table.
type Contact struct {
	Address string        // the contact URI
	Expires time.Duration // time left
}

var ulAddress = regexp.MustCompile(`(?m)^\s*Address:\s*(\S+)\s*$`)
var ulExpires = regexp.MustCompile(`(?m)^\s*Expires:\s*(\S+)\s*$`)

// Contacts returns the bindings of user in kamailio's location table
// (usrloc, through its RPC): none when the user is not registered.
func (k *Kamailio) Contacts(user string) ([]Contact, error) {
	out, err := k.RPC("ul.lookup", "location", "s:"+user)
	if err != nil {
		if strings.Contains(out, "AOR not found") {
			return nil, nil
		}
		return nil, err
	}
	addrs := ulAddress.FindAllStringSubmatch(out, -1)
	exps := ulExpires.FindAllStringSubmatch(out, -1)
	if len(addrs) != len(exps) {
		return nil, fmt.Errorf("kamailio: ul.lookup %s: %d addresses but %d expiries in %q", user, len(addrs), len(exps), out)
	}
	var cs []Contact
	for i, a := range addrs {
		c := Contact{Address: a[1]}
		if n, err := strconv.Atoi(exps[i][1]); err == nil {
			c.Expires = time.Duration(n) * time.Second
		} // "permanent" and the like: 0
		cs = append(cs, c)
	}
	return cs, nil
}
