package vboard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version of this package.
const Version = 1

// Magic opens HELLO.
const Magic = "VBRD"

// MaxLength is the largest value of a frame's length field.
const MaxLength = 4096

// MaxSPI is the most bytes one SPI_TX may clock.
const MaxSPI = 4000

// headerLen is the length field plus type and tag.
const headerLen = 5

// Type is a message type.
type Type uint8

// Message types (docs/virtual-board.md, "Messages").
const (
	THello    Type = 0x01
	TWelcome  Type = 0x02
	TError    Type = 0x03
	TOK       Type = 0x04
	TSPIConn  Type = 0x10
	TSPITx    Type = 0x11
	TSPIRx    Type = 0x12
	TReset    Type = 0x13
	TIRQ      Type = 0x14
	TPCMOpen  Type = 0x20
	TPCMRead  Type = 0x21
	TPCMFrame Type = 0x22
	TPCMWrite Type = 0x23
	TPCMClose Type = 0x24
	TLED      Type = 0x30
	TButton   Type = 0x31
)

var typeNames = map[Type]string{
	THello: "HELLO", TWelcome: "WELCOME", TError: "ERROR", TOK: "OK",
	TSPIConn: "SPI_CONNECT", TSPITx: "SPI_TX", TSPIRx: "SPI_RX", TReset: "RESET", TIRQ: "IRQ",
	TPCMOpen: "PCM_OPEN", TPCMRead: "PCM_READ", TPCMFrame: "PCM_FRAME", TPCMWrite: "PCM_WRITE",
	TPCMClose: "PCM_CLOSE", TLED: "LED", TButton: "BUTTON",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %#02x", uint8(t))
}

// FromClient reports whether t is a message the client sends.
func (t Type) FromClient() bool {
	switch t {
	case THello, TSPIConn, TSPITx, TReset, TPCMOpen, TPCMRead, TPCMWrite, TPCMClose, TLED:
		return true
	}
	return false
}

// FromServer reports whether t is a message the server sends.
func (t Type) FromServer() bool {
	_, known := typeNames[t]
	return known && !t.FromClient()
}

// Error codes of ERROR.
const (
	CodeMalformed = 1
	CodeBusy      = 2
	CodeVersion   = 3
	CodeRefused   = 4
	CodeHardware  = 5
)

// Reset lines of RESET.
const (
	LineSLIC  = 0
	LineRadio = 1
)

