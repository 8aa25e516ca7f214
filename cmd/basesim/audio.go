package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Audio the instruments play into a microphone: a WAV file (16-bit PCM,
// 8-bit unsigned PCM or G.711 µ-law/A-law, mono or stereo, 8 or 16 kHz) or
// raw signed 16-bit little-endian samples at a rate given.

// maxAudioSeconds bounds what one play request may hold.
const maxAudioSeconds = 120

// parseWAV reads a RIFF/WAVE file into mono samples and its rate.
func parseWAV(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("wav: not a RIFF/WAVE file")
	}
	var (
		format, channels, bits uint16
		rate                   uint32
		haveFmt                bool
	)
	p := b[12:]
	for len(p) >= 8 {
		id, size := string(p[0:4]), binary.LittleEndian.Uint32(p[4:8])
		p = p[8:]
		if uint64(size) > uint64(len(p)) {
			if id != "data" {
				return nil, 0, fmt.Errorf("wav: chunk %q of %d bytes runs past the end", id, size)
			}
			size = uint32(len(p)) // a streamed file's data size may be unset
		}
		body := p[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, fmt.Errorf("wav: fmt chunk of %d bytes", size)
			}
			format, channels = binary.LittleEndian.Uint16(body[0:]), binary.LittleEndian.Uint16(body[2:])
			rate, bits = binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
			if format == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
				format = binary.LittleEndian.Uint16(body[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, errors.New("wav: data before fmt")
			}
			s, err := pcmSamples(body, format, channels, bits)
			if err != nil {
				return nil, 0, err
			}
			if rate != 8000 && rate != 16000 {
				return nil, 0, fmt.Errorf("wav: %d Hz (want 8000 or 16000; sox in.wav -r 8000 out.wav converts)", rate)
			}
			if len(s) > maxAudioSeconds*int(rate) {
				return nil, 0, fmt.Errorf("wav: %.1f s is longer than %d s", float64(len(s))/float64(rate), maxAudioSeconds)
			}
			return s, int(rate), nil
		}
		if size%2 == 1 && int(size) < len(p) {
			size++ // chunks are word-aligned
		}
		p = p[size:]
	}
	return nil, 0, errors.New("wav: no data chunk")
}

// pcmSamples decodes interleaved frames and mixes the channels down.
func pcmSamples(b []byte, format, channels, bits uint16) ([]int16, error) {
	if channels < 1 || channels > 2 {
		return nil, fmt.Errorf("wav: %d channels (want 1 or 2)", channels)
	}
	var width int
	var dec func([]byte) int16
	switch {
	case format == 1 && bits == 16:
		width, dec = 2, func(p []byte) int16 { return int16(binary.LittleEndian.Uint16(p)) }
	case format == 1 && bits == 8:
		width, dec = 1, func(p []byte) int16 { return int16(int(p[0])-128) << 8 }
	case format == 7 && bits == 8:
		width, dec = 1, func(p []byte) int16 { return ulaw(p[0]) }
	case format == 6 && bits == 8:
		width, dec = 1, func(p []byte) int16 { return alaw(p[0]) }
	default:
		return nil, fmt.Errorf("wav: format %d with %d bits (want 16-bit or 8-bit PCM, µ-law or A-law)", format, bits)
	}
	frame := width * int(channels)
	out := make([]int16, len(b)/frame)
	for i := range out {
		var sum int
		for c := range int(channels) {
			sum += int(dec(b[i*frame+c*width:]))
		}
		out[i] = int16(sum / int(channels))
	}
	return out, nil
}

// parseRaw reads signed 16-bit little-endian mono samples.
func parseRaw(b []byte, rate int) ([]int16, error) {
	if rate != 8000 && rate != 16000 {
		return nil, fmt.Errorf("rate: %d (want 8000 or 16000)", rate)
	}
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("raw: %d bytes is not a whole number of 16-bit samples", len(b))
	}
	if len(b)/2 > maxAudioSeconds*rate {
		return nil, fmt.Errorf("raw: longer than %d s", maxAudioSeconds)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out, nil
}

func ulaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0F) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func alaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// lowpass is a windowed-sinc FIR with its cut-off at cut (fraction of the
// sampling rate), 63 taps.
func lowpass(cut float64) []float64 {
	const n = 63
	h := make([]float64, n)
	var sum float64
	for i := range h {
		x := float64(i - n/2)
		v := 2 * cut
		if x != 0 {
			v = math.Sin(2*math.Pi*cut*x) / (math.Pi * x)
		}
		v *= 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(n-1)) // Hamming
		h[i] = v
		sum += v
	}
	for i := range h {
		h[i] /= sum
	}
	return h
}

func filter(x []int16, h []float64, gain float64) []float64 {
	y := make([]float64, len(x))
	half := len(h) / 2
	for i := range x {
		var acc float64
		for k, c := range h {
			j := i + k - half
			if j >= 0 && j < len(x) {
				acc += c * float64(x[j])
			}
		}
		y[i] = acc * gain
	}
	return y
}

// resample converts between 8 and 16 kHz (a half-band low-pass, then
// decimation or zero-stuffing).
func resample(x []int16, from, to int) []int16 {
	switch {
	case from == to:
		return x
	case from == 16000 && to == 8000:
		y := filter(x, lowpass(3600.0/16000), 1)
		out := make([]int16, len(y)/2)
		for i := range out {
			out[i] = clip(y[2*i])
		}
		return out
	case from == 8000 && to == 16000:
		up := make([]int16, 2*len(x))
		for i, v := range x {
			up[2*i] = v
		}
		y := filter(up, lowpass(3800.0/16000), 2)
		out := make([]int16, len(y))
		for i := range y {
			out[i] = clip(y[i])
		}
		return out
	}
	panic(fmt.Sprintf("resample %d → %d", from, to))
}

func clip(v float64) int16 {
	return int16(math.Max(-32768, math.Min(32767, math.Round(v))))
}

// mix adds b into a starting at sample at, growing a as needed.
func mix(a, b []int16, at int) []int16 {
	if need := at + len(b); need > len(a) {
		a = append(a, make([]int16, need-len(a))...)
	}
	for i, v := range b {
		a[at+i] = clip(float64(a[at+i]) + float64(v))
	}
	return a
}

// gain scales x by db decibels.
func gain(x []int16, db float64) []int16 {
	if db == 0 {
		return x
	}
	g := math.Pow(10, db/20)
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = clip(float64(v) * g)
	}
	return out
}
