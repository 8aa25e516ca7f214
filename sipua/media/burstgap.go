package media

// Burst/gap loss accounting of RFC 3611 §4.7.2, by the algorithm of its
// Appendix A.2 (from ETSI TS 101 329-5). A burst is a period in which
// lost or discarded packets are separated by fewer than Gmin received
// packets; a gap is the rest. The appendix works on packets in sequence
// order; RTP packets arrive reordered, so each sequence number is decided
// only once it is lossWindow packets behind the highest one received
// (received on time, received late = discarded, or never = lost). A
// packet that arrives later than that has already been counted lost here
// (RFC 3611 §4.7.1 lets a receiver count very late packets as lost).

const (
	lossWindow  = 64 // packets held undecided (≥ the jitter ring's 64 frames)
	defaultGmin = 16 // RFC 3611 §4.7.2's recommended Gmin
)

// packet states in the window
const (
	pktNone      = 0 // not (yet) received: lost when decided
	pktReceived  = 1
	pktDiscarded = 2 // arrived after its playout time
)

// burstCounts are Appendix A.2's transition counters: additive, so the
// counters of a period are the difference of two snapshots.
type burstCounts struct {
	c11, c13, c14, c22, c23, c33 uint64
}

func (c burstCounts) sub(p burstCounts) burstCounts {
	return burstCounts{c11: c.c11 - p.c11, c13: c.c13 - p.c13, c14: c.c14 - p.c14,
		c22: c.c22 - p.c22, c23: c.c23 - p.c23, c33: c.c33 - p.c33}
}

// burstGap classifies a stream's packets in sequence order.
type burstGap struct {
	started    bool
	highest    int64 // extended sequence number of the highest packet seen
	classified int64 // every sequence number below has been decided
	win        [lossWindow]uint8
	decided    uint64 // sequence numbers decided so far
	pkt, lost  uint64 // Appendix A.2 state: received run, losses in the current burst
	c          burstCounts
}

func newBurstGap() burstGap { return burstGap{lost: 1} } // a session starts in a gap (§4.7.2)

// packet records the arrival of sequence number seq; discarded when it
// came too late to be played.
func (b *burstGap) packet(seq uint16, discarded bool) {
	st := uint8(pktReceived)
	if discarded {
		st = pktDiscarded
	}
	if !b.started {
		b.started = true
		b.highest, b.classified = int64(seq), int64(seq)
		b.win[int(seq)%lossWindow] = st
		return
	}
	delta := int64(int16(seq - uint16(b.highest)))
	e := b.highest + delta
	switch {
	case delta > 3000 || e < b.classified-3000:
		// The sender restarted its sequence (RFC 3550 A.1's large jump):
		// decide what is pending and start again here.
		b.flush()
		b.highest, b.classified, b.decided = int64(seq), int64(seq), 0
		b.win[int(seq)%lossWindow] = st
		return
	case e < b.classified && b.decided == 0 && b.highest-e < lossWindow:
		b.classified = e // reordered at the start of the stream
	case e < b.classified:
		return // already decided (counted lost)
	case e > b.highest:
		b.highest = e
		for b.highest-b.classified >= lossWindow {
			b.decide()
		}
	}
	if w := &b.win[e%lossWindow]; *w == pktNone {
		*w = st
	}
}

// decide classifies the oldest undecided sequence number.
func (b *burstGap) decide() {
	w := &b.win[b.classified%lossWindow]
	st := *w
	*w = pktNone
	b.classified++
	b.decided++
	if st == pktReceived {
		b.pkt++
		return
	}
	// lost or discarded (Appendix A.2)
	if b.pkt >= defaultGmin {
		if b.lost == 1 {
			b.c.c14++
		} else {
			b.c.c13++
		}
		b.lost = 1
		b.c.c11 += b.pkt
	} else {
		b.lost++
		if b.pkt == 0 {
			b.c.c33++
		} else {
			b.c.c23++
			b.c.c22 += b.pkt - 1
		}
	}
	b.pkt = 0
}

// flush decides every sequence number up to the highest (end of stream).
func (b *burstGap) flush() {
	if !b.started {
		return
	}
	for b.classified <= b.highest {
		b.decide()
	}
}

// counts are the counters including the packets received since the last
// loss, which Appendix A.2 counts only at the next loss: a report sees
// the gap it is in, and a burst that Gmin received packets have ended.
func (b *burstGap) counts() burstCounts {
	c := b.c
	switch {
	case b.lost == 1:
		c.c11 += b.pkt
	case b.pkt >= defaultGmin:
		c.c13++
		c.c11 += b.pkt
	}
	return c
}

// burstGapFigures are RFC 3611 §4.7.2's figures from counters: densities
// as fractions (0..1), durations in packets.
type burstGapFigures struct {
	burstDensity, gapDensity float64
	burstPackets, gapPackets float64
}

// figures computes Appendix A.2's densities and mean lengths.
func (c burstCounts) figures() burstGapFigures {
	var f burstGapFigures
	c31, c32 := c.c13, c.c23
	ctotal := c.c11 + c.c14 + c.c13 + c.c22 + c.c23 + c31 + c32 + c.c33
	if c.c11+c.c14 > 0 {
		f.gapDensity = float64(c.c14) / float64(c.c11+c.c14)
	}
	if c.c13 == 0 {
		// No burst: the whole period is one gap.
		f.gapPackets = float64(c.c11 + c.c14)
		return f
	}
	var p32 float64
	if d := c31 + c32 + c.c33; d > 0 {
		p32 = float64(c32) / float64(d)
	}
	p23 := 1.0
	if c.c22+c.c23 >= 1 {
		p23 = 1 - float64(c.c22)/float64(c.c22+c.c23)
	}
	if p23+p32 > 0 {
		f.burstDensity = p23 / (p23 + p32)
	}
	f.gapPackets = float64(c.c11+c.c14+c.c13) / float64(c.c13)
	f.burstPackets = float64(ctotal)/float64(c.c13) - f.gapPackets
	if f.burstPackets < 0 {
		f.burstPackets = 0
	}
	return f
}
