package media

const (
	jbSlots    = 64 // largest ring: 640 ms of audio
	jbMargin   = 8  // ring frames beyond the largest target delay (bursts)
	frameTicks = 80 // RTP clock ticks (8 kHz) per 10 ms frame
	frameBytes = 80 // payload octets per 10 ms: 64 kbit/s for all three codecs
)

// frameState is what the jitter buffer hands the playout for one tick.
type frameState int

const (
	frameIdle    frameState = iota // nothing received yet / prebuffering: play silence
	frameGood                      // data holds the frame's payload
	frameMissing                   // lost or not arrived: conceal
)

type jbSlot struct {
	idx    int32 // frame index (low 32 bits: a ring slot is never compared across 2³² frames)
	filled bool
	data   [frameBytes]byte
}

// jitterStats are the receive counters of a jitter buffer.
type jitterStats struct {
	received   uint64 // packets accepted (not duplicates)
	late       uint64 // packets that arrived after their playout time
	duplicates uint64
	discarded  uint64 // malformed / unsupported payload sizes
	concealed  uint64 // frames played from loss concealment
	dropped    uint64 // frames dropped to shrink the delay (drift, jitter fell)
	inserted   uint64 // frames inserted to grow the delay (drift, jitter rose)
	resyncs    uint64
	// RFC 3550 A.1 sequence accounting.
	baseSeq  uint32
	extMax   uint32
	cycles   uint32
	jitter   float64 // RFC 3550 interarrival jitter, RTP ticks
	expPrior uint32  // for fraction lost per report interval
	recPrior uint64
}

// jitterBuffer is an adaptive playout buffer keyed by RTP timestamp, in
// 10 ms frames of encoded payload. Push is called per received packet
// (with its arrival time in RTP ticks), Pop once per 10 ms playout tick.
// Memory is fixed: maxFrames+jbMargin frames (at most jbSlots).
type jitterBuffer struct {
	slots []jbSlot

	started  bool
	playing  bool
	underrun bool
	ssrc     uint32
	baseExt  int64 // extended timestamp of frame index 0
	lastTS   uint32
	lastExt  int64
	next     int64 // next frame index to play
	newest   int64 // highest frame index received
	lateRun  int   // consecutive late packets (a timestamp restart)

	minFrames, maxFrames int
	target               int     // target buffered frames
	peak                 float64 // decaying peak relative delay, ticks
	minTransit           [2]int64
	minCount             int
	lastTransit          int64
	haveTransit          bool
	windowMin            int
	windowTicks          int

	st jitterStats
}

func newJitterBuffer(minFrames, maxFrames int) *jitterBuffer {
	jb := &jitterBuffer{}
	jb.init(minFrames, maxFrames)
	return jb
}

func (jb *jitterBuffer) init(minFrames, maxFrames int) {
	if minFrames < 1 {
		minFrames = 1
	}
	if maxFrames > jbSlots-8 {
		maxFrames = jbSlots - 8
	}
	if maxFrames < minFrames {
		maxFrames = minFrames
	}
	jb.minFrames, jb.maxFrames, jb.target = minFrames, maxFrames, minFrames
	jb.slots = make([]jbSlot, min(jbSlots, maxFrames+jbMargin))
	jb.windowMin = 1 << 30
}

// reset forgets the stream (new SSRC, codec change, timestamp jump) but
// keeps the counters.
func (jb *jitterBuffer) reset() {
	for i := range jb.slots {
		jb.slots[i].filled = false
	}
	jb.started, jb.playing, jb.underrun, jb.haveTransit = false, false, false, false
	jb.peak, jb.minCount, jb.lateRun = 0, 0, 0
	jb.windowMin, jb.windowTicks = 1<<30, 0
}

func (jb *jitterBuffer) slotOf(idx int64) int {
	n := int64(len(jb.slots))
	return int(((idx % n) + n) % n)
}

