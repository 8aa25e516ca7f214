package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basestation/internal/daemon"
	"basestation/internal/settings"
	"basestation/sim"
	"basestation/sim/radio"
	"basestation/sipua"
)

// childArg is the first argument that turns the test binary into the
// process under test.
const childArg = "perf-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		if err := runChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "perf-child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is the process under test: the daemon on the simulated board,
// the way basesim wires it, plus a control
// socket through which the harness acts as the people at the phones.
func runChild(args []string) error {
	fs := flag.NewFlagSet(childArg, flag.ContinueOnError)
	broker := fs.String("broker", "", "MQTT broker URL")
	base := fs.String("base-id", "base-1", "base id")
	state := fs.String("state-dir", "", "state directory")
	sipAddr := fs.String("sip", "127.0.0.1:0", "SIP listen address")
	ctl := fs.String("control", "", "control socket listen address")
	memRate := fs.Int("memprofilerate", 0, "runtime.MemProfileRate (0: Go's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *broker == "" || *state == "" || *ctl == "" {
		return errors.New("-broker, -state-dir and -control are required")
	}
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate // before anything is allocated
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Goroutines carry a "part" label (inherited by the goroutines they
	// start) so a CPU profile can tell the daemon from the simulated
	// hardware and the harness: see LabelTotals.
	var board *sim.Board
	var err error
	pprof.Do(ctx, pprof.Labels("part", "sim"), func(context.Context) { board, err = sim.NewBoard(sim.Config{Log: log}) })
	if err != nil {
		return err
	}
	defer board.Close()
	cfg := settings.Defaults()
	cfg.Board = "sim"
	cfg.BaseID = *base
	cfg.StateDir = *state
	cfg.MQTT.Broker = *broker
	cfg.SIP.Listen = *sipAddr
	var d *daemon.Daemon
	pprof.Do(ctx, pprof.Labels("part", "daemon"), func(context.Context) {
		d, err = daemon.New(cfg, daemon.Options{Board: board.HAL(), Log: log,
			SIP: func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 }})
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *ctl)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pprof.Do(ctx, pprof.Labels("part", "sim"), func(ctx context.Context) { go func() { _ = board.Run(ctx) }() })
	derr := make(chan error, 1)
	pprof.Do(ctx, pprof.Labels("part", "daemon"), func(ctx context.Context) { go func() { derr <- d.Run(ctx) }() })
	go func() { <-ctx.Done(); l.Close() }()
	cc := &childCtl{b: board, d: d}
	pprof.Do(ctx, pprof.Labels("part", "harness"), func(ctx context.Context) {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go serveControl(ctx, c, cc)
			}
		}()
	})
	err = <-derr
	cc.mu.Lock()
	if cc.prof != nil {
		pprof.StopCPUProfile()
		cc.prof.Close()
	}
	cc.mu.Unlock()
	return err
}

// serveControl answers one request line with one JSON line.
func serveControl(ctx context.Context, c net.Conn, ctl *childCtl) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		v, err := ctl.command(ctx, strings.Fields(sc.Text()))
		resp := map[string]any{"data": v}
		if err != nil {
			resp = map[string]any{"error": err.Error()}
		}
		if enc.Encode(resp) != nil {
			return
		}
	}
}

// childStatus is what the harness polls.
type childStatus struct {
	Daemon       daemon.Status            `json:"daemon"`
	RegOpen      bool                     `json:"reg_open"`
	PhoneRinging bool                     `json:"phone_ringing"`
	PhoneOffHook bool                     `json:"phone_off_hook"`
	Devices      map[string]childDevState `json:"devices"`
	HeapInuseKiB uint64                   `json:"heap_inuse_kib"`
	StackKiB     uint64                   `json:"stack_inuse_kib"`
	TotalAlloc   uint64                   `json:"total_alloc"` // bytes allocated since start
	Mallocs      uint64                   `json:"mallocs"`
	NumGC        uint32                   `json:"num_gc"`
	Goroutines   int                      `json:"goroutines"`
}

type childDevState struct {
	Call       string `json:"call"`
	Attached   bool   `json:"attached"`
	Registered bool   `json:"registered"`
	HeardFrame int    `json:"heard_frames"`
	Spoken     int    `json:"spoken_frames"`
}

// childCtl is what the control connections act on.
type childCtl struct {
	b *sim.Board
	d *daemon.Daemon

	mu   sync.Mutex
	prof *os.File // the running CPU profile's file
}

func (c *childCtl) command(ctx context.Context, f []string) (any, error) {
	b, d := c.b, c.d
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(f) == 0 {
		return nil, errors.New("empty command")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "profile-start":
		if c.prof != nil {
			return nil, errors.New("a profile is running")
		}
		fh, err := os.Create(arg(1))
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(fh); err != nil {
			fh.Close()
			return nil, err
		}
		c.prof = fh
		return nil, nil
	case "profile-stop":
		if c.prof == nil {
			return nil, errors.New("no profile is running")
		}
		pprof.StopCPUProfile()
		err := c.prof.Close()
		c.prof = nil
		return nil, err
	case "heap-profile":
		fh, err := os.Create(arg(1))
		if err != nil {
			return nil, err
		}
		runtime.GC()
		err = pprof.Lookup("heap").WriteTo(fh, 0)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		return nil, err
	case "status":
		st := childStatus{Daemon: d.Status(), RegOpen: b.Radio.RegistrationOpen(), Devices: map[string]childDevState{}}
		ps := b.Phone.State()
		st.PhoneRinging = ps.Ringing
		st.PhoneOffHook = ps.Hook == "off-hook"
		for _, n := range b.DeviceNames() {
			dv, _ := b.Device(n)
			s, h := dv.State(), dv.Heard()
			st.Devices[n] = childDevState{Call: s.Call, Attached: s.Attached, Registered: s.Registered, HeardFrame: h.Frames, Spoken: h.Spoken}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st.HeapInuseKiB = ms.HeapInuse / 1024
		st.StackKiB = ms.StackInuse / 1024
		st.TotalAlloc, st.Mallocs, st.NumGC = ms.TotalAlloc, ms.Mallocs, ms.NumGC
		st.Goroutines = runtime.NumGoroutine()
		return st, nil
	case "add":
		name, dv, err := b.AddDevice(arg(1), radio.DeviceOptions{})
		if err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "ipei": dv.State().IPEI}, nil
	case "pair":
		dv, err := b.Device(arg(1))
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		pprof.Do(pctx, pprof.Labels("part", "sim"), func(pctx context.Context) { err = dv.Pair(pctx, arg(2)) })
		return nil, err
	case "answer", "hangup", "speech":
		// The person at the phone and the device are simulated hardware.
		var v any
		var err error
		pprof.Do(ctx, pprof.Labels("part", "sim"), func(context.Context) { v, err = endpointCommand(f, b) })
		return v, err
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

func endpointCommand(f []string, b *sim.Board) (any, error) {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	{
		if arg(1) == "port" {
			switch f[0] {
			case "answer":
				b.Phone.OffHook()
			case "hangup":
				b.Phone.OnHook()
			}
			return nil, nil
		}
		dv, err := b.Device(arg(1))
		if err != nil {
			return nil, err
		}
		switch f[0] {
		case "answer":
			return nil, dv.Answer()
		case "hangup":
			return nil, dv.HangUp()
		}
		hz, err := strconv.ParseFloat(arg(2), 64)
		if err != nil {
			return nil, fmt.Errorf("speech: %v", err)
		}
		dv.SetSpeech(hz, 8000)
		return nil, nil
	}
}
