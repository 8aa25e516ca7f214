package dect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"basestation/hal"

	"github.com/tarm/serial"
	"periph.io/x/conn/v3/gpio"
)

func (d *Driver) openPort() (io.ReadWriteCloser, error) {
	if d.opts.OpenPort != nil {
		return d.opts.OpenPort()
	}
	return OpenSerial(d.radio, d.opts.ReadTimeout)
}

// OpenSerial opens the radio module's UART as the driver does when
// Options.OpenPort is nil: radio.Device at radio.Baud (115200 when 0), reads
// timing out after readTimeout (the driver judges silence on what it read).
// A wrapper (counting I/O, say) builds its Options.OpenPort on it.
func OpenSerial(radio hal.Radio, readTimeout time.Duration) (io.ReadWriteCloser, error) {
	baud := radio.Baud
	if baud == 0 {
		baud = 115200
	}
	if readTimeout <= 0 {
		readTimeout = DefaultOptions().ReadTimeout
	}
	p, err := serial.OpenPort(&serial.Config{Name: radio.Device, Baud: baud, ReadTimeout: readTimeout})
	if err != nil {
		return nil, fmt.Errorf("dect: open %s: %w", radio.Device, err)
	}
	return p, nil
}

type portReader struct {
	chunks chan []byte
	errc   chan error
	stop   context.CancelFunc
	clock  *readClock
}

// readClock records how far the reader has looked at the line: every byte
// that arrived before Seen() has been read and handed to the link engine
// (it is in the chunks channel or already taken). The engine judges the
// module's silence, its missing acknowledgements and stalled frames
// against this time, not against its own clock: under CPU load a
// goroutine returning from a blocking read waits in the scheduler's global
// run queue behind every runnable goroutine, while the engine, woken by its
// timers, runs at once. Judged by the engine's clock, the module's answers
// waiting unread in the tty buffer looked like silence (issue 9).
type readClock struct {
	base time.Time
	at   atomic.Int64 // since base
}

func newReadClock() *readClock {
	c := &readClock{base: time.Now()}
	return c
}

// mark is called by the reader before each read.
func (c *readClock) mark() { c.at.Store(int64(time.Since(c.base))) }

// Seen is the start of the reader's latest read.
func (c *readClock) Seen() time.Time { return c.base.Add(time.Duration(c.at.Load())) }

func startReader(ctx context.Context, p io.Reader) *portReader {
	rctx, cancel := context.WithCancel(ctx)
	r := &portReader{chunks: make(chan []byte, 64), errc: make(chan error, 1), stop: cancel, clock: newReadClock()}
	go reader(rctx, p, r.chunks, r.errc, r.clock)
	return r
}

// reader copies bytes from the port to chunks. A read timeout (tarm/serial
// reports it as io.EOF) only moves the read clock on: the engine is not
// woken for an idle line.
func reader(ctx context.Context, p io.Reader, chunks chan<- []byte, errc chan<- error, clock *readClock) {
	buf := make([]byte, 1024)
	for {
		clock.mark()
		n, err := p.Read(buf)
		if n > 0 {
			c := make([]byte, n)
			copy(c, buf[:n])
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
		}
		switch {
		case err == nil || errors.Is(err, io.EOF):
			if n == 0 && ctx.Err() != nil {
				return
			}
		case errors.Is(err, os.ErrClosed) || ctx.Err() != nil:
			return
		default:
			errc <- err
			return
		}
	}
}

// pulseReset holds the module's reset line low for ResetPulse.
func (d *Driver) pulseReset(ctx context.Context) error {
	if d.radio.Reset == nil {
		return nil
	}
	if err := d.radio.Reset.Out(gpio.Low); err != nil {
		return fmt.Errorf("dect: reset pin: %w", err)
	}
	t := time.NewTimer(d.opts.ResetPulse)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	if err := d.radio.Reset.Out(gpio.High); err != nil {
		return fmt.Errorf("dect: reset pin: %w", err)
	}
	return nil
}
