package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"periph.io/x/conn/v3/gpio"

	"basestation/board"
	"basestation/board/virtual"
	"basestation/dect"
	"basestation/fxs/proslic"
	"basestation/hal"
	"basestation/internal/settings"
)

// A probe check's outcome.
const (
	pass = "PASS"
	fail = "FAIL"
	skip = "SKIP"
)

// checkResult is one row of the probe's table.
type checkResult struct {
	Check  string
	Status string // pass, fail or skip
	Detail string // what was found
	Next   string // what to do about a failure
}

// operator is whoever acts on the board during the probe: a person told
// what to do (a real board), or the simulator doing it itself.
type operator interface {
	// Do asks for an action ("lift the handset", ...) and returns at once.
	Do(action string)
}

// promptOperator asks a person on w.
type promptOperator struct {
	w    io.Writer
	wait time.Duration
}

func (p promptOperator) Do(action string) {
	fmt.Fprintf(p.w, ">>> %s now (within %v)\n", action, p.wait)
}

const (
	actLift   = "lift the handset of the phone on the analog port"
	actHangUp = "hang the handset up"
	actPress  = "press the base's button briefly"
)

// spiDevice is the spidev node of a periph SPI port name ("SPI0.0").
func spiDevice(port string) string {
	bus, cs, ok := strings.Cut(strings.TrimPrefix(port, "SPI"), ".")
	if !ok {
		return "/dev/spidev" + strings.TrimPrefix(port, "SPI")
	}
	return "/dev/spidev" + bus + "." + cs
}

// gpioChip is the GPIO character device the board's lines are on (bs1:
// every line on the SoC's first bank).
const gpioChip = "/dev/gpiochip0"

// deviceChecks checks that every device file of the pin map exists, before
// anything is opened. ledDir is the kernel's LED class directory.
func deviceChecks(pm board.PinMap, ledDir string) []checkResult {
	var out []checkResult
	file := func(check, path, next string) {
		if _, err := os.Stat(path); err != nil {
			out = append(out, checkResult{check, fail, path + " not found", next})
			return
		}
		out = append(out, checkResult{check, pass, path, ""})
	}
	file("SPI bus "+pm.SLICSPI, spiDevice(pm.SLICSPI),
		"enable SPI in the device tree and reboot: Raspberry Pi-class boards `dtparam=spi=on` in /boot/firmware/config.txt; "+
			"other SoCs their spidev overlay (Armbian: `overlays=spi-spidev` and `param_spidev_spi_bus=0` in /boot/armbianEnv.txt); then `ls /dev/spidev*`")
	file("GPIO chip", gpioChip,
		"the kernel needs the GPIO character device (CONFIG_GPIO_CDEV); `gpiodetect` lists the chips; lines "+
			strings.Join([]string{pm.SLICIRQ, pm.SLICReset, pm.RadioReset, pm.Button}, ", ")+" must be on it")
	file("SLIC PCM slot", pm.SLICPCM,
		"load the TDM/PCM driver of the board (its device-tree overlay) so that the slot device exists")
	file("DECT module UART", pm.RadioUART,
		"enable the UART in the device tree (Raspberry Pi: `dtoverlay=uart1` or the board's uart overlay) and take the serial console off it (remove console= for it from cmdline.txt)")
	names := make([]string, 0, len(pm.LEDs))
	for n := range pm.LEDs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		file("LED "+n, filepath.Join(ledDir, pm.LEDs[n], "brightness"),
			"the device tree must declare a gpio-leds node with label \""+pm.LEDs[n]+"\" (see /sys/class/leds)")
	}
	return out
}

// preflight is start-up's check of the board's device files: the first
// missing one fails with what to do, instead of periph's "no port found".
func preflight(pm board.PinMap) error {
	for _, c := range deviceChecks(pm, "/sys/class/leds") {
		if c.Status == fail {
			return fmt.Errorf("board %s: %s: %s: %s\n(basestationd probe --board %s checks every device)", pm.Name, c.Check, c.Detail, c.Next, pm.Name)
		}
	}
	return nil
}

// probeOptions tune a probe run.
type probeOptions struct {
	wait     time.Duration // how long an operator action may take
	radio    time.Duration // how long the module may take to handshake (default 10 s)
	stateDir string        // the DECT device table (the daemon's)
	op       operator
	log      *slog.Logger
}

