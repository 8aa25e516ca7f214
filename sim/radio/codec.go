package radio

// This file is the emulated module's own implementation of the framing and
// messages of docs/radio-protocol.md, written from the document and not
// shared with package dect, so a misreading of the spec on either side shows
// up as a failing test instead of cancelling out.

import (
	"errors"
	"fmt"
)

const (
	syncA      = 0xA5
	syncB      = 0x5A
	maxPayload = 512

	kindData    = 0x01
	kindAck     = 0x02
	kindSync    = 0x03
	kindSyncAck = 0x04
)

// crcCCITT computes CRC-16/CCITT-FALSE bit by bit (poly 0x1021, init 0xFFFF).
func crcCCITT(p []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range p {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func buildFrame(kind, seq byte, payload []byte) []byte {
	n := len(payload)
	f := make([]byte, 0, n+8)
	f = append(f, syncA, syncB, kind, seq, byte(n>>8), byte(n&0xFF))
	f = append(f, payload...)
	c := crcCCITT(f[2:])
	return append(f, byte(c>>8), byte(c&0xFF))
}

type rxFrame struct {
	kind, seq byte
	payload   []byte
}

// frameScanner accumulates received bytes and yields frames.
type frameScanner struct {
	buf []byte
}

func (s *frameScanner) push(p []byte) { s.buf = append(s.buf, p...) }

// next returns the next valid frame. On a bad candidate it drops one byte
// and looks again.
func (s *frameScanner) next() (rxFrame, bool) {
	for {
		// Find A5 5A.
		k := -1
		for i := 0; i+1 < len(s.buf); i++ {
			if s.buf[i] == syncA && s.buf[i+1] == syncB {
				k = i
				break
			}
		}
		if k < 0 {
			// Keep a trailing A5, it may be the start of a sync pair.
			if len(s.buf) > 0 && s.buf[len(s.buf)-1] == syncA {
				s.buf = s.buf[len(s.buf)-1:]
			} else {
				s.buf = s.buf[:0]
			}
			return rxFrame{}, false
		}
		s.buf = s.buf[k:]
		if len(s.buf) < 6 {
			return rxFrame{}, false
		}
		kind := s.buf[2]
		n := int(s.buf[4])<<8 | int(s.buf[5])
		if kind < kindData || kind > kindSyncAck || n > maxPayload {
			s.buf = s.buf[1:]
			continue
		}
		if len(s.buf) < n+8 {
			return rxFrame{}, false
		}
		got := uint16(s.buf[6+n])<<8 | uint16(s.buf[7+n])
		if crcCCITT(s.buf[2:6+n]) != got {
			s.buf = s.buf[1:]
			continue
		}
		f := rxFrame{kind: kind, seq: s.buf[3], payload: append([]byte(nil), s.buf[6:6+n]...)}
		s.buf = s.buf[8+n:]
		return f, true
	}
}

// idle is called when the line has been quiet: a stalled partial frame is
// abandoned.
func (s *frameScanner) idle() {
	if len(s.buf) > 0 {
		s.buf = s.buf[1:]
	}
}

// Message type numbers (docs/radio-protocol.md §4).
const (
	mHello        = 0x01
	mKeepalive    = 0x02
	mRegOpen      = 0x03
	mRegClose     = 0x04
	mPairChall    = 0x05
	mPairAccept   = 0x06
	mPairReject   = 0x07
	mAuth         = 0x08
	mAuthResult   = 0x09
	mDeviceList   = 0x0A
	mDeviceAdd    = 0x0B
	mDeregister   = 0x0C
	mPage         = 0x0D
	mRing         = 0x0E
	mCallProceed  = 0x0F
	mRelease      = 0x10
	mTone         = 0x11
	mAudioConnect = 0x12
	mAudioDisc    = 0x13
	mMWI          = 0x14
	mCallWaiting  = 0x15
	mDateTime     = 0x16
	// Protocol 1.1.
	mDeviceStatus = 0x17
	mLocate       = 0x18

	cnf = 0x80

	iRegClosed = 0xC0
	iPairReq   = 0xC1
	iAttach    = 0xC2
	iDetach    = 0xC3
	iSetup     = 0xC4
	iAlerting  = 0xC5
	iConnect   = 0xC6
	iRelease   = 0xC7
	iKeys      = 0xC8
	iLink      = 0xC9 // protocol 1.1
)

// Status codes.
const (
	stOK          = 0x00
	stBadRequest  = 0x01
	stUnknown     = 0x02
	stUnreachable = 0x03
	stBusy        = 0x04
	stFull        = 0x05
	stNotOpen     = 0x06
	stNoResponse  = 0x07
)

// request is a decoded host request.
type request struct {
	typ, tid byte

	major, minor byte
	counter      [4]byte
	seconds      int
	pin          string
	ipei         [5]byte
	handset      byte
	devType      byte
	caps         byte
	model        string
	rs, randF    [8]byte
	res          [4]byte
	reason       byte
	on, count    byte
	cadence, cli byte
	when         [7]byte
	number, name string
	tone         byte
	slot, rate   byte
}

var errShortMsg = errors.New("message too short")

type cursor struct {
	p   []byte
	err error
}

func (c *cursor) b() byte {
	if c.err != nil || len(c.p) < 1 {
		c.err = errShortMsg
		return 0
	}
	v := c.p[0]
	c.p = c.p[1:]
	return v
}

func (c *cursor) n(dst []byte) {
	if c.err != nil || len(c.p) < len(dst) {
		c.err = errShortMsg
		return
	}
	copy(dst, c.p)
	c.p = c.p[len(dst):]
}

func (c *cursor) s() string {
	l := int(c.b())
	if c.err != nil {
		return ""
	}
	if l > 32 {
		c.err = fmt.Errorf("text of %d bytes", l)
		return ""
	}
	if len(c.p) < l {
		c.err = errShortMsg
		return ""
	}
	v := string(c.p[:l])
	c.p = c.p[l:]
	return v
}

// parseRequest decodes a host request. It checks what the module needs to
// act safely; range checks of values are done where they are used.
func parseRequest(p []byte) (request, error) {
	if len(p) < 2 {
		return request{}, errShortMsg
	}
	r := request{typ: p[0], tid: p[1]}
	if r.tid == 0 {
		return r, errors.New("request with tid 0")
	}
	c := &cursor{p: p[2:]}
	switch r.typ {
	case mHello:
		r.major, r.minor = c.b(), c.b()
	case mKeepalive:
		c.n(r.counter[:])
	case mRegOpen:
		r.seconds = int(c.b())<<8 | int(c.b())
		r.pin = c.s()
	case mRegClose, mDeviceList:
	case mPairChall:
		c.n(r.ipei[:])
		c.n(r.rs[:])
		c.n(r.randF[:])
	case mPairAccept:
		c.n(r.ipei[:])
		r.handset = c.b()
		c.n(r.res[:])
	case mPairReject:
		c.n(r.ipei[:])
		r.reason = c.b()
	case mAuth:
		r.handset = c.b()
		c.n(r.rs[:])
		c.n(r.randF[:])
	case mAuthResult:
		r.handset, r.reason = c.b(), c.b()
	case mDeviceAdd:
		r.handset = c.b()
		c.n(r.ipei[:])
		r.devType, r.caps = c.b(), c.b()
		r.model = c.s()
	case mDeregister:
		r.handset = c.b()
		c.n(r.ipei[:])
	case mPage:
		r.on = c.b()
	case mRing:
		r.handset, r.cadence, r.cli = c.b(), c.b(), c.b()
		c.n(r.when[:])
		r.number = c.s()
		r.name = c.s()
	case mCallProceed, mAudioDisc:
		r.handset = c.b()
	case mRelease:
		r.handset, r.reason = c.b(), c.b()
	case mTone:
		r.handset, r.tone = c.b(), c.b()
	case mAudioConnect:
		r.handset, r.slot, r.rate = c.b(), c.b(), c.b()
	case mMWI:
		r.handset, r.on, r.count = c.b(), c.b(), c.b()
	case mCallWaiting:
		r.handset, r.cli = c.b(), c.b()
		r.number = c.s()
		r.name = c.s()
	case mDateTime:
		c.n(r.when[:])
	case mDeviceStatus:
		r.handset = c.b()
	case mLocate:
		r.handset, r.on = c.b(), c.b()
	default:
		return r, fmt.Errorf("unknown request type 0x%02x", r.typ)
	}
	if c.err != nil {
		return r, c.err
	}
	if len(c.p) > 0 {
		return r, fmt.Errorf("%d trailing bytes", len(c.p))
	}
	return r, nil
}

func appendText(b []byte, s string) []byte {
	if len(s) > 32 {
		s = s[:32]
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}
