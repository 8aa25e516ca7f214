package radio

import (
	"io"
	"os"
	"sync"
	"time"
)

// uartBuffer is what a tty buffers in each direction: a writer blocks
// only when this much is unread, as on a pty (a synchronous pipe would
// make every write wait for the other side's reader, which under CPU load
// reads late: the host's writes timed out).
const uartBuffer = 4096

// byteQueue is one direction of an in-memory UART: bytes written wait
// here until read.
type byteQueue struct {
	mu       sync.Mutex
	buf      []byte
	closed   bool
	readable chan struct{} // signalled when bytes arrive or the queue closes
	writable chan struct{} // signalled when bytes are taken or the queue closes
}

func newByteQueue() *byteQueue {
	return &byteQueue{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// wait waits for c or the deadline (zero: none).
func wait(c chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		<-c
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

func (q *byteQueue) read(p []byte, deadline func() time.Time) (int, error) {
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			n := copy(p, q.buf)
			q.buf = append(q.buf[:0], q.buf[n:]...)
			q.mu.Unlock()
			signal(q.writable)
			return n, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return 0, io.EOF
		}
		if err := wait(q.readable, deadline()); err != nil {
			return 0, err
		}
	}
}

func (q *byteQueue) write(p []byte, deadline func() time.Time) (int, error) {
	n := 0
	for n < len(p) {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return n, io.ErrClosedPipe
		}
		k := min(uartBuffer-len(q.buf), len(p)-n)
		if k > 0 {
			q.buf = append(q.buf, p[n:n+k]...)
			n += k
		}
		q.mu.Unlock()
		if k > 0 {
			signal(q.readable)
			continue
		}
		if err := wait(q.writable, deadline()); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (q *byteQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.readable)
	signal(q.writable)
}

// pipeEnd is one end of an in-memory UART session: it reads one queue and
// writes the other. Reads see io.EOF once the other end has closed and
// everything it wrote is read; writes to a closed session fail with
// io.ErrClosedPipe; past a deadline both return os.ErrDeadlineExceeded.
type pipeEnd struct {
	in, out *byteQueue
	mu      sync.Mutex
	rdl     time.Time
	wdl     time.Time
	once    sync.Once
	closed  chan struct{}
}

// uartPipe returns the two ends of a new session.
func uartPipe() (a, b *pipeEnd) {
	x, y := newByteQueue(), newByteQueue()
	return &pipeEnd{in: x, out: y, closed: make(chan struct{})}, &pipeEnd{in: y, out: x, closed: make(chan struct{})}
}

func (e *pipeEnd) readDeadline() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rdl
}

func (e *pipeEnd) writeDeadline() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.wdl
}

func (e *pipeEnd) isClosed() bool {
	select {
	case <-e.closed:
		return true
	default:
		return false
	}
}

func (e *pipeEnd) Read(p []byte) (int, error) {
	if e.isClosed() {
		return 0, io.ErrClosedPipe
	}
	n, err := e.in.read(p, e.readDeadline)
	if err == io.EOF && e.isClosed() {
		err = io.ErrClosedPipe // this end closed, not the other
	}
	return n, err
}

func (e *pipeEnd) Write(p []byte) (int, error) {
	if e.isClosed() {
		return 0, io.ErrClosedPipe
	}
	return e.out.write(p, e.writeDeadline)
}

func (e *pipeEnd) SetReadDeadline(t time.Time) error {
	e.mu.Lock()
	e.rdl = t
	e.mu.Unlock()
	return nil
}

func (e *pipeEnd) SetWriteDeadline(t time.Time) error {
	e.mu.Lock()
	e.wdl = t
	e.mu.Unlock()
	return nil
}

// Close ends the session for both ends.
func (e *pipeEnd) Close() error {
	e.once.Do(func() {
		close(e.closed)
		e.in.close()
		e.out.close()
	})
	return nil
}
