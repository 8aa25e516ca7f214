package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RFC 4733 event codes beyond the digits.
const (
	EventStar  = 10
	EventPound = 11
	EventFlash = 16 // hook flash
)

// Digit is one telephone event received from the peer (RFC 4733), reported
// once when it ends.
type Digit struct {
	Event    uint8         // 0..9 digits, 10 '*', 11 '#', 12..15 A..D, 16 flash
	Duration time.Duration // total duration of the event
	Volume   int           // power level, dBm0 below zero (0..63)
}

// Rune returns the character of the event: '0'..'9', '*', '#', 'A'..'D',
// 'F' for hook flash, '?' for other events.
func (d Digit) Rune() rune { return eventRune(d.Event) }

func eventRune(e uint8) rune {
	switch {
	case e <= 9:
		return rune('0' + e)
	case e == EventStar:
		return '*'
	case e == EventPound:
		return '#'
	case e >= 12 && e <= 15:
		return rune('A' + e - 12)
	case e == EventFlash:
		return 'F'
	}
	return '?'
}

// EventCode returns the RFC 4733 event code of a DTMF character
// ('0'-'9', '*', '#', 'A'-'D' or 'a'-'d', 'F' or '!' for hook flash).
func EventCode(r rune) (uint8, error) {
	switch {
	case r >= '0' && r <= '9':
		return uint8(r - '0'), nil
	case r == '*':
		return EventStar, nil
	case r == '#':
		return EventPound, nil
	case r >= 'A' && r <= 'D':
		return uint8(12 + r - 'A'), nil
	case r >= 'a' && r <= 'd':
		return uint8(12 + r - 'a'), nil
	case r == 'F' || r == 'f' || r == '!':
		return EventFlash, nil
	}
	return 0, fmt.Errorf("media: %q is not a DTMF digit (0-9 * # A-D, F for flash)", r)
}

// TelephoneEvent is the 4-octet RFC 4733 §2.3 payload.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8  // 0..63
	Duration uint16 // RTP timestamp units
}

// MarshalTo writes the payload into b (len >= 4) and returns 4.
func (e TelephoneEvent) MarshalTo(b []byte) int {
	b[0] = e.Event
	b[1] = e.Volume & 0x3F
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return 4
}

// ParseTelephoneEvent parses an RFC 4733 payload. Only the first event
// block is read; trailing octets (several events in one packet) are
// ignored. Errors name the field that is wrong.
func ParseTelephoneEvent(b []byte) (TelephoneEvent, error) {
	if len(b) < 4 {
		return TelephoneEvent{}, fmt.Errorf("media: telephone-event payload is %d octets, want 4", len(b))
	}
	e := TelephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}
	// R bit (0x40) is ignored by receivers (§2.3.3).
	return e, nil
}

// dtmfRx turns the received event packet stream into one report per event.
type dtmfRx struct {
	active   bool
	ts       uint32
	ev       TelephoneEvent
	reported bool
	idle     int // playout ticks since the last packet of the active event
}

// packet handles one event packet; it returns a digit to report, if any.
// A packet starts a new event when its timestamp is newer than the current
// event's or when it carries the marker bit (a sender that restarted its
// timestamps); older unmarked packets are late retransmissions.
func (r *dtmfRx) packet(ts uint32, marker bool, e TelephoneEvent) (Digit, bool) {
	if r.active && ts == r.ts && e.Event == r.ev.Event {
		r.idle = 0
		if e.Duration > r.ev.Duration {
			r.ev.Duration = e.Duration
		}
		if e.End && !r.reported {
			r.ev.End = true
			r.reported = true
			return r.digit(), true
		}
		return Digit{}, false
	}
	if r.active && int32(ts-r.ts) < 0 && !marker {
		return Digit{}, false // retransmission of an older event
	}
	var out Digit
	var ok bool
	if r.active && !r.reported {
		out, ok = r.digit(), true // previous event's end packets were lost
	}
	r.active, r.ts, r.ev, r.reported, r.idle = true, ts, e, false, 0
	if e.End {
		r.reported = true
		if ok {
			// Report the lost-end one now, this one on the next tick.
			r.reported = false
			return out, true
		}
		return r.digit(), true
	}
	return out, ok
}

// tick is called every 10 ms playout tick; an event without an end packet
// for 500 ms is reported then.
func (r *dtmfRx) tick() (Digit, bool) {
	if !r.active || r.reported {
		return Digit{}, false
	}
	if r.ev.End {
		r.reported = true
		return r.digit(), true
	}
	r.idle++
	if r.idle >= 50 {
		r.reported = true
		return r.digit(), true
	}
	return Digit{}, false
}

func (r *dtmfRx) digit() Digit {
	return Digit{
		Event:    r.ev.Event,
		Duration: time.Duration(r.ev.Duration) * time.Second / 8000,
		Volume:   int(r.ev.Volume),
	}
}
