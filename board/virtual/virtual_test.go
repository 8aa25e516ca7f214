package virtual_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"basestation/board/virtual"
	"basestation/hal"
	wire "basestation/hal/vboard"
	"basestation/sim"
	"basestation/sim/vboard"
)

// served starts a simulated board and its server on a fresh socket.
func served(t *testing.T) (*sim.Board, *vboard.Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.Default()
	}
	sb, err := sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.sock")
	l, err := vboard.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := vboard.New(sb.HAL(), vboard.Options{Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = sb.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, l); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sb.Close()
	})
	return sb, srv, path
}

func open(t *testing.T, path string) *hal.Board {
	t.Helper()
	b, err := virtual.Open(context.Background(), path, virtual.Options{Client: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Closer.Close() })
	return b
}

// readReg reads a direct ProSLIC register: the control byte (bit 7 = read)
// then one byte clocked out.
func readReg(t *testing.T, c spi.Conn, reg byte) byte {
	t.Helper()
	r := make([]byte, 2)
	if err := c.Tx([]byte{0x80 | reg, 0}, r); err != nil {
		t.Fatal(err)
	}
	return r[1]
}

func writeReg(t *testing.T, c spi.Conn, reg, v byte) {
	t.Helper()
	if err := c.Tx([]byte{reg, v}, nil); err != nil {
		t.Fatal(err)
	}
}

