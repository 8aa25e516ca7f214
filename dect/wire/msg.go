package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Type is a message type (docs/radio-protocol.md §4). Host requests are
// 0x01–0x3F; the module answers each with a confirmation of the same tid and
// type|0x80. Module indications are 0xC0–0xFF and carry tid 0.
type Type byte

// Host → module requests.
const (
	THello        Type = 0x01
	TKeepalive    Type = 0x02
	TRegOpen      Type = 0x03
	TRegClose     Type = 0x04
	TPairChall    Type = 0x05
	TPairAccept   Type = 0x06
	TPairReject   Type = 0x07
	TAuth         Type = 0x08
	TAuthResult   Type = 0x09
	TDeviceList   Type = 0x0A
	TDeviceAdd    Type = 0x0B
	TDeregister   Type = 0x0C
	TPage         Type = 0x0D
	TRing         Type = 0x0E
	TCallProceed  Type = 0x0F
	TRelease      Type = 0x10
	TTone         Type = 0x11
	TAudioConnect Type = 0x12
	TAudioDisc    Type = 0x13
	TMWI          Type = 0x14
	TCallWaiting  Type = 0x15
	TDateTime     Type = 0x16
)

// Confirmation bit: the module's answer to request T has type T|CnfBit.
const CnfBit Type = 0x80

// Module → host indications.
const (
	TRegClosedInd Type = 0xC0
	TPairReqInd   Type = 0xC1
	TAttachInd    Type = 0xC2
	TDetachInd    Type = 0xC3
	TSetupInd     Type = 0xC4
	TAlertingInd  Type = 0xC5
	TConnectInd   Type = 0xC6
	TReleaseInd   Type = 0xC7
	TKeysInd      Type = 0xC8
)

// IsRequest, IsConfirm and IsIndication classify a type.
func (t Type) IsRequest() bool    { return t >= 0x01 && t <= TDateTime }
func (t Type) IsConfirm() bool    { return t&0xC0 == 0x80 && (t &^ CnfBit).IsRequest() }
func (t Type) IsIndication() bool { return t >= TRegClosedInd && t <= TKeysInd }

var typeNames = map[Type]string{
	THello: "HELLO", TKeepalive: "KEEPALIVE", TRegOpen: "REG-OPEN", TRegClose: "REG-CLOSE",
	TPairChall: "PAIR-CHALLENGE", TPairAccept: "PAIR-ACCEPT", TPairReject: "PAIR-REJECT",
	TAuth: "AUTH", TAuthResult: "AUTH-RESULT", TDeviceList: "DEVICE-LIST", TDeviceAdd: "DEVICE-ADD",
	TDeregister: "DEREGISTER", TPage: "PAGE", TRing: "RING", TCallProceed: "CALL-PROCEED",
	TRelease: "RELEASE", TTone: "TONE", TAudioConnect: "AUDIO-CONNECT", TAudioDisc: "AUDIO-DISCONNECT",
	TMWI: "MWI", TCallWaiting: "CALL-WAITING", TDateTime: "DATE-TIME",
	TRegClosedInd: "REG-CLOSED-IND", TPairReqInd: "PAIR-REQ-IND", TAttachInd: "ATTACH-IND",
	TDetachInd: "DETACH-IND", TSetupInd: "SETUP-IND", TAlertingInd: "ALERTING-IND",
	TConnectInd: "CONNECT-IND", TReleaseInd: "RELEASE-IND", TKeysInd: "KEYS-IND",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	if t.IsConfirm() {
		return (t &^ CnfBit).String() + "-CNF"
	}
	return fmt.Sprintf("Type(0x%02x)", byte(t))
}

// Status is the first body byte of every confirmation.
type Status byte

const (
	StatusOK          Status = 0x00
	StatusBadRequest  Status = 0x01 // malformed or out-of-range field
	StatusUnknown     Status = 0x02 // unknown handset or IPEI
	StatusUnreachable Status = 0x03 // device off or out of range
	StatusBusy        Status = 0x04 // wrong state for this request
	StatusFull        Status = 0x05 // module table full
	StatusNotOpen     Status = 0x06 // registration window not open
	StatusNoResponse  Status = 0x07 // device did not answer over the air
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusBadRequest:
		return "bad-request"
	case StatusUnknown:
		return "unknown-device"
	case StatusUnreachable:
		return "unreachable"
	case StatusBusy:
		return "busy"
	case StatusFull:
		return "table-full"
	case StatusNotOpen:
		return "registration-not-open"
	case StatusNoResponse:
		return "no-response"
	}
	return fmt.Sprintf("status(0x%02x)", byte(s))
}

