package proslic

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"basestation/hal"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Part identifies the chip found on the bus.
type Part int

// Parts of the Si321x family (reg 0 bits 5:4, or reg 6 bits 7:5 on the
// Si3215 family).
const (
	PartUnknown Part = iota
	Si3210
	Si3211
	Si3212
	Si3210M
	Si3215
	Si3216
	Si3215M
	Si3216M
)

func (p Part) String() string {
	switch p {
	case Si3210:
		return "Si3210"
	case Si3211:
		return "Si3211"
	case Si3212:
		return "Si3212"
	case Si3210M:
		return "Si3210M"
	case Si3215:
		return "Si3215"
	case Si3216:
		return "Si3216"
	case Si3215M:
		return "Si3215M"
	case Si3216M:
		return "Si3216M"
	}
	return fmt.Sprintf("Part(%d)", int(p))
}

// is3215 reports whether the part uses the Si3215 indirect address map.
func (p Part) is3215() bool { return p >= Si3215 }

// Identity is what Probe read from the chip.
type Identity struct {
	Part     Part
	Revision int  // reg 0 bits 3:0 (1 = A, 2 = B, …)
	Reg0     byte // raw ID register
}

func (id Identity) String() string {
	return fmt.Sprintf("%s rev %c (reg0=%#02x)", id.Part, 'A'+rune(id.Revision-1), id.Reg0)
}

// Linefeed is a state of the line-feed control register (reg 64 bits 2:0).
type Linefeed uint8

// Linefeed states (telephony.md §1.4).
const (
	LFOpen        Linefeed = 0
	LFForward     Linefeed = 1 // forward active: idle and talk
	LFForwardOHT  Linefeed = 2 // forward on-hook transmission (FSK while on-hook)
	LFTipOpen     Linefeed = 3
	LFRinging     Linefeed = 4
	LFReverse     Linefeed = 5
	LFReverseOHT  Linefeed = 6
	LFRingOpen    Linefeed = 7
	linefeedCount          = 8
)

func (l Linefeed) String() string {
	switch l {
	case LFOpen:
		return "open"
	case LFForward:
		return "forward-active"
	case LFForwardOHT:
		return "forward-oht"
	case LFTipOpen:
		return "tip-open"
	case LFRinging:
		return "ringing"
	case LFReverse:
		return "reverse-active"
	case LFReverseOHT:
		return "reverse-oht"
	case LFRingOpen:
		return "ring-open"
	}
	return fmt.Sprintf("Linefeed(%d)", uint8(l))
}

// PCMFormat is the companding of the chip's PCM highway (reg 1 PCMF).
type PCMFormat uint8

// PCM formats.
const (
	ALaw     PCMFormat = 0
	MuLaw    PCMFormat = 1
	Linear16 PCMFormat = 3
)

// PCMConfig places the chip on the PCM highway.
type PCMConfig struct {
	Format   PCMFormat
	Wideband bool // 16 kHz (only with Linear16)
	// TXStart and RXStart are the bit-clock offsets of the time slot from
	// FSYNC (reg 2/3 and 4/5), 0..1023.
	TXStart, RXStart int
}

// RingConfig is the ring generator and the chip's ring cadence timers.
type RingConfig struct {
	FrequencyHz float64 // 15..68 Hz; 20 in North America
	PeakVolts   float64 // ring amplitude, 30..94 V peak
	// On and Off drive the chip's ring active/inactive timers
	// (125 µs units, at most 8.19 s each). Both zero: the ring
	// generator runs continuously while the linefeed is LFRinging and the
	// host does the cadence.
	On, Off time.Duration
}

// Opts configure the driver.
type Opts struct {
	Logger      *slog.Logger
	Frequency   physic.Frequency // SPI clock
	PCM         PCMConfig
	Ring        RingConfig
	LoopCurrent int // loop current limit in mA, 20..41
	OpenVolts   float64
	// Timeouts of the bounded waits during start-up.
	PowerUpTimeout time.Duration // VBAT rising after the DC-DC converter starts
	CalTimeout     time.Duration // DC-DC and analog calibration
}

// DefaultOpts returns the North American defaults: 20 Hz ringing at 85 V
// peak with the 2 s / 4 s cadence in the chip timers, 16-bit linear
// narrowband PCM in slot 0, 20 mA loop current, 48 V open-circuit voltage.
func DefaultOpts() Opts {
	return Opts{
		Frequency:      1 * physic.MegaHertz,
		PCM:            PCMConfig{Format: Linear16},
		Ring:           RingConfig{FrequencyHz: 20, PeakVolts: 85, On: 2 * time.Second, Off: 4 * time.Second},
		LoopCurrent:    20,
		OpenVolts:      48,
		PowerUpTimeout: 500 * time.Millisecond,
		CalTimeout:     2 * time.Second,
	}
}

