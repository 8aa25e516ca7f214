package update

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// NewHTTPClient returns a client that trusts only the PEM certificates in
// caPEM (the configured firmware CA), not the system roots.
func NewHTTPClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("update: firmware CA: no PEM certificate found")
	}
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: 30 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
	}
	return &http.Client{Transport: tr}, nil
}

// errMismatch is a complete download whose size or digest is wrong.
var errMismatch = errors.New("download does not match")

// copyBuf bounds the memory a download uses, whatever the bundle's size.
const copyBuf = 32 << 10

// fetchOnce continues the download of url into path from the bytes already
// there (an HTTP Range request), writing at most size bytes in total, and
// reports progress. It returns the bytes on disk.
func fetchOnce(ctx context.Context, c *http.Client, url, path string, size int64, progress func(int64)) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if have > size {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have == size {
		return have, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return have, err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := c.Do(req)
	if err != nil {
		return have, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var first, last, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil || first != have {
			return have, fmt.Errorf("server answered the range from %d with Content-Range %q", have, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		// No range support (or a fresh start): start over.
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return have, fmt.Errorf("%w: server has fewer than %d bytes", errMismatch, have+1)
	default:
		return have, fmt.Errorf("server answered %s", resp.Status)
	}
	buf := make([]byte, copyBuf)
	last := time.Now()
	for have < size {
		n, rerr := resp.Body.Read(buf[:min(int64(len(buf)), size-have)])
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return have, err
			}
			have += int64(n)
			if time.Since(last) > time.Second {
				last = time.Now()
				if err := f.Sync(); err != nil {
					return have, err
				}
				progress(have)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return have, rerr
		}
	}
	if err := f.Sync(); err != nil {
		return have, err
	}
	progress(have)
	if have < size {
		return have, io.ErrUnexpectedEOF
	}
	return have, nil
}

// checkFile checks path's size and sha256 (streaming, bounded memory).
func checkFile(path string, size int64, sum string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, copyBuf))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: %d bytes, the job says %d", errMismatch, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: sha256 %s, the job says %s", errMismatch, got, sum)
	}
	return nil
}
