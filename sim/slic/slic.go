package slic

import (
	"context"
	"fmt"
	"log/slog"
	"math"
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
	m := &Model{cfg: cfg, name: cfg.Name, log: cfg.Logger.With("subsys", "sim-slic")}
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

// SetLoop closes (off-hook) or opens (on-hook) the loop: the phone's hook
// switch. The chip sees it after its debounce interval.
func (m *Model) SetLoop(closed bool) {
	m.mu.Lock()
	if m.loopClosed != closed {
		m.loopClosed = closed
		note := "on-hook"
		if closed {
			note = "off-hook"
		}
		m.emitLocked(HookSwitch, note)
		m.detectLocked()
	}
	m.unlockAndDeliver()
}

// InjectPowerAlarm raises the power alarm of the given external
// transistors (1…6 = Q1…Q6; none means all), as the chip's power monitor
// does when a transistor overheats: reg 19 bits 2–7 and, with reg 67 bit0,
// the linefeed goes open.
func (m *Model) InjectPowerAlarm(transistors ...int) {
	m.mu.Lock()
	var bits byte
	if len(transistors) == 0 {
		bits = 0xFC
	}
	for _, q := range transistors {
		if q >= 1 && q <= 6 {
			bits |= 1 << (q + 1)
		}
	}
	m.powerAlarmLocked(bits, "power-alarm")
	m.unlockAndDeliver()
}

func (m *Model) powerAlarmLocked(bits byte, note string) {
	if m.inReset {
		return
	}
	m.powerAlarm |= bits
	m.reg[19] |= bits
	m.emitLocked(Alarm, fmt.Sprintf("%s Q-bits %#02x", note, bits))
	if m.reg[67]&0x01 != 0 || m.thermal {
		m.reg[64] &^= 0x07
	}
	m.updateLineLocked()
	m.irq.update()
}

// InjectThermalAlarm puts the line in thermal overload: the power alarms of
// all six transistors fire and the chip holds the line open (whatever reg 67
// says) until ClearThermalAlarm: writing an active linefeed meanwhile raises
// the alarms again and leaves the line open.
func (m *Model) InjectThermalAlarm() {
	m.mu.Lock()
	m.thermal = true
	m.powerAlarmLocked(0xFC, "thermal-overload")
	m.unlockAndDeliver()
}

// ClearThermalAlarm ends the overload; the driver must re-enable the line.
func (m *Model) ClearThermalAlarm() {
	m.mu.Lock()
	if m.thermal {
		m.thermal = false
		m.powerAlarm = 0
		m.emitLocked(Alarm, "thermal-cleared")
	}
	m.unlockAndDeliver()
}

// ---- power ------------------------------------------------------------------

func (m *Model) vbatTarget() float64 { return float64(m.reg[74]&0x3F) * volt15 }

// vbatLocked returns the battery voltage now.
func (m *Model) vbatLocked() float64 {
	if m.dcdcT.IsZero() {
		return m.vbatFrom
	}
	el := time.Since(m.dcdcT).Seconds()
	if m.dcdcOn {
		tgt := m.vbatTarget()
		v := m.vbatFrom + (tgt-m.vbatFrom)*el/m.cfg.PowerUpTime.Seconds()
		if (tgt >= m.vbatFrom && v > tgt) || (tgt < m.vbatFrom && v < tgt) {
			v = tgt
		}
		return v
	}
	return m.vbatFrom * math.Exp(-el/2.0)
}

func (m *Model) poweredLocked() bool {
	return m.dcdcOn && !m.inReset && m.vbatTarget() > 0 && m.vbatLocked() >= ringMinVolts*m.vbatTarget()
}

func (m *Model) setDCDCLocked(on bool) {
	if on == m.dcdcOn {
		return
	}
	m.vbatFrom = m.vbatLocked()
	m.dcdcT = time.Now()
	m.dcdcOn = on
	if on {
		m.emitLocked(Power, "dc-dc on")
		gen := m.gen
		for _, at := range []time.Duration{m.cfg.PowerUpTime * 7 / 10, m.cfg.PowerUpTime} {
			time.AfterFunc(at+time.Microsecond, func() {
				m.mu.Lock()
				if m.gen == gen {
					m.updateLineLocked()
				}
				m.unlockAndDeliver()
			})
		}
	} else {
		m.emitLocked(Power, "dc-dc off")
	}
	m.updateLineLocked()
}

// ---- line state ---------------------------------------------------------------

// updateLineLocked recomputes the actual linefeed, ring voltage and loop
// detection after anything that affects them.
func (m *Model) updateLineLocked() {
	lf := m.reg[64] & 7
	if m.thermal {
		lf = 0
	}
	if m.inReset {
		lf = 0
	}
	// Ring cadence: runs while the programmed linefeed is ringing.
	if lf == 4 && !m.ring.running {
		m.startCadenceLocked(&m.ring, 2)
	} else if lf != 4 && m.ring.running {
		m.ring = cadence{seq: m.ring.seq + 1}
	}
	actual := lf
	if lf == 4 && !m.ring.on {
		actual = 2 // silent period: on-hook transmission
	}
	if actual != m.lfs {
		old := m.lfs
		m.lfs = actual
		m.emitLocked(LinefeedChange, "from "+Linefeed(old).String())
	}
	// Ring voltage as actually applied to the line.
	on := lf == 4 && m.ring.on && m.poweredLocked() && !m.rtp
	vpk, hz := m.ringParamsLocked()
	if vpk <= 0 {
		on = false
	}
	if on != m.ringRecorded.on {
		m.ringRecorded.on = on
		m.ringRecorded.vrms, m.ringRecorded.hz = vpk/math.Sqrt2, hz
		if on {
			m.emitLocked(RingOn, "")
		} else {
			m.emitLocked(RingOff, "")
		}
	}
	m.ringOn = on
	m.detectLocked()
}

// ringParamsLocked returns the ring generator's peak voltage and frequency
// from IR 20/21 (Si3210 numbering), per the oscillator math of §1.5.
func (m *Model) ringParamsLocked() (vpk, hz float64) {
	c := float64(int16(m.irNamed(20))) / 32768
	x := float64(m.irNamed(21))
	if c <= -1 || c >= 1 {
		return 0, 0
	}
	hz = math.Acos(c) * 1000 / (2 * math.Pi)
	k := 8192 * math.Sqrt((1-c)/(1+c))
	if k == 0 {
		return 0, hz
	}
	vpk = x / k * 96
	if lim := m.vbatLocked(); vpk > lim {
		vpk = lim
	}
	return vpk, hz
}

// fedLocked: the line carries loop current if the phone closes the loop.
func (m *Model) fedLocked() bool {
	switch m.lfs {
	case 1, 2, 5, 6:
		return m.poweredLocked()
	}
	return false
}

// detectLocked schedules the debounced loop-closure and ring-trip detection.
func (m *Model) detectLocked() {
	if m.inReset {
		return
	}
	ringing := m.reg[64]&7 == 4 && !m.thermal
	wantRTP := ringing && m.loopClosed && m.poweredLocked()
	wantLCR := m.loopClosed && m.fedLocked() && !ringing
	if wantRTP == m.rtp && wantLCR == m.lcr {
		if m.detPending {
			m.detSeq++ // the line went back before the debounce ran out
			m.detPending = false
		}
		return
	}
	if m.detPending && m.detRTP == wantRTP && m.detLCR == wantLCR {
		return // already debouncing towards this state
	}
	m.detSeq++
	seq, gen := m.detSeq, m.gen
	m.detPending, m.detRTP, m.detLCR = true, wantRTP, wantLCR
	d := time.Duration(m.reg[69]&0x7F) * debounceUnit
	if wantRTP != m.rtp {
		d = time.Duration(m.reg[70]&0x7F) * debounceUnit
	}
	apply := func() {
		m.detPending = false
		if wantRTP != m.rtp {
			m.rtp = wantRTP
			if wantRTP {
				m.reg[19] |= 0x01
				m.emitLocked(RingTrip, "")
				if m.reg[67]&0x04 != 0 {
					m.reg[64] = m.reg[64]&^7 | 1
				}
			}
		}
		if wantLCR != m.lcr && !(m.reg[64]&7 == 4) {
			m.lcr = wantLCR
			m.reg[19] |= 0x02
			note := "open"
			if wantLCR {
				note = "closed"
				if m.reg[67]&0x02 != 0 && (m.lfs == 2 || m.lfs == 6) {
					m.reg[64] = m.reg[64]&^7 | (m.lfs - 1)
				}
			}
			m.emitLocked(LoopDetect, note)
		}
		m.irq.update()
		m.updateLineLocked()
	}
	if d == 0 {
		apply()
		return
	}
	time.AfterFunc(d, func() {
		m.mu.Lock()
		if m.gen == gen && m.detSeq == seq {
			apply()
		}
		m.unlockAndDeliver()
	})
}

// ---- cadence timers -------------------------------------------------------------

// startCadenceLocked starts oscillator i's timers: i = 0/1 tone OSC1/OSC2,
// 2 = ring. The active phase begins now.
func (m *Model) startCadenceLocked(c *cadence, i int) {
	c.seq++
	c.running, c.on = true, true
	m.scheduleCadenceLocked(c, i)
}

func (m *Model) cadenceRegs(i int) (ctrl byte, active, inactive time.Duration, irqActive, irqInactive byte) {
	var base int
	switch i {
	case 0:
		ctrl, base, irqActive, irqInactive = m.reg[32], 36, 0x01, 0x02
	case 1:
		ctrl, base, irqActive, irqInactive = m.reg[33], 40, 0x04, 0x08
	default:
		ctrl, base, irqActive, irqInactive = m.reg[34], 48, 0x10, 0x20
	}
	active = time.Duration(uint16(m.reg[base])|uint16(m.reg[base+1])<<8) * timerUnit
	inactive = time.Duration(uint16(m.reg[base+2])|uint16(m.reg[base+3])<<8) * timerUnit
	return
}

func (m *Model) scheduleCadenceLocked(c *cadence, i int) {
	ctrl, active, inactive, irqA, irqI := m.cadenceRegs(i)
	tae, tie := ctrl&0x10 != 0, ctrl&0x08 != 0
	var d time.Duration
	if c.on {
		if !tae || active == 0 {
			return // continuous
		}
		d = active
	} else {
		if !tie || inactive == 0 {
			return // stays silent
		}
		d = inactive
	}
	seq, gen := c.seq, m.gen
	time.AfterFunc(d, func() {
		m.mu.Lock()
		if m.gen == gen && c.seq == seq && c.running {
			if c.on {
				// End of the active period; without the inactive timer
				// the burst is not repeated.
				m.reg[18] |= irqA
				c.on = false
			} else {
				m.reg[18] |= irqI
				c.on = true
			}
			c.seq++
			m.scheduleCadenceLocked(c, i)
			m.irq.update()
			m.updateLineLocked()
		}
		m.unlockAndDeliver()
	})
}

// oscControlChangedLocked starts/stops a tone oscillator after reg 32/33.
func (m *Model) oscControlChangedLocked(i int) {
	ctrl := m.reg[32+i]
	c := &m.osc[i]
	if ctrl&0x04 != 0 && !c.running {
		m.startCadenceLocked(c, i)
		m.oscPhase[i] = 0
	} else if ctrl&0x04 == 0 && c.running {
		*c = cadence{seq: c.seq + 1}
	}
}

// ---- Run: the PCM frame clock -------------------------------------------------------

// Run drives the PCM frame clock: every 10 ms it plays one frame from the
// daemon to the line and captures one frame from the phone. It returns nil
// when ctx ends.
func (m *Model) Run(ctx context.Context) error {
	t := time.NewTicker(hal.FrameDuration)
	defer t.Stop()
	var down, up [frameSamples]int16
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		m.tick(&down, &up)
	}
}

