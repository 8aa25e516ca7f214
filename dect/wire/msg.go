package wire

import (
	"errors"
	"fmt"
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
	// Protocol 1.1 (send only to a module whose HELLO-CNF says minor ≥ 1).
	TDeviceStatus Type = 0x17
	TLocate       Type = 0x18
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
	// Protocol 1.1.
	TLinkInd Type = 0xC9
)

// IsRequest, IsConfirm and IsIndication classify a type.
func (t Type) IsRequest() bool    { return t >= 0x01 && t <= TLocate }
func (t Type) IsConfirm() bool    { return t&0xC0 == 0x80 && (t &^ CnfBit).IsRequest() }
func (t Type) IsIndication() bool { return t >= TRegClosedInd && t <= TLinkInd }

var typeNames = map[Type]string{
	THello: "HELLO", TKeepalive: "KEEPALIVE", TRegOpen: "REG-OPEN", TRegClose: "REG-CLOSE",
	TPairChall: "PAIR-CHALLENGE", TPairAccept: "PAIR-ACCEPT", TPairReject: "PAIR-REJECT",
	TAuth: "AUTH", TAuthResult: "AUTH-RESULT", TDeviceList: "DEVICE-LIST", TDeviceAdd: "DEVICE-ADD",
	TDeregister: "DEREGISTER", TPage: "PAGE", TRing: "RING", TCallProceed: "CALL-PROCEED",
	TRelease: "RELEASE", TTone: "TONE", TAudioConnect: "AUDIO-CONNECT", TAudioDisc: "AUDIO-DISCONNECT",
	TMWI: "MWI", TCallWaiting: "CALL-WAITING", TDateTime: "DATE-TIME",
	TDeviceStatus: "DEVICE-STATUS", TLocate: "LOCATE", TLinkInd: "LINK-IND",
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

// Link states (DEVICE-STATUS-CNF, LINK-IND; protocol 1.1).
const (
	LinkInRange    byte = 0x00 // the device is on and in radio contact
	LinkOutOfRange byte = 0x01 // radio contact lost (range, interference)
	LinkOff        byte = 0x02 // the device detached: switched off or its battery died
	LinkMax             = LinkOff
)

// Unknown or absent measurements (protocol 1.1).
const (
	RSSIUnknown    int8 = -128 // no signal measured
	QualityUnknown byte = 0xFF // link quality not measured
	BatteryNone    byte = 0xFF // no battery (mains powered) or not reported
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
	// Bare marks a refusal (Status not OK) that ended at its STATUS,
	// without the fields a success carries (docs/radio-protocol.md §4).
	Bare bool

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

	// DEVICE-STATUS-CNF, LINK-IND (protocol 1.1). Firmware carries the
	// device's firmware in DEVICE-STATUS-CNF.
	Link    byte // a Link* state
	RSSI    int8 // received signal strength at the base, dBm; RSSIUnknown
	Quality byte // link quality 0–100 % (frames received intact); QualityUnknown
	Battery byte // battery charge 0–100 %; BatteryNone
}

// Errors.
var (
	ErrShort    = errors.New("wire: message truncated")
	ErrTrailing = errors.New("wire: trailing bytes after message")
)

// IsKey reports whether c may appear in KEYS-IND: 0–9, * and #, and R
// (register recall: the hook flash of a Linx's analog phone).
func IsKey(c rune) bool { return c >= '0' && c <= '9' || c == '*' || c == '#' || c == 'R' }
