package board

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"basestation/hal"
)

var _ hal.PCM = (*PCMDevice)(nil)

func TestLookupUnknownBoardNamesIt(t *testing.T) {
	_, err := Lookup("bs9")
	if err == nil || !strings.Contains(err.Error(), `"bs9"`) || !strings.Contains(err.Error(), "bs1") {
		t.Fatalf("err = %v, want it to name bs9 and list bs1", err)
	}
}

// On a host without the board's SPI bus, Open must fail and name the bus.
func TestOpenWithoutHardwareNamesTheBus(t *testing.T) {
	if _, err := os.Stat("/dev/spidev0.0"); err == nil {
		t.Skip("this host has an SPI bus; the test expects none")
	}
	pm, _ := Lookup("bs1")
	_, err := Open(pm, Options{})
	if err == nil {
		t.Fatal("Open succeeded on a host without the board's hardware")
	}
	if !strings.Contains(err.Error(), "SPI0.0") || !strings.Contains(err.Error(), "bs1") {
		t.Fatalf("error %q does not name the board and the SPI bus", err)
	}
}

func TestPCMDeviceFramesRoundTripThroughAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tdm")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPCM(path, hal.RateNarrowband)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	out := make([]int16, hal.FrameSamples(8000))
	for i := range out {
		out[i] = int16(i*300 - 12000)
	}
	if err := p.WriteFrame(ctx, out); err != nil {
		t.Fatal(err)
	}
	in := make([]int16, len(out))
	if err := p.ReadFrame(ctx, in); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("sample %d = %d, want %d", i, in[i], out[i])
		}
	}
	if err := p.ReadFrame(ctx, make([]int16, 10)); err == nil || !strings.Contains(err.Error(), "want 80") {
		t.Fatalf("short frame: err = %v", err)
	}
	if _, err := OpenPCM(path, 44100); err == nil || !strings.Contains(err.Error(), "44100") {
		t.Fatalf("bad rate: err = %v", err)
	}
	if _, err := OpenPCM(filepath.Join(t.TempDir(), "missing"), 8000); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing device: err = %v", err)
	}
}

func TestSysfsLED(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"brightness", "trigger", "delay_on", "delay_off"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	l, err := openLED(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := func(f string) string { b, _ := os.ReadFile(filepath.Join(dir, f)); return string(b) }
	if err := l.Set(hal.LEDOn); err != nil || read("brightness") != "1" || read("trigger") != "none" {
		t.Fatalf("on: err=%v brightness=%q", err, read("brightness"))
	}
	if err := l.Set(hal.LEDBlinkFast); err != nil || read("trigger") != "timer" || read("delay_on") != "125" {
		t.Fatalf("blink: err=%v trigger=%q delay_on=%q", err, read("trigger"), read("delay_on"))
	}
	if err := l.Set(hal.LEDOff); err != nil || read("brightness") != "0" {
		t.Fatalf("off: err=%v", err)
	}
	if _, err := openLED(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing LED accepted")
	}
}