// tick is one PCM frame.
func (m *Model) tick(down, up *[frameSamples]int16) {
	var frame [frameSamples]int16
	got := false
	select {
	case frame = <-m.pcm.playout:
		got = true
	default:
	}
	m.mu.Lock()
	if !got {
		m.stats.PCMUnderruns++
	}
	rxOK, txOK, law := m.pcmPathLocked()
	toPhone := m.audioToPhoneLocked()
	for i := range down {
		var s int16
		if rxOK && got {
			s = law.roundTrip(frame[i])
		}
		down[i] = s
	}
	m.mixTonesLocked(down[:])
	if !toPhone {
		*down = [frameSamples]int16{}
	}
	m.mu.Unlock()

	*up = [frameSamples]int16{}
	m.deliverMu.Lock()
	m.deliverPendingLocked()
	if m.term != nil {
		m.term.Audio(down[:], up[:])
	}
	m.deliverMu.Unlock()

	m.mu.Lock()
	micOK := txOK && m.loopClosed && m.fedLocked() && !m.inReset
	var capt [frameSamples]int16
	if micOK {
		for i := range capt {
			capt[i] = law.roundTrip(up[i])
		}
	}
	m.mu.Unlock()
	if m.pcm.capture(capt) {
		m.mu.Lock()
		m.stats.PCMOverruns++
		m.mu.Unlock()
	}
}

