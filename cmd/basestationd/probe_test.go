package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"periph.io/x/conn/v3/gpio"

	"basestation/board"
	"basestation/sim"
)

// probe on the simulated board passes every check, and the table lists
// each one.
func TestProbeSimulatedBoardPassesEveryCheck(t *testing.T) {
	sb, vb := servedBoard(t)
	var out strings.Builder
	err := runProbe(context.Background(), []string{"--board", vb, "--state-dir", t.TempDir(), "--wait", "5s"}, &out, io.Discard, simOperator{sb})
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, check := range []string{"SLIC reset line", "SLIC identity", "SLIC initialisation", "SLIC interrupt line", "SLIC PCM slot",
		"DECT module handshake", "LED power", "LED cloud", "LED registration", "LED line", "LED fault", "button"} {
		if !rowIs(table, check, pass) {
			t.Errorf("row %q is not PASS:\n%s", check, table)
		}
	}
	if !strings.Contains(table, `firmware "`) || !strings.Contains(table, "Si32") {
		t.Errorf("table lacks the radio firmware or the SLIC part:\n%s", table)
	}
}

func rowIs(table, check, status string) bool {
	for _, l := range strings.Split(table, "\n") {
		if rest, ok := strings.CutPrefix(l, check+" "); ok && strings.HasPrefix(strings.TrimSpace(rest), status) {
			return true
		}
	}
	return false
}

// A pin map whose devices do not exist: each missing device is named with
// the next step, the board does not open, and the hardware checks are
// skipped, not passed.
func TestProbeBoardWithMissingDevices(t *testing.T) {
	ledDir := t.TempDir()
	os.MkdirAll(filepath.Join(ledDir, "bs:green:power"), 0o755)
	os.WriteFile(filepath.Join(ledDir, "bs:green:power", "brightness"), nil, 0o644)
	pm := board.PinMap{
		Name: "broken", SLICSPI: "SPI9.7", SLICIRQ: "GPIO17", SLICReset: "GPIO27",
		SLICPCM: "/nonexistent/tdm0.0", RadioUART: "/nonexistent/ttyAMA9", RadioBaud: 115200, RadioReset: "GPIO22",
		RadioPCMFmt: "/nonexistent/tdm0.%d", Button: "GPIO23",
		LEDs: map[string]string{"power": "bs:green:power", "fault": "bs:red:nowhere"},
	}
	o := probeOptions{wait: time.Second, stateDir: t.TempDir(), op: promptOperator{io.Discard, time.Second}, log: slog.New(slog.DiscardHandler)}
	res := probePinMap(context.Background(), pm, board.Options{SysfsLEDs: ledDir}, ledDir, o)
	var out strings.Builder
	if n := printTable(&out, res); n == 0 {
		t.Fatalf("no failure:\n%s", out.String())
	}
	table := out.String()
	for _, want := range []string{
		"/dev/spidev9.7 not found", "dtparam=spi=on",
		"/nonexistent/tdm0.0 not found", "TDM/PCM driver",
		"/nonexistent/ttyAMA9 not found", "enable the UART",
		"bs:red:nowhere/brightness not found", "gpio-leds",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for check, status := range map[string]string{
		"SPI bus SPI9.7": fail, "SLIC PCM slot": fail, "DECT module UART": fail, "LED fault": fail, "LED power": pass,
		"board opens": fail, "SLIC identity": skip, "DECT module handshake": skip, "button": skip,
	} {
		if !rowIs(table, check, status) {
			t.Errorf("row %q is not %s:\n%s", check, status, table)
		}
	}
	// The command exits with an error after printing the table.
	if _, err := os.Stat("/dev/spidev0.0"); err != nil {
		err := run(context.Background(), []string{"probe", "--board", "bs1", "--wait", "1s", "--state-dir", t.TempDir()}, io.Discard, io.Discard)
		if !errors.Is(err, errProbeFailed) {
			t.Fatalf("probe --board bs1 off-board: %v", err)
		}
	}
}

// On a board that opens but whose interrupt line is cut, whose radio does
// not answer and whose button nobody presses, those checks fail with what
// to do, and the rest pass.
func TestProbeOpenedBoardWithFaults(t *testing.T) {
	sb, err := sim.NewBoard(sim.Config{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	defer func() { cancel(); <-done }()
	hw := sb.HAL()
	hw.SLIC.IRQ = cutPin{hw.SLIC.IRQ}
	// A serial line with no module on it: a pseudo-terminal nobody answers.
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer pts.Close()
	hw.Radio.Device = pts.Name()
	o := probeOptions{wait: 2 * time.Second, radio: 2 * time.Second, stateDir: t.TempDir(), op: liftOnly{sb}, log: slog.New(slog.DiscardHandler)}
	var out strings.Builder
	printTable(&out, probeBoard(ctx, hw, o))
	table := out.String()
	for check, status := range map[string]string{
		"SLIC identity": pass, "SLIC PCM slot": pass, "SLIC interrupt line": fail, "DECT module handshake": fail, "button": fail, "LED power": pass,
	} {
		if !rowIs(table, check, status) {
			t.Errorf("row %q is not %s:\n%s", check, status, table)
		}
	}
	for _, want := range []string{"never went low", "INT pin", "UART wiring", "no press within 2s", "no handshake within 2s"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// cutPin is an interrupt line that is not connected: it stays high.
type cutPin struct{ gpio.PinIn }

func (cutPin) Read() gpio.Level { return gpio.High }
func (cutPin) WaitForEdge(d time.Duration) bool {
	time.Sleep(d)
	return false
}

// liftOnly lifts and hangs up the handset but presses no button.
type liftOnly struct{ b *sim.Board }

func (l liftOnly) Do(action string) {
	if action != actPress {
		simOperator(l).Do(action)
	}
}
