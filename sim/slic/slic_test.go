package slic

import (
	"context"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// host is a minimal register accessor written from telephony.md §1.1 (one
// byte per transfer, as a bit-banged driver does).
type host struct {
	t *testing.T
	c spi.Conn
}

func connect(t *testing.T, m *Model) *host {
	t.Helper()
	c, err := m.Port().Connect(1*physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	return &host{t: t, c: c}
}

func (h *host) rd(reg byte) byte {
	h.t.Helper()
	r := make([]byte, 1)
	if err := h.c.Tx([]byte{reg | 0x80}, r); err != nil {
		h.t.Fatal(err)
	}
	if r[0] != 0xFF {
		h.t.Fatalf("control byte clocked out %#02x, want 0xFF (SDO not driven)", r[0])
	}
	if err := h.c.Tx([]byte{0}, r); err != nil {
		h.t.Fatal(err)
	}
	return r[0]
}

func (h *host) wr(reg, v byte) {
	h.t.Helper()
	if err := h.c.Tx([]byte{reg & 0x7F}, nil); err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.Tx([]byte{v}, nil); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) waitIA() {
	h.t.Helper()
	for range 10 {
		if h.rd(31)&1 == 0 {
			return
		}
	}
	h.t.Fatal("I_STATUS stays busy")
}

func (h *host) wrInd(a byte, v uint16) {
	h.t.Helper()
	h.waitIA()
	h.wr(28, byte(v))
	h.wr(29, byte(v>>8))
	h.wr(30, a)
}

func (h *host) rdInd(a byte) uint16 {
	h.t.Helper()
	h.waitIA()
	h.wr(30, a)
	h.waitIA()
	return uint16(h.rd(29))<<8 | uint16(h.rd(28))
}

// powerUp enables the DC-DC converter and waits for VBAT.
func (h *host) powerUp() {
	h.t.Helper()
	h.wr(74, 0x3F)
	h.wr(14, 0)
	deadline := time.Now().Add(time.Second)
	for h.rd(82) < 0xC0 {
		if time.Now().After(deadline) {
			h.t.Fatal("VBAT did not rise")
		}
		time.Sleep(time.Millisecond)
	}
}

// term is a Terminal that records what reaches the phone side.
type term struct {
	mu     sync.Mutex
	events []Event
	heard  []int16
	mic    int16 // constant mic sample
}

func (tm *term) LineEvent(ev Event) {
	tm.mu.Lock()
	tm.events = append(tm.events, ev)
	tm.mu.Unlock()
}

func (tm *term) Audio(toPhone, fromPhone []int16) {
	tm.mu.Lock()
	tm.heard = append(tm.heard, toPhone...)
	for i := range fromPhone {
		fromPhone[i] = tm.mic
	}
	tm.mu.Unlock()
}

func TestSPIFramingAndIdentity(t *testing.T) {
	for _, tc := range []struct {
		cfg       Config
		r0, r1hi  byte
		r6        byte
		wantFF    bool
		wantZero  bool
		name      string
		fullRead0 []byte
	}{
		{name: "Si3210 rev E", cfg: Config{}, r0: 0x05},
		{name: "Si3211 rev C", cfg: Config{Part: Si3211, Revision: 3}, r0: 0x13},
		{name: "Si3215", cfg: Config{Part: Si3215, Revision: 2}, r0: 0x02, r1hi: 0x80},
		{name: "Si3216M", cfg: Config{Part: Si3216M, Revision: 2}, r0: 0x02, r1hi: 0x80, r6: 0xE0},
		{name: "missing chip high", cfg: Config{Mute: MuteHigh}, wantFF: true},
		{name: "missing chip low", cfg: Config{Mute: MuteLow}, wantZero: true},
		{name: "revision 0 forced", cfg: Config{ForceRevision: true}, r0: 0x00},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet()
			m := New(tc.cfg)
			c, err := m.Port().Connect(2*physic.MegaHertz, spi.Mode0, 8)
			if err != nil {
				t.Fatal(err)
			}
			// Two-byte transfer (spidev style): r[1] carries the register.
			r := make([]byte, 2)
			if err := c.Tx([]byte{0x80, 0} /* read register 0 */, r); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantFF:
				if r[0] != 0xFF || r[1] != 0xFF {
					t.Fatalf("muted chip read % x, want ff ff", r)
				}
				return
			case tc.wantZero:
				if r[0] != 0 || r[1] != 0 {
					t.Fatalf("muted chip read % x, want 00 00", r)
				}
				return
			}
			if r[1] != tc.r0 {
				t.Errorf("reg 0 = %#02x, want %#02x", r[1], tc.r0)
			}
			// TxPackets, one byte per packet (CS toggled between bytes).
			r1 := make([]byte, 1)
			if err := c.TxPackets([]spi.Packet{{W: []byte{0x81}}, {W: []byte{0}, R: r1}}); err != nil {
				t.Fatal(err)
			}
			if r1[0]&0x80 != tc.r1hi {
				t.Errorf("reg 1 bit7 = %#02x, want %#02x", r1[0]&0x80, tc.r1hi)
			}
			if err := c.Tx([]byte{0x86, 0}, r); err != nil {
				t.Fatal(err)
			}
			if r[1]&0xE0 != tc.r6 {
				t.Errorf("reg 6 bits7:5 = %#02x, want %#02x", r[1]&0xE0, tc.r6)
			}
			// A write and read of the self-test register in one transfer:
			// write reg 4 = 0x5A, then read it.
			rr := make([]byte, 4)
			if err := c.Tx([]byte{0x04, 0x5A, 0x84, 0x00}, rr); err != nil {
				t.Fatal(err)
			}
			if rr[3] != 0x5A {
				t.Errorf("reg 4 read back %#02x, want 0x5A", rr[3])
			}
		})
	}
}

