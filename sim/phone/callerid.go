package phone

import (
	"errors"
	"fmt"
)

// Caller-ID / VMWI message layer (telephony.md §5.2–5.3, GR-30 / SPAN-adsi):
// type, length, data…, checksum (two's complement of the byte sum).

// Message types.
const (
	MsgSDMFCallerID = 0x04
	MsgSDMFVMWI     = 0x06
	MsgMDMFCallerID = 0x80
	MsgMDMFVMWI     = 0x82
)

// MDMF parameter types.
const (
	ParamDateTime     = 0x01
	ParamNumber       = 0x02
	ParamDialed       = 0x03
	ParamNumberAbsent = 0x04
	ParamQualifier    = 0x06
	ParamName         = 0x07
	ParamNameAbsent   = 0x08
	ParamVMWI         = 0x0B
)

// ErrCIDMessage is wrapped by every parse error.
var ErrCIDMessage = errors.New("caller-id message")

// DateTime is the MMDDHHMM field.
type DateTime struct {
	Month, Day, Hour, Minute int
}

func (d DateTime) String() string {
	return fmt.Sprintf("%02d/%02d %02d:%02d", d.Month, d.Day, d.Hour, d.Minute)
}

// Param is one raw MDMF parameter.
type Param struct {
	Type  byte
	Value []byte
}

// Message is one parsed caller-ID or VMWI message.
type Message struct {
	Type         byte
	Date         *DateTime
	Number       string
	Name         string
	Dialed       string
	NumberAbsent byte // 'O' out of area / unavailable, 'P' private, 0 none
	NameAbsent   byte
	Qualifier    byte // 'L' long distance
	VMWI         *bool
	Params       []Param // MDMF parameters as received
}

// Format is "SDMF" or "MDMF".
func (m *Message) Format() string {
	if m.Type&0x80 != 0 {
		return "MDMF"
	}
	return "SDMF"
}

func cidErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCIDMessage, fmt.Sprintf(format, args...))
}

// ParseMessage parses one complete message: type, length, data and
// checksum. It checks the length and the checksum and every field.
func ParseMessage(b []byte) (*Message, error) {
	if len(b) < 3 {
		return nil, cidErr("%d bytes, need at least type, length and checksum", len(b))
	}
	if want := int(b[1]) + 3; len(b) != want {
		return nil, cidErr("length byte says %d data bytes, got %d", b[1], len(b)-3)
	}
	var sum byte
	for _, v := range b {
		sum += v
	}
	if sum != 0 {
		return nil, cidErr("checksum mismatch (sum %#02x, checksum byte %#02x)", sum, b[len(b)-1])
	}
	m := &Message{Type: b[0]}
	data := b[2 : len(b)-1]
	switch b[0] {
	case MsgSDMFCallerID:
		if len(data) < 9 {
			return nil, cidErr("SDMF caller ID: %d data bytes, need date (8) and a number", len(data))
		}
		dt, err := parseDate(data[:8])
		if err != nil {
			return nil, err
		}
		m.Date = dt
		rest := data[8:]
		if len(rest) == 1 && (rest[0] == 'O' || rest[0] == 'P') {
			m.NumberAbsent = rest[0]
		} else {
			s, err := printable("number", rest)
			if err != nil {
				return nil, err
			}
			m.Number = s
		}
	case MsgSDMFVMWI:
		if len(data) != 3 {
			return nil, cidErr("SDMF VMWI: %d data bytes, want 3", len(data))
		}
		var on bool
		switch {
		case data[0] == 0x42 && data[1] == 0x42 && data[2] == 0x42:
			on = true
		case data[0] == 0x6F && data[1] == 0x6F && data[2] == 0x6F:
		default:
			return nil, cidErr("SDMF VMWI: data % x is neither 42 42 42 nor 6f 6f 6f", data)
		}
		m.VMWI = &on
	case MsgMDMFCallerID, MsgMDMFVMWI:
		if err := m.parseParams(data); err != nil {
			return nil, err
		}
		if b[0] == MsgMDMFVMWI && m.VMWI == nil {
			return nil, cidErr("MDMF VMWI without a visual indicator parameter")
		}
	default:
		return nil, cidErr("unknown message type %#02x", b[0])
	}
	return m, nil
}