// Errors callers may branch on.
var (
	ErrNoChip       = errors.New("proslic: no chip answers")
	ErrUnknownChip  = errors.New("proslic: unknown chip identity")
	ErrSanity       = errors.New("proslic: register sanity check failed")
	ErrTimeout      = errors.New("proslic: timeout")
	ErrInvalidValue = errors.New("proslic: invalid value")
)

// Dev is one Si321x on its SPI chip select.
//
// All register access is serialised by an internal mutex, so the IRQ loop
// (Run) and the line logic may call the driver from different goroutines.
type Dev struct {
	name  string
	c     spi.Conn
	irq   gpio.PinIn
	reset gpio.PinOut
	opts  Opts
	log   *slog.Logger
	id    Identity

	mu  sync.Mutex
	buf [1]byte // reused for every SPI transfer: no allocation per access
	rd  [1]byte
}

// New connects to the SLIC's SPI port, resets the chip through its reset
// pin, probes it (identity, sanity registers, SPI loop-back) and initialises
// it (indirect registers, DC-DC converter, calibration, PCM, ring
// generator, interrupts). The line is left open (LFOpen). An error names
// the bus and what was read.
func New(s hal.SLIC, opts *Opts) (*Dev, error) {
	if opts == nil {
		o := DefaultOpts()
		opts = &o
	}
	d, err := Open(s, opts)
	if err != nil {
		return nil, err
	}
	if err := d.Reset(); err != nil {
		return nil, err
	}
	if _, err := d.Probe(); err != nil {
		return nil, err
	}
	if err := d.Init(); err != nil {
		return nil, err
	}
	return d, nil
}

// Open connects the SPI port and configures the pins without touching the
// chip. Most callers want New.
func Open(s hal.SLIC, opts *Opts) (*Dev, error) {
	if opts == nil {
		o := DefaultOpts()
		opts = &o
	}
	name := s.Name
	if name == "" && s.Port != nil {
		name = s.Port.String()
	}
	if s.Port == nil {
		return nil, fmt.Errorf("proslic %s: no SPI port", name)
	}
	if err := validateOpts(opts); err != nil {
		return nil, fmt.Errorf("proslic %s: %w", name, err)
	}
	f := opts.Frequency
	if f == 0 {
		f = DefaultOpts().Frequency
	}
	// Mode 3 (CPOL=1, CPHA=1), 8-bit words, MSB first: the Si321x SPI.
	c, err := s.Port.Connect(f, spi.Mode3, 8)
	if err != nil {
		return nil, fmt.Errorf("proslic %s: connect: %w", name, err)
	}
	if s.IRQ != nil {
		if err := s.IRQ.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			return nil, fmt.Errorf("proslic %s: IRQ pin %s: %w", name, s.IRQ, err)
		}
	}
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return &Dev{name: name, c: c, irq: s.IRQ, reset: s.Reset, opts: *opts, log: l}, nil
}

func validateOpts(o *Opts) error {
	if o.LoopCurrent != 0 && (o.LoopCurrent < 20 || o.LoopCurrent > 41) {
		return fmt.Errorf("%w: LoopCurrent %d mA outside 20..41", ErrInvalidValue, o.LoopCurrent)
	}
	if o.OpenVolts != 0 && (o.OpenVolts < 0 || o.OpenVolts > 94.5) {
		return fmt.Errorf("%w: OpenVolts %.1f outside 0..94.5", ErrInvalidValue, o.OpenVolts)
	}
	if err := o.Ring.validate(); err != nil {
		return err
	}
	if o.PCM.TXStart < 0 || o.PCM.TXStart > 1023 || o.PCM.RXStart < 0 || o.PCM.RXStart > 1023 {
		return fmt.Errorf("%w: PCM slot start outside 0..1023", ErrInvalidValue)
	}
	switch o.PCM.Format {
	case ALaw, MuLaw, Linear16:
	default:
		return fmt.Errorf("%w: PCM format %d", ErrInvalidValue, o.PCM.Format)
	}
	if o.PCM.Wideband && o.PCM.Format != Linear16 {
		return fmt.Errorf("%w: wideband PCM needs Linear16", ErrInvalidValue)
	}
	return nil
}