// Msg is one message. Which fields count depends on Type; the others are
// zero.
type Msg struct {
	Type Type
	Tag  uint16

	Version uint16 // HELLO, WELCOME
	// Name: HELLO the client's name; WELCOME the board's; LED the LED's;
	// ERROR the message.
	Name      string
	SLIC      string   // WELCOME: the SLIC's name
	RadioDev  string   // WELCOME: the DECT module's serial device
	RadioBaud uint32   // WELCOME
	Slots     uint8    // WELCOME: DECT PCM slots
	LEDs      []string // WELCOME
	Level     uint8    // WELCOME, IRQ: the IRQ line; RESET: the level driven
	Code      uint8    // ERROR
	Hz        uint32   // SPI_CONNECT
	Mode      uint8    // SPI_CONNECT
	Bits      uint8    // SPI_CONNECT
	Read      bool     // SPI_TX: return the bytes clocked in
	Data      []byte   // SPI_TX, SPI_RX
	Line      uint8    // RESET
	Ch        uint8    // PCM_*
	Rate      uint16   // PCM_OPEN
	Samples   []int16  // PCM_FRAME, PCM_WRITE
	State     uint8    // LED
	HeldMs    uint32   // BUTTON
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed virtual-board message")

// ErrTruncated is wrapped when the stream ends inside a message.
var ErrTruncated = errors.New("truncated virtual-board message")

// Append encodes m (header included) onto buf.
func Append(buf []byte, m *Msg) ([]byte, error) {
	start := len(buf)
	buf = append(buf, 0, 0, byte(m.Type), byte(m.Tag>>8), byte(m.Tag))
	str := func(s string) error {
		if len(s) > 255 {
			return fmt.Errorf("%s: string of %d bytes (at most 255)", m.Type, len(s))
		}
		buf = append(buf, byte(len(s)))
		buf = append(buf, s...)
		return nil
	}
	samples := func(s []int16) {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(s)))
		for _, v := range s {
			buf = binary.BigEndian.AppendUint16(buf, uint16(v))
		}
	}
	var err error
	switch m.Type {
	case THello:
		buf = append(buf, Magic...)
		buf = binary.BigEndian.AppendUint16(buf, m.Version)
		err = str(m.Name)
	case TWelcome:
		buf = binary.BigEndian.AppendUint16(buf, m.Version)
		for _, s := range []string{m.Name, m.SLIC, m.RadioDev} {
			if err == nil {
				err = str(s)
			}
		}
		buf = binary.BigEndian.AppendUint32(buf, m.RadioBaud)
		buf = append(buf, m.Slots, m.Level)
		if len(m.LEDs) > 255 {
			return nil, fmt.Errorf("WELCOME: %d LEDs (at most 255)", len(m.LEDs))
		}
		buf = append(buf, byte(len(m.LEDs)))
		for _, s := range m.LEDs {
			if err == nil {
				err = str(s)
			}
		}
	case TError:
		buf = append(buf, m.Code)
		msg := m.Name
		if len(msg) > 255 {
			msg = msg[:252] + "..."
		}
		err = str(msg)
	case TOK:
	case TSPIConn:
		buf = binary.BigEndian.AppendUint32(buf, m.Hz)
		buf = append(buf, m.Mode, m.Bits)
	case TSPITx:
		if len(m.Data) == 0 || len(m.Data) > MaxSPI {
			return nil, fmt.Errorf("SPI_TX: %d bytes (1..%d)", len(m.Data), MaxSPI)
		}
		buf = append(buf, b2u(m.Read))
		buf = append(buf, m.Data...)
	case TSPIRx:
		if len(m.Data) > MaxSPI {
			return nil, fmt.Errorf("SPI_RX: %d bytes (at most %d)", len(m.Data), MaxSPI)
		}
		buf = append(buf, m.Data...)
	case TReset:
		buf = append(buf, m.Line, m.Level)
	case TIRQ:
		buf = append(buf, m.Level)
	case TPCMOpen:
		buf = append(buf, m.Ch)
		buf = binary.BigEndian.AppendUint16(buf, m.Rate)
	case TPCMRead, TPCMClose:
		buf = append(buf, m.Ch)
	case TPCMFrame, TPCMWrite:
		if len(m.Samples) > 2000 {
			return nil, fmt.Errorf("%s: %d samples (at most 2000)", m.Type, len(m.Samples))
		}
		buf = append(buf, m.Ch)
		samples(m.Samples)
	case TLED:
		buf = append(buf, m.State)
		err = str(m.Name)
	case TButton:
		buf = binary.BigEndian.AppendUint32(buf, m.HeldMs)
	default:
		return nil, fmt.Errorf("cannot encode %s", m.Type)
	}
	if err != nil {
		return nil, err
	}
	n := len(buf) - start - 2
	if n > MaxLength {
		return nil, fmt.Errorf("%s: %d bytes (at most %d)", m.Type, n, MaxLength)
	}
	binary.BigEndian.PutUint16(buf[start:], uint16(n))
	return buf, nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// ReadMsg reads one message from r into m, using buf (grown as needed) for
// the frame; m's slices are fresh copies. The stream ending between
// messages returns the reader's error as is (io.EOF at the end); inside
// one, an error wrapping ErrTruncated.
func ReadMsg(r io.Reader, buf []byte, m *Msg) ([]byte, error) {
	if cap(buf) < MaxLength+2 {
		buf = make([]byte, MaxLength+2)
	}
	buf = buf[:2]
	if n, err := io.ReadFull(r, buf); err != nil {
		if n == 0 {
			return buf, err // between messages: io.EOF or the reader's own error
		}
		return buf, fmt.Errorf("%w: the stream ended in the length field (%v)", ErrTruncated, err)
	}
	n := int(binary.BigEndian.Uint16(buf))
	if n < headerLen-2 || n > MaxLength {
		return buf, fmt.Errorf("%w: length %d outside %d..%d", ErrMalformed, n, headerLen-2, MaxLength)
	}
	buf = buf[:2+n]
	if k, err := io.ReadFull(r, buf[2:]); err != nil {
		what := "message"
		if k > 0 {
			what = Type(buf[2]).String()
		}
		return buf, fmt.Errorf("%w: %s: the stream ended %d bytes into a body of %d (%v)", ErrTruncated, what, k, n, err)
	}
	return buf, Decode(buf, m)
}