func TestConnectRules(t *testing.T) {
	m := New(Config{Logger: quiet()})
	if _, err := m.Port().Connect(physic.MegaHertz, spi.Mode1, 8); err == nil {
		t.Error("mode 1 accepted")
	}
	if _, err := m.Port().Connect(physic.MegaHertz, spi.Mode3|spi.LSBFirst, 8); err == nil {
		t.Error("LSB first accepted")
	}
	if _, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 16); err == nil {
		t.Error("16-bit words accepted")
	}
	c, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8); err == nil {
		t.Error("second Connect accepted")
	}
	if err := c.Tx([]byte{1, 2}, make([]byte, 1)); err == nil {
		t.Error("mismatched read buffer accepted")
	}
}

func TestSanityRegistersAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		for _, c := range []struct{ reg, want byte }{{8, 0x02}, {11, 0x33}, {64, 0x00}} {
			if v := h.rd(c.reg); v != c.want {
				t.Errorf("reg %d = %#02x after power-on, want %#02x", c.reg, v, c.want)
			}
		}
		h.wr(8, 0)
		h.wr(21, 0xFF)
		h.wr(2, 0x40)
		h.powerUp()
		h.wr(64, 1)
		if h.rd(8) != 0 || h.rd(64)&7 != 1 {
			t.Fatal("writes did not stick")
		}
		// Hold in reset: SPI ignored, reads float high.
		if err := m.Reset().Out(gpio.Low); err != nil {
			t.Fatal(err)
		}
		r := make([]byte, 2)
		if err := h.c.Tx([]byte{0x04, 0x77, 0x84, 0}, append(r, 0, 0)); err != nil {
			t.Fatal(err)
		}
		if lf, _ := m.Linefeed(); lf != LFOpen {
			t.Errorf("linefeed %s in reset, want open", lf)
		}
		if err := m.Reset().Out(gpio.High); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ reg, want byte }{{8, 0x02}, {11, 0x33}, {64, 0}, {21, 0}, {2, 0}, {4, 0}, {14, 0x10}} {
			if v := h.rd(c.reg); v != c.want {
				t.Errorf("reg %d = %#02x after reset, want %#02x", c.reg, v, c.want)
			}
		}
		if st := m.Stats(); st.SPIWhileReset != 4 {
			t.Errorf("SPI bytes while reset = %d, want 4", st.SPIWhileReset)
		}
		if m.IRQ().Read() != gpio.High {
			t.Error("IRQ asserted after reset")
		}
	})
}

