package media

import (
	"encoding/binary"
	"math/rand/v2"
	"sort"
	"testing"
)

// jbSim drives a jitter buffer in simulated time: a sender emits 20 ms
// packets stamped with a frame counter in their payload, the network
// delays (and maybe drops or duplicates) them, and the receiver pops every
// 10 ms. It checks that every played frame is in order.
type jbSim struct {
	jb         *jitterBuffer
	senderRate float64 // sender clock relative to receiver (1 = same)
	delay      func(i int) (ms float64, drop bool, dup bool)
	played     []int64 // frame numbers played (-1 concealed, -2 idle)
	ts0        uint32
	seq0       uint16
}

type arrival struct {
	at  float64 // ms
	seq uint16
	ts  uint32
	pay []byte
}

func (s *jbSim) run(t *testing.T, packets int) {
	t.Helper()
	var arr []arrival
	for i := range packets {
		sendAt := float64(i) * 20 / s.senderRate
		d, drop, dup := s.delay(i)
		if drop {
			continue
		}
		pay := make([]byte, 160)
		binary.BigEndian.PutUint64(pay[0:], uint64(2*i))
		binary.BigEndian.PutUint64(pay[80:], uint64(2*i+1))
		a := arrival{at: sendAt + d, seq: s.seq0 + uint16(i), ts: s.ts0 + uint32(i*160), pay: pay}
		arr = append(arr, a)
		if dup {
			a.at += 3
			arr = append(arr, a)
		}
	}
	sort.SliceStable(arr, func(i, j int) bool { return arr[i].at < arr[j].at })
	end := float64(packets)*20/s.senderRate + 400
	k := 0
	for now := 0.0; now < end; now += 10 {
		for k < len(arr) && arr[k].at <= now {
			s.jb.push(arr[k].seq, arr[k].ts, 0x1234, arr[k].pay, int64(arr[k].at*8))
			k++
		}
		st, data, skipped := s.jb.pop()
		_ = skipped
		switch st {
		case frameGood:
			if len(data) != frameBytes {
				t.Fatalf("frame of %d bytes", len(data))
			}
			s.played = append(s.played, int64(binary.BigEndian.Uint64(data)))
		case frameMissing:
			s.played = append(s.played, -1)
		default:
			s.played = append(s.played, -2)
		}
	}
	last := int64(-1)
	for _, f := range s.played {
		if f >= 0 {
			if f <= last {
				t.Fatalf("frame %d played after %d", f, last)
			}
			last = f
		}
	}
}

func (s *jbSim) count() (good, concealed int) {
	p := s.played
	for len(p) > 0 && p[len(p)-1] < 0 { // after the stream ends
		p = p[:len(p)-1]
	}
	for _, f := range p {
		switch {
		case f >= 0:
			good++
		case f == -1:
			concealed++
		}
	}
	return
}

func TestJitterBufferClean(t *testing.T) {
	s := &jbSim{jb: newJitterBuffer(2, 30), senderRate: 1, ts0: 0xFFFFF000, seq0: 65500, // both wrap
		delay: func(int) (float64, bool, bool) { return 5, false, false }}
	s.run(t, 500)
	good, conc := s.count()
	if good != 1000 || conc != 0 {
		t.Fatalf("good %d concealed %d, want 1000/0", good, conc)
	}
	if st := s.jb.st; st.received != 500 || st.lost() != 0 || st.late != 0 || st.duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
	if s.jb.target != 2 {
		t.Fatalf("target %d frames with no jitter, want the minimum 2", s.jb.target)
	}
}

func TestJitterBufferReorderDuplicatesLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	s := &jbSim{jb: newJitterBuffer(2, 30), senderRate: 1, delay: func(i int) (float64, bool, bool) {
		d := 10.0
		if i%7 == 3 {
			d += 25 // overtaken by the next packet: reordered
		}
		return d, i%50 == 10, r.IntN(20) == 0
	}}
	s.run(t, 1000)
	good, conc := s.count()
	st := s.jb.st
	t.Logf("good %d concealed %d stats %+v target %d", good, conc, st, s.jb.target)
	if st.lost() != 20 {
		t.Errorf("lost %d, want 20", st.lost())
	}
	if st.duplicates == 0 {
		t.Errorf("no duplicates counted")
	}
	if st.late > 5 {
		t.Errorf("%d late packets: the buffer did not adapt to the reordering", st.late)
	}
	if good < 2000-2*20-2*int(st.late)-20 {
		t.Errorf("only %d good frames", good)
	}
}

func TestJitterBufferAdaptsToJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	s := &jbSim{jb: newJitterBuffer(2, 30), senderRate: 1, delay: func(i int) (float64, bool, bool) {
		if i < 600 {
			return 5 + r.Float64()*30, false, false
		}
		return 5, false, false
	}}
	s.run(t, 600)
	targetAfterJitter := s.jb.target
	st := s.jb.st
	if targetAfterJitter < 4 || targetAfterJitter > 8 {
		t.Errorf("target %d frames under 30 ms jitter, want 4..8", targetAfterJitter)
	}
	if float64(st.late) > 0.02*600 {
		t.Errorf("%d late of 600 under 30 ms jitter", st.late)
	}
	t.Logf("under jitter: target %d, late %d, jitter %.1f ms", targetAfterJitter, st.late, st.jitter/8)

	s = &jbSim{jb: newJitterBuffer(2, 30), senderRate: 1, delay: func(i int) (float64, bool, bool) {
		if i < 300 {
			return 5 + r.Float64()*30, false, false
		}
		return 5, false, false
	}}
	s.run(t, 900)
	if s.jb.target > 3 {
		t.Errorf("target %d frames 12 s after the jitter stopped, want ≤ 3", s.jb.target)
	}
}

func TestJitterBufferClockDrift(t *testing.T) {
	for _, rate := range []float64{1.005, 0.995} { // ±0.5 % sender clock error
		s := &jbSim{jb: newJitterBuffer(2, 30), senderRate: rate, delay: func(int) (float64, bool, bool) { return 5, false, false }}
		s.run(t, 3000) // 60 s
		st := s.jb.st
		level := s.jb.newest - s.jb.next
		t.Logf("rate %.3f: dropped %d inserted %d concealed %d level %d", rate, st.dropped, st.inserted, st.concealed, level)
		if rate > 1 && (st.dropped < 20 || level > 6) {
			t.Errorf("fast sender: dropped %d, level %d: delay not held", st.dropped, level)
		}
		if rate < 1 && st.inserted < 20 {
			t.Errorf("slow sender: inserted %d", st.inserted)
		}
		if st.late > 0 {
			t.Errorf("%d late packets from drift", st.late)
		}
	}
}

func TestJitterBufferResync(t *testing.T) {
	jb := newJitterBuffer(2, 30)
	pay := make([]byte, 160)
	for i := range 20 {
		jb.push(uint16(i), uint32(i*160), 1, pay, int64(i*160))
		jb.pop()
		jb.pop()
	}
	// Timestamp jump far ahead (a new talkspurt after a long silence).
	jb.push(20, 1_000_000, 1, pay, 20*160)
	jb.push(21, 1_000_160, 1, pay, 21*160)
	st, _, _ := jb.pop()
	if jb.st.resyncs != 1 {
		t.Fatalf("resyncs %d", jb.st.resyncs)
	}
	_ = st
	// New SSRC resets too.
	jb.push(100, 5, 2, pay, 22*160)
	if jb.st.resyncs != 2 || jb.ssrc != 2 {
		t.Fatalf("ssrc change: resyncs %d ssrc %d", jb.st.resyncs, jb.ssrc)
	}
	// Payloads that are not whole 10 ms frames are discarded.
	jb.push(101, 165, 2, pay[:100], 23*160)
	if jb.st.discarded != 1 {
		t.Fatalf("discarded %d", jb.st.discarded)
	}
}

// FuzzJitterBuffer feeds arbitrary packet sequences and pops: no panic,
// frames always whole, memory fixed (the buffer has no growing state).
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 160, 0, 0, 0, 1, 2, 1, 64})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		jb := newJitterBuffer(2, 30)
		pay := make([]byte, 4*frameBytes)
		var arrival int64
		for len(b) >= 8 {
			op := b[0]
			seq := binary.BigEndian.Uint16(b[1:3])
			ts := binary.BigEndian.Uint32(b[3:7])
			n := int(b[7]) % (len(pay) + 1)
			b = b[8:]
			arrival += int64(op & 0x3F)
			switch op >> 6 {
			case 0, 1:
				jb.push(seq, ts, uint32(op>>5&1), pay[:n], arrival)
			default:
				st, data, sk := jb.pop()
				if st == frameGood && len(data) != frameBytes || sk != nil && len(sk) != frameBytes {
					t.Fatalf("bad frame sizes %d %d", len(data), len(sk))
				}
			}
			if jb.target < jb.minFrames || jb.target > jb.maxFrames {
				t.Fatalf("target %d outside [%d,%d]", jb.target, jb.minFrames, jb.maxFrames)
			}
		}
	})
}