func (r RingConfig) validate() error {
	if r.FrequencyHz < 15 || r.FrequencyHz > 68 {
		return fmt.Errorf("%w: ring frequency %.1f Hz outside 15..68", ErrInvalidValue, r.FrequencyHz)
	}
	if r.PeakVolts < 30 || r.PeakVolts > 94 {
		return fmt.Errorf("%w: ring amplitude %.1f V outside 30..94", ErrInvalidValue, r.PeakVolts)
	}
	const maxT = 65535 * 125 * time.Microsecond
	if r.On < 0 || r.Off < 0 || r.On > maxT || r.Off > maxT || (r.On == 0) != (r.Off == 0) {
		return fmt.Errorf("%w: ring cadence %v/%v (each 0 or up to %v, both or neither)", ErrInvalidValue, r.On, r.Off, maxT)
	}
	return nil
}

// String returns the bus name.
func (d *Dev) String() string { return "proslic " + d.name }

// Identity returns what Probe found.
func (d *Dev) Identity() Identity { return d.id }

// Halt opens the line: ringing stops, no loop current (conn.Resource).
func (d *Dev) Halt() error { return d.SetLinefeed(LFOpen) }

// Reset pulses the active-low reset line (≥ 250 µs low in the data sheet;
// 5 ms here) and waits for the chip to come up. Without a reset pin it does
// nothing.
func (d *Dev) Reset() error {
	if d.reset == nil {
		return nil
	}
	if err := d.reset.Out(gpio.Low); err != nil {
		return fmt.Errorf("%s: reset pin %s: %w", d, d.reset, err)
	}
	time.Sleep(5 * time.Millisecond)
	if err := d.reset.Out(gpio.High); err != nil {
		return fmt.Errorf("%s: reset pin %s: %w", d, d.reset, err)
	}
	time.Sleep(5 * time.Millisecond)
	return nil
}

// Probe identifies the chip and checks that the bus works: the ID register,
// the values every Si321x holds after reset (reg 8 = 0x02, reg 11 = 0x33,
// reg 64 = 0) and a write/read-back of 0x5A and 0xA5 through reg 4.
func (d *Dev) Probe() (Identity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r0, err := d.readReg(regSPIMode)
	if err != nil {
		return Identity{}, err
	}
	if r0 == 0x00 || r0 == 0xFF || r0&0x0F == 0 || r0&0x0F == 0x0F {
		return Identity{}, fmt.Errorf("%w on %s: ID register 0 reads %#02x (bus floating or chip absent)", ErrNoChip, d.name, r0)
	}
	if r0&0xC0 != 0 {
		return Identity{}, fmt.Errorf("%w on %s: ID register 0 reads %#02x (bits 7:6 must be 0 on an Si321x)", ErrUnknownChip, d.name, r0)
	}
	id := Identity{Reg0: r0, Revision: int(r0 & 0x0F)}
	r1, err := d.readReg(regPCMMode)
	if err != nil {
		return Identity{}, err
	}
	if r1&0x80 != 0 {
		r6, err := d.readReg(regFamilyID)
		if err != nil {
			return Identity{}, err
		}
		switch r6 & 0xE0 {
		case 0x00:
			id.Part = Si3215
		case 0x80:
			id.Part = Si3216
		case 0x60:
			id.Part = Si3215M
		case 0xE0:
			id.Part = Si3216M
		default:
			return Identity{}, fmt.Errorf("%w on %s: Si3215 family with reg 6 = %#02x", ErrUnknownChip, d.name, r6)
		}
	} else {
		id.Part = [4]Part{Si3210, Si3211, Si3212, Si3210M}[(r0>>4)&3]
	}
	for _, c := range [...]struct{ reg, want uint8 }{
		{regLoopback, resetLoopback}, {regLineImp, resetLineImp}, {regLinefeed, 0},
	} {
		v, err := d.readReg(c.reg)
		if err != nil {
			return Identity{}, err
		}
		if v != c.want {
			return Identity{}, fmt.Errorf("%w on %s (%s): reg %d reads %#02x, want %#02x after reset", ErrSanity, d.name, id, c.reg, v, c.want)
		}
	}
	for _, p := range [...]uint8{0x5A, 0xA5} {
		if err := d.writeReg(regPCMRXLo, p); err != nil {
			return Identity{}, err
		}
		v, err := d.readReg(regPCMRXLo)
		if err != nil {
			return Identity{}, err
		}
		if v != p {
			return Identity{}, fmt.Errorf("%w on %s (%s): wrote %#02x to reg 4, read back %#02x", ErrSanity, d.name, id, p, v)
		}
	}
	d.id = id
	return id, nil
}