// push stores one packet. arrival is the arrival time in RTP ticks on the
// receiver's clock.
func (jb *jitterBuffer) push(seq uint16, ts, ssrc uint32, payload []byte, arrival int64) {
	n := len(payload) / frameBytes
	if len(payload) == 0 || len(payload)%frameBytes != 0 || n > len(jb.slots)/2 {
		jb.st.discarded++
		return
	}
	if jb.started && ssrc != jb.ssrc {
		jb.reset()
		jb.st.resyncs++
	}
	if !jb.started {
		jb.started = true
		jb.ssrc = ssrc
		jb.lastTS, jb.lastExt, jb.baseExt = ts, 0, 0
		jb.next, jb.newest = 0, -1
		if jb.st.received == 0 {
			jb.st.baseSeq = uint32(seq)
			jb.st.extMax = uint32(seq)
		}
	}
	jb.seqUpdate(seq)
	ext := jb.lastExt + int64(int32(ts-jb.lastTS))
	jb.lastTS, jb.lastExt = ts, ext
	rel := ext - jb.baseExt
	idx := floorDiv(rel+frameTicks/2, frameTicks)

	// Interarrival jitter (RFC 3550 §6.4.1) and relative delay.
	transit := arrival - ext
	if jb.haveTransit {
		d := transit - jb.lastTransit
		if d < 0 {
			d = -d
		}
		jb.st.jitter += (float64(d) - jb.st.jitter) / 16
	}
	jb.lastTransit, jb.haveTransit = transit, true
	jb.trackDelay(transit)

	last := idx + int64(n) - 1
	if jb.playing && last < jb.next {
		jb.st.late++
		jb.st.received++ // it arrived: late, not lost (RFC 3550 counts it)
		jb.lateRun++
		if jb.lateRun >= 10 { // the sender restarted its timestamps
			jb.resyncAt(ext)
			jb.lateRun = 0
		}
		return
	}
	jb.lateRun = 0
	if ring := int64(len(jb.slots)); idx >= jb.next+ring-1 || (!jb.playing && idx < jb.next-ring) {
		jb.resyncAt(ext)
		idx = 0
		last = int64(n) - 1
	}
	dup := true
	for i := int64(0); i < int64(n); i++ {
		fi := idx + i
		if jb.playing && fi < jb.next {
			continue
		}
		s := &jb.slots[jb.slotOf(fi)]
		if s.filled && s.idx == int32(fi) {
			continue
		}
		dup = false
		s.filled, s.idx = true, int32(fi)
		copy(s.data[:], payload[i*frameBytes:(i+1)*frameBytes])
	}
	if dup {
		jb.st.duplicates++
		return
	}
	jb.st.received++
	if !jb.playing && idx < jb.next {
		jb.next = idx
	}
	if last > jb.newest {
		jb.newest = last
	}
}

// resyncAt restarts playout at the frame of extended timestamp ext.
func (jb *jitterBuffer) resyncAt(ext int64) {
	for i := range jb.slots {
		jb.slots[i].filled = false
	}
	jb.baseExt = ext
	jb.next, jb.newest = 0, -1
	jb.playing, jb.underrun = false, false
	jb.st.resyncs++
}