func TestDaisyChain(t *testing.T) {
	m := New(Config{Logger: quiet()})
	c, _ := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8)
	// Enable daisy chain: reg 0 bit7.
	if err := c.Tx([]byte{0x00, 0x80}, nil); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 3)
	// Channel byte 0x01 selects this chip (channel 0).
	_ = c.Tx([]byte{0x01, 0x80 | 11, 0}, r)
	if r[2] != 0x33 {
		t.Errorf("chip 0 reg 11 = %#02x, want 0x33", r[2])
	}
	// Channel 1 is another chip: this one stays silent and ignores writes.
	_ = c.Tx([]byte{0x02, 0x04, 0x99}, nil)
	_ = c.Tx([]byte{0x02, 0x80 | 11, 0}, r)
	if r[2] != 0xFF {
		t.Errorf("unselected chip drove SDO: %#02x", r[2])
	}
	// Broadcast write (0xFF) reaches it.
	_ = c.Tx([]byte{0xFF, 0x04, 0x5A}, nil)
	_ = c.Tx([]byte{0x01, 0x84, 0}, r)
	if r[2] != 0x5A {
		t.Errorf("broadcast write: reg 4 = %#02x, want 0x5A", r[2])
	}
}

func TestIndirectAccess(t *testing.T) {
	for _, part := range []Part{Si3210, Si3215} {
		t.Run(part.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := New(Config{Part: part, Logger: quiet()})
				h := connect(t, m)
				addr := byte(20) // ring oscillator coefficient
				if part == Si3215 {
					addr = 7
				}
				h.wrInd(addr, 0x7EFD)
				h.wrInd(97, 0x1234)
				if v := h.rdInd(addr); v != 0x7EFD {
					t.Errorf("IR %d read %#04x, want 0x7EFD", addr, v)
				}
				if v := h.rdInd(97); v != 0x1234 {
					t.Errorf("IR 97 read %#04x", v)
				}
				if m.Indirect(int(addr)) != 0x7EFD {
					t.Error("model RAM not written")
				}
				if m.Reg(20)&0x02 == 0 {
					t.Error("indirect-access-complete status (reg 20 bit1) not set")
				}
				// Back-to-back writes without waiting: the second is dropped.
				h.wr(28, 0x11)
				h.wr(29, 0x11)
				h.wr(30, 98)
				h.wr(28, 0x22)
				if st := m.Stats(); st.IndirectViolations != 1 {
					t.Errorf("violations = %d, want 1", st.IndirectViolations)
				}
				time.Sleep(time.Millisecond)
				if h.rd(31) != 0 {
					t.Error("still busy after 1 ms")
				}
				if v := h.rdInd(98); v != 0x1111 {
					t.Errorf("IR 98 = %#04x, want 0x1111", v)
				}
			})
		})
	}
}

