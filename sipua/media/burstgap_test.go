package media

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// pattern expands "20R L 3R" into a sequence of outcomes: R received,
// L lost, D discarded (late).
func pattern(t *testing.T, p string) []byte {
	t.Helper()
	var out []byte
	for _, f := range strings.Fields(p) {
		n := 1
		if len(f) > 1 {
			if _, err := fmtSscan(f[:len(f)-1], &n); err != nil {
				t.Fatalf("bad pattern element %q", f)
			}
		}
		for range n {
			out = append(out, f[len(f)-1])
		}
	}
	return out
}

// feed gives b the outcomes in arrival order (order: a permutation of the
// indices, nil: in sequence), sequence numbers from seq0.
func feed(b *burstGap, outcomes []byte, seq0 uint16, order []int) {
	if order == nil {
		order = make([]int, len(outcomes))
		for i := range order {
			order[i] = i
		}
	}
	for _, i := range order {
		switch outcomes[i] {
		case 'R':
			b.packet(seq0+uint16(i), false)
		case 'D':
			b.packet(seq0+uint16(i), true)
		}
	}
}

// TestBurstGapHandTraced runs a pattern traced by hand through RFC 3611
// Appendix A.2 (Gmin 16): two isolated losses in gaps, then a burst
// L R L L R R L (7 packets, 4 lost), then a gap. Expected counters
// c11=60 c13=1 c14=2 c22=1 c23=2 c33=1, so gap density 2/62, burst
// density p23/(p23+p32) = (2/3)/(2/3+1/2) = 4/7, mean gap 63 packets,
// mean burst 70−63 = 7 packets. The same figures come out when the
// packets arrive reordered (within the decision window), across a
// sequence-number wrap, and with a late packet counted like a loss.
func TestBurstGapHandTraced(t *testing.T) {
	want := burstCounts{c11: 60, c13: 1, c14: 2, c22: 1, c23: 2, c33: 1}
	for _, tc := range []struct {
		name    string
		pattern string
		seq0    uint16
		shuffle bool
	}{
		{"in order", "20R L 20R L R L L 2R L 20R", 1000, false},
		{"wrapping", "20R L 20R L R L L 2R L 20R", 65500, false},
		{"reordered", "20R L 20R L R L L 2R L 20R", 7, true},
		{"late as loss", "20R L 20R L R D L 2R L 20R", 300, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := pattern(t, tc.pattern)
			var order []int
			if tc.shuffle {
				// Swap neighbours in blocks of 4 (reordering by up to 3).
				rng := rand.New(rand.NewPCG(1, 2))
				order = make([]int, len(o))
				for i := range order {
					order[i] = i
				}
				for i := 0; i+4 <= len(order); i += 4 {
					rng.Shuffle(4, func(a, b int) { order[i+a], order[i+b] = order[i+b], order[i+a] })
				}
			}
			b := newBurstGap()
			feed(&b, o, tc.seq0, order)
			b.flush()
			got := b.counts()
			if got != want {
				t.Fatalf("counters %+v, want %+v", got, want)
			}
			f := got.figures()
			near := func(name string, got, want float64) {
				t.Helper()
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			near("gap density", f.gapDensity, 2.0/62)
			near("burst density", f.burstDensity, 4.0/7)
			near("gap packets", f.gapPackets, 63)
			near("burst packets", f.burstPackets, 7)
		})
	}
}

// TestBurstGapNoLossAndRandomLoss: a clean stream is one gap with no
// loss; isolated random losses far apart (more than Gmin received between)
// all count as gap losses and make no burst.
func TestBurstGapNoLossAndRandomLoss(t *testing.T) {
	b := newBurstGap()
	feed(&b, pattern(t, "500R"), 0, nil)
	if f := b.counts().figures(); f.burstDensity != 0 || f.gapDensity != 0 || f.gapPackets < 436 {
		t.Errorf("clean stream: %+v (undecided window aside, ≥ 436 packets of gap)", f)
	}
	b = newBurstGap()
	feed(&b, pattern(t, "30R L 30R L 30R L 30R"), 0, nil)
	b.flush()
	c := b.counts()
	if c.c13 != 0 || c.c14 != 3 || c.c11 != 120 {
		t.Errorf("isolated losses: %+v, want c14=3 c11=120 and no burst", c)
	}
	if f := c.figures(); math.Abs(f.gapDensity-3.0/123) > 1e-9 || f.burstPackets != 0 {
		t.Errorf("isolated losses: %+v", f)
	}
}

// TestBurstGapIntervalsAdd: counters are additive, so the figures of two
// halves come from snapshots, and a sequence restart does not count the
// jump as loss.
func TestBurstGapIntervalsAdd(t *testing.T) {
	b := newBurstGap()
	o := pattern(t, "100R L L L 100R")
	feed(&b, o[:100], 0, nil)
	first := b.counts()
	feed(&b, o, 0, nil) // the first 100 again are duplicates: ignored
	b.flush()
	all := b.counts()
	if d := all.sub(first); d.c33 != 2 || d.c13 != 1 {
		t.Errorf("second half counters %+v: want the burst of 3 losses (c33=2, c13=1)", d)
	}
	b.packet(40000, false) // restart far away
	b.flush()
	if c := b.counts(); c.c13 != all.c13 || c.c14 != all.c14 || c.c33 != all.c33 {
		t.Errorf("after a sequence restart %+v, before %+v: the jump counted as loss", c, all)
	}
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }
