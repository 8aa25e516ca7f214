package radio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// line is the module's end of its UART: the pty master, or a memLine.
type line interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// memLine is a UART in memory. Each time the host opens its port
// (OpenPort) a new session (uartPipe, buffered as a tty is) replaces the
// previous one, as a tty opened again starts a new session; the module's side reads and writes
// whichever pipe is current. While the host has no port open, what the
// module sends is lost, as on a UART with nobody listening.
type memLine struct {
	mu      sync.Mutex
	cur     *pipeEnd      // the module's end of the host's open port; nil when none
	changed chan struct{} // closed when cur changes
	rdl     time.Time     // the module's read deadline
	wdl     time.Time     // the module's write deadline
	closed  bool
	quit    chan struct{}
}

func newMemLine() *memLine {
	return &memLine{changed: make(chan struct{}), quit: make(chan struct{})}
}

// errNoModule is returned when the host opens the line of a module that
// was closed.
var errNoModule = errors.New("radio: the emulated module is closed")

// attach makes b the module's end of a newly opened port.
func (m *memLine) attach(b *pipeEnd) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errNoModule
	}
	if m.cur != nil {
		m.cur.Close()
	}
	m.cur = b
	close(m.changed)
	m.changed = make(chan struct{})
	return nil
}

// drop forgets c if it is still current (the host closed its port).
func (m *memLine) drop(c *pipeEnd) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == c {
		m.cur.Close()
		m.cur = nil
		close(m.changed)
		m.changed = make(chan struct{})
	}
}

func (m *memLine) SetReadDeadline(t time.Time) error {
	m.mu.Lock()
	m.rdl = t
	m.mu.Unlock()
	return nil
}

func (m *memLine) SetWriteDeadline(t time.Time) error {
	m.mu.Lock()
	m.wdl = t
	m.mu.Unlock()
	return nil
}

// Read reads from the host's open port, waiting for one to be opened;
// past the read deadline it returns os.ErrDeadlineExceeded.
func (m *memLine) Read(p []byte) (int, error) {
	for {
		m.mu.Lock()
		c, changed, dl, closed := m.cur, m.changed, m.rdl, m.closed
		m.mu.Unlock()
		if closed {
			return 0, os.ErrClosed
		}
		if c == nil {
			if err := m.waitOpen(changed, dl); err != nil {
				return 0, err
			}
			continue
		}
		_ = c.SetReadDeadline(dl)
		n, err := c.Read(p)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			m.drop(c) // the host closed its port: wait for the next
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// waitOpen waits for the port to change (nil), the line to close or the
// deadline dl to pass (zero: none).
func (m *memLine) waitOpen(changed <-chan struct{}, dl time.Time) error {
	var expired <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-changed:
		return nil
	case <-m.quit:
		return os.ErrClosed
	case <-expired:
		return os.ErrDeadlineExceeded
	}
}

// Write writes to the host's open port; with none open the bytes are lost.
func (m *memLine) Write(p []byte) (int, error) {
	m.mu.Lock()
	c, dl, closed := m.cur, m.wdl, m.closed
	m.mu.Unlock()
	if closed {
		return 0, os.ErrClosed
	}
	if c == nil {
		return len(p), nil
	}
	_ = c.SetWriteDeadline(dl)
	n, err := c.Write(p)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		m.drop(c)
		return len(p), nil
	}
	return n, err
}

func (m *memLine) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.quit)
	if m.cur != nil {
		m.cur.Close()
		m.cur = nil
	}
	return nil
}

// OpenPort returns the host's way to open an in-memory module's UART, for
// dect.Options.OpenPort: each call opens a new session (closing the one
// before); reads time out after readTimeout with (0, io.EOF) as
// github.com/tarm/serial reports a timeout. It is nil for a module on a
// pseudo-terminal (open Radio().Device instead).
func (e *Emulator) OpenPort(readTimeout time.Duration) func() (io.ReadWriteCloser, error) {
	if e.mem == nil {
		return nil
	}
	if readTimeout <= 0 {
		readTimeout = 100 * time.Millisecond
	}
	return func() (io.ReadWriteCloser, error) {
		a, b := uartPipe()
		if err := e.mem.attach(b); err != nil {
			a.Close()
			b.Close()
			return nil, err
		}
		return &hostPort{c: a, readTimeout: readTimeout}, nil
	}
}

// hostPort is the host's end of an in-memory UART session.
type hostPort struct {
	c           *pipeEnd
	readTimeout time.Duration
}

// errLineClosed: the module's side ended this session (the host opened
// the port again, or the module was closed).
var errLineClosed = errors.New("radio: in-memory line closed by the module's side")

func (h *hostPort) Read(p []byte) (int, error) {
	_ = h.c.SetReadDeadline(time.Now().Add(h.readTimeout))
	n, err := h.c.Read(p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	case errors.Is(err, io.ErrClosedPipe):
		return n, os.ErrClosed
	case errors.Is(err, io.EOF):
		return n, errLineClosed
	}
	return n, fmt.Errorf("radio: in-memory line: %w", err)
}

func (h *hostPort) Write(p []byte) (int, error) {
	_ = h.c.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := h.c.Write(p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.ErrClosedPipe):
		return n, os.ErrClosed
	case errors.Is(err, io.EOF):
		return n, errLineClosed
	}
	return n, fmt.Errorf("radio: in-memory line: %w", err)
}

func (h *hostPort) Close() error { return h.c.Close() }
