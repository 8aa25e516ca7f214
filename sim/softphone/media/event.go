package media

import (
	"encoding/binary"
	"fmt"
)

// Event is one RFC 4733 telephone-event payload (§2.3).
type Event struct {
	Code     uint8  // 0-9 digits, 10 '*', 11 '#', 12-15 A-D, 16 flash
	End      bool   // E bit
	Volume   uint8  // 0..63, dBm0 with the sign dropped
	Duration uint16 // in RTP timestamp units since the event start
}

// EventPayloadSize is the size of one telephone-event payload.
const EventPayloadSize = 4

// MarshalTo writes the 4-byte payload into b (len(b) >= 4).
func (e Event) MarshalTo(b []byte) {
	b[0] = e.Code
	b[1] = e.Volume & 0x3F
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
}

// ParseEvent decodes a telephone-event payload. Redundant (RFC 2198) or
// multi-event payloads are not accepted: exactly one 4-byte event.
func ParseEvent(b []byte) (Event, error) {
	if len(b) != EventPayloadSize {
		return Event{}, fmt.Errorf("telephone-event payload is %d bytes, want 4", len(b))
	}
	e := Event{Code: b[0], End: b[1]&0x80 != 0, Volume: b[1] & 0x3F, Duration: binary.BigEndian.Uint16(b[2:4])}
	if e.Code > 16 {
		return Event{}, fmt.Errorf("telephone-event code %d is not a DTMF digit or flash", e.Code)
	}
	return e, nil
}

// DigitCode maps a DTMF character to its RFC 4733 event code.
func DigitCode(d rune) (uint8, error) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, nil
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, nil
	}
	return 0, fmt.Errorf("%q is not a DTMF digit", d)
}

// CodeDigit maps an RFC 4733 event code to its character ('!' for flash).
func CodeDigit(c uint8) rune {
	switch {
	case c <= 9:
		return rune('0' + c)
	case c == 10:
		return '*'
	case c == 11:
		return '#'
	case c <= 15:
		return rune('A' + c - 12)
	case c == 16:
		return '!'
	}
	return '?'
}