func TestPowerAndCalibration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet(), PowerUpTime: 100 * time.Millisecond, CalTime: 200 * time.Millisecond})
		h := connect(t, m)
		// Calibration without battery waits.
		h.wr(96, 0x47)
		time.Sleep(500 * time.Millisecond)
		if h.rd(96) == 0 {
			t.Fatal("calibration completed without VBAT")
		}
		start := time.Now()
		h.wr(74, 0x3F)
		h.wr(14, 0)
		if v := h.rd(82); v > 10 {
			t.Errorf("VBAT %#02x right after power-up", v)
		}
		for h.rd(82) < 0xC0 {
			time.Sleep(time.Millisecond)
		}
		if el := time.Since(start); el < 60*time.Millisecond || el > 100*time.Millisecond {
			t.Errorf("VBAT reached 0xC0 after %v", el)
		}
		time.Sleep(200 * time.Millisecond)
		if v := h.rd(82); v < 245 || v > 252 {
			t.Errorf("VBAT settled at %#02x, want ≈ 94.5 V / 0.376", v)
		}
		if h.rd(96) != 0 {
			t.Error("calibration not done with VBAT up")
		}
		h.wr(93, 0x99)
		if h.rd(93)&0x80 == 0 {
			t.Error("DC-DC calibration busy bit not set")
		}
		time.Sleep(60 * time.Millisecond)
		if h.rd(93)&0x80 != 0 {
			t.Error("DC-DC calibration still busy")
		}
		// Power down: VBAT decays slowly (no leak).
		h.wr(14, 0x10)
		time.Sleep(500 * time.Millisecond)
		if v := h.rd(82); v < 0x60 {
			t.Errorf("VBAT %#02x 500 ms after power-down: too fast a decay", v)
		}
	})
}

func TestLoopClosureDebounceAndIRQ(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		irq := m.IRQ()
		if err := irq.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			t.Fatal(err)
		}
		h.powerUp()
		h.wr(22, 0x02)
		h.wr(69, 0x0A) // 12.5 ms
		// Off-hook on an open line: no loop current, nothing detected.
		m.SetLoop(true)
		time.Sleep(50 * time.Millisecond)
		if h.rd(68)&1 != 0 {
			t.Fatal("loop closure detected on an open line")
		}
		m.SetLoop(false)
		h.wr(64, 1)
		time.Sleep(50 * time.Millisecond)
		m.SetLoop(true)
		time.Sleep(12 * time.Millisecond)
		if h.rd(68)&1 != 0 {
			t.Fatal("loop closure reported before the debounce interval")
		}
		if !irq.WaitForEdge(5 * time.Millisecond) {
			t.Fatal("no falling edge after debounce")
		}
		if irq.Read() != gpio.Low || h.rd(19)&0x02 == 0 || h.rd(68)&1 != 1 {
			t.Fatal("IRQ/status/LCR not set")
		}
		// Clearing a bit that is not set leaves the IRQ asserted.
		h.wr(19, 0x01)
		if irq.Read() != gpio.Low {
			t.Fatal("IRQ released by clearing another bit")
		}
		h.wr(19, 0x02)
		if irq.Read() != gpio.High {
			t.Fatal("IRQ still low after write-1-to-clear")
		}
		// A 5 ms bounce is filtered.
		m.SetLoop(false)
		time.Sleep(5 * time.Millisecond)
		m.SetLoop(true)
		if irq.WaitForEdge(30 * time.Millisecond) {
			t.Fatal("bounce produced an interrupt")
		}
		// Disabled interrupts do not drive the line.
		h.wr(22, 0)
		m.SetLoop(false)
		time.Sleep(30 * time.Millisecond)
		if irq.Read() != gpio.High || h.rd(19)&0x02 == 0 {
			t.Fatal("masked interrupt: want status set and line high")
		}
	})
}

func TestWaitForEdgeHalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		irq := m.IRQ()
		_ = irq.In(gpio.PullUp, gpio.FallingEdge)
		done := make(chan bool)
		go func() { done <- irq.WaitForEdge(-1) }()
		time.Sleep(time.Second)
		_ = irq.Halt()
		if <-done {
			t.Error("halted wait reported an edge")
		}
		if irq.WaitForEdge(0) {
			t.Error("zero timeout reported an edge")
		}
	})
}