// The virtual board is the simulated hardware: SPI reaches the chip's
// registers, the reset line resets it, LEDs and the button are the
// simulator's, PCM frames flow both ways, the DECT module is the
// simulator's pty.
func TestBoardOverSocket(t *testing.T) {
	sb, _, path := served(t)
	b := open(t, path)
	if b.Radio.Device != sb.Radio.Device() || b.Radio.Baud != 115200 {
		t.Errorf("radio %s @%d, want %s", b.Radio.Device, b.Radio.Baud, sb.Radio.Device())
	}
	if len(b.LEDs) != 5 {
		t.Errorf("LEDs %v", b.LEDs)
	}
	c, err := b.SLIC.Port.Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SLIC.Port.Connect(physic.MegaHertz, spi.Mode3, 8); err == nil {
		t.Error("a second Connect on one client succeeded")
	}
	if got, want := readReg(t, c, 0), sb.SLIC.Reg(0); got != want || got&0x0F != 5 {
		t.Errorf("reg 0 = %#x over the socket, %#x in the model", got, want)
	}
	writeReg(t, c, 4, 0x5A)
	if sb.SLIC.Reg(4) != 0x5A {
		t.Errorf("reg 4 = %#x after writing 0x5A", sb.SLIC.Reg(4))
	}
	if err := b.SLIC.Reset.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	if !sb.SLIC.InReset() {
		t.Error("reset low did not hold the chip in reset")
	}
	if err := b.SLIC.Reset.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if sb.SLIC.InReset() || sb.SLIC.Reg(4) == 0x5A {
		t.Errorf("after the reset pulse: in reset %v, reg 4 %#x", sb.SLIC.InReset(), sb.SLIC.Reg(4))
	}
	if err := b.LEDs[hal.LEDRegistration].Set(hal.LEDBlinkFast); err != nil {
		t.Fatal(err)
	}
	if s := sb.LEDs[hal.LEDRegistration].State(); s != hal.LEDBlinkFast {
		t.Errorf("registration LED %v", s)
	}
	if err := sb.PressButton(3200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := b.Button.Wait(ctx)
	if err != nil || p.Held != 3200*time.Millisecond {
		t.Errorf("button: %v %v", p, err)
	}
	// PCM: reads are paced by the simulated clock.
	f := make([]int16, 80)
	for i := 0; i < 10; i++ { // drain what the capture ring holds
		if err := b.SLIC.PCM.ReadFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for i := 0; i < 10; i++ {
		if err := b.SLIC.PCM.ReadFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
		if err := b.SLIC.PCM.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 80*time.Millisecond || d > time.Second {
		t.Errorf("10 frames took %v, want about 100 ms", d)
	}
	if err := b.SLIC.PCM.ReadFrame(ctx, make([]int16, 81)); err == nil {
		t.Error("a frame of 81 samples was read")
	}
	// A DECT slot: what the device side writes, the base reads.
	dp, err := b.Radio.Audio(1, hal.RateWideband)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]int16, 160)
	if err := dp.ReadFrame(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := dp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dp.ReadFrame(ctx, w); !errors.Is(err, hal.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	// A slot assigned again ends the old channel object, and closing the
	// old object leaves the new channel alone.
	a1, err := b.Radio.Audio(2, hal.RateNarrowband)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := b.Radio.Audio(2, hal.RateNarrowband)
	if err != nil {
		t.Fatal(err)
	}
	n := make([]int16, 80)
	if err := a1.ReadFrame(ctx, n); !errors.Is(err, hal.ErrClosed) {
		t.Errorf("the replaced channel reads: %v", err)
	}
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a2.ReadFrame(ctx, n); err != nil {
		t.Errorf("the new channel after the old one closed: %v", err)
	}
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.SLIC.PCM.Close(); err != nil {
		t.Errorf("closing the SLIC slot: %v", err)
	}
	if _, err := b.Radio.Audio(9, hal.RateNarrowband); err == nil {
		t.Error("slot 9 opened")
	}
	if err := b.LEDs[hal.LEDLine].Set(hal.LEDState(7)); err == nil {
		t.Error("LED state 7 accepted")
	}
}

// The IRQ line follows the chip: an unmasked interrupt pulls it low and
// WaitForEdge sees the falling edge.
func TestIRQOverSocket(t *testing.T) {
	sb, _, path := served(t)
	b := open(t, path)
	c, err := b.SLIC.Port.Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SLIC.IRQ.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	if b.SLIC.IRQ.Read() != gpio.High {
		t.Fatal("IRQ low at start")
	}
	// Enable the loop-closure interrupt (reg 22 bit 1), then lift the phone.
	writeReg(t, c, 22, 0x02)
	// The loop needs feed: linefeed forward active (reg 64 = 1) with the
	// DC-DC converter up (reg 14 bit 4 clear).
	writeReg(t, c, 14, 0x00)
	writeReg(t, c, 64, 0x01)
	time.Sleep(200 * time.Millisecond)
	sb.Phone.OffHook()
	if !b.SLIC.IRQ.WaitForEdge(2 * time.Second) {
		t.Fatalf("no falling edge after off-hook (model reg 19 = %#x)", sb.SLIC.Reg(19))
	}
	if b.SLIC.IRQ.Read() != gpio.Low {
		t.Error("IRQ not low after the edge")
	}
	writeReg(t, c, 19, 0xFF) // clear the status: the line goes high again
	if b.SLIC.IRQ.Read() != gpio.High {
		t.Error("IRQ still low after clearing the status (the reply must follow the IRQ message)")
	}
}

// The hardware outlives the client: after a client dies, a new one
// connects and finds the chip as the old one left it; a second client
// while one is connected is refused.
func TestNewClientAfterOldDied(t *testing.T) {
	sb, srv, path := served(t)
	b1, err := virtual.Open(context.Background(), path, virtual.Options{Client: "first"})
	if err != nil {
		t.Fatal(err)
	}
	c1, err := b1.SLIC.Port.Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	writeReg(t, c1, 4, 0xA5)
	if _, err := virtual.Open(context.Background(), path, virtual.Options{BusyWait: 200 * time.Millisecond}); !errors.Is(err, virtual.ErrBusy) {
		t.Errorf("second client: %v, want ErrBusy", err)
	}
	b1.Closer.Close()
	if err := c1.Tx([]byte{0x84, 0}, make([]byte, 2)); err == nil {
		t.Error("SPI on a closed client succeeded")
	}
	b2 := open(t, path)
	c2, err := b2.SLIC.Port.Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := readReg(t, c2, 4); got != 0xA5 {
		t.Errorf("reg 4 = %#x for the new client, want the 0xA5 the old one left", got)
	}
	if _, err := b2.SLIC.Port.(interface {
		Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error)
	}).Connect(physic.MegaHertz, spi.Mode0, 8); err == nil {
		t.Error("second Connect accepted")
	}
	if st := srv.Stats(); st.Sessions != 2 || st.Refused < 1 || !st.Connected {
		t.Errorf("stats %+v", st)
	}
	_ = sb
}

// A malformed message from the client is answered with an ERROR naming it
// and the connection is closed; the server goes on serving.
func TestMalformedFromClient(t *testing.T) {
	_, _, path := served(t)
	for _, c := range []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"unknown type", []byte{0, 3, 0x77, 0, 1}, "unknown type 0x77"},
		{"server type", []byte{0, 4, 0x14, 0, 0, 1}, "IRQ may not be sent by the client"},
		{"bad length", []byte{0xFF, 0xFF}, "length 65535"},
		{"short body", []byte{0, 4, 0x10, 0, 1, 0}, "SPI_CONNECT: body ends before"},
		{"truncated", []byte{0, 9, 0x11, 0, 1}, "truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := helloed(t, path)
			defer conn.Close()
			conn.Write(c.bytes)
			if c.name == "truncated" {
				conn.(*net.UnixConn).CloseWrite()
			}
			var m wire.Msg
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := wire.ReadMsg(conn, nil, &m); err != nil {
				t.Fatalf("no ERROR: %v", err)
			}
			if m.Type != wire.TError || m.Code != wire.CodeMalformed || !strings.Contains(m.Name, c.want) {
				t.Errorf("got %s code %d %q, want ERROR naming %q", m.Type, m.Code, m.Name, c.want)
			}
			if _, err := wire.ReadMsg(conn, nil, &m); err == nil {
				t.Errorf("connection still open: %s", m.Type)
			}
		})
	}
	open(t, path) // still serving
}

