package dect_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"basestation/dect"
	"basestation/dect/wire"
	"basestation/hal"
)

// fakeModule is a minimal in-memory module speaking the protocol through
// dect/wire, for tests of the driver's timing in virtual time
// (testing/synctest). The real emulator (sim/radio) needs a pty and real
// time; this covers the long timers (60 s window, 5 min lockout).
type fakeModule struct {
	conn    net.Conn
	seq     byte
	regOpen bool
	pair    chan string // PINs devices try, one pairing each
	hung    atomic.Bool // ignores everything (hung firmware)

	mu    sync.Mutex
	clock []clockSet // every DATE-TIME received
}

// clockSet is a DATE-TIME the module received, and when.
type clockSet struct {
	at time.Time
	dt wire.DateTime
}

func (f *fakeModule) clocks() []clockSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]clockSet(nil), f.clock...)
}

func (f *fakeModule) setHung(h bool) { f.hung.Store(h) }

func (f *fakeModule) send(m wire.Msg) {
	p, err := m.Append(nil)
	if err != nil {
		panic(err)
	}
	b, _ := wire.AppendFrame(nil, wire.CtrlData, f.seq, p)
	f.seq++
	f.conn.Write(b)
}

func (f *fakeModule) run() {
	var d wire.Decoder
	buf := make([]byte, 1024)
	msgs := make(chan []byte, 16)
	go func() {
		defer close(msgs)
		for {
			n, err := f.conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- append([]byte(nil), buf[:n]...)
		}
	}()
	var rs, randF [8]byte
	var pin string
	for {
		select {
		case chunk, ok := <-msgs:
			if !ok {
				return
			}
			if f.hung.Load() {
				continue
			}
			d.Feed(chunk)
			for {
				fr, ok := d.Next()
				if !ok {
					break
				}
				switch fr.Ctrl {
				case wire.CtrlSync:
					b, _ := wire.AppendFrame(nil, wire.CtrlSyncAck, 0, fr.Payload)
					f.conn.Write(b)
				case wire.CtrlData:
					b, _ := wire.AppendFrame(nil, wire.CtrlAck, fr.Seq, nil)
					f.conn.Write(b)
					m, err := wire.Decode(fr.Payload)
					if err != nil {
						panic(err)
					}
					c := wire.Msg{Type: m.Type | wire.CnfBit, TID: m.TID}
					switch m.Type {
					case wire.THello:
						c.ProtoMajor, c.Slots, c.Capacity, c.Firmware = 1, 2, 8, "fake"
					case wire.TKeepalive:
						c.Counter = m.Counter
					case wire.TDateTime:
						f.mu.Lock()
						f.clock = append(f.clock, clockSet{time.Now(), m.Time})
						f.mu.Unlock()
					case wire.TRegOpen:
						f.regOpen = true
					case wire.TRegClose:
						if !f.regOpen {
							c.Status = wire.StatusNotOpen
						}
						f.regOpen = false
					case wire.TPairChall:
						rs, randF = m.RS, m.RandF
						var randP [8]byte
						c.Res, _, _, _ = wire.KeyAllocation(pin, rs, randF, randP)
					}
					f.send(c)
				}
			}
		case pin = <-f.pair:
			f.send(wire.Msg{Type: wire.TPairReqInd, IPEI: wire.IPEI{EMC: 1, PSN: 2}, DevType: wire.Linx, Model: "L"})
		}
	}
}

type pipePort struct{ net.Conn }

func startVirtual(t *testing.T, opts dect.Options) (*dect.Driver, *fakeModule, context.CancelFunc) {
	host, mod := net.Pipe()
	f := &fakeModule{conn: mod, pair: make(chan string)}
	go f.run()
	opts.StateDir = t.TempDir()
	opts.OpenPort = func() (io.ReadWriteCloser, error) { return pipePort{host}, nil }
	drv, err := dect.New(hal.Radio{}, &opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { drv.Run(ctx); mod.Close(); close(done) }()
	for {
		e := <-drv.Events()
		if e.Kind == dect.EventModuleReady {
			break
		}
	}
	return drv, f, func() { cancel(); <-done }
}

func nextEvent(drv *dect.Driver, kind dect.EventKind) dect.Event {
	for {
		if e := <-drv.Events(); e.Kind == kind {
			return e
		}
	}
}

func TestVirtualDefaultWindowIs60s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv, _, stop := startVirtual(t, dect.Options{})
		defer stop()
		start := time.Now()
		if err := drv.OpenRegistration(context.Background(), 0, "1234"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		if open, _ := drv.RegistrationOpen(); !open {
			t.Fatal("window closed before 60 s")
		}
		e := nextEvent(drv, dect.EventRegistrationClosed)
		if e.Reason != "timeout" || time.Since(start) != 60*time.Second {
			t.Errorf("closed %q after %v", e.Reason, time.Since(start))
		}
	})
}

func TestVirtualMaxWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv, _, stop := startVirtual(t, dect.Options{})
		defer stop()
		if err := drv.OpenRegistration(context.Background(), 120*time.Second, "1234"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		nextEvent(drv, dect.EventRegistrationClosed)
		if time.Since(start) != 120*time.Second {
			t.Errorf("closed after %v", time.Since(start))
		}
	})
}

func TestVirtualLockoutExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv, f, stop := startVirtual(t, dect.Options{LockoutAttempts: 2, LockoutDuration: 5 * time.Minute})
		defer stop()
		ctx := context.Background()
		if err := drv.OpenRegistration(ctx, 60*time.Second, "1234"); err != nil {
			t.Fatal(err)
		}
		f.pair <- "0000"
		nextEvent(drv, dect.EventWrongPIN)
		f.pair <- "1111"
		nextEvent(drv, dect.EventWrongPIN)
		if e := nextEvent(drv, dect.EventRegistrationClosed); e.Reason != "lockout" {
			t.Fatalf("closed %q", e.Reason)
		}
		time.Sleep(4*time.Minute + 59*time.Second)
		if err := drv.OpenRegistration(ctx, 60*time.Second, "1234"); !errors.Is(err, dect.ErrLockedOut) {
			t.Fatalf("open before lockout expired: %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := drv.OpenRegistration(ctx, 60*time.Second, "1234"); err != nil {
			t.Fatalf("open after lockout: %v", err)
		}
		// The right PIN now pairs.
		f.pair <- "1234"
		if e := nextEvent(drv, dect.EventPaired); e.Device.Handset != 1 {
			t.Errorf("paired %v", e)
		}
	})
}

func TestVirtualButton(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		drv, _, stop := startVirtual(t, dect.Options{PageDuration: 30 * time.Second})
		defer stop()
		ctx := context.Background()
		if err := drv.Button(ctx, hal.ButtonPress{Held: 200 * time.Millisecond}, 0, "0000"); err != nil {
			t.Fatal(err)
		}
		if !drv.Paging() {
			t.Fatal("short press did not page")
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if drv.Paging() {
			t.Fatal("paging did not stop after 30 s")
		}
		drv.Button(ctx, hal.ButtonPress{Held: time.Second}, 0, "0000")
		drv.Button(ctx, hal.ButtonPress{Held: time.Second}, 0, "0000")
		if drv.Paging() {
			t.Fatal("second short press did not stop paging")
		}
		if err := drv.Button(ctx, hal.ButtonPress{Held: 3 * time.Second}, 0, "0000"); err != nil {
			t.Fatal(err)
		}
		if open, _ := drv.RegistrationOpen(); !open {
			t.Fatal("long press did not open registration")
		}
	})
}