// ringSetup programs the API's US ring preset (telephony.md §1.2/§1.5).
func ringSetup(h *host, cadence bool) {
	h.wrInd(20, 0x7EFD)
	h.wrInd(21, 0x0155)
	h.wr(48, 0x80)
	h.wr(49, 0x3E) // 2 s
	h.wr(50, 0x00)
	h.wr(51, 0x7D) // 4 s
	if cadence {
		h.wr(34, 0x18)
	}
}

func TestRingCadenceAndTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		tm := &term{}
		m.Attach(tm)
		h := connect(t, m)
		h.powerUp()
		ringSetup(h, true)
		h.wr(21, 0x30)
		h.wr(22, 0x03)
		h.wr(64, 1)
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		h.wr(64, 4)
		time.Sleep(time.Millisecond)
		if v := h.rd(64); v != 0x44 {
			t.Errorf("reg 64 = %#02x while ringing, want 0x44", v)
		}
		time.Sleep(2500 * time.Millisecond)
		if v := h.rd(64); v != 0x24 {
			t.Errorf("reg 64 = %#02x in the silent period, want 0x24", v)
		}
		if h.rd(18)&0x10 == 0 {
			t.Error("ring active timer interrupt not raised")
		}
		h.wr(18, 0xFF)
		time.Sleep(3700 * time.Millisecond) // t = 6.2 s: second ring
		if h.rd(18)&0x20 == 0 {
			t.Error("ring inactive timer interrupt not raised")
		}
		// Answer during the second ring: ring trip, automatic switch to
		// forward active (reg 67 bit2), ring voltage off.
		m.SetLoop(true)
		time.Sleep(50 * time.Millisecond)
		if h.rd(19)&0x01 == 0 {
			t.Error("ring trip not reported")
		}
		if v := h.rd(64); v != 0x11 {
			t.Errorf("reg 64 = %#02x after ring trip, want 0x11", v)
		}
		if h.rd(68)&1 != 1 {
			t.Error("loop closure not reported after ring trip")
		}
		var rings []Event
		for _, ev := range m.Timeline() {
			if ev.Kind == RingOn || ev.Kind == RingOff {
				rings = append(rings, ev)
			}
		}
		want := []struct {
			k  EventKind
			at time.Duration
		}{{RingOn, 0}, {RingOff, 2 * time.Second}, {RingOn, 6 * time.Second}, {RingOff, 6200*time.Millisecond + 12500*time.Microsecond}}
		if len(rings) != len(want) {
			t.Fatalf("ring events %v, want %d", rings, len(want))
		}
		for i, w := range want {
			got := rings[i].At.Sub(start)
			if rings[i].Kind != w.k || got < w.at || got > w.at+time.Millisecond {
				t.Errorf("ring event %d: %s at %v, want %s at %v", i, rings[i].Kind, got, w.k, w.at)
			}
		}
		on := rings[0]
		if math.Abs(on.Hz-20) > 0.1 || math.Abs(on.Vrms-45) > 0.5 {
			t.Errorf("ring signal %.2f Hz %.2f Vrms, want 20 Hz 45 Vrms", on.Hz, on.Vrms)
		}
		tm.mu.Lock()
		n := len(tm.events)
		tm.mu.Unlock()
		if n < 4 {
			t.Errorf("terminal saw %d events", n)
		}
	})
}

func TestRingNeedsBatteryAndAmplitude(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		ringSetup(h, false)
		h.wr(64, 4) // no DC-DC: no ring voltage
		time.Sleep(100 * time.Millisecond)
		for _, ev := range m.Timeline() {
			if ev.Kind == RingOn {
				t.Fatal("ring voltage without battery")
			}
		}
		h.powerUp()
		time.Sleep(10 * time.Millisecond)
		var on *Event
		for _, ev := range m.Timeline() {
			if ev.Kind == RingOn {
				on = &ev
			}
		}
		if on == nil {
			t.Fatal("no ring voltage once the battery is up (continuous ringing without timers)")
		}
	})
}

