package proslic

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"basestation/hal"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi/spitest"
)

// Byte-exact transcripts of the Si321x SPI protocol (telephony.md §1.1):
// one byte per chip select; address byte bit 7 = read.
type script struct{ ops []conntest.IO }

func (s *script) w(reg, v byte) {
	s.ops = append(s.ops, conntest.IO{W: []byte{reg}}, conntest.IO{W: []byte{v}})
}

func (s *script) r(reg, v byte) {
	s.ops = append(s.ops, conntest.IO{W: []byte{reg | 0x80}}, conntest.IO{W: []byte{0}, R: []byte{v}})
}

// ind is an indirect write: I_STATUS idle, IDA_LO, IDA_HI, IAA.
func (s *script) ind(addr byte, v uint16) {
	s.r(31, 0)
	s.w(28, byte(v))
	s.w(29, byte(v>>8))
	s.w(30, addr)
}

// probe is the identification and sanity sequence for an Si3210 rev C.
func (s *script) probe() {
	s.r(0, 0x03) // part 0 = Si3210, revision 3 = C
	s.r(1, 0x00) // bit 7 clear: Si3210 family
	s.r(8, 0x02)
	s.r(11, 0x33)
	s.r(64, 0x00)
	s.w(4, 0x5A)
	s.r(4, 0x5A)
	s.w(4, 0xA5)
	s.r(4, 0xA5)
}

// initSeq is the start-up of DefaultOpts on an Si3210, written from the
// reference tables (not from the driver's table).
func (s *script) initSeq() {
	irs := []struct {
		a byte
		v uint16
	}{
		{0, 0x55C2}, {1, 0x51E6}, {2, 0x4B85}, {3, 0x4937}, {4, 0x3333}, {5, 0x0202},
		{6, 0x0202}, {7, 0x0198}, {8, 0x0198}, {9, 0x0611}, {10, 0x0202}, {11, 0x00E5},
		{12, 0x0A1C}, {13, 0x7B30}, {14, 0x0063}, {15, 0}, {16, 0x7870}, {17, 0x007D},
		{18, 0}, {19, 0}, {20, 0x7EF0}, {21, 0x0160}, {22, 0}, {23, 0x2000}, {24, 0x2000},
		{25, 0}, {26, 0x2000}, {27, 0x4000}, {28, 0x1000}, {29, 0x3600}, {30, 0x1000},
		{31, 0x0200}, {32, 0x07C0}, {33, 0x2600}, {34, 0x1B80}, {35, 0x8000}, {36, 0x0320},
		{37, 0x008C}, {38, 0x0100}, {39, 0x0010}, {40, 0x0C00}, {41, 0x0C00}, {42, 0x1000},
		{43, 0x1000},
	}
	for _, ir := range irs {
		s.ind(ir.a, ir.v)
	}
	s.w(8, 0)      // loopback off
	s.w(108, 0xEB) // enhancements
	s.w(32, 0)
	s.w(33, 0)
	s.w(65, 0x61)
	s.w(67, 0x07)
	s.w(69, 0x04)
	s.w(70, 0x0A)
	s.w(71, 0x00) // 20 mA
	s.w(72, 0x20) // 48 V
	s.w(73, 0x02)
	s.w(74, 0x3F)
	s.w(92, 0xFF)
	s.w(93, 0x19)
	s.w(14, 0x00) // DC-DC on
	s.r(82, 0x40) // VBAT still low
	s.r(82, 0xC8) // VBAT up
	s.w(93, 0x99) // DC-DC calibration
	s.r(93, 0x99)
	s.r(93, 0x19)
	s.w(64, 0) // open
	s.w(97, 0x1E)
	s.w(96, 0x47)
	s.r(96, 0x47)
	s.r(96, 0x00)
	// PCM: 16-bit linear, slot 0.
	s.w(2, 0)
	s.w(3, 0)
	s.w(4, 0)
	s.w(5, 0)
	s.w(1, 0x38)
	// Ring: 20 Hz (0x7EFD), 85 V peak, 2 s on (0x3E80) / 4 s off (0x7D00).
	s.ind(20, 0x7EFD)
	s.ind(21, 0x01C8)
	s.ind(22, 0)
	s.ind(19, 0)
	s.w(48, 0x80)
	s.w(49, 0x3E)
	s.w(50, 0x00)
	s.w(51, 0x7D)
	s.w(34, 0x18)
	s.w(18, 0xFF)
	s.w(19, 0xFF)
	s.w(20, 0xFF)
	s.w(21, 0x30)
	s.w(22, 0xFF)
	s.w(23, 0x00)
}

func quiet() *Opts {
	o := DefaultOpts()
	o.Logger = discardLogger()
	return &o
}