// countOnly accounts a packet of the stream that does not carry audio (a
// telephone event) in the RFC 3550 sequence statistics.
func (jb *jitterBuffer) countOnly(seq uint16, ssrc uint32) {
	if !jb.started || ssrc != jb.ssrc {
		if jb.st.received == 0 {
			jb.st.baseSeq, jb.st.extMax = uint32(seq), uint32(seq)
		}
	}
	jb.seqUpdate(seq)
	jb.st.received++
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// seqUpdate is RFC 3550 A.1 without probation.
func (jb *jitterBuffer) seqUpdate(seq uint16) {
	maxSeq := uint16(jb.st.extMax)
	delta := seq - maxSeq
	switch {
	case delta < 3000:
		if seq < maxSeq {
			jb.st.cycles += 1 << 16
		}
		jb.st.extMax = jb.st.cycles | uint32(seq)
	case delta > 65536-100:
		// reordered or duplicate: keep max
	default:
		// large jump: restart sequence accounting from here
		jb.st.baseSeq = jb.st.cycles | uint32(seq)
		jb.st.extMax = jb.st.baseSeq
		jb.st.recPrior = jb.st.received
		jb.st.expPrior = 0
	}
}

// trackDelay updates the target from the relative one-way delay: transit
// minus the minimum transit of the last two windows of 64 packets (so a
// step in transit, e.g. a sender pause, is forgotten within ≈ 2.5 s), with
// a decaying peak (half-life ≈ 140 packets).
func (jb *jitterBuffer) trackDelay(transit int64) {
	if jb.minCount == 0 {
		jb.minTransit[0], jb.minTransit[1] = transit, transit
	}
	if transit < jb.minTransit[0] {
		jb.minTransit[0] = transit
	}
	jb.minCount++
	if jb.minCount >= 64 {
		jb.minTransit[1] = jb.minTransit[0]
		jb.minTransit[0] = transit
		jb.minCount = 1
	}
	base := min(jb.minTransit[0], jb.minTransit[1])
	rel := float64(transit - base)
	jb.peak *= 0.995
	if rel > jb.peak {
		jb.peak = rel
	}
	t := int((jb.peak+frameTicks-1)/frameTicks) + 1
	jb.target = max(jb.minFrames, min(jb.maxFrames, t))
}

// pop returns the frame for this playout tick. For frameGood, data is the
// frame payload (valid until the next push). skipped reports a frame that
// was decoded-and-dropped to shrink the delay: the caller must decode
// skipped first (to keep a stateful decoder in step) and play data.
func (jb *jitterBuffer) pop() (st frameState, data []byte, skipped []byte) {
	if !jb.started || jb.newest < jb.next && !jb.playing {
		return frameIdle, nil, nil
	}
	avail := int(jb.newest - jb.next + 1)
	if !jb.playing {
		if avail < jb.target {
			return frameIdle, nil, nil
		}
		jb.playing = true
	}
	if jb.underrun {
		if avail <= 0 {
			jb.st.concealed++
			return frameMissing, nil, nil
		}
		// Resume: play from at most target frames behind the newest.
		jb.underrun = false
		if lim := jb.newest + 1 - int64(jb.target); lim > jb.next {
			jb.next = lim
		}
		avail = int(jb.newest - jb.next + 1)
	}
	if avail <= 0 {
		// Nothing has arrived for this tick: hold the playout point (this
		// inserts a concealed frame and grows the delay).
		jb.underrun = true
		jb.st.inserted++
		jb.st.concealed++
		return frameMissing, nil, nil
	}
	// Drift / delay control on the minimum buffered level over 50 ticks.
	jb.windowMin = min(jb.windowMin, avail)
	jb.windowTicks++
	if jb.windowTicks >= 50 {
		wm := jb.windowMin
		jb.windowMin, jb.windowTicks = 1<<30, 0
		if wm > jb.target+1 && avail >= 2 {
			// Too much delay: drop one frame.
			jb.st.dropped++
			s := &jb.slots[jb.slotOf(jb.next)]
			jb.next++
			if s.filled && s.idx == int32(jb.next-1) {
				s.filled = false
				skipped = s.data[:]
			}
		} else if wm < jb.target-1 {
			jb.st.inserted++
			jb.st.concealed++
			return frameMissing, nil, nil
		}
	}
	s := &jb.slots[jb.slotOf(jb.next)]
	jb.next++
	if s.filled && s.idx == int32(jb.next-1) {
		s.filled = false
		return frameGood, s.data[:], skipped
	}
	jb.st.concealed++
	return frameMissing, nil, skipped
}

// expected is the RFC 3550 packet count expected so far.
func (st *jitterStats) expected() uint32 { return st.extMax - st.baseSeq + 1 }

// lost is RFC 3550 cumulative packets lost (clamped at 0).
func (st *jitterStats) lost() int64 {
	if st.received == 0 {
		return 0
	}
	l := int64(st.expected()) - int64(st.received)
	if l < 0 {
		l = 0
	}
	return l
}

// fractionLost returns the RFC 3550 fraction lost since the last call.
func (st *jitterStats) fractionLost() uint8 {
	exp := st.expected()
	expInt := exp - st.expPrior
	recInt := st.received - st.recPrior
	st.expPrior, st.recPrior = exp, st.received
	if st.received == 0 || expInt == 0 || uint64(expInt) <= recInt {
		return 0
	}
	return uint8((uint64(expInt) - recInt) << 8 / uint64(expInt))
}
