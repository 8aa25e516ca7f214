package sipua

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// idleListener wraps the SIP TCP listener: every accepted connection is
// closed when it stays silent for idle, or when it has not delivered a
// complete message header (the blank line ending it) within first of
// being accepted (a half-open or trickling connection). sipgo v1.7.2's
// TCP transport has one ReadTimeout for all connections, ours to the
// registrar included (which may legitimately be silent for a whole
// registration period), so the limits are put on accepted ones only.
type idleListener struct {
	net.Listener
	idle, first time.Duration
	log         *slog.Logger
}

func (l *idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newIdleConn(c, l.idle, l.first, l.log), nil
}

// idleConn is an accepted connection with the idle and first-message
// limits of idleListener. Read is called by one goroutine (sipgo's reader).
type idleConn struct {
	net.Conn
	idle     time.Duration
	firstBy  time.Time // deadline for the first complete header
	log      *slog.Logger
	complete bool    // a complete header was seen
	tail     [3]byte // last bytes read, to find CRLFCRLF across reads
	ntail    int

	closeOnce sync.Once
}

func newIdleConn(c net.Conn, idle, first time.Duration, log *slog.Logger) *idleConn {
	return &idleConn{Conn: c, idle: idle, firstBy: time.Now().Add(first), log: log}
}

var crlfcrlf = []byte("\r\n\r\n")

func (c *idleConn) Read(b []byte) (int, error) {
	deadline := time.Now().Add(c.idle)
	if !c.complete && c.firstBy.Before(deadline) {
		deadline = c.firstBy
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if n > 0 && !c.complete {
		c.scan(b[:n])
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		why := "idle"
		if !c.complete {
			why = "no complete message"
		}
		c.log.Info("closing SIP TCP connection", "remote", c.RemoteAddr().String(), "reason", why)
		c.Close()
		// sipgo treats EOF as an orderly end (no error log per conn).
		return n, io.EOF
	}
	return n, err
}

// scan looks for the end of a message header in data (with the tail of
// the previous read in front).
func (c *idleConn) scan(data []byte) {
	var buf [3 + 4]byte
	head := append(buf[:0], c.tail[:c.ntail]...)
	head = append(head, data[:min(len(data), 4)]...)
	if bytes.Contains(head, crlfcrlf) || bytes.Contains(data, crlfcrlf) {
		c.complete = true
		return
	}
	all := append(c.tail[:c.ntail:c.ntail], data[max(0, len(data)-3):]...)
	c.ntail = copy(c.tail[:], all[max(0, len(all)-3):])
}

func (c *idleConn) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.Conn.Close() })
	return err
}
