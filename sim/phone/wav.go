package phone

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// wavWriter writes 16-bit PCM WAV at 8 kHz, mono or stereo, and fixes the
// header sizes on Close.
type wavWriter struct {
	f        *os.File
	channels int
	bytes    uint32
	buf      []byte
}

func createWAV(path string, channels int) (*wavWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("phone: record: %w", err)
	}
	w := &wavWriter{f: f, channels: channels}
	if err := w.header(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *wavWriter) header() error {
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+w.bytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], uint16(w.channels))
	binary.LittleEndian.PutUint32(h[24:], sampleRate)
	binary.LittleEndian.PutUint32(h[28:], uint32(sampleRate*2*w.channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*w.channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], w.bytes)
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("phone: record: %w", err)
	}
	if _, err := w.f.Write(h[:]); err != nil {
		return fmt.Errorf("phone: record: %w", err)
	}
	_, err := w.f.Seek(0, io.SeekEnd)
	return err
}

// write appends one frame; b (the mic) is used for the second channel.
func (w *wavWriter) write(a, b []int16) error {
	w.buf = w.buf[:0]
	for i, s := range a {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
		if w.channels == 2 {
			w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(b[i]))
		}
	}
	n, err := w.f.Write(w.buf)
	w.bytes += uint32(n)
	return err
}

func (w *wavWriter) close() error {
	err := w.header()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteWAV writes mono 8 kHz 16-bit samples to path (for tests and tools).
func WriteWAV(path string, samples []int16) error {
	w, err := createWAV(path, 1)
	if err != nil {
		return err
	}
	if err := w.write(samples, nil); err != nil {
		w.close()
		return err
	}
	return w.close()
}

// ReadWAV reads a mono or stereo (first channel) 16-bit PCM WAV file at
// 8 kHz.
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: not a RIFF/WAVE file", path)
	}
	var channels, bits int
	var rate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if size > len(body) {
			size = len(body)
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("%s: short fmt chunk", path)
			}
			if f := binary.LittleEndian.Uint16(body); f != 1 && f != 0xFFFE {
				return nil, fmt.Errorf("%s: format %d is not PCM", path, f)
			}
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			rate = binary.LittleEndian.Uint32(body[4:])
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			if channels < 1 || bits != 16 || rate != sampleRate {
				return nil, fmt.Errorf("%s: need 16-bit 8 kHz PCM, got %d ch %d bit %d Hz", path, channels, bits, rate)
			}
			frame := 2 * channels
			out := make([]int16, size/frame)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[i*frame:]))
			}
			return out, nil
		}
		off += 8 + size + size&1
	}
	return nil, fmt.Errorf("%s: no data chunk", path)
}