// Error makes a non-OK status usable as an error.
func (s Status) Error() string { return "module: " + s.String() }

// DeviceType is the kind of a DECT device.
type DeviceType byte

const (
	Linx    DeviceType = 0x01
	Headset DeviceType = 0x02
)

func (d DeviceType) String() string {
	switch d {
	case Linx:
		return "linx"
	case Headset:
		return "headset"
	}
	return fmt.Sprintf("device-type(0x%02x)", byte(d))
}

// Valid reports whether d is a known device type.
func (d DeviceType) Valid() bool { return d == Linx || d == Headset }

// CapWideband is bit 0 of the capability byte.
const CapWideband byte = 0x01

// Registration close reasons (REG-CLOSED-IND, PAIR-REJECT reasons share the
// numbering where they overlap).
const (
	CloseTimeout byte = 0x01
	ClosePaired  byte = 0x02
	CloseHost    byte = 0x03
)

// Pair reject reasons.
const (
	RejectWrongPIN  byte = 0x01
	RejectFull      byte = 0x02
	RejectNotOpen   byte = 0x03
	RejectLockedOut byte = 0x04
	RejectStorage   byte = 0x05
)

// Release reasons.
const (
	ReleaseNormal      byte = 0x00
	ReleaseBusy        byte = 0x01
	ReleaseAuthFailed  byte = 0x02
	ReleaseNotRegister byte = 0x03
	ReleaseOutOfRange  byte = 0x04
	ReleaseModuleReset byte = 0x05
	ReleaseRejected    byte = 0x06
)

// Caller-ID presentation (RING, CALL-WAITING).
const (
	CLINumber     byte = 0x00 // number (and maybe name) available
	CLIPrivate    byte = 0x01 // withheld by the caller
	CLIOutOfArea  byte = 0x02 // unavailable
	CLIMaxReasons byte = 0x02
)

// Audio rate codes.
const (
	RateNB byte = 0x00 // 8 kHz 16-bit linear
	RateWB byte = 0x01 // 16 kHz 16-bit linear
)

// Tones.
const (
	ToneOff byte = iota
	ToneDial
	ToneStutterDial
	ToneRingback
	ToneBusy
	ToneReorder
	ToneCallWaiting
	ToneSIT
	ToneMax = ToneSIT
)

// Field limits.
const (
	MaxText    = 32 // number, name, model, firmware, digits
	MaxDevices = 32 // entries in one DEVICE-LIST-CNF
)

// IPEI is a 36-bit International Portable Equipment Identity: a 16-bit
// equipment manufacturer code and a 20-bit serial number. On the wire it is
// 5 bytes, big-endian, top 4 bits zero.
type IPEI struct {
	EMC uint16
	PSN uint32 // 20 bits
}