func TestProbeInitTranscript(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s script
		s.probe()
		s.initSeq()
		pb := &spitest.Playback{Playback: conntest.Playback{Ops: s.ops, DontPanic: true}}
		reset := &gpiotest.Pin{N: "RESET"}
		irq := &gpiotest.Pin{N: "IRQ", EdgesChan: make(chan gpio.Level, 4)}
		d, err := New(hal.SLIC{Name: "SPI0.0", Port: pb, IRQ: irq, Reset: reset}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if err := pb.Close(); err != nil {
			t.Fatalf("transcript not fully consumed: %v", err)
		}
		if got := d.Identity(); got.Part != Si3210 || got.Revision != 3 {
			t.Fatalf("identity %v", got)
		}
		if reset.L != gpio.High {
			t.Fatal("reset left asserted")
		}
	})
}

func TestSi3215IndirectMap(t *testing.T) {
	var s script
	s.r(0, 0x03)
	s.r(1, 0x80) // Si3215 family
	s.r(6, 0x80) // Si3216
	s.r(8, 0x02)
	s.r(11, 0x33)
	s.r(64, 0x00)
	s.w(4, 0x5A)
	s.r(4, 0x5A)
	s.w(4, 0xA5)
	s.r(4, 0xA5)
	s.ind(7, 0x7EFD)  // IR 20 lives at 7 on the Si3215
	s.ind(64, 0x0C00) // IR 41 at 64
	pb := &spitest.Playback{Playback: conntest.Playback{Ops: s.ops, DontPanic: true}}
	d, err := Open(hal.SLIC{Name: "SPI0.1", Port: pb}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.Probe()
	if err != nil || id.Part != Si3216 {
		t.Fatalf("probe: %v %v", id, err)
	}
	if err := d.WriteIndirect(20, 0x7EFD); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteIndirect(0, 0x1234); err != nil { // absent: no bus traffic
		t.Fatal(err)
	}
	if err := d.WriteIndirect(41, 0x0C00); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProbeFailures(t *testing.T) {
	cases := []struct {
		name string
		ops  func(s *script)
		want error
		msg  []string
	}{
		{"mute 0x00", func(s *script) { s.r(0, 0x00) }, ErrNoChip, []string{"SPI0.0", "0x00"}},
		{"floating 0xFF", func(s *script) { s.r(0, 0xFF) }, ErrNoChip, []string{"SPI0.0", "0xff"}},
		{"not an Si321x", func(s *script) { s.r(0, 0x53) }, ErrUnknownChip, []string{"SPI0.0", "0x53"}},
		{"bad Si3215 family", func(s *script) { s.r(0, 0x03); s.r(1, 0x80); s.r(6, 0x20) }, ErrUnknownChip, []string{"reg 6", "0x20"}},
		{"insane reg 11", func(s *script) {
			s.r(0, 0x03)
			s.r(1, 0)
			s.r(8, 0x02)
			s.r(11, 0x00)
		}, ErrSanity, []string{"reg 11", "0x00", "0x33"}},
		{"stuck data line", func(s *script) {
			s.r(0, 0x03)
			s.r(1, 0)
			s.r(8, 0x02)
			s.r(11, 0x33)
			s.r(64, 0)
			s.w(4, 0x5A)
			s.r(4, 0x5B)
		}, ErrSanity, []string{"0x5a", "0x5b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s script
			c.ops(&s)
			pb := &spitest.Playback{Playback: conntest.Playback{Ops: s.ops, DontPanic: true}}
			d, err := Open(hal.SLIC{Name: "SPI0.0", Port: pb}, quiet())
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Probe()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestNoAnswerBusError(t *testing.T) {
	// The bus itself fails (no more playback ops): the error names the bus
	// and the register.
	pb := &spitest.Playback{Playback: conntest.Playback{DontPanic: true}}
	_, err := New(hal.SLIC{Name: "SPI9.9", Port: pb}, quiet())
	var re *RegError
	if !errors.As(err, &re) || re.Reg != 0 || !strings.Contains(err.Error(), "SPI9.9") {
		t.Fatalf("err = %v", err)
	}
}

func TestPowerUpTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newModel(0x03)
		m.vbatStuck = true
		_, err := New(hal.SLIC{Name: "SPI0.0", Port: m}, quiet())
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "VBAT") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRingCoefficients(t *testing.T) {
	c, a := RingCoefficients(RingConfig{FrequencyHz: 20, PeakVolts: 89})
	if c != 0x7EFD { // the Silicon Labs API US preset
		t.Errorf("20 Hz coef %#x", c)
	}
	if a < 0x1C0 || a > 0x1E5 { // DAHDI: 0x1D1 = "89 V peak"
		t.Errorf("89 V amplitude %#x", a)
	}
	c, _ = RingCoefficients(RingConfig{FrequencyHz: 25, PeakVolts: 50})
	if c < 0x7E6C || c > 0x7E6E { // DAHDI "fastringer" 0x7E6D
		t.Errorf("25 Hz coef %#x", c)
	}
	if got := cadenceTicks(2 * time.Second); got != 0x3E80 {
		t.Errorf("2 s = %#x", got)
	}
	if got := cadenceTicks(4 * time.Second); got != 0x7D00 {
		t.Errorf("4 s = %#x", got)
	}
}
