package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a throw-away certificate authority for tests and the simulator:
// P-256 ECDSA keys, certificates valid from an hour ago for 825 days, server
// certificates with the SANs IP:127.0.0.1, IP:::1 and DNS:localhost (Go's
// crypto/tls and mosquitto both need them).
type PKI struct {
	CertPEM []byte // the CA certificate
	Pool    *x509.CertPool
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// KeyPair is an issued certificate with its private key.
type KeyPair struct {
	CertPEM, KeyPEM []byte
	Cert            tls.Certificate
}

// NewPKI creates a certificate authority named name.
func NewPKI(name string) (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: ca key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(825 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: ca cert: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse ca cert: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &PKI{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Pool:    pool, cert: cert, key: key,
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		// crypto/rand does not fail on Linux; a fixed serial is still valid.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// Issue signs a certificate for cn: a server certificate (serverAuth, with
// loopback SANs) or a client certificate (clientAuth).
func (p *PKI) Issue(cn string, server bool) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: key for %s: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(825 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %s: %w", cn, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal key for %s: %w", cn, err)
	}
	kp := &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	kp.Cert, err = tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: key pair for %s: %w", cn, err)
	}
	return kp, nil
}

// ServerTLS is a listener configuration presenting kp and requiring client
// certificates signed by this CA.
func (p *PKI) ServerTLS(kp *KeyPair) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{kp.Cert},
		ClientCAs:    p.Pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

// ClientTLS is a client configuration presenting kp (nil: no client
// certificate) and trusting this CA.
func (p *PKI) ClientTLS(kp *KeyPair) *tls.Config {
	c := &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
	if kp != nil {
		c.Certificates = []tls.Certificate{kp.Cert}
	}
	return c
}

// WriteFiles writes the PEM files of kp as dir/name.crt and dir/name.key
// (mode 0600) and returns their paths.
func (kp *KeyPair) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, kp.CertPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("pki: %w", err)
	}
	if err := os.WriteFile(keyFile, kp.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("pki: %w", err)
	}
	return certFile, keyFile, nil
}

// WriteCA writes the CA certificate as dir/name.crt and returns its path.
func (p *PKI) WriteCA(dir, name string) (string, error) {
	f := filepath.Join(dir, name+".crt")
	if err := os.WriteFile(f, p.CertPEM, 0o644); err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	return f, nil
}
