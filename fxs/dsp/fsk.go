package dsp

import (
	"math"
	"time"
)

// Bell 202 caller-ID physical layer (reference telephony.md §5.1-5.4).
const (
	FSKBaud     = 1200
	FSKMarkHz   = 1200 // binary 1
	FSKSpaceHz  = 2200 // binary 0
	FSKLevel    = -13.5
	MaxFSKBytes = 2 + 255 + 1 // type, length, body, checksum
)

// FSKMode selects the preamble of a caller-ID burst.
type FSKMode int

const (
	// TypeI is on-hook delivery between the first and second ring: channel
	// seizure (300 alternating bits, starting with 0), 180 mark bits, the
	// message.
	TypeI FSKMode = iota
	// TypeII is off-hook delivery (CIDCW) after the CAS and the CPE's DTMF
	// acknowledgement: no seizure, 80 mark bits, the message.
	TypeII
)

func (m FSKMode) String() string {
	switch m {
	case TypeI:
		return "type-I"
	case TypeII:
		return "type-II"
	}
	return "FSKMode(?)"
}

// FSKOpts tunes an FSKTransmitter; zero fields take the defaults.
type FSKOpts struct {
	// Level per FSK tone in dBm0. Default FSKLevel (-13.5).
	Level float64
	// TrailMarks is the number of mark bits sent after the checksum (GR-30
	// asks at least 2 stop bits). Default 8.
	TrailMarks int
}

// FSKTransmitter modulates a caller-ID or VMWI message as Bell 202 FSK:
// 1200 bit/s, continuous phase, each byte 1 start bit (0), 8 data bits LSB
// first, 1 stop bit (1). The caller pulls the burst frame by frame with
// Fill. It is not safe for concurrent use.
type FSKTransmitter struct {
	rate  int
	amp   float64
	trail int

	msg            [MaxFSKBytes]byte
	msgLen         int
	seizure, marks int // bits
	bit, bits      int // next bit index, total bits of the burst
	acc            int // bit clock: += FSKBaud per sample, a bit ends at rate
	o              osc
	markR, markI   float64
	spaceR, spaceI float64
}

// NewFSKTransmitter returns an idle transmitter for rate (8000 or 16000 Hz);
// opts may be nil.
func NewFSKTransmitter(rate int, opts *FSKOpts) (*FSKTransmitter, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	o := FSKOpts{Level: FSKLevel, TrailMarks: 8}
	if opts != nil {
		if opts.Level != 0 {
			o.Level = opts.Level
		}
		if opts.TrailMarks != 0 {
			o.TrailMarks = opts.TrailMarks
		}
	}
	if !(o.Level >= -40 && o.Level <= 0) {
		return nil, fmtErr(ErrOptions, "FSK level %v dBm0 outside [-40, 0]", o.Level)
	}
	if o.TrailMarks < 2 || o.TrailMarks > 1200 {
		return nil, fmtErr(ErrOptions, "FSK trailing marks %d outside [2, 1200]", o.TrailMarks)
	}
	f := &FSKTransmitter{rate: rate, amp: amplitude(o.Level), trail: o.TrailMarks}
	w := 2 * math.Pi * FSKMarkHz / float64(rate)
	f.markR, f.markI = math.Cos(w), math.Sin(w)
	w = 2 * math.Pi * FSKSpaceHz / float64(rate)
	f.spaceR, f.spaceI = math.Cos(w), math.Sin(w)
	return f, nil
}

// Start queues msg (a complete message with its checksum, as built by
// CallerID.MDMF, CallerID.SDMF, VMWI or VMWISDMF) for transmission with
// the preamble of mode, replacing any burst in progress. msg is copied.
func (f *FSKTransmitter) Start(mode FSKMode, msg []byte) error {
	if len(msg) < 3 || len(msg) > MaxFSKBytes {
		return fmtErr(ErrCallerID, "FSK message of %d bytes (want 3 to %d)", len(msg), MaxFSKBytes)
	}
	if int(msg[1]) != len(msg)-3 {
		return fmtErr(ErrCallerID, "FSK message length byte %d does not match %d body bytes", msg[1], len(msg)-3)
	}
	if Checksum(msg[:len(msg)-1]) != msg[len(msg)-1] {
		return fmtErr(ErrCallerID, "FSK message checksum 0x%02X, want 0x%02X", msg[len(msg)-1], Checksum(msg[:len(msg)-1]))
	}
	switch mode {
	case TypeI:
		f.seizure, f.marks = 300, 180
	case TypeII:
		f.seizure, f.marks = 0, 80
	default:
		return fmtErr(ErrOptions, "FSK mode %d", int(mode))
	}
	f.msgLen = copy(f.msg[:], msg)
	f.bit, f.acc = 0, 0
	f.bits = f.seizure + f.marks + 10*f.msgLen + f.trail
	f.o.reset()
	return nil
}

// Duration returns how long the queued burst lasts in total.
func (f *FSKTransmitter) Duration() time.Duration {
	return time.Duration(f.bits) * time.Second / FSKBaud
}

// Active reports whether part of the burst remains to be sent.
func (f *FSKTransmitter) Active() bool { return f.bit < f.bits }

// Stop abandons the burst in progress.
func (f *FSKTransmitter) Stop() { f.bit = f.bits }

// bitAt returns bit k of the burst.
func (f *FSKTransmitter) bitAt(k int) bool {
	if k < f.seizure {
		return k%2 == 1
	}
	k -= f.seizure
	if k < f.marks {
		return true
	}
	k -= f.marks
	if k >= 10*f.msgLen {
		return true // trailing marks
	}
	i, j := k/10, k%10
	switch j {
	case 0:
		return false // start bit
	case 9:
		return true // stop bit
	}
	return f.msg[i]>>(j-1)&1 == 1
}

// Fill writes the next len(dst) samples of the burst into dst, followed by
// silence once it is over, and returns how many samples of the burst it
// wrote. It never allocates.
func (f *FSKTransmitter) Fill(dst []int16) int {
	n := 0
	for n < len(dst) && f.bit < f.bits {
		mark := f.bitAt(f.bit)
		cr, ci := f.spaceR, f.spaceI
		if mark {
			cr, ci = f.markR, f.markI
		}
		f.o.cr, f.o.ci = cr, ci
		// samples until this bit ends: the bit clock adds FSKBaud per
		// sample and the bit ends when it reaches rate.
		k := (f.rate - f.acc + FSKBaud - 1) / FSKBaud
		k = min(k, len(dst)-n)
		for i := range k {
			dst[n+i] = clip16(f.amp * f.o.next())
		}
		f.o.renorm()
		n += k
		f.acc += k * FSKBaud
		if f.acc >= f.rate {
			f.acc -= f.rate
			f.bit++
		}
	}
	clear(dst[n:])
	return n
}