// Init brings a probed chip into service, following the Silicon Labs
// start-up order (AN35): indirect registers, enhancement enable, DC-DC
// converter power-up with a bounded wait for VBAT, calibration with a
// bounded wait, PCM, ring generator, interrupt enables. The line is left
// open.
func (d *Dev) Init() error {
	if d.id.Part == PartUnknown {
		return fmt.Errorf("%s: Init before a successful Probe", d)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range irInit() {
		if err := d.writeIndirect(r.ir, r.val); err != nil {
			return err
		}
	}
	o := &d.opts
	steps := [...]struct{ reg, v uint8 }{
		{regLoopback, 0},
		{regEnhance, 0xEB},
		{regOSC1Ctl, 0}, {regOSC2Ctl, 0},
		{regBiasSquelch, 0x61},
		{regAutoManual, 0x07},
		{regLCRDebounce, 0x04}, {regRTDebounce, 0x0A},
		{regLoopILimit, uint8((loopCurrent(o) - 20) / 3)},
		{regVOC, uint8(openVolts(o) / 1.5)},
		{regVCM, 0x02},
		{regVBATH, 0x3F},
		{regDCDCPWM, 0xFF},
		{regDCDCCal, 0x19},
		{regPowerDown1, 0}, // DC-DC on
	}
	for _, s := range steps {
		if err := d.writeReg(s.reg, s.v); err != nil {
			return err
		}
	}
	// VBAT must reach about 72 V (0xC0 × 0.376 V) before calibrating.
	if err := d.pollUntil(regVBATSense, o.PowerUpTimeout, func(v uint8) bool { return v >= 0xC0 }, "VBAT (reg 82) rising to 0xC0 after DC-DC power-up"); err != nil {
		return err
	}
	// DC-DC converter calibration: reg 93 bit 7 is busy.
	if err := d.writeReg(regDCDCCal, 0x99); err != nil {
		return err
	}
	if err := d.pollUntil(regDCDCCal, o.CalTimeout, func(v uint8) bool { return v&0x80 == 0 }, "DC-DC calibration (reg 93 bit 7)"); err != nil {
		return err
	}
	if err := d.writeReg(regLinefeed, uint8(LFOpen)); err != nil {
		return err
	}
	// Analog calibration: reg 96 reads 0 when done.
	if err := d.writeReg(regCal2, 0x1E); err != nil {
		return err
	}
	if err := d.writeReg(regCal1, 0x47); err != nil {
		return err
	}
	if err := d.pollUntil(regCal1, o.CalTimeout, func(v uint8) bool { return v == 0 }, "calibration (reg 96)"); err != nil {
		return err
	}
	if err := d.setPCM(o.PCM); err != nil {
		return err
	}
	if err := d.setRing(o.Ring); err != nil {
		return err
	}
	// Clear stale interrupts, then enable ring cadence, ring trip, loop
	// status and the power alarms.
	for _, reg := range [...]uint8{regIRQ1, regIRQ2, regIRQ3} {
		if err := d.writeReg(reg, 0xFF); err != nil {
			return err
		}
	}
	for _, s := range [...]struct{ reg, v uint8 }{
		{regIRQEn1, irq1RingActive | irq1RingInactive},
		{regIRQEn2, irq2RingTrip | irq2LoopStatus | irq2PowerAlarms},
		{regIRQEn3, 0},
	} {
		if err := d.writeReg(s.reg, s.v); err != nil {
			return err
		}
	}
	d.log.Info("proslic ready", "bus", d.name, "chip", d.id.String())
	return nil
}

func loopCurrent(o *Opts) int {
	if o.LoopCurrent == 0 {
		return DefaultOpts().LoopCurrent
	}
	return o.LoopCurrent
}

func openVolts(o *Opts) float64 {
	if o.OpenVolts == 0 {
		return DefaultOpts().OpenVolts
	}
	return o.OpenVolts
}

// pollUntil reads reg until ok or the timeout passes, every millisecond.
func (d *Dev) pollUntil(reg uint8, timeout time.Duration, ok func(uint8) bool, what string) error {
	deadline := time.Now().Add(timeout)
	var v uint8
	var err error
	for {
		v, err = d.readReg(reg)
		if err != nil {
			return err
		}
		if ok(v) {
			return nil
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%w on %s: %s: still %#02x after %v", ErrTimeout, d.name, what, v, timeout)
}

// SetPCM programs the PCM format and slot and enables the PCM interface.
func (d *Dev) SetPCM(p PCMConfig) error {
	o := d.opts
	o.PCM = p
	if err := validateOpts(&o); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setPCM(p)
}

func (d *Dev) setPCM(p PCMConfig) error {
	mode := uint8(0x20) | uint8(p.Format)<<3
	if p.Wideband {
		mode |= 0x04
	}
	for _, s := range [...]struct{ reg, v uint8 }{
		{regPCMTXLo, uint8(p.TXStart)}, {regPCMTXHi, uint8(p.TXStart >> 8)},
		{regPCMRXLo, uint8(p.RXStart)}, {regPCMRXHi, uint8(p.RXStart >> 8)},
		{regPCMMode, mode},
	} {
		if err := d.writeReg(s.reg, s.v); err != nil {
			return err
		}
	}
	d.opts.PCM = p
	return nil
}

// RingCoefficients returns the ring oscillator's indirect register values
// for r: coefficient 32768·cos(2πf/1000) (the ring oscillator runs at
// 1 kHz) and amplitude ¼·√((1−c)/(1+c))·(Vpk/96 V)·32768.
func RingCoefficients(r RingConfig) (coef, amp uint16) {
	c := math.Cos(2 * math.Pi * r.FrequencyHz / 1000)
	coef = uint16(32768 * c) // truncated, as the vendor presets (20 Hz = 0x7EFD)
	amp = uint16(math.Round(0.25 * math.Sqrt((1-c)/(1+c)) * (r.PeakVolts / 96) * 32768))
	return coef, amp
}

// cadenceTicks converts a duration to the 125 µs timer unit.
func cadenceTicks(t time.Duration) uint16 { return uint16(t / (125 * time.Microsecond)) }

// SetRing programs the ring oscillator (frequency, amplitude) and the chip's
// ring cadence timers. It takes effect at the next LFRinging.
func (d *Dev) SetRing(r RingConfig) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setRing(r)
}

func (d *Dev) setRing(r RingConfig) error {
	coef, amp := RingCoefficients(r)
	for _, s := range [...]struct {
		ir uint8
		v  uint16
	}{{irRingCoef, coef}, {irRingX, amp}, {irRingY, 0}, {irRingVOff, 0}} {
		if err := d.writeIndirect(s.ir, s.v); err != nil {
			return err
		}
	}
	on, off := cadenceTicks(r.On), cadenceTicks(r.Off)
	ctl := uint8(0)
	if on != 0 {
		ctl = 0x18
	}
	for _, s := range [...]struct{ reg, v uint8 }{
		{regRingOnLo, uint8(on)}, {regRingOnHi, uint8(on >> 8)},
		{regRingOffLo, uint8(off)}, {regRingOffHi, uint8(off >> 8)},
		{regRingOscCtl, ctl},
	} {
		if err := d.writeReg(s.reg, s.v); err != nil {
			return err
		}
	}
	d.opts.Ring = r
	return nil
}

// SetLinefeed sets the line-feed state (reg 64).
func (d *Dev) SetLinefeed(l Linefeed) error {
	if l >= linefeedCount {
		return fmt.Errorf("%s: %w: linefeed %d", d, ErrInvalidValue, l)
	}
	return d.WriteReg(regLinefeed, uint8(l))
}

// Linefeed returns the state the chip is actually in (reg 64 bits 6:4).
func (d *Dev) Linefeed() (Linefeed, error) {
	v, err := d.ReadReg(regLinefeed)
	return Linefeed((v >> 4) & 7), err
}

// Hook reads the loop-closure status (reg 68 bit 0).
func (d *Dev) Hook() (hal.HookState, error) {
	v, err := d.ReadReg(regLoopStatus)
	if err != nil {
		return hal.OnHook, err
	}
	if v&1 != 0 {
		return hal.OffHook, nil
	}
	return hal.OnHook, nil
}

// Event kinds.
const (
	EvHook            EventKind = iota + 1 // loop closure changed; Event.Hook holds the new state
	EvRingTrip                             // the phone went off-hook while ringing
	EvRingActive                           // ring cadence: active timer expired (ring burst ended)
	EvRingInactive                         // ring cadence: inactive timer expired (silence ended)
	EvPowerAlarm                           // a line-driver transistor overheated; Event.Alarm = Q1..Q6 mask
	EvLinefeedDropped                      // the chip left the commanded linefeed (it goes open on an alarm)
)

var _ conn.Resource = (*Dev)(nil)