// Bytes returns the 5-byte wire form.
func (i IPEI) Bytes() [5]byte {
	v := uint64(i.EMC)<<20 | uint64(i.PSN&0xFFFFF)
	return [5]byte{byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// IPEIFromBytes decodes the wire form.
func IPEIFromBytes(b [5]byte) (IPEI, error) {
	if b[0]&0xF0 != 0 {
		return IPEI{}, fmt.Errorf("wire: IPEI % x has non-zero top bits", b[:])
	}
	v := uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	return IPEI{EMC: uint16(v >> 20), PSN: uint32(v & 0xFFFFF)}, nil
}

// String renders the IPEI the way devices print it: 5-digit EMC, 7-digit
// PSN and a check digit (weighted sum of the 12 digits mod 11, '*' for 10).
func (i IPEI) String() string {
	s := fmt.Sprintf("%05d%07d", i.EMC, i.PSN&0xFFFFF)
	sum := 0
	for k, c := range s {
		sum += (k + 1) * int(c-'0')
	}
	ck := byte('0' + sum%11)
	if sum%11 == 10 {
		ck = '*'
	}
	return s + string(ck)
}

// DateTime is the 7-byte date and time field. The zero value means "none".
type DateTime struct {
	Year                       uint16
	Month, Day, Hour, Min, Sec byte
}

// IsZero reports whether no time is carried.
func (d DateTime) IsZero() bool { return d == DateTime{} }

func (d DateTime) valid() bool {
	if d.IsZero() {
		return true
	}
	return d.Year >= 2000 && d.Year <= 2099 && d.Month >= 1 && d.Month <= 12 && d.Day >= 1 && d.Day <= 31 &&
		d.Hour <= 23 && d.Min <= 59 && d.Sec <= 59
}

// DeviceEntry is one subscription in the module's table.
type DeviceEntry struct {
	Handset byte
	IPEI    IPEI
	Type    DeviceType
	Caps    byte
	Model   string
}

// Msg is one decoded message: a header and exactly one body, selected by
// Type. Fields not used by Type are zero.
type Msg struct {
	Type Type
	TID  byte

	Status Status // every confirmation

	// HELLO / HELLO-CNF
	ProtoMajor, ProtoMinor byte
	RFPI                   [5]byte
	Slots                  byte // HELLO-CNF: PCM slots the module has
	Capacity               byte // HELLO-CNF: size of the module's device table
	Firmware               string

	Counter uint32 // KEEPALIVE(-CNF)

	// REG-OPEN
	Seconds uint16
	PIN     string

	Handset byte
	IPEI    IPEI
	DevType DeviceType
	Caps    byte
	Model   string

	RS, RandF, RandP [8]byte // PAIR-CHALLENGE, AUTH, PAIR-CHALLENGE-CNF
	Res              [4]byte // PAIR-CHALLENGE-CNF, AUTH-CNF (RES1), PAIR-ACCEPT (RES2)

	Reason byte // PAIR-REJECT, REG-CLOSED-IND, RELEASE(-IND), AUTH-RESULT (0 accept, 1 reject)
	On     byte // PAGE, MWI
	Count  byte // MWI: messages waiting (0 = unknown)

	Cadence byte
	CLI     byte
	Time    DateTime
	Number  string
	Name    string

	Tone byte
	Slot byte
	Rate byte

	Digits string

	Devices []DeviceEntry // DEVICE-LIST-CNF
}

// Errors.
var (
	ErrShort    = errors.New("wire: message truncated")
	ErrTrailing = errors.New("wire: trailing bytes after message")
)

// Append appends the encoded message to dst.
func (m *Msg) Append(dst []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return dst, err
	}
	dst = append(dst, byte(m.Type), m.TID)
	t := m.Type
	if t.IsConfirm() {
		dst = append(dst, byte(m.Status))
		t &^= CnfBit
		switch t {
		case THello:
			dst = append(dst, m.ProtoMajor, m.ProtoMinor)
			dst = append(dst, m.RFPI[:]...)
			dst = append(dst, m.Slots, m.Capacity)
			dst = appendStr(dst, m.Firmware)
		case TKeepalive:
			dst = binary.BigEndian.AppendUint32(dst, m.Counter)
		case TPairChall:
			dst = append(dst, m.Res[:]...)
			dst = append(dst, m.RandP[:]...)
		case TAuth:
			dst = append(dst, m.Res[:]...)
		case TDeviceList:
			dst = append(dst, byte(len(m.Devices)))
			for _, e := range m.Devices {
				dst = appendEntry(dst, e)
			}
		}
		return dst, nil
	}
	switch t {
	case THello:
		dst = append(dst, m.ProtoMajor, m.ProtoMinor)
	case TKeepalive:
		dst = binary.BigEndian.AppendUint32(dst, m.Counter)
	case TRegOpen:
		dst = binary.BigEndian.AppendUint16(dst, m.Seconds)
		dst = appendStr(dst, m.PIN)
	case TRegClose, TDeviceList:
	case TPairChall:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.RS[:]...)
		dst = append(dst, m.RandF[:]...)
	case TPairAccept:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.Handset)
		dst = append(dst, m.Res[:]...)
	case TPairReject:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.Reason)
	case TAuth:
		dst = append(dst, m.Handset)
		dst = append(dst, m.RS[:]...)
		dst = append(dst, m.RandF[:]...)
	case TAuthResult:
		dst = append(dst, m.Handset, m.Reason)
	case TDeviceAdd:
		dst = appendEntry(dst, DeviceEntry{Handset: m.Handset, IPEI: m.IPEI, Type: m.DevType, Caps: m.Caps, Model: m.Model})
	case TDeregister:
		dst = append(dst, m.Handset)
		dst = appendIPEI(dst, m.IPEI)
	case TPage:
		dst = append(dst, m.On)
	case TRing:
		dst = append(dst, m.Handset, m.Cadence, m.CLI)
		dst = appendTime(dst, m.Time)
		dst = appendStr(dst, m.Number)
		dst = appendStr(dst, m.Name)
	case TCallProceed, TAudioDisc:
		dst = append(dst, m.Handset)
	case TRelease:
		dst = append(dst, m.Handset, m.Reason)
	case TTone:
		dst = append(dst, m.Handset, m.Tone)
	case TAudioConnect:
		dst = append(dst, m.Handset, m.Slot, m.Rate)
	case TMWI:
		dst = append(dst, m.Handset, m.On, m.Count)
	case TCallWaiting:
		dst = append(dst, m.Handset, m.CLI)
		dst = appendStr(dst, m.Number)
		dst = appendStr(dst, m.Name)
	case TDateTime:
		dst = appendTime(dst, m.Time)
	case TRegClosedInd:
		dst = append(dst, m.Reason)
	case TPairReqInd:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, byte(m.DevType), m.Caps)
		dst = appendStr(dst, m.Model)
	case TAttachInd:
		dst = append(dst, m.Handset)
		dst = appendIPEI(dst, m.IPEI)
	case TDetachInd, TSetupInd, TAlertingInd, TConnectInd:
		dst = append(dst, m.Handset)
	case TReleaseInd:
		dst = append(dst, m.Handset, m.Reason)
	case TKeysInd:
		dst = append(dst, m.Handset)
		dst = appendStr(dst, m.Digits)
	}
	return dst, nil
}