// Decode decodes one complete frame (length field included) into m.
func Decode(frame []byte, m *Msg) error {
	*m = Msg{}
	if len(frame) < headerLen {
		return fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(frame), headerLen)
	}
	n := int(binary.BigEndian.Uint16(frame))
	if n > MaxLength {
		return fmt.Errorf("%w: length %d over %d", ErrMalformed, n, MaxLength)
	}
	if n != len(frame)-2 {
		return fmt.Errorf("%w: length field %d but %d bytes follow it", ErrMalformed, n, len(frame)-2)
	}
	m.Type = Type(frame[2])
	m.Tag = binary.BigEndian.Uint16(frame[3:])
	d := decoder{b: frame[headerLen:], t: m.Type}
	switch m.Type {
	case THello:
		if magic := d.bytes(4); d.err == nil && string(magic) != Magic {
			d.fail("magic %q, want %q", magic, Magic)
		}
		m.Version = d.u16("version")
		m.Name = d.str("client name")
	case TWelcome:
		m.Version = d.u16("version")
		m.Name = d.str("board name")
		m.SLIC = d.str("SLIC name")
		m.RadioDev = d.str("radio device")
		m.RadioBaud = d.u32("radio baud")
		m.Slots = d.u8("slots")
		m.Level = d.level("IRQ level")
		k := int(d.u8("LED count"))
		for i := 0; i < k && d.err == nil; i++ {
			m.LEDs = append(m.LEDs, d.str(fmt.Sprintf("LED %d name", i)))
		}
	case TError:
		m.Code = d.u8("code")
		m.Name = d.str("message")
	case TOK:
	case TSPIConn:
		m.Hz = d.u32("clock")
		m.Mode = d.u8("mode")
		m.Bits = d.u8("bits")
	case TSPITx:
		m.Read = d.level("read flag") == 1
		if d.err == nil && (len(d.b) == 0 || len(d.b) > MaxSPI) {
			d.fail("%d bytes to clock (1..%d)", len(d.b), MaxSPI)
		}
		m.Data = d.bytes(len(d.b))
	case TSPIRx:
		m.Data = d.bytes(len(d.b))
	case TReset:
		m.Line = d.u8("line")
		if d.err == nil && m.Line > LineRadio {
			d.fail("line %d (0 SLIC, 1 DECT module)", m.Line)
		}
		m.Level = d.level("level")
	case TIRQ:
		m.Level = d.level("level")
	case TPCMOpen:
		m.Ch = d.u8("channel")
		m.Rate = d.u16("rate")
	case TPCMRead, TPCMClose:
		m.Ch = d.u8("channel")
	case TPCMFrame, TPCMWrite:
		m.Ch = d.u8("channel")
		k := int(d.u16("sample count"))
		raw := d.bytes(2 * k)
		if d.err == nil {
			m.Samples = make([]int16, k)
			for i := range m.Samples {
				m.Samples[i] = int16(binary.BigEndian.Uint16(raw[2*i:]))
			}
		}
	case TLED:
		m.State = d.u8("state")
		if d.err == nil && m.State > 3 {
			d.fail("LED state %d (0..3)", m.State)
		}
		m.Name = d.str("LED name")
	case TButton:
		m.HeldMs = d.u32("held")
	default:
		return fmt.Errorf("%w: unknown %s", ErrMalformed, m.Type)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		t := m.Type
		*m = Msg{}
		return fmt.Errorf("%w: %s: %v", ErrMalformed, t, d.err)
	}
	return nil
}

type decoder struct {
	b   []byte
	t   Type
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, a...)
	}
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("body ends %d bytes short", n-len(d.b))
		return nil
	}
	out := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return out
}

func (d *decoder) need(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("body ends before the %s", what)
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) u8(what string) uint8 {
	if b := d.need(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.need(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.need(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) level(what string) uint8 {
	v := d.u8(what)
	if d.err == nil && v > 1 {
		d.fail("%s %d (0 or 1)", what, v)
	}
	return v
}

func (d *decoder) str(what string) string {
	n := int(d.u8(what + " length"))
	if d.err != nil {
		return ""
	}
	if n > len(d.b) {
		d.fail("%s of %d bytes runs %d bytes past the body", what, n, n-len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
