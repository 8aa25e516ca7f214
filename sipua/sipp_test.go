package sipua

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// sipp is one SIPp process running a scenario written by the test.
type sipp struct {
	port int
	dir  string
	proc *testpeer.Proc
}

// startSIPp runs scenario xml as a server (no remote) or client (remote
// given) on a free loopback port; calls bounds the number of calls.
func startSIPp(t *testing.T, xml string, calls int, remote string, extra ...string) *sipp {
	t.Helper()
	return startSIPpWith(t, xml, calls, remote, nil, extra...)
}

// startSIPpIn is a one-call client with its directory prepared by prep.
func startSIPpIn(t *testing.T, xml, remote string, prep func(dir string)) *sipp {
	t.Helper()
	return startSIPpWith(t, xml, 1, remote, prep)
}

func startSIPpWith(t *testing.T, xml string, calls int, remote string, prep func(string), extra ...string) *sipp {
	t.Helper()
	bins := testpeer.Require(t, "sipp")
	dir := t.TempDir()
	if prep != nil {
		prep(dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "scen.xml"), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t, false)
	ctrl := testpeer.FreePort(t, false)
	args := []string{"-sf", "scen.xml", "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-mi", "127.0.0.1",
		"-m", fmt.Sprint(calls), "-nostdin", "-cp", fmt.Sprint(ctrl), "-timeout", "30s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "err.log"), "-trace_msg", "-message_file", filepath.Join(dir, "msg.log")}
	args = append(args, extra...)
	if remote != "" {
		args = append(args, remote)
	}
	p := testpeer.Start(t, dir, bins[0], args...)
	s := &sipp{port: port, dir: dir, proc: p}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			m, _ := os.ReadFile(filepath.Join(dir, "msg.log"))
			t.Logf("sipp errors:\n%s\nsipp messages:\n%s", b, tail(string(m), 6000))
		}
	})
	// SIPp binds at once; give it a moment to be ready.
	time.Sleep(150 * time.Millisecond)
	return s
}

func (s *sipp) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// wait waits for SIPp to end and fails unless it exited 0 (all calls ok).
func (s *sipp) wait(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !s.proc.Exited() {
		if time.Now().After(deadline) {
			t.Fatalf("sipp still running after %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := s.proc.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("sipp exit code %d (1 = a call failed)\n%s", code, tail(s.proc.Output(), 2000))
	}
}

// sippRegOK answers a REGISTER with 200 granting 3600 s.
const sippRegOK = `
  <label id="reg"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]reg[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Contact:];expires=3600
Content-Length: 0

]]></send>
`

func scenario(name, body string) string {
	return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="` + name + `">
` + body + `
</scenario>
`
}

// A registrar answering with a challenge, then a stale=true challenge
// with a new nonce, then 200: the UA answers each nonce with correct
// (checked by SIPp's verifyauth) MD5 digest credentials and registers.
func TestSIPpStaleNonce(t *testing.T) {
	xml := scenario("stale", `
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]r[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="127.0.0.1", nonce="nonceone", qop="auth", algorithm=MD5
Content-Length: 0

]]></send>
  <recv request="REGISTER">
    <action>
      <ereg regexp="nonce=\"nonceone\"" search_in="hdr" header="Authorization:" check_it="true" assign_to="n1"/>
      <ereg regexp="nc=00000001" search_in="hdr" header="Authorization:" check_it="true" assign_to="c1"/>
      <verifyauth assign_to="ok1" username="1001" password="pw1001"/>
    </action>
  </recv>
  <nop condexec="ok1" condexec_inverse="true"><action><error message="first credentials invalid"/></action></nop>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]r[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="127.0.0.1", nonce="noncetwo", qop="auth", algorithm=MD5, stale=true
Content-Length: 0

]]></send>
  <recv request="REGISTER">
    <action>
      <ereg regexp="nonce=\"noncetwo\"" search_in="hdr" header="Authorization:" check_it="true" assign_to="n2"/>
      <verifyauth assign_to="ok2" username="1001" password="pw1001"/>
    </action>
  </recv>
  <nop condexec="ok2" condexec_inverse="true"><action><error message="second credentials invalid"/></action></nop>
  <Reference variables="n1,c1,n2"/>
