package pbx

import (
	"testing"
	"time"
)

// RFC 2617 §3.5 example: Mufasa / Circle Of Life.
func TestDigestRFC2617Example(t *testing.T) {
	c := credentials{Username: "Mufasa", Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		URI: "/dir/index.html", QOP: "auth", NC: "00000001", CNonce: "0a4f113b"}
	if got := expectedResponse(c, "GET", "Circle Of Life"); got != "6629fae49393a05397450978507c4ef1" {
		t.Fatalf("response %s", got)
	}
}

func TestDigestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, err := newDigestAuth("127.0.0.1", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{"101": "pw101"}
	n := a.nonce()
	mk := func(user, pw, nonce string) string {
		c := credentials{Username: user, Realm: "127.0.0.1", Nonce: nonce, URI: "sip:127.0.0.1", QOP: "auth", NC: "00000001", CNonce: "abc"}
		return `Digest username="` + user + `", realm="127.0.0.1", nonce="` + nonce + `", uri="sip:127.0.0.1", response="` +
			expectedResponse(c, "REGISTER", pw) + `", qop=auth, nc=00000001, cnonce="abc", algorithm=MD5`
	}
	if r, u, err := a.verify(mk("101", "pw101", n), "REGISTER", users); r != authOK || u != "101" || err != nil {
		t.Fatalf("good credentials: %v %q %v", r, u, err)
	}
	if r, _, _ := a.verify(mk("101", "nope", n), "REGISTER", users); r != authBad {
		t.Errorf("wrong password: %v", r)
	}
	if r, _, _ := a.verify(mk("101", "pw101", n), "INVITE", users); r != authBad {
		t.Errorf("method mismatch: %v", r)
	}
	if r, _, _ := a.verify(mk("999", "pw101", n), "REGISTER", users); r != authNotFound {
		t.Errorf("unknown user: %v", r)
	}
	if r, _, _ := a.verify(mk("101", "pw101", "00"+n[2:]), "REGISTER", users); r != authBad {
		t.Errorf("forged nonce: %v", r)
	}
	now = now.Add(nonceLifetime + time.Second)
	if r, _, _ := a.verify(mk("101", "pw101", n), "REGISTER", users); r != authStale {
		t.Errorf("old nonce: %v", r)
	}
	if r, _, _ := a.verify("", "REGISTER", users); r != authMissing {
		t.Errorf("no header: %v", r)
	}
}

func TestParseCredentialsErrors(t *testing.T) {
	for _, bad := range []string{
		`Basic abc`,
		`Digest username="a"`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth`,
		`Digest username="a, realm="r"`,
		`Digest username="a" realm="r"`,
		`Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"`,
		`Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-256`,
	} {
		if c, err := parseCredentials(bad); err == nil {
			t.Errorf("parseCredentials(%q) = %+v, want error", bad, c)
		}
	}
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="101", realm="127.0.0.1", nonce="abc", uri="sip:127.0.0.1", response="0123", qop=auth, nc=00000001, cnonce="x"`)
	f.Add(`Digest username="a\"b", realm="r", nonce="n", uri="u", response="x", algorithm=MD5`)
	f.Add(`digest   username = "a" ,realm="r",nonce=n,uri=u,response=x`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCredentials(s)
		if err != nil {
			return
		}
		if c.Username == "" || c.Realm == "" || c.Nonce == "" || c.URI == "" || c.Response == "" {
			t.Fatalf("accepted incomplete credentials %+v", c)
		}
	})
}

func BenchmarkDigestVerify(b *testing.B) {
	a, err := newDigestAuth("127.0.0.1", time.Now)
	if err != nil {
		b.Fatal(err)
	}
	users := map[string]string{"101": "pw101"}
	n := a.nonce()
	c := credentials{Username: "101", Realm: "127.0.0.1", Nonce: n, URI: "sip:127.0.0.1", QOP: "auth", NC: "00000001", CNonce: "abc"}
	hdr := `Digest username="101", realm="127.0.0.1", nonce="` + n + `", uri="sip:127.0.0.1", response="` +
		expectedResponse(c, "REGISTER", "pw101") + `", qop=auth, nc=00000001, cnonce="abc", algorithm=MD5`
	b.ReportAllocs()
	for b.Loop() {
		if r, _, _ := a.verify(hdr, "REGISTER", users); r != authOK {
			b.Fatal(r)
		}
	}
}
