package sipua

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

// writeCertPEM writes a certificate chain and its ECDSA key as PEM files
// into dir, for kamailio's tls.cfg.
func writeCertPEM(t *testing.T, dir string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	var certs []byte
	for _, der := range c.Certificate {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	kder, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certs, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startTLSKamailio starts kamailio with a TLS listener whose certificate,
// for "localhost" only, is issued by a CA made here; it returns the CA.
func startTLSKamailio(t *testing.T, users map[string]string) (*testpeer.Kamailio, *testCA) {
	t.Helper()
	ca := newTestCA(t, "Test PBX CA")
	cert, key := writeCertPEM(t, t.TempDir(), ca.issue(t, "localhost"))
	k := testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: users, TLS: &testpeer.KamailioTLS{CertFile: cert, KeyFile: key}})
	return k, ca
}

func tlsExt(name, user, pass, host string, port int) Extension {
	return Extension{Name: name, Account: Account{User: user, Password: pass, Domain: "localhost",
		Registrars: []string{fmt.Sprintf("%s:%d", host, port)}, Transport: TLS}}
}

// SIP over TLS through a real kamailio (Debian's kamailio-tls-modules):
// the UA registers with digest auth over TLS (kamailio's location table
// has a transport=tls contact), takes a call from a UDP baresip that
// kamailio relays over our TLS connection, and places one to it, with
// audio both ways.
func TestKamailioTLSRegisterAndCall(t *testing.T) {
	k, ca := startTLSKamailio(t, map[string]string{"1001": "pw1001", "1002": "pw1002"})
	u := startUA(t, Config{TLSRootCAs: ca.pool, Extensions: []Extension{tlsExt("101", "1001", "pw1001", "localhost", k.TLSPort)}})
	ev := pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	if ev.Registrar != fmt.Sprintf("localhost:%d", k.TLSPort) {
		t.Errorf("registered at %s", ev.Registrar)
	}
	cs, err := k.Contacts("1001")
	if err != nil || len(cs) != 1 || !strings.Contains(cs[0].Address, "transport=tls") {
		t.Fatalf("kamailio's location table: %+v %v, want one transport=tls contact", cs, err)
	}
	if a, ok := u.exts["101"].reg.activeRegistrar(); !ok || a.Transport != TLS || a.Addr.String() != k.TLSAddr() {
		t.Errorf("active registrar %+v", a)
	}

	b := startBaresip(t, "1002", "pw1002", k.Addr(), 700, "auto")
	ep := newFakeEndpoint("analog", 1200)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	// Incoming: baresip -> kamailio (UDP) -> UA (TLS).
	b.command("dial", "sip:1001@"+k.Addr())
	ep.waitFor(t, "ring 1002", 10*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	b.waitEvent("CALL_ESTABLISHED", 5*time.Second)
	time.Sleep(1200 * time.Millisecond)
	recentTone(t, "incoming call over TLS", ep, 700)
	rep(endpoint.Event{Kind: endpoint.OnHook})
	b.waitEvent("CALL_CLOSED", 5*time.Second)
	k.WaitLog(t, "MARK-ROUTE INVITE sip:1002@", 5*time.Second)

	// Outgoing: UA (TLS) -> kamailio -> baresip (UDP).
	ep2 := newFakeEndpoint("analog-2", 1200)
	rep2, err := u.Attach("101", ep2)
	if err != nil {
		t.Fatal(err)
	}
	rep2(endpoint.Event{Kind: endpoint.OffHook})
	ep2.waitFor(t, "tone dial", 2*time.Second)
	rep2(endpoint.Event{Kind: endpoint.Dialed, Number: "1002"})
	b.waitEvent("CALL_ESTABLISHED", 10*time.Second)
	ep2.waitFor(t, "audio-on", 3*time.Second)
	time.Sleep(1200 * time.Millisecond)
	recentTone(t, "outgoing call over TLS", ep2, 700)
	rep2(endpoint.Event{Kind: endpoint.OnHook})
	b.waitEvent("CALL_CLOSED", 5*time.Second)
	k.WaitLog(t, "MARK-ROUTE INVITE sip:1001@", 5*time.Second)
}

// Against the same kamailio, a UA that trusts another CA, or that
// connects by a name the certificate does not carry (127.0.0.1; the
// certificate names localhost), refuses the server: the registration
// fails with a certificate error and kamailio never sees a REGISTER.
func TestKamailioTLSRefusesWrongCAAndHost(t *testing.T) {
	k, ca := startTLSKamailio(t, map[string]string{"1001": "pw1001"})
	other := newTestCA(t, "Someone else")
	for _, c := range []struct {
		name string
		pool *x509.CertPool
		host string
	}{
		{"other-CA", other.pool, "localhost"},
		{"host-mismatch", ca.pool, "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := startUA(t, Config{TLSRootCAs: c.pool, Extensions: []Extension{tlsExt("101", "1001", "pw1001", c.host, k.TLSPort)},
				Timing: Timing{RetryMin: time.Hour}})
			ev := waitReg(t, u.UA, "101", RegFailed, 10*time.Second)
			if !strings.Contains(ev.LastError, "certificate") {
				t.Errorf("error %q, want a certificate error", ev.LastError)
			}
			if _, ok := u.exts["101"].reg.activeRegistrar(); ok {
				t.Error("an active registrar after a refused server")
			}
		})
	}
	if out := k.Output(); strings.Contains(out, "MARK-REGISTERED") || strings.Contains(out, "MARK-AUTHFAIL") {
		t.Errorf("kamailio saw a REGISTER from a UA that should have refused it:\n%s", testpeer.Tail(out, 20))
	}
	// The right CA and name register (the refusals above are the
	// certificate's, not a broken server).
	u := startUA(t, Config{TLSRootCAs: ca.pool, Extensions: []Extension{tlsExt("101", "1001", "pw1001", "localhost", k.TLSPort)}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
}
