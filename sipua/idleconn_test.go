package sipua

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// At the production defaults (virtual time): an accepted connection that
// never completes a message header is closed after TCPFirstMessage
// (30 s), even while it trickles bytes; one that sent a message is closed
// after TCPIdle (5 min) of silence, and not before.
func TestIdleConnDefaultsVirtualTime(t *testing.T) {
	tm := Timing{}.withDefaults()
	if tm.TCPFirstMessage != 30*time.Second || tm.TCPIdle != 5*time.Minute {
		t.Fatalf("defaults %v/%v, want 30s/5m", tm.TCPFirstMessage, tm.TCPIdle)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// reader runs sipgo's read loop on the server side of a pipe and
	// reports when Read ends (EOF = closed by us).
	reader := func(c net.Conn) <-chan time.Duration {
		start := time.Now()
		ended := make(chan time.Duration, 1)
		go func() {
			buf := make([]byte, 1024)
			for {
				if _, err := c.Read(buf); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("read error %v, want EOF", err)
					}
					ended <- time.Since(start)
					return
				}
			}
		}()
		return ended
	}

	t.Run("trickle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, cli := net.Pipe()
			defer cli.Close()
			ended := reader(newIdleConn(srv, tm.TCPIdle, tm.TCPFirstMessage, log))
			// One byte every 5 s: never idle, never a complete header.
			for range 5 {
				time.Sleep(5 * time.Second)
				if _, err := cli.Write([]byte("I")); err != nil {
					t.Fatal(err)
				}
			}
			if got := <-ended; got != tm.TCPFirstMessage {
				t.Errorf("closed after %v, want %v", got, tm.TCPFirstMessage)
			}
		})
	})
	t.Run("idle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, cli := net.Pipe()
			defer cli.Close()
			ended := reader(newIdleConn(srv, tm.TCPIdle, tm.TCPFirstMessage, log))
			time.Sleep(10 * time.Second)
			// A message split across writes, the blank line split too.
			for _, part := range []string{"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r", "\n\r", "\n"} {
				if _, err := cli.Write([]byte(part)); err != nil {
					t.Fatal(err)
				}
			}
			if got := <-ended; got != 10*time.Second+tm.TCPIdle {
				t.Errorf("closed after %v, want %v", got, 10*time.Second+tm.TCPIdle)
			}
		})
	})
}

// Over real sockets with short limits: 200 silent connections to the UA
// are all closed by it; a connection that sent a valid OPTIONS gets 200
// and stays open past the first-message limit, until it is idle.
func TestIdleTCPConnectionsClosed(t *testing.T) {
	reg := newPBXRelay(t, "")
	u := startUA(t, Config{
		Extensions: []Extension{ext("101", "1001", "pw", reg.addr())},
		Timing:     Timing{TCPFirstMessage: 400 * time.Millisecond, TCPIdle: 3 * time.Second},
	})
	addr := u.ListenAddr()
	const n = 200
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ok, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	opts := "OPTIONS sip:1001@" + addr + " SIP/2.0\r\nVia: SIP/2.0/TCP " + ok.LocalAddr().String() +
		";branch=z9hG4bK-idle1\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:1001@127.0.0.1>\r\n" +
		"Call-ID: idle-probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	start := time.Now()
	if _, err := ok.Write([]byte(opts)); err != nil {
		t.Fatal(err)
	}
	_ = ok.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(ok).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TCP: %q %v", line, err)
	}

	var wg sync.WaitGroup
	closed := make(chan error, n)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := c.Read(make([]byte, 1))
			closed <- err
		}()
	}
	wg.Wait()
	close(closed)
	for err := range closed {
		if !errors.Is(err, io.EOF) {
			t.Fatalf("silent connection: %v, want EOF (closed by the UA)", err)
		}
	}
	// The connection that spoke is open past the first-message limit ...
	time.Sleep(time.Until(start.Add(800 * time.Millisecond)))
	_ = ok.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := ok.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("talking connection at 0.8 s: %v, want still open", err)
	}
	// ... and closed once idle.
	_ = ok.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := ok.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("idle connection closed after %v, before TCPIdle", d)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