func (m *Msg) validate() error {
	t := m.Type
	if !t.IsRequest() && !t.IsConfirm() && !t.IsIndication() {
		return fmt.Errorf("wire: unknown message type 0x%02x", byte(t))
	}
	if t.IsIndication() && m.TID != 0 {
		return fmt.Errorf("wire: %v: indications carry tid 0, not %d", t, m.TID)
	}
	if !t.IsIndication() && m.TID == 0 {
		return fmt.Errorf("wire: %v: requests and confirmations need a non-zero tid", t)
	}
	for name, s := range map[string]string{"firmware": m.Firmware, "model": m.Model, "number": m.Number, "name": m.Name, "digits": m.Digits} {
		if len(s) > MaxText {
			return fmt.Errorf("wire: %v: %s of %d bytes exceeds %d", t, name, len(s), MaxText)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("wire: %v: %s is not UTF-8", t, name)
		}
	}
	if len(m.Devices) > MaxDevices {
		return fmt.Errorf("wire: %v: %d devices exceeds %d", t, len(m.Devices), MaxDevices)
	}
	for _, e := range m.Devices {
		if len(e.Model) > MaxText || !utf8.ValidString(e.Model) {
			return fmt.Errorf("wire: %v: device %d: bad model %q", t, e.Handset, e.Model)
		}
	}
	if m.IPEI.PSN > 0xFFFFF {
		return fmt.Errorf("wire: %v: IPEI serial %d exceeds 20 bits", t, m.IPEI.PSN)
	}
	switch t {
	case TRegOpen:
		if err := CheckPIN(m.PIN); err != nil {
			return err
		}
	case TRing, TCallWaiting, TDateTime:
		if !m.Time.valid() {
			return fmt.Errorf("wire: %v: invalid date-time %+v", t, m.Time)
		}
	}
	return nil
}

// CheckPIN validates a registration PIN: 4 to 8 decimal digits.
func CheckPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 8 {
		return fmt.Errorf("wire: PIN must have 4 to 8 digits, got %d", len(pin))
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return fmt.Errorf("wire: PIN must be decimal digits only")
		}
	}
	return nil
}

func appendStr(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendIPEI(dst []byte, i IPEI) []byte {
	b := i.Bytes()
	return append(dst, b[:]...)
}

func appendTime(dst []byte, d DateTime) []byte {
	dst = binary.BigEndian.AppendUint16(dst, d.Year)
	return append(dst, d.Month, d.Day, d.Hour, d.Min, d.Sec)
}

func appendEntry(dst []byte, e DeviceEntry) []byte {
	dst = append(dst, e.Handset)
	dst = appendIPEI(dst, e.IPEI)
	dst = append(dst, byte(e.Type), e.Caps)
	return appendStr(dst, e.Model)
}

// reader walks a message body; the first error sticks.
type reader struct {
	p   []byte
	err error
	t   Type
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w (in %v)", err, r.t)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.p) < n {
		r.fail(ErrShort)
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *reader) u8() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) arr(dst []byte) { copy(dst, r.take(len(dst))) }

