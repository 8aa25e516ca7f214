package radio

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestUARTPipeBuffersLikeATTY: a write returns while nobody reads (up to
// the tty's buffer), a full buffer makes the writer wait until its
// deadline, what was written is read after the writer closed, then EOF.
func TestUARTPipeBuffersLikeATTY(t *testing.T) {
	a, b := uartPipe()
	msg := make([]byte, uartBuffer)
	for i := range msg {
		msg[i] = byte(i)
	}
	if n, err := a.Write(msg); n != len(msg) || err != nil {
		t.Fatalf("write into an empty buffer: %d %v", n, err)
	}
	a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := a.Write([]byte{1}); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write into a full buffer: %d %v", n, err)
	}
	a.Close()
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 1000)
	for {
		n, err := b.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != string(msg) {
		t.Fatalf("read %d bytes back, want %d", len(got), len(msg))
	}
	if _, err := b.Write([]byte{1}); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write to a closed session: %v", err)
	}
	b.Close()
	if _, err := b.Read(buf); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read on a closed end: %v", err)
	}
	c, _ := uartPipe()
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle read: %v", err)
	}
}
