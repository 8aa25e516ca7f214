package sipua

import (
	"basestation/endpoint"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// rawInvite is an INVITE for user from 2125550100 ("Front Desk") with
// the given P-Asserted-Identity header lines (each without CRLF).
func rawInvite(user, via string, pai ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:%s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d\r\nMax-Forwards: 70\r\n"+
		"From: \"Front Desk\" <sip:2125550100@pbx.test>;tag=f1\r\nTo: <sip:%s@pbx.test>\r\nCall-ID: cid-%s-%d@test\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:2125550100@%s>\r\n", user, via, time.Now().UnixNano(), user, user, time.Now().UnixNano(), via)
	for _, p := range pai {
		b.WriteString("P-Asserted-Identity: " + p + "\r\n")
	}
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(sdp), sdp)
	return b.String()
}

// Caller ID of an incoming INVITE from P-Asserted-Identity in its sip:
// and tel: forms (RFC 3325 §9.1 allows both, in one header or several);
// a malformed one leaves the From identity.
func TestCallerIDFromAssertedIdentity(t *testing.T) {
	cases := []struct {
		name       string
		pai        []string
		num, cname string
	}{
		{"none", nil, "2125550100", "Front Desk"},
		{"sip", []string{`"Alice Smith" <sip:6135550123@pbx.test>`}, "6135550123", "Alice Smith"},
		{"sip-user-phone", []string{`<sip:+16135550123;npdi@pbx.test;user=phone>`}, "+16135550123", "Front Desk"},
		{"tel", []string{`"Bob" <tel:+1-613-555-0124>`}, "+16135550124", "Bob"},
		{"tel-bare", []string{`tel:6135550125;phone-context=+1`}, "6135550125", "Front Desk"},
		{"sip-and-tel", []string{`"Carol" <sip:carol@pbx.test>, <tel:+16135550126>`}, "+16135550126", "Carol"},
		{"two-headers", []string{`<sip:6135550127@pbx.test>`, `"Dan" <tel:+16135550127>`}, "+16135550127", "Dan"},
		{"tel-malformed", []string{`"Mallory" <tel:+1-613-CALL-NOW>`}, "2125550100", "Front Desk"},
		{"tel-empty", []string{`<tel:>`}, "2125550100", "Front Desk"},
		{"unclosed", []string{`"Eve" <tel:+16135550128`}, "2125550100", "Front Desk"},
		{"other-scheme", []string{`<mailto:x@example.com>`}, "2125550100", "Front Desk"},
		{"bad-then-good", []string{`<tel:12ab!>, "Frank" <tel:+16135550129>`}, "+16135550129", "Frank"},
	}
	for _, c := range cases {
		msg, err := sip.ParseMessage([]byte(rawInvite("1001", "127.0.0.1:5099", c.pai...)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cid := callerIDOf(msg.(*sip.Request))
		if cid.Number != c.num || cid.Name != c.cname || cid.Reason != endpoint.Present {
			t.Errorf("%s: caller ID %+v, want number %q name %q", c.name, cid, c.num, c.cname)
		}
	}
	for _, bad := range []struct{ v, want string }{
		{`<tel:+1-613-CALL-NOW>`, "letter"},
		{`<tel:>`, "no digits"},
		{`"Eve" <tel:+1613`, "no closing"},
		{`<mailto:x@example.com>`, "scheme"},
		{`"Al <sip:1@x>`, "unterminated"},
		{`<sip:pbx.test>`, "user part"},
		{``, "empty"},
	} {
		_, _, err := assertedIdentity([]string{bad.v})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "P-Asserted-Identity") {
			t.Errorf("%q: error %v, want one naming the header and %q", bad.v, err, bad.want)
		}
	}
}

// End to end: an INVITE from the registrar with a tel: identity rings
// the phone with that number; a sip: one likewise; a malformed one rings
// with the From number.
func TestIncomingCallerIDTelURI(t *testing.T) {
	reg := newUDPRegistrar(t, true)
	exts := []Extension{ext("101", "1001", "pw", reg.addr()), ext("102", "1002", "pw", reg.addr()), ext("103", "1003", "pw", reg.addr())}
	u := startUA(t, Config{Extensions: exts})
	for _, e := range exts {
		pollReg(t, u.UA, e.Name, RegRegistered, 5*time.Second)
	}
	ua, err := net.ResolveUDPAddr("udp", u.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ext, user, pai, want string
	}{
		{"101", "1001", `"Bob" <tel:+1-613-555-0124>`, "ring +16135550124"},
		{"102", "1002", `"Alice" <sip:6135550123@pbx.test>`, "ring 6135550123"},
		{"103", "1003", `<tel:+1-613-CALL-NOW>`, "ring 2125550100"},
	} {
		ep := newFakeEndpoint("phone-"+c.ext, 0)
		if _, err := u.Attach(c.ext, ep); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.pc.WriteTo([]byte(rawInvite(c.user, reg.addr(), c.pai)), ua); err != nil {
			t.Fatal(err)
		}
		ep.waitFor(t, c.want, 5*time.Second)
	}
}

func FuzzAssertedIdentity(f *testing.F) {
	for _, s := range []string{`"Alice" <sip:6135550123@pbx.test>`, `<tel:+1-613-555-0124;ext=12>`, `tel:*67#`,
		`"A, B" <sip:a@b>, <tel:+1>`, `<tel:>`, `"\"x\"" <sips:+1@h;user=phone>`, `<`, `,,,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		name, num, err := assertedIdentity([]string{v})
		if err != nil {
			if num != "" || name != "" {
				t.Fatalf("error %v with a result %q %q", err, name, num)
			}
			return
		}
		if num == "" {
			t.Fatalf("%q: no error and no number", v)
		}
		if strings.ContainsAny(num, "\r\n") {
			t.Fatalf("%q: number %q has a line break", v, num)
		}
	})
}
