package wire

import (
	"encoding/binary"
	"fmt"
)

// Frame layout (docs/radio-protocol.md §2). All integers big-endian.
//
//	+------+------+------+-----+---------+-----------+---------+
//	| 0xA5 | 0x5A | CTRL | SEQ | LEN(2)  | PAYLOAD   | CRC(2)  |
//	+------+------+------+-----+---------+-----------+---------+
//	  0      1      2      3     4..5      6..6+LEN-1  CRC-16/CCITT-FALSE
//	                                                  over bytes 2..6+LEN-1
const (
	Sync0 = 0xA5
	Sync1 = 0x5A

	HeaderLen  = 6
	TrailerLen = 2
	// MaxPayload is the largest payload a frame may carry. A header
	// announcing more is garbage and makes the decoder resynchronise.
	MaxPayload = 512
	// MaxFrame is the size of the largest frame on the wire.
	MaxFrame = HeaderLen + MaxPayload + TrailerLen
)

// Ctrl is the frame kind.
type Ctrl byte

const (
	CtrlData    Ctrl = 0x01 // carries one message; SEQ numbers it
	CtrlAck     Ctrl = 0x02 // acknowledges DATA frame SEQ; no payload
	CtrlSync    Ctrl = 0x03 // link (re)synchronisation request; 4-byte nonce
	CtrlSyncAck Ctrl = 0x04 // answer to SYNC; echoes the nonce
)

func (c Ctrl) String() string {
	switch c {
	case CtrlData:
		return "DATA"
	case CtrlAck:
		return "ACK"
	case CtrlSync:
		return "SYNC"
	case CtrlSyncAck:
		return "SYNC-ACK"
	}
	return fmt.Sprintf("Ctrl(0x%02x)", byte(c))
}

func (c Ctrl) valid() bool { return c >= CtrlData && c <= CtrlSyncAck }

// Frame is one decoded link frame. Payload aliases the decoder's buffer and
// is valid only until the next call to the decoder.
type Frame struct {
	Ctrl    Ctrl
	Seq     byte
	Payload []byte
}

// AppendFrame appends the wire form of a frame to dst. It does not allocate
// when dst has room for len(payload)+8 bytes.
func AppendFrame(dst []byte, ctrl Ctrl, seq byte, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayload {
		return dst, fmt.Errorf("wire: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	if !ctrl.valid() {
		return dst, fmt.Errorf("wire: invalid frame kind 0x%02x", byte(ctrl))
	}
	start := len(dst)
	dst = append(dst, Sync0, Sync1, byte(ctrl), seq, byte(len(payload)>>8), byte(len(payload)))
	dst = append(dst, payload...)
	crc := CRC16(dst[start+2:])
	return binary.BigEndian.AppendUint16(dst, crc), nil
}

// Decoder finds frames in a byte stream that may contain garbage, partial
// frames and corrupted frames. It never allocates after construction.
//
// Resynchronisation rule: the decoder looks for the sync pair A5 5A; a
// candidate whose kind is unknown, whose length exceeds MaxPayload or whose
// CRC does not match is abandoned by dropping its first byte only, so a
// genuine frame that starts inside the rejected bytes is still found.
type Decoder struct {
	buf [2 * MaxFrame]byte
	r   int // start of unconsumed data
	w   int // end of data
	// Counters for diagnostics.
	Garbage  uint64 // bytes discarded while hunting for sync
	BadCRC   uint64 // candidates rejected by CRC
	BadHead  uint64 // candidates rejected by kind or length
	Received uint64 // good frames
}

// Feed copies as much of p into the decoder as fits and returns the number
// of bytes taken. After Next has returned false, Feed always takes at least
// MaxFrame bytes (or all of p).
func (d *Decoder) Feed(p []byte) int {
	if d.r > 0 && (d.r == d.w || len(d.buf)-d.w < len(p)) {
		n := copy(d.buf[:], d.buf[d.r:d.w])
		d.r, d.w = 0, n
	}
	n := copy(d.buf[d.w:], p)
	d.w += n
	return n
}

// Buffered reports how many undecoded bytes are held.
func (d *Decoder) Buffered() int { return d.w - d.r }

// Next returns the next good frame, or false when more bytes are needed.
func (d *Decoder) Next() (Frame, bool) {
	for {
		data := d.buf[d.r:d.w]
		// Hunt for the sync pair.
		i := 0
		for i < len(data) {
			if data[i] == Sync0 && (i+1 == len(data) || data[i+1] == Sync1) {
				break
			}
			i++
		}
		d.r += i
		d.Garbage += uint64(i)
		data = data[i:]
		if len(data) < HeaderLen {
			return Frame{}, false
		}
		ctrl := Ctrl(data[2])
		n := int(data[4])<<8 | int(data[5])
		if !ctrl.valid() || n > MaxPayload {
			d.BadHead++
			d.r++
			d.Garbage++
			continue
		}
		total := HeaderLen + n + TrailerLen
		if len(data) < total {
			return Frame{}, false
		}
		want := binary.BigEndian.Uint16(data[HeaderLen+n:])
		if CRC16(data[2:HeaderLen+n]) != want {
			d.BadCRC++
			d.r++
			d.Garbage++
			continue
		}
		d.r += total
		d.Received++
		return Frame{Ctrl: ctrl, Seq: data[3], Payload: data[HeaderLen : HeaderLen+n]}, true
	}
}

// Stall tells the decoder that the line went quiet while it held a partial
// frame: the candidate is abandoned (its first byte dropped) so that a false
// sync pair in garbage cannot hold back the frames behind it. It reports
// whether anything was dropped.
func (d *Decoder) Stall() bool {
	if d.w-d.r == 0 {
		return false
	}
	d.r++
	d.Garbage++
	return true
}

// Reset discards everything buffered.
func (d *Decoder) Reset() { d.r, d.w = 0, 0 }