// probeBoard runs every hardware check on an opened board.
func probeBoard(ctx context.Context, hw *hal.Board, o probeOptions) []checkResult {
	var out []checkResult
	add := func(c checkResult) { out = append(out, c) }
	out = append(out, probeSLIC(ctx, hw.SLIC, o)...)
	add(probeRadio(ctx, hw.Radio, o))
	names := make([]string, 0, len(hw.LEDs))
	for n := range hw.LEDs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		l := hw.LEDs[n]
		err := l.Set(hal.LEDOn)
		if err == nil {
			time.Sleep(200 * time.Millisecond) // visible to a person watching
			err = l.Set(hal.LEDOff)
		}
		if err != nil {
			add(checkResult{"LED " + n, fail, err.Error(), "check the LED's sysfs entry is writable (ReadWritePaths=/sys/class/leds in the unit) and its label in the device tree"})
		} else {
			add(checkResult{"LED " + n, pass, "switched on and off (look: it lit for 0.2 s)", ""})
		}
	}
	if hw.Button == nil {
		add(checkResult{"button", fail, "the board has no button", "add the button's GPIO line to the pin map"})
	} else {
		bctx, cancel := context.WithTimeout(ctx, o.wait)
		o.op.Do(actPress)
		p, err := hw.Button.Wait(bctx)
		cancel()
		if err != nil {
			add(checkResult{"button", fail, "no press within " + o.wait.String(), "check the button's GPIO line (active low, pulled up) in the pin map and its wiring"})
		} else {
			add(checkResult{"button", pass, fmt.Sprintf("press held %v", p.Held.Round(time.Millisecond)), ""})
		}
	}
	return out
}

// probeSLIC checks the ProSLIC with fxs/proslic's own functions: the reset
// line, identity and sanity registers (Probe), the interrupt line on a loop
// closure, and the PCM slot's clock.
func probeSLIC(ctx context.Context, s hal.SLIC, o probeOptions) []checkResult {
	var out []checkResult
	add := func(c checkResult) { out = append(out, c) }
	skipRest := func(why string, checks ...string) []checkResult {
		for _, c := range checks {
			add(checkResult{c, skip, why, ""})
		}
		return out
	}
	opts := proslic.DefaultOpts()
	opts.Logger = o.log
	dev, err := proslic.Open(s, &opts)
	if err != nil {
		add(checkResult{"SLIC SPI connection", fail, err.Error(), "check the SPI port and chip select in the pin map"})
		return skipRest("no SPI connection", "SLIC reset line", "SLIC identity", "SLIC interrupt line", "SLIC PCM slot")
	}
	// Reset line: change a register from its reset value, pulse reset,
	// and read the reset value back (reg 11, line impedance, 0x33).
	const regLineImp, resetLineImp = 11, 0x33
	switch {
	case s.Reset == nil:
		add(checkResult{"SLIC reset line", fail, "no reset line in the pin map", "add the SLIC's reset GPIO line to the pin map"})
	default:
		werr := dev.WriteReg(regLineImp, 0x00)
		rerr := dev.Reset()
		v, err := dev.ReadReg(regLineImp)
		switch {
		case werr != nil || rerr != nil || err != nil:
			add(checkResult{"SLIC reset line", fail, errors.Join(werr, rerr, err).Error(), "check the reset GPIO line " + s.Reset.String()})
		case v != resetLineImp:
			add(checkResult{"SLIC reset line", fail, fmt.Sprintf("reg 11 reads %#02x after the reset pulse, want %#02x: the chip was not reset", v, resetLineImp),
				"check the reset line " + s.Reset.String() + " reaches the SLIC's RESET pin (active low)"})
		default:
			add(checkResult{"SLIC reset line", pass, "a register changed before the pulse reads its reset value after it", ""})
		}
	}
	id, err := dev.Probe()
	if err != nil {
		next := "check the SLIC's power, chip select and the SPI wiring (MOSI, MISO, SCLK)"
		if errors.Is(err, proslic.ErrUnknownChip) {
			next = "the chip is not an Si321x: check the board's part list"
		}
		add(checkResult{"SLIC identity", fail, err.Error(), next})
		return skipRest("the chip did not identify", "SLIC interrupt line", "SLIC PCM slot")
	}
	add(checkResult{"SLIC identity", pass, id.String() + "; sanity registers and SPI write/read-back good", ""})
	if err := dev.Init(); err != nil {
		add(checkResult{"SLIC initialisation", fail, err.Error(), "check the DC-DC converter's supply and components"})
		return skipRest("the chip did not initialise", "SLIC interrupt line", "SLIC PCM slot")
	}
	defer dev.Halt()
	add(checkResult{"SLIC initialisation", pass, "calibrated, DC-DC converter up", ""})
	out = append(out, probeIRQ(ctx, dev, s, o))
	add(probePCM(ctx, s.PCM))
	return out
}

