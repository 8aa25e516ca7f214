package sipua

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, dns string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsRegistrar is a sipgo server over TLS answering REGISTER with 200.
func tlsRegistrar(t *testing.T, cert tls.Certificate) (port int, registered chan string) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	registered = make(chan string, 4)
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if c := req.Contact(); c != nil {
			res.AppendHeader(c)
			registered <- c.Address.String() + " via " + req.Transport()
		}
		res.AppendHeader(sip.NewHeader("Expires", "600"))
		_ = tx.Respond(res)
	})
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(l)
	t.Cleanup(func() { l.Close(); ua.Close() })
	return l.Addr().(*net.TCPAddr).Port, registered
}

// SIP over TLS registers when the registrar's certificate chains to the
// configured CA and names the host we connect to; another CA or a host
// name mismatch fails the registration with a certificate error.
func TestTLSRegistrationVerifiesServer(t *testing.T) {
	ca := newTestCA(t, "Test PBX CA")
	other := newTestCA(t, "Someone else")
	port, registered := tlsRegistrar(t, ca.issue(t, "localhost"))

	try := func(name string, pool *x509.CertPool, host string, wantOK bool) {
		t.Run(name, func(t *testing.T) {
			e := Extension{Name: "101", Account: Account{User: "1001", Password: "pw", Domain: "localhost",
				Registrars: []string{fmt.Sprintf("%s:%d", host, port)}, Transport: TLS}}
			u := startUA(t, Config{TLSRootCAs: pool, Extensions: []Extension{e}, Timing: Timing{RetryMin: time.Hour}})
			ev := waitEvent(t, u.UA, 10*time.Second, func(e Event) bool {
				r, ok := e.(*RegistrationEvent)
				return ok && (r.State == RegRegistered || r.State == RegFailed)
			}).(*RegistrationEvent)
			if wantOK {
				if ev.State != RegRegistered {
					t.Fatalf("not registered: %+v", ev)
				}
				select {
				case c := <-registered:
					if !strings.Contains(c, "transport=tls") || !strings.HasSuffix(c, "via TLS") {
						t.Errorf("contact %s", c)
					}
				case <-time.After(time.Second):
					t.Error("registrar saw no REGISTER")
				}
				return
			}
			if ev.State != RegFailed || !strings.Contains(ev.LastError, "certificate") {
				t.Fatalf("want a certificate failure, got %+v", ev)
			}
		})
	}
	try("right-CA", ca.pool, "localhost", true)
	try("other-CA", other.pool, "localhost", false)
	try("host-mismatch", ca.pool, "127.0.0.1", false)
	_ = context.Background
}
