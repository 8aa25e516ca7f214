package sipua

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// tortureExpect is the answer the UA gives to each RFC 4475 torture
// message (testdata/torture, the RFC's §3 messages as sipgo v1.7.2 ships
// them), sent by the registrar it trusts so that the answer shows the
// message handling, not the trust check (an outsider gets 403 for every
// INVITE and NOTIFY that gets past the guard). 0 means sipgo's parser
// refuses the message: it is dropped without an answer (sipgo logs it);
// "response" files are responses matching no transaction (dropped).
var tortureExpect = map[string]int{
	// §3.1.1 valid messages.
	"valid/wsinv":      404, // tortuous but valid INVITE, for a user that is not ours
	"valid/intmeth":    405, // unknown (odd) method
	"valid/esc01":      404, // escaped user part: not one of our users
	"valid/escnull":    405, // REGISTER: we are no registrar
	"valid/esc02":      405, // RE%47IST%45R is an unknown method, not REGISTER
	"valid/lwsdisp":    200, // OPTIONS
	"valid/longreq":    404, // very long INVITE, not our user
	"valid/dblreq":     405, // REGISTER (the INVITE after its Content-Length is ignored)
	"valid/semiuri":    200, // OPTIONS, ';' in the user part
	"valid/transports": 200, // OPTIONS, odd Via transports
	"valid/mpart01":    405, // MESSAGE
	"valid/unreason":   -1,  // response
	"valid/noreason":   -1,  // response

	// §3.1.2 invalid messages, §3.2 transaction layer, §3.3 application
	// layer, §3.4 backward compatibility.
	"invalid/badinv01":   0,   // sipgo: malformed Via
	"invalid/clerr":      0,   // Content-Length larger than the body (RFC: 400); sipgo: body incomplete
	"invalid/scalar02":   0,   // huge CSeq/Max-Forwards (RFC: 400); sipgo: out of range
	"invalid/scalarlg":   0,   // huge scalars (RFC: 400); sipgo: out of range
	"invalid/quotbal":    0,   // unterminated quoted string (RFC: 400); sipgo: display name
	"invalid/ltgtruri":   0,   // <> around the Request-URI (RFC: 400); sipgo: URI scheme
	"invalid/lwsruri":    0,   // LWS in the Request-URI (RFC: 400); sipgo: not a SIP message
	"invalid/lwsstart":   0,   // several SPs in the request line (RFC: 400); sipgo: not a SIP message
	"invalid/trws":       0,   // trailing SP on the request line (RFC: 400); sipgo: not a SIP message
	"invalid/escruri":    400, // headers in the Request-URI
	"invalid/baddate":    404, // non-GMT Date is ignored; not our user
	"invalid/regbadct":   405, // REGISTER
	"invalid/badaspec":   0,   // malformed addr-spec (RFC: 400); sipgo: URI scheme
	"invalid/baddn":      0,   // malformed display name (RFC: 400); sipgo: EOF
	"invalid/badvers":    505, // SIP/7.0
	"invalid/mismatch01": 400, // CSeq method differs from the request's
	"invalid/mismatch02": 400, // unknown method, CSeq method differs
	"invalid/bigcode":    0,   // response code 4294967301; sipgo: out of range
	"invalid/badbranch":  200, // branch is only the magic cookie: still answered
	"invalid/insuf":      400, // missing To (and others)
	"invalid/unkscm":     416, // unknown Request-URI scheme
	"invalid/novelsc":    0,   // unknown scheme in To (RFC: 416 or process); sipgo: URI scheme
	"invalid/unksm2":     400, // unknown scheme in To
	"invalid/bext01":     420, // unknown Require
	"invalid/invut":      415, // unknown Content-Type on INVITE
	"invalid/regaut01":   405, // REGISTER
	"invalid/multi01":    400, // several To/From/Call-ID/CSeq headers
	"invalid/mcl01":      400, // two Content-Lengths
	"invalid/bcast":      -1,  // response
	"invalid/zeromf":     200, // Max-Forwards 0: a UA processes it
	"invalid/cparam01":   405, // REGISTER
	"invalid/cparam02":   405, // REGISTER
	"invalid/regescrt":   405, // REGISTER
	"invalid/sdp01":      406, // Accept excludes SDP
	"invalid/inv2543":    400, // RFC 2543 INVITE without Contact: no dialog can be made
	"invalid/ncl":        0,   // negative Content-Length (RFC: 400); sipgo: invalid syntax
	"invalid/test":       0,   // not a SIP message at all
}

func tortureFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/torture/*/*.dat")
	if err != nil || len(files) == 0 {
		t.Fatalf("no torture messages: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "testdata/torture/"), ".dat")
		out[name] = b
	}
	return out
}

// Every RFC 4475 torture message gets its expected answer from the UA's
// handlers (through sipgo's parser, as the transports parse), and none
// panics or hangs.
func TestRFC4475Torture(t *testing.T) {
	u := newBareUA(t)
	files := tortureFiles(t)
	for name := range tortureExpect {
		if files[name] == nil {
			t.Errorf("%s: expected answer for a message not in testdata", name)
		}
	}
	for name, b := range files {
		want, ok := tortureExpect[name]
		if !ok {
			t.Errorf("%s: no expected answer", name)
			continue
		}
		m, err := sip.NewParser().ParseSIP(b)
		switch {
		case want == 0:
			if err == nil {
				t.Errorf("%s: sipgo parses it now (as %.40q): give it an expected answer", name, m)
			}
			continue
		case err != nil:
			t.Errorf("%s: sipgo refuses to parse: %v", name, err)
			continue
		}
		req, isReq := m.(*sip.Request)
		if want == -1 {
			if isReq {
				t.Errorf("%s: parsed as a request", name)
			}
			continue
		}
		if !isReq {
			t.Errorf("%s: parsed as a response", name)
			continue
		}
		tx := dispatch(u, req, registrarAddr, "UDP")
		got := 0
		if r := tx.final(); r != nil {
			got = int(r.StatusCode)
		}
		if got != want {
			t.Errorf("%s: answered %v, want %d", name, tx.codes(), want)
		}
	}
	if n := u.panics.Load(); n != 0 {
		t.Errorf("%d handler panics", n)
	}
}