// probeIRQ feeds the line and asks for the handset to be lifted: the
// interrupt line must go low and the chip report the loop closure.
func probeIRQ(ctx context.Context, dev *proslic.Dev, s hal.SLIC, o probeOptions) checkResult {
	const name = "SLIC interrupt line"
	if s.IRQ == nil {
		return checkResult{name, fail, "no interrupt line in the pin map", "add the SLIC's interrupt GPIO line to the pin map"}
	}
	if err := dev.SetLinefeed(proslic.LFForward); err != nil {
		return checkResult{name, fail, err.Error(), "check the SPI bus"}
	}
	_ = dev.Service(func(proslic.Event) {}) // clear what is pending
	o.op.Do(actLift)
	defer o.op.Do(actHangUp)
	deadline := time.Now().Add(o.wait)
	edge := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s.IRQ.WaitForEdge(proslic.IRQPoll) || s.IRQ.Read() == gpio.Low {
			edge = true
			var closed bool
			if err := dev.Service(func(e proslic.Event) {
				closed = closed || e.Kind == proslic.EvHook && e.Hook == hal.OffHook
			}); err != nil {
				return checkResult{name, fail, err.Error(), "check the SPI bus"}
			}
			if closed {
				return checkResult{name, pass, "went low on the loop closure; the chip reported off-hook", ""}
			}
		}
	}
	if edge {
		return checkResult{name, fail, "the line went low but the chip reported no loop closure", "check the phone and the tip/ring wiring"}
	}
	if h, err := dev.Hook(); err == nil && h == hal.OffHook {
		return checkResult{name, fail, "the chip saw the handset lifted but " + s.IRQ.String() + " never went low",
			"check the interrupt line " + s.IRQ.String() + " reaches the SLIC's INT pin (active low, open drain: needs the pull-up)"}
	}
	return checkResult{name, fail, "no loop closure within " + o.wait.String(), "lift the handset of a phone on the port during the check; check the phone and the tip/ring wiring"}
}

// probePCM reads the SLIC's PCM slot for half a second: the frames must
// come, paced by the PCM clock (10 ms each). A loop-back of samples through
// the SLIC is not checked.
func probePCM(ctx context.Context, p hal.PCM) checkResult {
	const name = "SLIC PCM slot"
	if p == nil {
		return checkResult{name, fail, "no PCM slot in the pin map", "add the SLIC's PCM slot device to the pin map"}
	}
	const n = 50
	buf := make([]int16, hal.FrameSamples(p.Rate()))
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Drain what piled up before, then time n frames.
	for i := 0; i < 64; i++ {
		t := time.Now()
		if err := p.ReadFrame(rctx, buf); err != nil {
			return checkResult{name, fail, err.Error(), "check the TDM driver and the PCM clock (PCLK, FSYNC) to the SLIC"}
		}
		if time.Since(t) >= hal.FrameDuration/4 {
			break
		}
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := p.ReadFrame(rctx, buf); err != nil {
			return checkResult{name, fail, err.Error(), "check the TDM driver and the PCM clock (PCLK, FSYNC) to the SLIC"}
		}
	}
	got := time.Since(start)
	want := n * hal.FrameDuration
	if got < want*8/10 || got > want*13/10 {
		return checkResult{name, fail, fmt.Sprintf("%d frames took %v, want about %v", n, got.Round(time.Millisecond), want),
			"check the PCM clock rate (FSYNC must be 8 kHz) and the TDM driver's frame size"}
	}
	return checkResult{name, pass, fmt.Sprintf("%d frames of %d Hz audio in %v", n, p.Rate(), got.Round(time.Millisecond)), ""}
}