func TestAlarms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		h := connect(t, m)
		h.powerUp()
		h.wr(22, 0xFC)
		h.wr(64, 1)
		m.InjectPowerAlarm(3)
		if v := h.rd(19); v&0xFC != 0x10 {
			t.Errorf("reg 19 = %#02x, want Q3 bit (0x10)", v)
		}
		if v := h.rd(64); v != 0 {
			t.Errorf("linefeed %#02x after power alarm with auto-open, want 0", v)
		}
		if m.IRQ().Read() != gpio.Low {
			t.Error("power alarm did not assert IRQ")
		}
		h.wr(19, 0xFC)
		h.wr(67, 0x00) // manual: the line stays as programmed
		h.wr(64, 1)
		m.InjectPowerAlarm(1)
		if h.rd(64)&7 != 1 {
			t.Error("linefeed dropped with auto-open disabled")
		}
		h.wr(19, 0xFF)
		m.InjectThermalAlarm()
		if v := h.rd(64); v != 0 {
			t.Errorf("thermal overload: reg 64 = %#02x, want open", v)
		}
		h.wr(19, 0xFF)
		h.wr(64, 1)
		if v := h.rd(64); v>>4 != 0 || h.rd(19)&0xFC != 0xFC {
			t.Errorf("line re-enabled during overload: reg 64 %#02x reg 19 %#02x", v, h.rd(19))
		}
		m.ClearThermalAlarm()
		h.wr(19, 0xFF)
		h.wr(64, 1)
		if v := h.rd(64); v != 0x11 {
			t.Errorf("after clearing: reg 64 = %#02x, want 0x11", v)
		}
	})
}

func TestPCMPath(t *testing.T) {
	frame := make([]int16, 80)
	for i := range frame {
		frame[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	for _, tc := range []struct {
		name      string
		reg1      byte
		tx, rx    int
		linefeed  byte
		offHook   bool
		wantEar   bool
		wantMic   bool
		exact     bool
		slotStart int
	}{
		{name: "ulaw OHT on-hook", reg1: 0x28, linefeed: 2, wantEar: true},
		{name: "ulaw active off-hook", reg1: 0x28, linefeed: 1, offHook: true, wantEar: true, wantMic: true},
		{name: "alaw active off-hook", reg1: 0x20, linefeed: 1, offHook: true, wantEar: true, wantMic: true},
		{name: "linear", reg1: 0x38, linefeed: 1, offHook: true, wantEar: true, wantMic: true, exact: true},
		{name: "active on-hook carries nothing", reg1: 0x28, linefeed: 1},
		{name: "PCM disabled", reg1: 0x08, linefeed: 1, offHook: true},
		{name: "wrong slot", reg1: 0x28, linefeed: 1, offHook: true, tx: 8, rx: 8},
		{name: "board slot 16", reg1: 0x28, linefeed: 1, offHook: true, tx: 16, rx: 16, slotStart: 16, wantEar: true, wantMic: true},
		{name: "open line", reg1: 0x28, linefeed: 0, offHook: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := New(Config{Logger: quiet(), SlotStart: tc.slotStart})
				tm := &term{mic: 1000}
				m.Attach(tm)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go m.Run(ctx)
				h := connect(t, m)
				h.powerUp()
				h.wr(2, byte(tc.tx))
				h.wr(4, byte(tc.rx))
				h.wr(1, tc.reg1)
				h.wr(64, tc.linefeed)
				m.SetLoop(tc.offHook)
				time.Sleep(50 * time.Millisecond)
				pcm := m.PCM()
				tm.mu.Lock()
				tm.heard = nil
				tm.mu.Unlock()
				for range 3 {
					if err := pcm.WriteFrame(ctx, frame); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(60 * time.Millisecond)
				tm.mu.Lock()
				heard := append([]int16(nil), tm.heard...)
				tm.mu.Unlock()
				var maxErr, peak float64
				found := false
				for off := 0; off+80 <= len(heard); off += 80 {
					if heard[off+2] == 0 && heard[off+20] == 0 {
						continue
					}
					found = true
					for i := range 80 {
						d := math.Abs(float64(heard[off+i]) - float64(frame[i]))
						maxErr = math.Max(maxErr, d)
						peak = math.Max(peak, math.Abs(float64(heard[off+i])))
					}
					break
				}
				if found != tc.wantEar {
					t.Fatalf("phone heard the frame: %v, want %v", found, tc.wantEar)
				}
				if found {
					if tc.exact && maxErr != 0 {
						t.Errorf("linear slot altered samples (max err %v)", maxErr)
					}
					if !tc.exact && (maxErr == 0 || maxErr > 300) {
						t.Errorf("companded error %v: want G.711 quantisation (0 < err ≤ 300)", maxErr)
					}
				}
				dst := make([]int16, 80)
				if err := pcm.ReadFrame(ctx, dst); err != nil {
					t.Fatal(err)
				}
				gotMic := dst[0] != 0
				if gotMic != tc.wantMic {
					t.Errorf("daemon read mic %d, want mic present %v", dst[0], tc.wantMic)
				}
				if gotMic && (dst[0] < 960 || dst[0] > 1040) {
					t.Errorf("mic sample %d, want ≈ 1000", dst[0])
				}
			})
		})
	}
}

func TestPCMContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		pcm := m.PCM()
		ctx := context.Background()
		if pcm.Rate() != 8000 {
			t.Fatal("rate")
		}
		if err := pcm.WriteFrame(ctx, make([]int16, 160)); err == nil {
			t.Error("160-sample frame accepted")
		}
		if err := pcm.ReadFrame(ctx, make([]int16, 79)); err == nil {
			t.Error("79-sample read accepted")
		}
		// Without the clock, the playout queue fills and WriteFrame blocks.
		for range 4 {
			if err := pcm.WriteFrame(ctx, make([]int16, 80)); err != nil {
				t.Fatal(err)
			}
		}
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := pcm.WriteFrame(tctx, make([]int16, 80)); err != context.DeadlineExceeded {
			t.Errorf("full queue: %v, want deadline exceeded", err)
		}
		done := make(chan error)
		go func() { done <- pcm.ReadFrame(ctx, make([]int16, 80)) }()
		time.Sleep(10 * time.Millisecond)
		_ = pcm.Close()
		if err := <-done; err == nil {
			t.Error("blocked ReadFrame not released by Close")
		}
		// The clock paces frames: 1 s of Run gives 100 frames.
		m2 := New(Config{Logger: quiet()})
		rctx, rcancel := context.WithCancel(ctx)
		go m2.Run(rctx)
		n := 0
		start := time.Now()
		buf := make([]int16, 80)
		for time.Since(start) < time.Second {
			if err := m2.PCM().ReadFrame(rctx, buf); err != nil {
				t.Fatal(err)
			}
			n++
		}
		rcancel()
		if n < 99 || n > 101 {
			t.Errorf("%d frames in 1 s, want 100", n)
		}
	})
}

func TestToneOscillatorToPhone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{Logger: quiet()})
		tm := &term{}
		m.Attach(tm)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		h := connect(t, m)
		h.powerUp()
		h.wr(64, 2)
		// OSC1 = 350 Hz at −18 dBm0 (DAHDI defaults 0x7B30 / 0x0063), to phone.
		h.wrInd(13, 0x7B30)
		h.wrInd(14, 0x0063)
		h.wr(32, 0x06)
		time.Sleep(200 * time.Millisecond)
		tm.mu.Lock()
		x := tm.heard[len(tm.heard)-800:]
		tm.mu.Unlock()
		var ms float64
		for _, s := range x {
			ms += float64(s) * float64(s)
		}
		rms := math.Sqrt(ms / float64(len(x)))
		// −18 dBm0 sine: peak ≈ 22 300·10^(−18/20) ≈ 2 800, rms ≈ 1 980.
		if rms < 1700 || rms > 2300 {
			t.Errorf("OSC1 rms %.0f, want ≈ 1980 (−18 dBm0)", rms)
		}
	})
}