// audioToPhoneLocked: does the line carry audio to the phone now?
func (m *Model) audioToPhoneLocked() bool {
	if m.inReset || !m.poweredLocked() {
		return false
	}
	switch m.lfs {
	case 2, 6:
		return true
	case 1, 5:
		return m.loopClosed
	}
	return false
}

// pcmPathLocked reports whether the RX (to line) and TX (to highway) slots
// match the board's expectations, and the companding law.
func (m *Model) pcmPathLocked() (rx, tx bool, law companding) {
	r1 := m.reg[1]
	if m.inReset || r1&0x20 == 0 {
		return false, false, lawLinear
	}
	switch (r1 >> 3) & 3 {
	case 0:
		law = lawALaw
	case 1:
		law = lawULaw
	case 3:
		law = lawLinear
		if r1&0x04 != 0 {
			m.stats.UnsupportedFeatures++
			return false, false, law
		}
	default:
		return false, false, lawLinear // reserved
	}
	txStart := int(m.reg[2]) | int(m.reg[3]&3)<<8
	rxStart := int(m.reg[4]) | int(m.reg[5]&3)<<8
	return rxStart == m.cfg.SlotStart, txStart == m.cfg.SlotStart, law
}

// mixTonesLocked adds the tone oscillators routed to the phone.
func (m *Model) mixTonesLocked(buf []int16) {
	fs := 8000.0
	if m.cfg.Part.family3215() {
		fs = 16000
	}
	for i := 0; i < 2; i++ {
		c := m.osc[i]
		ctrl := m.reg[32+i]
		if !c.running || !c.on || ctrl&0x03 != 2 {
			continue
		}
		coef := float64(int16(m.irNamed(13+3*i))) / 32768
		x := float64(m.irNamed(14 + 3*i))
		if coef <= -1 || coef >= 1 {
			continue
		}
		k := 8192 * math.Sqrt((1-coef)/(1+coef))
		amp := x / k * 32767
		step := math.Acos(coef) * fs / 8000
		ph := m.oscPhase[i]
		for n := range buf {
			v := float64(buf[n]) + amp*math.Sin(ph)
			ph += step
			buf[n] = clip16(v)
		}
		m.oscPhase[i] = math.Mod(ph, 2*math.Pi)
	}
}

func clip16(v float64) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(math.Round(v))
}
