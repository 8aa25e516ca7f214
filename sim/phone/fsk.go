package phone

import "math"

// Bell 202 FSK demodulator (telephony.md §5.1): mark 1200 Hz = 1, space
// 2200 Hz = 0, 1200 bit/s, asynchronous bytes with one start bit (0), eight
// data bits LSB first and a stop bit (1). Pure code: samples in, bytes out.

const (
	baud        = 1200.0
	spb         = sampleRate / baud // samples per bit, 6.67
	corrLen     = 7                 // correlator length ≈ one bit
	markPeriod  = 20                // 1200 Hz repeats every 20 samples at 8 kHz
	spacePeriod = 40                // 2200 Hz repeats every 40 samples
	// carrierMin is the correlator power (A²/4 for a sine of peak A) below
	// which there is no carrier: peak ≈ 110, about −46 dBm0.
	carrierMin = 3000.0
)

// Read-only oscillator tables (one exact period each).
var (
	markCos, markSin   = oscTable(1200, markPeriod)
	spaceCos, spaceSin = oscTable(2200, spacePeriod)
)

func oscTable(f float64, n int) (c, s []float64) {
	c, s = make([]float64, n), make([]float64, n)
	for i := range n {
		w := 2 * math.Pi * f * float64(i) / sampleRate
		c[i], s[i] = math.Cos(w), math.Sin(w)
	}
	return c, s
}

// fskByte is one demodulated byte.
type fskByte struct {
	b        byte
	markBits float64 // mark (idle) bit times seen right before its start bit
	sample   uint64  // index of the start-bit edge
	clean    bool    // every bit was decided with a clear margin
}

// fskDemod turns samples into bytes.
type fskDemod struct {
	n       uint64
	hist    [corrLen]float64
	lastD   float64
	carrier bool
	markRun int
	inByte  bool
	edge    float64
	bit     int
	val     byte
	markLen float64
	minConf float64 // weakest bit decision of the byte in progress
	out     []fskByte
}

// push demodulates samples and returns the bytes completed (valid until
// the next call).
func (d *fskDemod) push(x []int16) []fskByte {
	d.out = d.out[:0]
	for _, s := range x {
		d.sample(float64(s))
	}
	return d.out
}

func (d *fskDemod) sample(v float64) {
	n := d.n
	d.hist[n%corrLen] = v
	var mi, mq, si, sq float64
	for k := uint64(0); k < corrLen && k <= n; k++ {
		j := n - k
		x := d.hist[j%corrLen]
		mi += x * markCos[j%markPeriod]
		mq += x * markSin[j%markPeriod]
		si += x * spaceCos[j%spacePeriod]
		sq += x * spaceSin[j%spacePeriod]
	}
	m2, s2 := mi*mi+mq*mq, si*si+sq*sq
	pw := (m2 + s2) / (corrLen * corrLen)
	dec := 0.0
	if m2+s2 > 0 {
		dec = (m2 - s2) / (m2 + s2)
	}
	d.n++
	if pw < carrierMin {
		if d.carrier {
			d.carrier = false
		}
		d.inByte, d.markRun, d.lastD = false, 0, 0
		return
	}
	d.carrier = true
	if !d.inByte {
		if dec > 0 {
			d.markRun++
		} else if d.lastD > 0 && d.markRun >= 3 {
			frac := d.lastD / (d.lastD - dec)
			d.edge = float64(n) - 1 + frac
			d.inByte, d.bit, d.val, d.minConf = true, 0, 0, 1
			d.markLen = float64(d.markRun) / spb
		} else {
			d.markRun = 0
		}
		d.lastD = dec
		return
	}
	d.lastD = dec
	target := d.edge + (float64(d.bit)+0.5)*spb
	if float64(n) < target {
		return
	}
	one := dec > 0
	d.minConf = math.Min(d.minConf, math.Abs(dec))
	switch {
	case d.bit == 0:
		if one { // not a start bit after all
			d.inByte, d.markRun = false, 1
			return
		}
	case d.bit <= 8:
		if one {
			d.val |= 1 << (d.bit - 1)
		}
	default:
		d.inByte = false
		if one {
			d.out = append(d.out, fskByte{b: d.val, markBits: d.markLen, sample: uint64(d.edge), clean: d.minConf >= 0.5})
			d.markRun = 3 // half a stop bit
		} else {
			d.markRun = 0 // framing error
		}
		return
	}
	d.bit++
}
