package board

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"basestation/hal"
)

// PCMDevice is a PCM time slot exposed by the board's TDM driver as a
// character device: each read returns the next frame of 16-bit
// little-endian linear samples captured on the slot, blocking until the PCM
// clock has produced it; each write queues one frame for playout. The
// driver's frame size is hal.FrameDuration at the slot's rate.
type PCMDevice struct {
	path string
	rate int
	f    *os.File
	rmu  sync.Mutex
	wmu  sync.Mutex
	rbuf []byte
	wbuf []byte
}

// OpenPCM opens the slot device at path for audio at rate.
func OpenPCM(path string, rate int) (*PCMDevice, error) {
	if rate != hal.RateNarrowband && rate != hal.RateWideband {
		return nil, fmt.Errorf("PCM %s: rate %d Hz not supported (8000 or 16000)", path, rate)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("PCM %s: %w", path, err)
	}
	n := hal.FrameSamples(rate) * 2
	return &PCMDevice{path: path, rate: rate, f: f, rbuf: make([]byte, n), wbuf: make([]byte, n)}, nil
}

func (p *PCMDevice) Rate() int { return p.rate }

func (p *PCMDevice) ReadFrame(ctx context.Context, dst []int16) error {
	if len(dst)*2 != len(p.rbuf) {
		return fmt.Errorf("PCM %s: read frame of %d samples, want %d", p.path, len(dst), len(p.rbuf)/2)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	if _, err := readFull(p.f, p.rbuf); err != nil {
		return fmt.Errorf("PCM %s: %w", p.path, err)
	}
	for i := range dst {
		dst[i] = int16(binary.LittleEndian.Uint16(p.rbuf[2*i:]))
	}
	return nil
}

func (p *PCMDevice) WriteFrame(ctx context.Context, src []int16) error {
	if len(src)*2 != len(p.wbuf) {
		return fmt.Errorf("PCM %s: write frame of %d samples, want %d", p.path, len(src), len(p.wbuf)/2)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	for i, s := range src {
		binary.LittleEndian.PutUint16(p.wbuf[2*i:], uint16(s))
	}
	if _, err := p.f.Write(p.wbuf); err != nil {
		return fmt.Errorf("PCM %s: %w", p.path, err)
	}
	return nil
}

func (p *PCMDevice) Close() error { return p.f.Close() }

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, fmt.Errorf("short read")
		}
	}
	return n, nil
}