func (r *reader) str(field string) string {
	n := int(r.u8())
	if r.err == nil && n > MaxText {
		r.fail(fmt.Errorf("wire: %s of %d bytes exceeds %d", field, n, MaxText))
		return ""
	}
	b := r.take(n)
	if r.err == nil && !utf8.Valid(b) {
		r.fail(fmt.Errorf("wire: %s is not UTF-8", field))
		return ""
	}
	return string(b)
}

func (r *reader) ipei() IPEI {
	var b [5]byte
	r.arr(b[:])
	if r.err != nil {
		return IPEI{}
	}
	i, err := IPEIFromBytes(b)
	if err != nil {
		r.fail(err)
	}
	return i
}

func (r *reader) time() DateTime {
	d := DateTime{Year: r.u16(), Month: r.u8(), Day: r.u8(), Hour: r.u8(), Min: r.u8(), Sec: r.u8()}
	if r.err == nil && !d.valid() {
		r.fail(fmt.Errorf("wire: invalid date-time %d-%d-%d %d:%d:%d", d.Year, d.Month, d.Day, d.Hour, d.Min, d.Sec))
	}
	return d
}

func (r *reader) devType() DeviceType {
	t := DeviceType(r.u8())
	if r.err == nil && !t.Valid() {
		r.fail(fmt.Errorf("wire: unknown device type 0x%02x", byte(t)))
	}
	return t
}

func (r *reader) handset() byte {
	h := r.u8()
	if r.err == nil && h == 0 {
		r.fail(errors.New("wire: handset number 0 is invalid"))
	}
	return h
}

func (r *reader) entry() DeviceEntry {
	return DeviceEntry{Handset: r.handset(), IPEI: r.ipei(), Type: r.devType(), Caps: r.u8(), Model: r.str("model")}
}

func (r *reader) max(v, max byte, field string) byte {
	if r.err == nil && v > max {
		r.fail(fmt.Errorf("wire: %s %d out of range (max %d)", field, v, max))
	}
	return v
}

// Decode parses one message (a DATA frame's payload). It validates every
// field and returns an error naming what was wrong; on error the returned
// message must not be used. Strings are copied, so m does not alias p.
func Decode(p []byte) (Msg, error) {
	if len(p) < 2 {
		return Msg{}, fmt.Errorf("wire: message of %d bytes has no header", len(p))
	}
	m := Msg{Type: Type(p[0]), TID: p[1]}
	if err := DecodeBody(&m, p[2:]); err != nil {
		return Msg{}, err
	}
	return m, nil
}

