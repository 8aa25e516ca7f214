package radio

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"

	"basestation/hal"
)

// Options configures the emulated module. Zero values mean the defaults in
// the comments.
type Options struct {
	Slots    int     // PCM slots (4)
	Capacity int     // size of the module's device table (8)
	Firmware string  // version string in HELLO-CNF ("emu-1.0")
	RFPI     [5]byte // the base's radio identity (00 12 34 56 78)
	// StatePath, if set, keeps the module's device table in this file, as
	// a real module keeps it in flash. Empty: kept in memory (it survives
	// module resets but not the process).
	StatePath string
	// BootDelay is how long the module takes to boot after reset (30 ms).
	BootDelay time.Duration
	// AckTimeout and MaxRetries of the module's side of the link (100 ms, 20).
	AckTimeout time.Duration
	MaxRetries int
	// Protocol10 makes the module answer HELLO as protocol 1.0: it knows
	// neither DEVICE-STATUS, LOCATE nor LINK-IND (an older module).
	Protocol10 bool
	// Seed seeds fault injection (0: from the clock).
	Seed   int64
	Logger *slog.Logger
}

// Faults are injected on the serial link, in both directions.
type Faults struct {
	CorruptRate float64 `json:"corrupt_rate"` // probability that a byte is corrupted
	DropRate    float64 `json:"drop_rate"`    // probability that a frame is lost
	DupRate     float64 `json:"dup_rate"`     // probability that a frame arrives twice
}

// Stats counts what the module's link saw.
type Stats struct {
	FramesIn        uint64 `json:"frames_in"` // good frames received / frames sent
	FramesOut       uint64 `json:"frames_out"`
	Retransmits     uint64 `json:"retransmits"`      // DATA frames the module sent again
	Duplicates      uint64 `json:"duplicates"`       // DATA frames received again and not acted on
	Requests        uint64 `json:"requests"`         // host requests acted on
	UnknownRequests uint64 `json:"unknown_requests"` // requests of a type this module does not know (not confirmed)
	Indications     uint64 `json:"indications"`      // indications sent
	Boots           uint64 `json:"boots"`
	Syncs           uint64 `json:"syncs"`
}

// Emulator is a DECT module behind a pseudo-terminal, with its own device
// table and the simulated devices around it.
type Emulator struct {
	opts   Options
	log    *slog.Logger
	master line     // the module's end of the UART
	slave  *os.File // the pty's slave, held open (nil in memory)
	mem    *memLine // the in-memory line (nil on a pty)
	path   string   // the pty slave's path ("" in memory)
	pin    *ResetPin
	// poll is how long a read of the line waits before the module looks
	// for a stalled frame: 100 ms on a pty; 1 s in memory, where nothing
	// is lost or corrupted and an idle module should not wake.
	poll time.Duration

	calls chan func()
	out   chan []byte
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	mu      sync.Mutex // guards faults, rng, stats, devices list (read by tests)
	faults  Faults
	rng     *rand.Rand
	stats   Stats
	devices []*Device

	// loop-owned module state
	held, booted, hung bool
	hostMinor          byte // the protocol minor of the host's last HELLO
	bootGen            int
	synced             bool
	scanner            frameScanner
	partialSince       time.Time
	hostNonce          uint32
	txSeq, rxNext      byte
	queue              [][]byte
	inflight           bool
	retries            int
	retx               *time.Timer
	lastTx             time.Time // when the outstanding DATA frame was last sent

	// looked is when readLoop last started a read (since lookedBase):
	// the module's own view of how far it has looked at the line.
	lookedBase time.Time
	looked     atomic.Int64
	syncTick   *time.Ticker
	nonce      uint32
	regOpen    bool
	regPin     string
	regGen     int
	pending    map[[5]byte]*Device
	table      map[byte]*entry
	clock      [7]byte
	paging     bool
	slots      map[int]*slotPair
}

type entry struct {
	Handset  byte    `json:"handset"`
	IPEI     [5]byte `json:"ipei"`
	Type     byte    `json:"type"`
	Caps     byte    `json:"caps"`
	Model    string  `json:"model"`
	authed   bool
	call     callPhase
	mwiOn    byte
	mwiCount byte
	// What the last LINK-IND (or DEVICE-STATUS-CNF) told the host.
	told linkReport
}

type callPhase int

const (
	phIdle callPhase = iota
	phSetup
	phRinging
	phActive
)

type slotPair struct {
	rate       int
	base, dev  *pcmEnd
	devHandset byte
}

// New starts an emulated module on a new pseudo-terminal. The module boots
// at once (its reset line starts high).
func New(opts *Options) (*Emulator, error) {
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("radio: open pty: %w", err)
	}
	// creack/pty leaves the master blocking; a dup made non-blocking is
	// poller-backed, so deadlines and Close work (libraries.md §2.3).
	nfd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("radio: dup pty master: %w", err)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		s.Close()
		return nil, fmt.Errorf("radio: pty master: %w", err)
	}
	master := os.NewFile(uintptr(nfd), "/dev/ptmx")
	// Raw mode now, so nothing is echoed before the host opens the port.
	if err := makeRaw(int(s.Fd())); err != nil {
		master.Close()
		s.Close()
		return nil, fmt.Errorf("radio: raw mode: %w", err)
	}
	e, err := start(o, master, s, nil)
	if err != nil {
		s.Close()
		return nil, err
	}
	return e, nil
}