// probeRadio runs the DECT driver (its reset, SYNC and HELLO handshake) on
// the daemon's own device table until the module is ready.
func probeRadio(ctx context.Context, r hal.Radio, o probeOptions) checkResult {
	const name = "DECT module handshake"
	dopts := dect.DefaultOptions()
	dopts.StateDir = o.stateDir
	dopts.Logger = o.log
	drv, err := dect.New(r, &dopts)
	if err != nil {
		return checkResult{name, fail, err.Error(), "check the state directory " + o.stateDir}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- drv.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	limit := o.radio
	if limit <= 0 {
		limit = 10 * time.Second
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			return checkResult{name, fail, fmt.Sprint(err), "check the UART device " + r.Device + " and its permissions"}
		case <-time.After(50 * time.Millisecond):
		}
		if st := drv.Status(); st.Ready {
			return checkResult{name, pass, fmt.Sprintf("firmware %q, %d audio slots, %d devices paired", st.Firmware, st.Slots, st.Paired), ""}
		}
	}
	return checkResult{name, fail, "no handshake within " + limit.String() + " on " + r.Device,
		fmt.Sprintf("check the module's power, the UART wiring (TX/RX crossed), the speed (%d baud) and the reset line", r.Baud)}
}

// printTable writes the results as a table; it returns the number of
// failures.
func printTable(w io.Writer, res []checkResult) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	failed := 0
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Check, r.Status, r.Detail)
		if r.Status == fail {
			failed++
		}
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintln(w, "\nNext steps:")
		for _, r := range res {
			if r.Status == fail && r.Next != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Check, r.Next)
			}
		}
	}
	return failed
}

// errProbeFailed ends a probe with failures (exit 1; the table says which).
var errProbeFailed = errors.New("probe: some checks failed")

// runProbe is `basestationd probe`; op, if not nil, stands in for the
// person at the board (tests).
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer, op operator) error {
	def := settings.Defaults()
	fs := flag.NewFlagSet("basestationd probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	boardN := fs.String("board", "", "`board`: one of "+strings.Join(board.Names(), ", ")+", or virtual:SOCKET (required: no default)")
	stateDir := fs.String("state-dir", def.StateDir, "state `directory` holding the DECT device table (the daemon's; stop the daemon first)")
	wait := fs.Duration("wait", 15*time.Second, "how long to wait for each action asked of the person at the board (lift the handset, press the button)")
	verbose := fs.Bool("v", false, "log what the drivers do")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errVersion
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *boardN == "" {
		return fmt.Errorf("%w: setting board: required (--board virtual:SOCKET or one of %v)", errUsage, board.Names())
	}
	if *wait <= 0 {
		return fmt.Errorf("%w: setting wait: %v is not a positive duration", errUsage, *wait)
	}
	lvl := slog.LevelWarn + 4 // quiet: the table reports
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	o := probeOptions{wait: *wait, stateDir: *stateDir, log: log, op: promptOperator{stdout, *wait}}
	var res []checkResult
	if op != nil {
		o.op = op
	}
	if path, ok := strings.CutPrefix(*boardN, virtualPrefix); ok {
		hw, err := virtual.Open(ctx, path, virtual.Options{Client: "basestationd probe"})
		if err != nil {
			return err
		}
		defer hw.Closer.Close()
		res = probeBoard(ctx, hw, o)
	} else {
		pm, err := board.Lookup(*boardN)
		if err != nil {
			return fmt.Errorf("%w: setting board: %v", errUsage, err)
		}
		res = probePinMap(ctx, pm, board.Options{}, "/sys/class/leds", o)
	}
	fmt.Fprintf(stdout, "basestationd probe: board %s\n\n", *boardN)
	if printTable(stdout, res) > 0 {
		return errProbeFailed
	}
	return nil
}

// probePinMap checks a real board: its device files, then (if they are
// all there and it opens) every device.
func probePinMap(ctx context.Context, pm board.PinMap, bo board.Options, ledDir string, o probeOptions) []checkResult {
	res := deviceChecks(pm, ledDir)
	hw, err := board.Open(pm, bo)
	if err != nil {
		res = append(res, checkResult{"board opens", fail, err.Error(), "fix the missing devices above first"})
		for _, c := range []string{"SLIC reset line", "SLIC identity", "SLIC interrupt line", "SLIC PCM slot", "DECT module handshake", "button"} {
			res = append(res, checkResult{c, skip, "the board did not open", ""})
		}
		return res
	}
	defer hw.Closer.Close()
	res = append(res, checkResult{"board opens", pass, "every bus, pin and device opened", ""})
	return append(res, probeBoard(ctx, hw, o)...)
}
