package dsp

import (
	"errors"
	"math"
)

// Errors of the FSK receiver, each naming what went wrong with a burst.
var (
	// ErrFSKNoCarrier: no Bell 202 signal was heard at all.
	ErrFSKNoCarrier = errors.New("dsp: FSK: no carrier")
	// ErrFSKNoMessage: a carrier but no message type after a mark run.
	ErrFSKNoMessage = errors.New("dsp: FSK: no message")
	// ErrFSKFraming: a byte of the message had no stop bit.
	ErrFSKFraming = errors.New("dsp: FSK: framing")
	// ErrFSKTruncated: the carrier ended inside the message.
	ErrFSKTruncated = errors.New("dsp: FSK: message truncated")
	// ErrFSKChecksum: the message arrived with a wrong checksum.
	ErrFSKChecksum = errors.New("dsp: FSK: checksum")
)

// fskCarrierLevel is the detection threshold of the receiver: a tone of
// about −40 dBm0 (the transmitter sends −13.5 dBm0).
const fskCarrierLevel = -40.0

// FSKReceiver demodulates Bell 202 FSK (mark 1200 Hz, space 2200 Hz, 1200
// bit/s) and frames the caller-ID or VMWI message in it: asynchronous bytes
// (start 0, 8 data bits LSB first, stop 1); the message is the first byte
// after a run of at least 10 marks whose value is a message type (0x04,
// 0x06, 0x80, 0x82), its length byte, body and checksum. It is the
// transmitter's inverse, for the port's own checks; it does not allocate
// per sample and is not safe for concurrent use.
type FSKReceiver struct {
	rate int
	n    int // correlation window, samples (one bit)

	// Quadrature mixers and their running window sums.
	mark, space        osc
	mr, mi, sr, si     []float64 // per-sample products, ring buffers
	smr, smi, ssr, ssi float64
	pos                int
	thresh             float64 // window energy threshold

	// Bit clock and framing.
	spb      float64 // samples per bit
	inByte   bool
	clock    float64 // samples until the next bit centre
	bitIdx   int
	cur      byte
	marks    int // consecutive mark bits seen while idle
	carrier  int // samples with carrier
	lastBit  bool
	haveLast bool

	// Message assembly.
	msg     [MaxFSKBytes]byte
	msgLen  int
	want    int // total message length once the length byte is in (0: unknown)
	started bool
	done    bool
	err     error
}

// NewFSKReceiver returns a receiver for rate (8000 or 16000 Hz).
func NewFSKReceiver(rate int) (*FSKReceiver, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	n := int(math.Round(float64(rate) / FSKBaud))
	r := &FSKReceiver{rate: rate, n: n, spb: float64(rate) / FSKBaud,
		mr: make([]float64, n), mi: make([]float64, n), sr: make([]float64, n), si: make([]float64, n)}
	r.mark.setFreq(FSKMarkHz, rate)
	r.space.setFreq(FSKSpaceHz, rate)
	a := amplitude(fskCarrierLevel) * float64(n) / 2
	r.thresh = a * a
	r.Reset()
	return r, nil
}

// Reset forgets everything heard.
func (r *FSKReceiver) Reset() {
	r.mark.reset()
	r.space.reset()
	clear(r.mr)
	clear(r.mi)
	clear(r.sr)
	clear(r.si)
	r.smr, r.smi, r.ssr, r.ssi, r.pos = 0, 0, 0, 0, 0
	r.inByte, r.clock, r.bitIdx, r.cur, r.marks, r.carrier = false, 0, 0, 0, 0, 0
	r.haveLast = false
	r.msgLen, r.want, r.started, r.done, r.err = 0, 0, false, false, nil
}

// Write demodulates samples.
func (r *FSKReceiver) Write(samples []int16) {
	for i, s := range samples {
		r.sample(float64(s))
		if i%renormEvery == renormEvery-1 {
			r.mark.renorm()
			r.space.renorm()
		}
	}
	r.mark.renorm()
	r.space.renorm()
}