// DecodeBody parses the body of a message whose Type and TID are already
// set in m.
func DecodeBody(m *Msg, body []byte) error {
	t := m.Type
	r := &reader{p: body, t: t}
	switch {
	case t.IsIndication():
		if m.TID != 0 {
			return fmt.Errorf("wire: %v with non-zero tid %d", t, m.TID)
		}
	case t.IsRequest() || t.IsConfirm():
		if m.TID == 0 {
			return fmt.Errorf("wire: %v with tid 0", t)
		}
	default:
		return fmt.Errorf("wire: unknown message type 0x%02x", byte(t))
	}
	if t.IsConfirm() {
		m.Status = Status(r.u8())
		if r.err == nil && m.Status > StatusNoResponse {
			r.fail(fmt.Errorf("wire: unknown status 0x%02x", byte(m.Status)))
		}
		switch t &^ CnfBit {
		case THello:
			m.ProtoMajor, m.ProtoMinor = r.u8(), r.u8()
			r.arr(m.RFPI[:])
			m.Slots, m.Capacity = r.u8(), r.u8()
			m.Firmware = r.str("firmware")
		case TKeepalive:
			m.Counter = r.u32()
		case TPairChall:
			r.arr(m.Res[:])
			r.arr(m.RandP[:])
		case TAuth:
			r.arr(m.Res[:])
		case TDeviceList:
			n := r.u8()
			if r.err == nil && n > MaxDevices {
				r.fail(fmt.Errorf("wire: device list of %d exceeds %d", n, MaxDevices))
			}
			if r.err == nil && n > 0 {
				m.Devices = make([]DeviceEntry, 0, min(int(n), len(r.p)/9+1))
				for i := 0; i < int(n) && r.err == nil; i++ {
					m.Devices = append(m.Devices, r.entry())
				}
			}
		}
	} else {
		switch t {
		case THello:
			m.ProtoMajor, m.ProtoMinor = r.u8(), r.u8()
		case TKeepalive:
			m.Counter = r.u32()
		case TRegOpen:
			m.Seconds = r.u16()
			m.PIN = r.str("PIN")
			if r.err == nil {
				if err := CheckPIN(m.PIN); err != nil {
					r.fail(err)
				}
			}
		case TRegClose, TDeviceList:
		case TPairChall:
			m.IPEI = r.ipei()
			r.arr(m.RS[:])
			r.arr(m.RandF[:])
		case TPairAccept:
			m.IPEI = r.ipei()
			m.Handset = r.handset()
			r.arr(m.Res[:])
		case TPairReject:
			m.IPEI = r.ipei()
			m.Reason = r.u8()
		case TAuth:
			m.Handset = r.handset()
			r.arr(m.RS[:])
			r.arr(m.RandF[:])
		case TAuthResult:
			m.Handset = r.handset()
			m.Reason = r.max(r.u8(), 1, "auth result")
		case TDeviceAdd:
			e := r.entry()
			m.Handset, m.IPEI, m.DevType, m.Caps, m.Model = e.Handset, e.IPEI, e.Type, e.Caps, e.Model
		case TDeregister:
			m.Handset = r.handset()
			m.IPEI = r.ipei()
		case TPage:
			m.On = r.max(r.u8(), 1, "page flag")
		case TRing:
			m.Handset = r.handset()
			m.Cadence = r.max(r.u8(), 5, "cadence")
			m.CLI = r.max(r.u8(), CLIMaxReasons, "caller-ID presentation")
			m.Time = r.time()
			m.Number = r.str("number")
			m.Name = r.str("name")
		case TCallProceed, TAudioDisc:
			m.Handset = r.handset()
		case TRelease:
			m.Handset = r.handset()
			m.Reason = r.u8()
		case TTone:
			m.Handset = r.handset()
			m.Tone = r.max(r.u8(), ToneMax, "tone")
		case TAudioConnect:
			m.Handset = r.handset()
			m.Slot = r.u8()
			m.Rate = r.max(r.u8(), RateWB, "rate")
		case TMWI:
			m.Handset = r.handset()
			m.On = r.max(r.u8(), 1, "MWI flag")
			m.Count = r.u8()
		case TCallWaiting:
			m.Handset = r.handset()
			m.CLI = r.max(r.u8(), CLIMaxReasons, "caller-ID presentation")
			m.Number = r.str("number")
			m.Name = r.str("name")
		case TDateTime:
			m.Time = r.time()
			if r.err == nil && m.Time.IsZero() {
				r.fail(errors.New("wire: DATE-TIME without a date"))
			}
		case TRegClosedInd:
			m.Reason = r.u8()
			if r.err == nil && (m.Reason < CloseTimeout || m.Reason > CloseHost) {
				r.fail(fmt.Errorf("wire: unknown close reason 0x%02x", m.Reason))
			}
		case TPairReqInd:
			m.IPEI = r.ipei()
			m.DevType = r.devType()
			m.Caps = r.u8()
			m.Model = r.str("model")
		case TAttachInd:
			m.Handset = r.handset()
			m.IPEI = r.ipei()
		case TDetachInd, TSetupInd, TAlertingInd, TConnectInd:
			m.Handset = r.handset()
		case TReleaseInd:
			m.Handset = r.handset()
			m.Reason = r.u8()
		case TKeysInd:
			m.Handset = r.handset()
			m.Digits = r.str("digits")
			if r.err == nil {
				if m.Digits == "" {
					r.fail(errors.New("wire: KEYS-IND without keys"))
				}
				for _, c := range m.Digits {
					if !IsKey(c) {
						r.fail(fmt.Errorf("wire: KEYS-IND: invalid key %q", c))
						break
					}
				}
			}
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.p) != 0 {
		return fmt.Errorf("%w: %d bytes (in %v)", ErrTrailing, len(r.p), t)
	}
	return nil
}

// IsKey reports whether c may appear in KEYS-IND: 0–9, * and #, and R
// (register recall: the hook flash of a Linx's analog phone).
func IsKey(c rune) bool { return c >= '0' && c <= '9' || c == '*' || c == '#' || c == 'R' }
