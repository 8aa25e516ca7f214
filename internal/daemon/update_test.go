package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/sim"
	"basestation/sipua"
	"basestation/update"
)

// noInstaller is never asked in this test (no job runs).
type noInstaller struct{}

func (noInstaller) Info(context.Context, string) (update.BundleInfo, error) {
	return update.BundleInfo{}, nil
}
func (noInstaller) Install(context.Context, string) error { return nil }
func (noInstaller) Status(context.Context) (update.SlotStatus, error) {
	return update.SlotStatus{}, nil
}
func (noInstaller) MarkGood(context.Context) error         { return nil }
func (noInstaller) MarkActiveBooted(context.Context) error { return nil }

// The updater's view of the daemon: the analog line off-hook is not idle
// (an update waits), on-hook is; the trial boot is not healthy while MQTT
// is not connected, and says so.
func TestUpdateSeesLinesAndHealth(t *testing.T) {
	b, err := sim.NewBoard(sim.Config{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	go func() { _ = b.Run(bctx) }()

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	// A real self-signed CA for the pool; no download runs.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fw ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(ca, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.StateDir = dir
	cfg.MQTT.Broker = "tcp://127.0.0.1:1" // nothing listens
	cfg.SIP.Listen = "127.0.0.1:0"
	d, err := New(cfg, Options{Board: b.HAL(), Log: quiet(),
		SIP:    func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 },
		Reboot: func(context.Context) error { return nil },
		Update: &UpdateOptions{Installer: noInstaller{}, CAFile: ca}})
	if err != nil {
		t.Fatal(err)
	}
	if d.firmware == nil {
		t.Fatal("no updater built")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lines := d.lines
	waitFor(t, "idle lines at start", lines.Idle)
	b.Phone.OffHook()
	waitFor(t, "the off-hook port counts as busy", func() bool { return !lines.Idle() })
	b.Phone.OnHook()
	waitFor(t, "idle again on-hook", lines.Idle)

	err = d.firmware.health.Healthy(ctx)
	if err == nil || !strings.Contains(err.Error(), "MQTT not connected") {
		t.Fatalf("health with no broker: %v", err)
	}
}