func (m *Message) parseParams(data []byte) error {
	for i := 0; i < len(data); {
		if i+2 > len(data) {
			return cidErr("parameter header at offset %d truncated", i)
		}
		t, l := data[i], int(data[i+1])
		if i+2+l > len(data) {
			return cidErr("parameter %#02x: length %d overruns the message", t, l)
		}
		v := data[i+2 : i+2+l]
		m.Params = append(m.Params, Param{Type: t, Value: append([]byte(nil), v...)})
		var err error
		switch t {
		case ParamDateTime:
			if l != 8 {
				return cidErr("date/time parameter length %d, want 8", l)
			}
			m.Date, err = parseDate(v)
		case ParamNumber:
			m.Number, err = printable("number", v)
		case ParamDialed:
			m.Dialed, err = printable("dialed number", v)
		case ParamName:
			m.Name, err = printable("name", v)
		case ParamNumberAbsent, ParamNameAbsent:
			if l != 1 || (v[0] != 'O' && v[0] != 'P') {
				return cidErr("absence parameter %#02x must be 'O' or 'P', got % x", t, v)
			}
			if t == ParamNumberAbsent {
				m.NumberAbsent = v[0]
			} else {
				m.NameAbsent = v[0]
			}
		case ParamQualifier:
			if l != 1 {
				return cidErr("call qualifier length %d, want 1", l)
			}
			m.Qualifier = v[0]
		case ParamVMWI:
			if l != 1 || (v[0] != 0xFF && v[0] != 0x00) {
				return cidErr("visual indicator must be ff or 00, got % x", v)
			}
			on := v[0] == 0xFF
			m.VMWI = &on
		}
		if err != nil {
			return err
		}
		i += 2 + l
	}
	return nil
}

func parseDate(v []byte) (*DateTime, error) {
	var n [4]int
	for i := range 4 {
		a, b := v[2*i], v[2*i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return nil, cidErr("date/time %q is not 8 digits", v)
		}
		n[i] = int(a-'0')*10 + int(b-'0')
	}
	d := &DateTime{Month: n[0], Day: n[1], Hour: n[2], Minute: n[3]}
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 || d.Hour > 23 || d.Minute > 59 {
		return nil, cidErr("date/time %q out of range", v)
	}
	return d, nil
}

func printable(what string, v []byte) (string, error) {
	for _, c := range v {
		if c < 0x20 || c > 0x7E {
			return "", cidErr("%s contains byte %#02x", what, c)
		}
	}
	return string(v), nil
}

// isMessageType reports whether b can start a message.
func isMessageType(b byte) bool {
	switch b {
	case MsgSDMFCallerID, MsgSDMFVMWI, MsgMDMFCallerID, MsgMDMFVMWI:
		return true
	}
	return false
}

// framer cuts a demodulated byte stream into messages: a message starts
// with a type byte preceded by at least minMarkBits of mark (the channel
// seizure alone does not qualify, as in spandsp's CLASS receiver) and ends
// after its length.
type framer struct {
	buf    []byte
	active bool
}

const (
	minMarkBits = 10
	maxGapBits  = 40 // inter-byte mark allowed inside a message (GR-30: ≤ 16.7 ms = 20 bits; lenient)
)

// push takes one byte; it returns a complete message (a copy) or nil.
// A message cut short by a long gap is reported through truncated.
func (f *framer) push(b fskByte) (msg []byte, truncated bool) {
	if f.active && b.markBits > maxGapBits {
		f.active = false
		truncated = true
	}
	if !f.active {
		if b.markBits >= minMarkBits && isMessageType(b.b) {
			f.active = true
			f.buf = append(f.buf[:0], b.b)
		}
		return nil, truncated
	}
	f.buf = append(f.buf, b.b)
	if len(f.buf) >= 2 && len(f.buf) == int(f.buf[1])+3 {
		f.active = false
		return append([]byte(nil), f.buf...), truncated
	}
	return nil, truncated
}

// reset drops a partial message (carrier lost).
func (f *framer) reset() (truncated bool) {
	truncated = f.active && len(f.buf) > 0
	f.active = false
	f.buf = f.buf[:0]
	return truncated
}