func helloed(t *testing.T, path string) net.Conn {
	t.Helper()
	var conn net.Conn
	var err error
	for i := 0; i < 40; i++ { // the previous subtest's session may still be ending
		conn, err = net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := wire.Append(nil, &wire.Msg{Type: wire.THello, Tag: 1, Version: wire.Version, Name: "raw"})
		conn.Write(b)
		var m wire.Msg
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err = wire.ReadMsg(conn, nil, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.TWelcome {
			conn.SetReadDeadline(time.Time{})
			return conn
		}
		conn.Close()
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("never welcomed")
	return nil
}

// A malformed message from the server fails the calls in flight and every
// later call with an error naming it; nothing hangs.
func TestMalformedFromServer(t *testing.T) {
	for _, c := range []struct {
		name  string
		reply func(tag uint16) []byte
		want  string
	}{
		{"garbage", func(uint16) []byte { return []byte{0, 3, 0x99, 0, 1} }, "unknown type 0x99"},
		{"client type", func(tag uint16) []byte {
			b, _ := wire.Append(nil, &wire.Msg{Type: wire.TLED, Tag: tag, Name: "x"})
			return b
		}, "the server sent LED"},
		{"unknown tag", func(uint16) []byte { b, _ := wire.Append(nil, &wire.Msg{Type: wire.TOK, Tag: 999}); return b }, "tag 999, which no request has"},
		{"truncated", func(uint16) []byte { return []byte{0, 9, 0x04} }, "truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				var m wire.Msg
				if _, err := wire.ReadMsg(conn, nil, &m); err != nil {
					return
				}
				b, _ := wire.Append(nil, &wire.Msg{Type: wire.TWelcome, Tag: m.Tag, Version: wire.Version, SLIC: "fake", LEDs: []string{"power"}, Slots: 1})
				conn.Write(b)
				if _, err := wire.ReadMsg(conn, nil, &m); err != nil {
					return
				}
				conn.Write(c.reply(m.Tag))
				if c.name == "truncated" {
					conn.(*net.UnixConn).CloseWrite()
				}
				conn.Read(make([]byte, 64)) // until the client closes
			}()
			b, err := virtual.Open(context.Background(), path, virtual.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = b.LEDs["power"].Set(hal.LEDOn)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LED.Set: %v, want an error naming %q", err, c.want)
			}
			if err := b.LEDs["power"].Set(hal.LEDOff); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("later call: %v", err)
			}
			b.Closer.Close()
			<-done
		})
	}
}