func TestG711Vectors(t *testing.T) {
	// telephony.md §6.1 test vectors (spandsp).
	for _, v := range []struct {
		lin  int16
		u, a byte
	}{{0, 0xFF, 0xD5}, {-1, 0x7F, 0x55}, {100, 0xF2, 0xD3}, {1000, 0xCE, 0xFA}, {-1000, 0x4E, 0x7A}, {16000, 0x90, 0xBA}, {32767, 0x80, 0xAA}, {-32768, 0x00, 0x2A}} {
		if u := linearToULaw(v.lin); u != v.u {
			t.Errorf("ulaw(%d) = %#02x, want %#02x", v.lin, u, v.u)
		}
		if a := linearToALaw(v.lin); a != v.a {
			t.Errorf("alaw(%d) = %#02x, want %#02x", v.lin, a, v.a)
		}
	}
	for _, v := range []struct {
		code byte
		lin  int16
	}{{0x00, -32124}, {0x80, 32124}, {0xFF, 0}, {0x7F, 0}, {0x0F, -16764}, {0x8F, 16764}, {0x70, -120}, {0xF0, 120}} {
		if l := ulawToLinear(v.code); l != v.lin {
			t.Errorf("ulaw decode %#02x = %d, want %d", v.code, l, v.lin)
		}
	}
	for _, v := range []struct {
		code byte
		lin  int16
	}{{0xD5, 8}, {0x55, -8}, {0xAA, 32256}, {0x2A, -32256}, {0x80, 5504}, {0xD4, 24}, {0x00, -5504}} {
		if l := alawToLinear(v.code); l != v.lin {
			t.Errorf("alaw decode %#02x = %d, want %d", v.code, l, v.lin)
		}
	}
}

// FuzzSPI clocks arbitrary bytes into the chip with resets and hook
// changes mixed in: no panic, no deadlock, the IRQ level always agrees
// with the registers.
func FuzzSPI(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0x0E, 0x00, 0x40, 0x04})
	f.Add([]byte{0x00, 0x80, 0x01, 0x80, 0x00, 0xFF, 0x04, 0x5A})
	f.Add([]byte{0x1C, 0x11, 0x1D, 0x22, 0x1E, 0x14, 0x9F, 0x00, 0x1E, 0x15})
	f.Add([]byte{0x60, 0x18, 0x40, 0x04, 0x15, 0xFF, 0xFE, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			m := New(Config{Logger: quiet()})
			ctx, cancel := context.WithCancel(context.Background())
			go m.Run(ctx)
			c, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8)
			if err != nil {
				t.Fatal(err)
			}
			r := make([]byte, 4)
			for len(data) > 0 {
				n := min(len(data), 4)
				chunk := data[:n]
				data = data[n:]
				switch chunk[0] {
				case 0xFE:
					_ = m.Reset().Out(gpio.Low)
					_ = m.Reset().Out(gpio.High)
				case 0xFD:
					m.SetLoop(chunk[n-1]&1 == 1)
				case 0xFC:
					time.Sleep(time.Duration(chunk[n-1]) * time.Millisecond)
				}
				if err := c.Tx(chunk, r[:n]); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Second)
			m.mu.Lock()
			want := !m.inReset && (m.reg[18]&m.reg[21]|m.reg[19]&m.reg[22]|m.reg[20]&m.reg[23]) != 0
			m.mu.Unlock()
			if (m.IRQ().Read() == gpio.Low) != want {
				t.Fatal("IRQ level disagrees with status & enable")
			}
			cancel()
		})
	})
}
