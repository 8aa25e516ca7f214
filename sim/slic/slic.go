package slic

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"basestation/hal"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
)

// Part is the chip variant the model presents in its ID registers.
type Part int

// Parts of the Si321x family (§1.1 "Chip ID").
const (
	Si3210 Part = iota
	Si3211
	Si3212
	Si3210M
	Si3215
	Si3216
	Si3215M
	Si3216M
)

func (p Part) String() string {
	names := [...]string{"Si3210", "Si3211", "Si3212", "Si3210M", "Si3215", "Si3216", "Si3215M", "Si3216M"}
	if p >= 0 && int(p) < len(names) {
		return names[p]
	}
	return fmt.Sprintf("Part(%d)", int(p))
}

// family3215 reports whether the part is of the Si3215/16 family (reg 1 bit7).
func (p Part) family3215() bool { return p >= Si3215 }

// Mute makes the model behave like a missing or dead chip on the bus.
type Mute int

const (
	// MuteNone: the chip answers.
	MuteNone Mute = iota
	// MuteHigh: every read returns 0xFF (empty socket, pulled-up MISO).
	MuteHigh
	// MuteLow: every read returns 0x00 (MISO stuck low).
	MuteLow
)

// Config configures a Model. The zero value is a Si3210 revision 5 on PCM
// slot 0 with plausible timings.
type Config struct {
	// Name is used in String() and errors; "" means "sim-ProSLIC".
	Name string
	// Part and Revision are what registers 0, 1 and 6 report. Revision 0
	// means 5; values 0x0 and 0xF are what a missing chip shows, and can be
	// forced with ForceRevision.
	Part          Part
	Revision      uint8
	ForceRevision bool
	// Mute makes SPI reads return a constant like a missing chip.
	Mute Mute
	// PowerUpTime is how long VBAT takes to reach its target after the DC-DC
	// converter is enabled; 0 means 100 ms.
	PowerUpTime time.Duration
	// CalTime is how long a calibration (reg 96) takes; 0 means 200 ms.
	CalTime time.Duration
	// SlotStart is the PCM bit-clock count at which the board's PCM highway
	// expects this chip's TX and RX slot (regs 2–5 must be programmed to
	// it); default 0.
	SlotStart int
	// Logger receives protocol violations and state changes; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Terminal is what hangs on the line (the simulated phone). The model calls
// it from its own goroutines, one call at a time and in order, without
// holding its own lock, so a Terminal may call back into the model (SetLoop).
type Terminal interface {
	// LineEvent reports a change on the line (ring voltage, linefeed…).
	LineEvent(ev Event)
	// Audio exchanges one 10 ms frame (hal.FrameSamples(8000) samples):
	// toPhone is what the line carries to the phone now (silence when the
	// line carries no audio); the terminal writes its microphone into
	// fromPhone (zeroed before the call).
	Audio(toPhone, fromPhone []int16)
}

// Stats are counters of the model's health and of protocol violations.
type Stats struct {
	SPIBytes            int // bytes clocked while out of reset
	IndirectViolations  int // indirect registers touched while busy
	PCMUnderruns        int // frame clock ticks with no frame from the daemon
	PCMOverruns         int // captured frames dropped because nobody read them
	SPIWhileReset       int // bytes clocked while the chip was held in reset
	ConnectCount        int
	UnsupportedFeatures int // e.g. wideband PCM selected
}

const (
	indirectTime   = 125 * time.Microsecond
	timerUnit      = 125 * time.Microsecond // cadence timers, 8 kHz ticks
	debounceUnit   = 1250 * time.Microsecond
	vbatLSB        = 0.376 // V per LSB of reg 82
	volt15         = 1.5   // V per LSB of regs 72–74
	ringMinVolts   = 0.7   // fraction of VBAT target needed for feed
	frameSamples   = 80
	captureFrames  = 8
	playoutFrames  = 4
	timelineLimit  = 4096
	defaultRev     = 5
	defaultPowerUp = 100 * time.Millisecond
	defaultCalTime = 200 * time.Millisecond
)

// Model is the simulated chip and its line. All methods are safe for
// concurrent use.
type Model struct {
	cfg  Config
	name string
	log  *slog.Logger

	mu      sync.Mutex
	reg     [128]byte
	ir      [256]uint16
	inReset bool
	gen     uint64 // bumps on reset: stale timers do nothing

	// SPI byte state machine.
	spiState   int // 0 control (or channel), 1 data, 2 ignored data
	spiChanOK  bool
	spiCtrl    byte
	connected  bool
	idaArmed   bool
	iaBusy     bool
	iaSeenBusy bool
	iaRead     bool
	iaAddr     byte
	iaData     uint16
	iaSeq      uint64
	iaStart    time.Time

	// Power and calibration.
	dcdcOn     bool
	vbatFrom   float64 // volts at dcdcT
	dcdcT      time.Time
	calBusy    bool
	calSeq     uint64
	dcCalBusy  bool
	thermal    bool
	powerAlarm byte // Q1..Q6 bits as in reg 19 bits 2..7

	// Line.
	lfs          byte // actual linefeed state
	loopClosed   bool // the phone's hook switch (raw)
	lcr          bool // debounced loop closure as the chip reports it
	rtp          bool // ring trip
	detSeq       uint64
	detPending   bool // a debounce timer runs towards detRTP/detLCR
	detRTP       bool
	detLCR       bool
	ringOn       bool // ring voltage applied now
	ring         cadence
	osc          [2]cadence
	oscPhase     [2]float64
	ringRecorded struct {
		on       bool
		vrms, hz float64
	}

	// Line model (linemodel.go): faults and the phone's ringers, the
	// origin of the foreign AC waveform, the digital-loopback fault and the
	// ring-timer error.
	cond      LineConditions
	t0        time.Time
	lbFault   LoopbackFault
	lbCount   int
	ringScale float64

	timeline []Event
	pending  []Event // events to deliver to the terminal
	stats    Stats

	deliverMu sync.Mutex
	term      Terminal

	irq   *irqPin
	reset *resetPin
	port  *port
	pcm   *pcmSlot
}

// cadence is one oscillator's active/inactive timer state.
type cadence struct {
	running bool
	on      bool
	seq     uint64
}

// New builds a chip, out of reset with its registers at their defaults and
// the DC-DC converter off. It does not start the PCM clock: call Run.
func New(cfg Config) *Model {
	if cfg.Name == "" {
		cfg.Name = "sim-ProSLIC"
	}
	if cfg.Revision == 0 && !cfg.ForceRevision {
		cfg.Revision = defaultRev
	}
	if cfg.PowerUpTime <= 0 {
		cfg.PowerUpTime = defaultPowerUp
	}
	if cfg.CalTime <= 0 {
		cfg.CalTime = defaultCalTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Model{cfg: cfg, name: cfg.Name, log: cfg.Logger.With("subsys", "sim-slic"),
		cond: LineConditions{REN: 1}, t0: time.Now(), ringScale: 1}
	m.irq = newIRQPin(m)
	m.reset = &resetPin{m: m, level: true}
	m.port = &port{m: m}
	m.pcm = newPCMSlot(m)
	m.mu.Lock()
	m.defaultsLocked()
	m.mu.Unlock()
	return m
}

// String names the chip.
func (m *Model) String() string { return m.name }

// Port is the chip's SPI port; the driver calls Connect once.
func (m *Model) Port() spi.Port { return m.port }

// IRQ is the chip's active-low interrupt output.
func (m *Model) IRQ() gpio.PinIn { return m.irq }

// Reset is the chip's active-low reset input.
func (m *Model) Reset() gpio.PinOut { return m.reset }

// PCM is the chip's PCM time slot as the board's PCM highway presents it.
func (m *Model) PCM() hal.PCM { return m.pcm }

// HAL returns the hal.SLIC a board made of this chip hands to the daemon.
func (m *Model) HAL() hal.SLIC {
	return hal.SLIC{Name: m.name, Port: m.port, IRQ: m.irq, Reset: m.reset, PCM: m.pcm}
}

// Attach hangs a terminal on the line, replacing any previous one.
func (m *Model) Attach(t Terminal) {
	m.deliverMu.Lock()
	m.term = t
	m.deliverMu.Unlock()
}

// defaultsLocked loads the power-on register values.
func (m *Model) defaultsLocked() {
	m.reg = [128]byte{}
	m.ir = [256]uint16{}
	m.reg[1] = 0x08 // µ-law, PCM disabled
	m.reg[8] = 0x02
	m.reg[11] = 0x33
	m.reg[14] = 0x10 // DC-DC powered down
	m.reg[65] = 0x61
	m.reg[67] = 0x1F
	m.reg[69] = 0x0A
	m.reg[70] = 0x0A
	m.reg[71] = 0x01
	m.reg[72] = 0x20
	m.reg[73] = 0x02
	m.reg[74] = 0x32
	m.reg[92] = 0xFF
	m.reg[93] = 0x14
	m.reg[107] = 0x08
	// Indirect defaults (DAHDI's table), in the part's own numbering.
	for _, d := range []struct {
		r int
		v uint16
	}{{13, 0x7B30}, {14, 0x0063}, {16, 0x7870}, {17, 0x007D}, {20, 0x7EF0}, {21, 0x0160},
		{26, 0x2000}, {27, 0x4000}, {28, 0x1000}, {29, 0x3600}, {35, 0x8000}, {36, 0x0320}} {
		if a, ok := m.irAddr(d.r); ok {
			m.ir[a] = d.v
		}
	}
	m.spiState, m.spiChanOK, m.idaArmed, m.iaBusy = 0, false, false, false
	m.dcdcOn, m.vbatFrom, m.calBusy, m.dcCalBusy = false, 0, false, false
	m.lcr, m.rtp, m.detPending = false, false, false
	m.iaSeenBusy, m.iaRead = false, false
	m.ring, m.osc = cadence{}, [2]cadence{}
}

// irAddr maps an indirect register in Si3210 numbering to the address the
// configured part uses (§1.1 "Si3215 indirect address map").
func (m *Model) irAddr(r int) (int, bool) {
	if !m.cfg.Part.family3215() {
		return r, r >= 0 && r < 256
	}
	switch {
	case r >= 13 && r <= 40:
		return r - 13, true
	case r == 41 || r == 43:
		return r + 23, true
	case r >= 88 && r <= 98:
		return r - 13, true
	case r >= 99 && r <= 104:
		return r - 30, true
	}
	return 0, false
}

func (m *Model) irNamed(r int) uint16 {
	if a, ok := m.irAddr(r); ok {
		return m.ir[a]
	}
	return 0
}

// ---- events ---------------------------------------------------------------

func (m *Model) emitLocked(kind EventKind, note string) {
	ev := Event{At: time.Now(), Kind: kind, Linefeed: Linefeed(m.lfs), Note: note}
	if kind == RingOn {
		ev.Vrms, ev.Hz = m.ringRecorded.vrms, m.ringRecorded.hz
	}
	m.timeline = append(m.timeline, ev)
	if len(m.timeline) > timelineLimit {
		m.timeline = append(m.timeline[:0], m.timeline[len(m.timeline)-timelineLimit/2:]...)
	}
	m.pending = append(m.pending, ev)
}

// unlockAndDeliver releases m.mu and hands pending events to the terminal.
func (m *Model) unlockAndDeliver() {
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	m.deliverMu.Lock()
	defer m.deliverMu.Unlock()
	m.deliverPendingLocked()
}

// deliverPendingLocked runs with deliverMu held.
func (m *Model) deliverPendingLocked() {
	m.mu.Lock()
	evs := m.pending
	m.pending = nil
	m.mu.Unlock()
	if m.term == nil {
		return
	}
	for _, ev := range evs {
		m.term.LineEvent(ev)
	}
}

// Timeline returns the line events recorded so far (oldest first; the
// model keeps the most recent few thousand).
func (m *Model) Timeline() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.timeline...)
}

// Stats returns the model's counters.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Reg returns a direct register as the chip holds it, without the side
// effects of an SPI read (for tests and the console).
func (m *Model) Reg(addr int) byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readRegLocked(byte(addr&0x7F), false)
}

// Indirect returns indirect register addr (the part's own numbering).
func (m *Model) Indirect(addr int) uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ir[addr&0xFF]
}

// Linefeed returns the programmed linefeed and the actual line state.
func (m *Model) Linefeed() (programmed, actual Linefeed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Linefeed(m.reg[64] & 7), Linefeed(m.lfs)
}

// InReset reports whether the reset line holds the chip in reset.
func (m *Model) InReset() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inReset
}

// ---- hook, alarms -----------------------------------------------------------

// ---- power ------------------------------------------------------------------

// ---- line state ---------------------------------------------------------------

// ---- cadence timers -------------------------------------------------------------

// ---- Run: the PCM frame clock -------------------------------------------------------