func (r *FSKReceiver) sample(x float64) {
	r.mark.next()
	r.space.next()
	mv, mq := r.mark.re, r.mark.im
	sv, sq := r.space.re, r.space.im
	p := r.pos
	r.smr += x*mv - r.mr[p]
	r.smi += x*mq - r.mi[p]
	r.ssr += x*sv - r.sr[p]
	r.ssi += x*sq - r.si[p]
	r.mr[p], r.mi[p], r.sr[p], r.si[p] = x*mv, x*mq, x*sv, x*sq
	r.pos = (p + 1) % r.n
	em := r.smr*r.smr + r.smi*r.smi
	es := r.ssr*r.ssr + r.ssi*r.ssi
	if em+es < r.thresh {
		// No carrier: an idle line; a byte in progress is lost.
		r.inByte, r.marks, r.haveLast = false, 0, false
		if r.started && !r.done {
			r.fail(ErrFSKTruncated)
		}
		return
	}
	r.carrier++
	bit := em > es
	if !r.inByte {
		if !bit && r.haveLast && r.lastBit {
			// Start bit edge: sample the next bits at their centres. The
			// window lags the edge by half a window.
			r.inByte, r.bitIdx, r.cur = true, 0, 0
			r.clock = r.spb * 1.5
		}
		if bit {
			r.idleMark()
		}
		r.lastBit, r.haveLast = bit, true
		return
	}
	r.lastBit, r.haveLast = bit, true
	r.clock--
	if r.clock > 0 {
		return
	}
	r.clock += r.spb
	if r.bitIdx < 8 {
		if bit {
			r.cur |= 1 << r.bitIdx
		}
		r.bitIdx++
		return
	}
	r.inByte = false
	if !bit {
		r.marks = 0
		if r.started && !r.done {
			r.fail(ErrFSKFraming)
		}
		return
	}
	r.byteIn(r.cur, r.marks >= 10)
	r.marks = 0
}

// idleMark counts mark bit times while no byte is in progress.
func (r *FSKReceiver) idleMark() {
	r.clock--
	if r.clock <= 0 {
		r.clock += r.spb
		r.marks++
	}
}

func (r *FSKReceiver) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.done = true
}

func (r *FSKReceiver) byteIn(b byte, afterMarks bool) {
	if r.done {
		return
	}
	if !r.started {
		if !afterMarks {
			return // channel seizure or noise
		}
		switch b {
		case MsgSDMFCallerID, MsgSDMFMsgWaiting, MsgMDMFCallerID, MsgMDMFMsgWaiting:
		default:
			return
		}
		r.started = true
	}
	r.msg[r.msgLen] = b
	r.msgLen++
	if r.msgLen == 2 {
		r.want = int(b) + 3
	}
	if r.want != 0 && r.msgLen == r.want {
		r.done = true
		if Checksum(r.msg[:r.msgLen-1]) != r.msg[r.msgLen-1] {
			r.err = ErrFSKChecksum
		}
	}
}

// Carrier reports how long a carrier was heard, in samples.
func (r *FSKReceiver) Carrier() int { return r.carrier }

// Message returns the message received (type, length, body, checksum; the
// slice is the receiver's own until the next Write or Reset), or an error:
// ErrFSKNoCarrier, ErrFSKNoMessage, ErrFSKFraming, ErrFSKTruncated or
// ErrFSKChecksum (the message is returned with the last).
func (r *FSKReceiver) Message() ([]byte, error) {
	switch {
	case r.err == ErrFSKChecksum:
		return r.msg[:r.msgLen], r.err
	case r.err != nil:
		return nil, r.err
	case r.done:
		return r.msg[:r.msgLen], nil
	case r.carrier == 0:
		return nil, ErrFSKNoCarrier
	case r.started:
		return nil, ErrFSKTruncated
	}
	return nil, ErrFSKNoMessage
}
