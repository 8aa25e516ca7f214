package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

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

// link reads the link state and measurements (DEVICE-STATUS-CNF, LINK-IND).
func (r *reader) link(m *Msg) {
	m.Link, m.RSSI, m.Quality, m.Battery = r.u8(), int8(r.u8()), r.u8(), r.u8()
	if r.err == nil {
		if err := checkLink(m.Link, m.Quality, m.Battery); err != nil {
			r.fail(fmt.Errorf("wire: %w", err))
		}
	}
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
		// A refusal may end at its STATUS (docs/radio-protocol.md §4): the
		// fields after it describe a success. When present they must be
		// whole.
		refusedBare := r.err == nil && m.Status != StatusOK && len(r.p) == 0
		switch t &^ CnfBit {
		case THello, TKeepalive, TPairChall, TAuth, TDeviceStatus, TDeviceList:
			if refusedBare {
				m.Bare = true
				return nil
			}
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
		case TDeviceStatus:
			r.link(m)
			m.Firmware = r.str("firmware")
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
		case TCallProceed, TAudioDisc, TDeviceStatus:
			m.Handset = r.handset()
		case TLocate:
			m.Handset = r.handset()
			m.On = r.max(r.u8(), 1, "locate flag")
		case TLinkInd:
			m.Handset = r.handset()
			r.link(m)
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
