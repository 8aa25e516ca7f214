package update

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func tlsServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *http.Client) {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	c, err := NewHTTPClient(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func blob(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// An interrupted download continues with a Range request from the bytes
// on disk; the result has the right size and digest.
func TestDownloadResumesWithRange(t *testing.T) {
	body := blob(300 << 10)
	var mu sync.Mutex
	var ranges []string
	s, c := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first { // cut the connection a third of the way
			w.Header().Set("Content-Length", "307200")
			_, _ = w.Write(body[:100<<10])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "b", time.Time{}, bytes.NewReader(body))
	})
	path := filepath.Join(t.TempDir(), "b")
	n, err := fetchOnce(context.Background(), c, s.URL+"/b", path, int64(len(body)), func(int64) {})
	if err == nil {
		t.Fatal("the cut download reported success")
	}
	if n == 0 || n >= int64(len(body)) {
		t.Fatalf("%d bytes kept after the cut", n)
	}
	n2, err := fetchOnce(context.Background(), c, s.URL+"/b", path, int64(len(body)), func(int64) {})
	if err != nil || n2 != int64(len(body)) {
		t.Fatalf("resume: %d, %v", n2, err)
	}
	sum := sha256.Sum256(body)
	if err := checkFile(path, int64(len(body)), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Fatalf("requests' ranges %q, want none then a resume", ranges)
	}
	// A digest that does not match is a mismatch.
	if err := checkFile(path, int64(len(body)), strings.Repeat("0", 64)); !errors.Is(err, errMismatch) {
		t.Fatalf("wrong digest: %v", err)
	}
}

// A server whose certificate does not chain to the configured CA is refused.
func TestDownloadChecksServerCA(t *testing.T) {
	// httptest's servers share one certificate: give the other its own.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewUnstartedServer(http.NotFoundHandler())
	other.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	other.StartTLS()
	defer other.Close()
	_, c := tlsServer(t, http.NotFound) // c trusts only its own server
	path := filepath.Join(t.TempDir(), "b")
	_, err = fetchOnce(context.Background(), c, other.URL+"/b", path, 10, func(int64) {})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("download from a server of another CA: %v", err)
	}
	if _, err := NewHTTPClient([]byte("not a pem")); err == nil {
		t.Fatal("a CA file without a certificate was accepted")
	}
}

// A 16 MiB download allocates a small, bounded amount of memory.
func TestDownloadMemoryBounded(t *testing.T) {
	body := blob(16 << 20)
	s, c := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "b", time.Time{}, bytes.NewReader(body))
	})
	path := filepath.Join(t.TempDir(), "b")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := fetchOnce(context.Background(), c, s.URL+"/b", path, int64(len(body)), func(int64) {}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := checkFile(path, int64(len(body)), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// The server's side runs in this process too; both stay far below
	// the bundle's size.
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Fatalf("%d bytes allocated for a 16 MiB download", d)
	}
	_ = os.Remove(path)
}

func FuzzDecodeJobs(f *testing.F) {
	good := `{"current":{"id":"fw-1","url":"https://x/b","version":"1.2.0","size":10,"sha256":"ab","state":"downloading","bytes":5,"updated":"2026-12-07T18:00:00Z"},"done":[{"id":"fw-0","url":"https://x/a","version":"1.1","size":3,"sha256":"cd","state":"rejected","reason":"busy","updated":"2026-12-07T17:00:00Z"}]}`
	f.Add([]byte(good))
	f.Add([]byte(`{"current":null,"done":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		jf, err := decodeJobs(b)
		if err != nil {
			return
		}
		if jf.Current != nil && (Final(jf.Current.State) || checkJob(jf.Current) != nil) {
			t.Fatalf("accepted current %+v", jf.Current)
		}
		for _, d := range jf.Done {
			if !Final(d.State) {
				t.Fatalf("accepted unfinished done job %+v", d)
			}
		}
	})
}
