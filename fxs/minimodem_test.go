package fxs

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

// A second independent decoder: minimodem's Bell 202 caller-ID receiver
// (it ignores the checksum, so spandsp remains the strict reference).
func TestCallerIDMinimodem(t *testing.T) {
	bins := testpeer.Require(t, "minimodem", "sox")
	dir := t.TempDir()
	when := time.Date(2026, 12, 24, 18, 7, 0, 0, time.UTC)
	msg, err := CallerIDMessage(&endpoint.CallerID{Number: "6135550177", Name: "NORTH POLE", Time: when}, CallerIDMDMF, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	_ = binary.Write(&raw, binary.LittleEndian, burstSamples(t, msg, false))
	rawPath := filepath.Join(dir, "cid.s16")
	wav := filepath.Join(dir, "cid.wav")
	if err := os.WriteFile(rawPath, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bins[1], "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", rawPath, wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins[0], "--rx", "callerid", "-q", "-f", wav).Output()
	if err != nil {
		t.Fatalf("minimodem: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"613-555-0177", "NORTH POLE", "12/24 18:07"} {
		if !strings.Contains(s, want) {
			t.Errorf("minimodem output lacks %q:\n%s", want, s)
		}
	}
}