// NewInMemory starts an emulated module whose UART is an in-memory line
// instead of a pseudo-terminal: no file descriptor per module, for many
// modules in one process (basefleet). The host opens it with OpenPort,
// which the daemon takes as dect.Options.OpenPort; Radio().Device is empty.
func NewInMemory(opts *Options) (*Emulator, error) {
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	m := newMemLine()
	return start(o, m, nil, m)
}

func defaults(opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Slots <= 0 {
		o.Slots = 4
	}
	if o.Capacity <= 0 {
		o.Capacity = 8
	}
	if o.Capacity > 32 {
		return o, fmt.Errorf("radio: capacity %d exceeds 32", o.Capacity)
	}
	if o.Firmware == "" {
		o.Firmware = "emu-1.0"
	}
	if o.RFPI == [5]byte{} {
		o.RFPI = [5]byte{0x00, 0x12, 0x34, 0x56, 0x78}
	}
	if o.BootDelay <= 0 {
		o.BootDelay = 30 * time.Millisecond
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 100 * time.Millisecond
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 20
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// start builds the emulator on its line and starts its goroutines. On
// error the master is closed (the slave is the caller's).
func start(o Options, master line, slave *os.File, mem *memLine) (*Emulator, error) {
	path := ""
	if slave != nil {
		path = slave.Name()
	}
	e := &Emulator{
		opts:    o,
		log:     o.Logger.With("subsys", "radio-emu"),
		master:  master,
		slave:   slave,
		mem:     mem,
		path:    path,
		calls:   make(chan func(), 256),
		out:     make(chan []byte, 512),
		quit:    make(chan struct{}),
		rng:     rand.New(rand.NewSource(o.Seed)),
		pending: map[[5]byte]*Device{},
		table:   map[byte]*entry{},
		slots:   map[int]*slotPair{},
	}
	e.poll = 100 * time.Millisecond
	if mem != nil {
		e.poll = time.Second
	}
	e.lookedBase = time.Now()
	e.pin = &ResetPin{e: e, level: gpio.High}
	if o.StatePath != "" {
		if err := e.loadTable(); err != nil {
			master.Close()
			return nil, err
		}
	}
	e.retx = time.NewTimer(time.Hour)
	e.retx.Stop()
	e.syncTick = time.NewTicker(time.Hour)
	e.syncTick.Stop()
	e.wg.Add(3)
	go e.readLoop()
	go e.writeLoop()
	go e.loop()
	e.do(func() { e.startBoot() })
	return e, nil
}

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Device is the path of the pseudo-terminal slave the host opens, for
// hal.Radio.Device.
func (e *Emulator) Device() string { return e.path }

// ResetPin is the module's reset line, for hal.Radio.Reset.
func (e *Emulator) ResetPin() *ResetPin { return e.pin }

// Radio returns the hal.Radio the daemon drives.
func (e *Emulator) Radio() hal.Radio {
	return hal.Radio{Device: e.path, Baud: 115200, Reset: e.pin, Audio: e.Audio}
}

func (e *Emulator) String() string {
	if e.mem != nil {
		return "emulated DECT module on an in-memory line"
	}
	return "emulated DECT module on " + e.path
}

// Close stops the emulator and its devices' audio.
func (e *Emulator) Close() error {
	e.once.Do(func() {
		close(e.quit)
		e.master.Close()
		if e.slave != nil {
			e.slave.Close()
		}
		e.wg.Wait()
		for _, sp := range e.slots {
			sp.base.Close()
		}
	})
	return nil
}

// do runs f on the module's goroutine and waits for it.
func (e *Emulator) do(f func()) {
	done := make(chan struct{})
	select {
	case e.calls <- func() { f(); close(done) }:
	case <-e.quit:
		return
	}
	select {
	case <-done:
	case <-e.quit:
	}
}

// post runs f on the module's goroutine without waiting.
func (e *Emulator) post(f func()) {
	select {
	case e.calls <- f:
	case <-e.quit:
	}
}

// SetFaults sets the link faults (zero Faults: a clean link).
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	e.faults = f
	e.mu.Unlock()
}

// Stats returns the link counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Devices lists the simulated devices, in the order they were created.
func (e *Emulator) Devices() []*Device { return e.devList() }

// DeviceByIPEI finds a simulated device by its 36-bit identity.
func (e *Emulator) DeviceByIPEI(ipei uint64) *Device {
	for _, d := range e.devList() {
		if d.IPEI() == ipei {
			return d
		}
	}
	return nil
}

// Faults returns the faults currently injected.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults
}

// ResetModule makes the module reset by itself (a crash or brown-out) at
// once: every call is dropped, and it boots again after BootDelay.
func (e *Emulator) ResetModule() {
	e.do(func() {
		e.reset()
		e.startBoot()
	})
}

