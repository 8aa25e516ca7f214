package fxs

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Caller-ID content limits (GR-30 MDMF as implemented by Asterisk and
// spandsp): a number of up to 15 characters (E.164 maximum), a name of up
// to 15 characters. Longer names are cut; numbers that do not fit are sent
// as "unavailable".
const (
	MaxCallerNumber = 15
	MaxCallerName   = 15
)

// ErrCallerID is wrapped by errors about caller-ID content.
var ErrCallerID = errors.New("fxs: invalid caller ID")

// MDMF/SDMF codes (telephony.md §5.3).
const (
	msgSDMFCallerID = 0x04
	msgMDMFCallerID = 0x80
	msgMDMFVMWI     = 0x82
	parDateTime     = 0x01
	parNumber       = 0x02
	parNumberAbsent = 0x04
	parName         = 0x07
	parNameAbsent   = 0x08
	parVisualInd    = 0x0B
)

func absence(p Presentation) byte {
	if p == Private {
		return 'P'
	}
	return 'O'
}

// callerNumber keeps the digits of a number as shown ('+' and separators
// dropped). ok is false when nothing usable is left.
func callerNumber(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#':
			b.WriteByte(c)
		case c == '+', c == '-', c == ' ', c == '(', c == ')', c == '.':
		default:
			return "", false
		}
	}
	n := b.String()
	return n, n != "" && len(n) <= MaxCallerNumber
}

// callerName keeps printable ASCII, cut to MaxCallerName.
func callerName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == MaxCallerName {
			break
		}
		if r >= 0x20 && r < 0x7F {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// CallerIDMessage builds the Bell 202 caller-ID message (type, length,
// parameters, checksum) in the given format. now supplies the date and time
// when cid.Time is zero.
func CallerIDMessage(cid *CallerID, format CallerIDFormat, now time.Time) ([]byte, error) {
	if cid == nil {
		return nil, fmt.Errorf("%w: nil", ErrCallerID)
	}
	t := cid.Time
	if t.IsZero() {
		t = now
	}
	dt := fmt.Sprintf("%02d%02d%02d%02d", int(t.Month()), t.Day(), t.Hour(), t.Minute())
	num, numOK := callerNumber(cid.Number)
	if cid.NumberPresentation != Available {
		numOK = false
	}
	var body []byte
	switch format {
	case CallerIDSDMF:
		body = append(body, dt...)
		if numOK {
			body = append(body, num...)
		} else {
			body = append(body, absence(cid.NumberPresentation))
		}
		return frameMessage(msgSDMFCallerID, body), nil
	case CallerIDMDMF:
		body = appendParam(body, parDateTime, dt)
		if numOK {
			body = appendParam(body, parNumber, num)
		} else {
			body = appendParam(body, parNumberAbsent, string(absence(cid.NumberPresentation)))
		}
		name := callerName(cid.Name)
		if cid.NamePresentation == Available && name != "" {
			body = appendParam(body, parName, name)
		} else {
			np := cid.NamePresentation
			if np == Available {
				np = cid.NumberPresentation // a private call has a private name
			}
			body = appendParam(body, parNameAbsent, string(absence(np)))
		}
		return frameMessage(msgMDMFCallerID, body), nil
	}
	return nil, fmt.Errorf("%w: format %q", ErrCallerID, format)
}

// VMWIMessage builds the MDMF message-waiting message (82 03 0B 01 FF/00).
func VMWIMessage(on bool) []byte {
	v := byte(0x00)
	if on {
		v = 0xFF
	}
	return frameMessage(msgMDMFVMWI, []byte{parVisualInd, 1, v})
}

func appendParam(b []byte, typ byte, v string) []byte {
	b = append(b, typ, byte(len(v)))
	return append(b, v...)
}

func frameMessage(typ byte, body []byte) []byte {
	m := make([]byte, 0, len(body)+3)
	m = append(m, typ, byte(len(body)))
	m = append(m, body...)
	var sum byte
	for _, c := range m {
		sum += c
	}
	return append(m, -sum)
}

// Bell 202 burst shape (telephony.md §5.2, §5.4).
const (
	seizureBits = 300 // alternating 0/1, Type I only
	markBitsI   = 180
	markBitsII  = 80
	trailBits   = 10 // marks after the checksum
	baud        = 1200
	markHz      = 1200
	spaceHz     = 2200
	fskLevel    = -13.5 // dBm0
)

// fskBurst is a phase-continuous Bell 202 modulator over a prepared bit
// string; Fill does not allocate.
type fskBurst struct {
	bits  []byte // one entry per bit, 0 or 1
	rate  int
	n     int // samples produced
	total int
	phase float64
	amp   float64
}

func newFSKBurst(msg []byte, typeII bool, rate int) *fskBurst {
	var bits []byte
	if !typeII {
		for i := 0; i < seizureBits; i++ {
			bits = append(bits, byte(i&1))
		}
	}
	marks := markBitsI
	if typeII {
		marks = markBitsII
	}
	for i := 0; i < marks; i++ {
		bits = append(bits, 1)
	}
	for _, c := range msg {
		bits = append(bits, 0)
		for j := 0; j < 8; j++ {
			bits = append(bits, (c>>j)&1)
		}
		bits = append(bits, 1)
	}
	for i := 0; i < trailBits; i++ {
		bits = append(bits, 1)
	}
	return &fskBurst{
		bits: bits, rate: rate,
		total: (len(bits)*rate + baud - 1) / baud,
		amp:   32767 * math.Pow(10, (fskLevel-3.14)/20),
	}
}

func burstDuration(nbits int) time.Duration {
	return time.Duration(nbits) * time.Second / baud
}

func (b *fskBurst) Fill(dst []int16) int {
	i := 0
	for ; i < len(dst) && b.n < b.total; i++ {
		bit := b.bits[min(b.n*baud/b.rate, len(b.bits)-1)]
		f := float64(markHz)
		if bit == 0 {
			f = spaceHz
		}
		b.phase += 2 * math.Pi * f / float64(b.rate)
		if b.phase > 2*math.Pi {
			b.phase -= 2 * math.Pi
		}
		dst[i] = int16(b.amp * math.Sin(b.phase))
		b.n++
	}
	return i
}

// cidDuration is how long the Type I burst for cid lasts.
func (l *loop) cidDuration(cid *CallerID) time.Duration {
	msg, err := CallerIDMessage(cid, l.p.cfg.CallerID, time.Now())
	if err != nil {
		return 0
	}
	return burstDuration(seizureBits + markBitsI + 10*len(msg) + trailBits)
}

func (l *loop) cidBurst(cid *CallerID, now time.Time, typeII bool) (burst, error) {
	msg, err := CallerIDMessage(cid, l.p.cfg.CallerID, now)
	if err != nil {
		return nil, err
	}
	return newFSKBurst(msg, typeII, l.p.rate), nil
}

func (l *loop) vmwiBurst(on bool) (burst, error) {
	return newFSKBurst(VMWIMessage(on), false, l.p.rate), nil
}