`+sippRegOK)
	s := startSIPp(t, xml, 1, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	s.wait(t, 10*time.Second)
}

// 403 Forbidden: the UA reports it and holds off (no REGISTER for the
// hold-off time; SIPp fails the call on any further REGISTER).
func TestSIPpForbiddenHoldOff(t *testing.T) {
	xml := scenario("forbidden", `
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]r[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <pause milliseconds="2000"/>
`)
	s := startSIPp(t, xml, 1, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())},
		Timing: Timing{RetryMin: 100 * time.Millisecond, ForbiddenHold: time.Hour}})
	ev := waitReg(t, u.UA, "101", RegForbidden, 10*time.Second)
	if ev.LastError != "403 Forbidden" || ev.RetryIn != time.Hour {
		t.Errorf("forbidden event %+v", ev)
	}
	s.wait(t, 10*time.Second)
}

// 503 with Retry-After on the primary: the UA fails over to the second
// registrar at once and registers there.
func TestSIPp503RetryAfterFailover(t *testing.T) {
	primary := startSIPp(t, scenario("busy", `
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 503 Service Unavailable
[last_Via:]
[last_From:]
[last_To:];tag=[pid]r[call_number]
[last_Call-ID:]
[last_CSeq:]
Retry-After: 120
Content-Length: 0

]]></send>
`), 1, "")
	secondary := startSIPp(t, scenario("ok", `<recv request="REGISTER"/>`+sippRegOK), 1, "")
	e := ext("101", "1001", "pw1001", primary.addr())
	e.Account.Registrars = append(e.Account.Registrars, secondary.addr())
	u := startUA(t, Config{Extensions: []Extension{e}, Timing: Timing{RetryMin: 100 * time.Millisecond}})
	ev := waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != secondary.addr() {
		t.Errorf("registered at %s, want the secondary %s", ev.Registrar, secondary.addr())
	}
	primary.wait(t, 5*time.Second)
	secondary.wait(t, 5*time.Second)
}

// A silent primary (SIPp receives and never answers): after the request
// timeout the UA fails over to the secondary.
func TestSIPpSilentRegistrarFailover(t *testing.T) {
	primary := startSIPp(t, scenario("silent", `
  <recv request="REGISTER"/>
  <pause milliseconds="3000"/>
`), 1, "")
	secondary := startSIPp(t, scenario("ok", `<recv request="REGISTER"/>`+sippRegOK), 1, "")
	e := ext("101", "1001", "pw1001", primary.addr())
	e.Account.Registrars = append(e.Account.Registrars, secondary.addr())
	u := startUA(t, Config{Extensions: []Extension{e}, Timing: Timing{RequestTimeout: time.Second}})
	ev := waitEvent(t, u.UA, 10*time.Second, func(e Event) bool {
		r, ok := e.(*RegistrationEvent)
		return ok && (r.State == RegFailed || r.State == RegRegistered)
	}).(*RegistrationEvent)
	if ev.State != RegFailed || ev.LastError != "timeout" {
		t.Errorf("first outcome %+v, want failed/timeout", ev)
	}
	ev = waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != secondary.addr() {
		t.Errorf("registered at %s, want %s", ev.Registrar, secondary.addr())
	}
	_ = strings.Contains
}

// 423 Interval Too Brief: the UA registers again at once with the
// registrar's Min-Expires.
func TestSIPpIntervalTooBrief(t *testing.T) {
	xml := scenario("423", `
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 423 Interval Too Brief
[last_Via:]
[last_From:]
[last_To:];tag=[pid]r[call_number]
[last_Call-ID:]
[last_CSeq:]
Min-Expires: 1800
Content-Length: 0

]]></send>
  <recv request="REGISTER">
    <action><ereg regexp="1800" search_in="hdr" header="Expires:" check_it="true" assign_to="e"/></action>
  </recv>
  <Reference variables="e"/>
`+sippRegOK)
	s := startSIPp(t, xml, 1, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	s.wait(t, 10*time.Second)
}