// SetHung makes the module stop answering anything (hung firmware) until
// its reset line is pulsed or SetHung(false).
func (e *Emulator) SetHung(h bool) { e.do(func() { e.hung = h }) }

// FactoryReset wipes the module's device table (as if its flash were
// erased) and resets it.
func (e *Emulator) FactoryReset() {
	e.do(func() {
		e.table = map[byte]*entry{}
		e.saveTable()
		e.reset()
		e.startBoot()
	})
}

// ModuleEntry is one subscription in the module's own table.
type ModuleEntry struct {
	Handset int    `json:"handset"`
	IPEI    uint64 `json:"ipei"`
	Type    string `json:"type"`
	Model   string `json:"model"`
}

// Table lists the module's own device table.
func (e *Emulator) Table() []ModuleEntry {
	var out []ModuleEntry
	e.do(func() {
		for _, en := range e.sortedEntries() {
			out = append(out, ModuleEntry{Handset: int(en.Handset), IPEI: ipeiValue(en.IPEI), Type: typeName(en.Type), Model: en.Model})
		}
	})
	return out
}

// InjectSubscription puts an entry in the module's table behind the host's
// back (a stale entry in the module's flash).
func (e *Emulator) InjectSubscription(handset int, d *Device) {
	e.do(func() {
		e.table[byte(handset)] = &entry{Handset: byte(handset), IPEI: d.ipei, Type: d.kind, Caps: d.caps(), Model: d.model}
		e.saveTable()
	})
}

// RegistrationOpen reports whether the module's registration window is open.
func (e *Emulator) RegistrationOpen() bool {
	var open bool
	e.do(func() { open = e.regOpen })
	return open
}

// Paging reports whether the module is paging all devices.
func (e *Emulator) Paging() bool {
	var p bool
	e.do(func() { p = e.paging })
	return p
}

func (e *Emulator) holdReset() {
	e.do(func() {
		e.held = true
		e.reset()
	})
}

func (e *Emulator) releaseReset() {
	e.do(func() {
		e.held = false
		e.hung = false
		e.startBoot()
	})
}

// reset drops everything volatile: link, window, calls, authentication.
func (e *Emulator) reset() {
	e.booted = false
	e.synced = false
	e.bootGen++
	e.queue = nil
	e.inflight = false
	e.retx.Stop()
	e.syncTick.Stop()
	e.scanner = frameScanner{}
	e.regOpen = false
	e.regGen++
	e.pending = map[[5]byte]*Device{}
	e.paging = false
	for _, en := range e.table {
		en.authed = false
		en.call = phIdle
	}
	for n, sp := range e.slots {
		if sp.dev != nil {
			sp.dev.Close()
		}
		delete(e.slots, n)
	}
	for _, d := range e.devList() {
		d.airLinkLost()
	}
}

func (e *Emulator) startBoot() {
	if e.held {
		return
	}
	gen := e.bootGen
	time.AfterFunc(e.opts.BootDelay, func() {
		e.post(func() {
			if e.bootGen != gen || e.held {
				return
			}
			e.booted = true
			e.mu.Lock()
			e.stats.Boots++
			e.nonce = e.rng.Uint32()
			e.mu.Unlock()
			e.sendSync()
			e.syncTick.Reset(300 * time.Millisecond)
		})
	})
}

func (e *Emulator) devList() []*Device {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Device(nil), e.devices...)
}

func (e *Emulator) sortedEntries() []*entry {
	out := make([]*entry, 0, len(e.table))
	for _, en := range e.table {
		out = append(out, en)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Handset < out[j].Handset })
	return out
}

func (e *Emulator) entryByIPEI(ipei [5]byte) *entry {
	for _, en := range e.table {
		if en.IPEI == ipei {
			return en
		}
	}
	return nil
}

func (e *Emulator) deviceByIPEI(ipei [5]byte) *Device {
	for _, d := range e.devList() {
		if d.ipei == ipei {
			return d
		}
	}
	return nil
}

// deviceFor returns the device an entry belongs to if it is reachable over
// the air and holds a subscription for that handset number.
func (e *Emulator) deviceFor(en *entry) *Device {
	d := e.deviceByIPEI(en.IPEI)
	if d == nil || !d.reachableAs(en.Handset) {
		return nil
	}
	return d
}

type tableFile struct {
	Entries []*entry `json:"entries"`
}

func (e *Emulator) loadTable() error {
	b, err := os.ReadFile(e.opts.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("radio: module table: %w", err)
	}
	var tf tableFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return fmt.Errorf("radio: module table %s: %w", e.opts.StatePath, err)
	}
	for _, en := range tf.Entries {
		e.table[en.Handset] = en
	}
	return nil
}

func (e *Emulator) saveTable() {
	if e.opts.StatePath == "" {
		return
	}
	b, _ := json.Marshal(tableFile{Entries: e.sortedEntries()})
	tmp := e.opts.StatePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		e.log.Error("radio: save module table", "err", err)
		return
	}
	if err := os.Rename(tmp, e.opts.StatePath); err != nil {
		e.log.Error("radio: save module table", "err", err)
	}
}

// ---- serial side ----
