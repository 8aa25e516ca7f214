package vboard

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"basestation/hal"
	wire "basestation/hal/vboard"
)

// pipeListener hands the server the far ends of net.Pipe connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// FuzzServer feeds the server a HELLO and then arbitrary bytes: whatever
// they are, it answers or drops the client within a bound, never panics
// and keeps serving the next client. The board has no devices, so every
// request that reaches the hardware is refused by name.
func FuzzServer(f *testing.F) {
	for _, m := range []*wire.Msg{
		{Type: wire.TSPIConn, Tag: 2, Hz: 1000000, Mode: 3, Bits: 8},
		{Type: wire.TSPITx, Tag: 3, Read: true, Data: []byte{0x80, 0}},
		{Type: wire.TPCMRead, Tag: 4},
		{Type: wire.TPCMOpen, Tag: 5, Ch: 1, Rate: 8000},
		{Type: wire.TLED, Tag: 6, Name: "power", State: 1},
		{Type: wire.TReset, Tag: 7, Line: 1, Level: 0},
		{Type: wire.TIRQ, Level: 1},
	} {
		b, _ := wire.Append(nil, m)
		f.Add(b)
	}
	f.Add([]byte{0, 9, 0x11, 0, 1})
	f.Add([]byte{0xFF, 0xFF, 0})
	srv := New(&hal.Board{Name: "empty", LEDs: map[string]hal.LED{}}, Options{Log: slog.New(slog.DiscardHandler)})
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			f.Error(err)
		}
	}()
	hello, _ := wire.Append(nil, &wire.Msg{Type: wire.THello, Tag: 1, Version: wire.Version, Name: "fuzz"})
	f.Fuzz(func(t *testing.T, data []byte) {
		for deadline := time.Now().Add(2 * time.Second); srv.Stats().Connected; {
			if time.Now().After(deadline) {
				t.Fatal("the previous client's session did not end")
			}
			time.Sleep(time.Millisecond)
		}
		c, s := net.Pipe()
		defer c.Close()
		l.conns <- s
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		var m wire.Msg
		if _, err := wire.ReadMsg(c, nil, &m); err != nil || m.Type != wire.TWelcome {
			t.Fatalf("no WELCOME: %v %s", err, m.Type)
		}
		writeDone := make(chan struct{})
		go func() {
			defer close(writeDone)
			_, _ = c.Write(data)
		}()
		// Read answers until the server closes or goes quiet.
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var buf []byte
		for {
			var err error
			if buf, err = wire.ReadMsg(c, buf, &m); err != nil {
				if errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTruncated) {
					t.Fatalf("the server's answer: %v", err)
				}
				break // closed, or quiet
			}
			if !m.Type.FromServer() {
				t.Fatalf("the server sent %s", m.Type)
			}
		}
		c.Close()
		<-writeDone
	})
}
