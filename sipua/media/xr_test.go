package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestVoIPMetricsRoundTrip encodes Metrics as an RFC 3611 VoIP Metrics
// block inside a compound packet, decodes it with pion/rtcp and back into
// Metrics: every field survives at the wire's resolution, and the fields
// this session does not measure say "unavailable" (127).
func TestVoIPMetricsRoundTrip(t *testing.T) {
	m := Metrics{Codec: PCMU, Expected: 1000, Lost: 50, Discarded: 4, LossRate: 5, DiscardRate: 0.4,
		BurstDensity: 57.1, GapDensity: 3.2, BurstDuration: 140 * time.Millisecond, GapDuration: 1260 * time.Millisecond,
		Gmin: 16, RoundTrip: 42 * time.Millisecond, EndSystemDelay: 90 * time.Millisecond, Jitter: 9 * time.Millisecond,
		JBNominal: 60 * time.Millisecond, JBMax: 80 * time.Millisecond, JBAbsMax: 300 * time.Millisecond,
		RFactor: 78.6, MOSLQ: 3.96, MOSCQ: 3.93}
	b, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1},
		&rtcp.ExtendedReport{SenderSSRC: 1, Reports: []rtcp.ReportBlock{m.VoIPMetricsBlock(0xCAFE)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The block on the wire, by its RFC 3611 offsets (after the 4-octet
	// RR header + SSRC, the XR header + sender SSRC).
	blk := b[8+8:]
	if blk[0] != 7 || blk[3] != 8 {
		t.Fatalf("block type %d length %d, want 7 and 8", blk[0], blk[3])
	}
	wire := map[string]int{"loss rate": int(blk[8]), "discard rate": int(blk[9]), "burst density": int(blk[10]), "gap density": int(blk[11]),
		"signal level": int(blk[20]), "noise level": int(blk[21]), "RERL": int(blk[22]), "Gmin": int(blk[23]),
		"R factor": int(blk[24]), "ext R": int(blk[25]), "MOS-LQ": int(blk[26]), "MOS-CQ": int(blk[27]), "RX config": int(blk[28])}
	for k, want := range map[string]int{"loss rate": 12, "discard rate": 1, "burst density": 146, "gap density": 8,
		"signal level": 127, "noise level": 127, "RERL": 127, "Gmin": 16, "R factor": 79, "ext R": 127, "MOS-LQ": 40, "MOS-CQ": 39, "RX config": 0xF0} {
		if wire[k] != want {
			t.Errorf("%s on the wire = %d, want %d", k, wire[k], want)
		}
	}
	got, err := ParseVoIPMetrics(b)
	if err != nil || len(got) != 1 {
		t.Fatalf("ParseVoIPMetrics: %v, %d blocks", err, len(got))
	}
	r := got[0]
	if r.Sender != 1 || r.Source != 0xCAFE {
		t.Errorf("SSRCs %x/%x", r.Sender, r.Source)
	}
	d := r.Metrics
	if d.BurstDuration != m.BurstDuration || d.GapDuration != m.GapDuration || d.RoundTrip != m.RoundTrip ||
		d.EndSystemDelay != m.EndSystemDelay || d.JBNominal != m.JBNominal || d.JBMax != m.JBMax || d.JBAbsMax != m.JBAbsMax ||
		d.RFactor != 79 || d.MOSLQ != 4.0 || d.MOSCQ != 3.9 || d.Gmin != 16 {
		t.Errorf("decoded %+v", d)
	}
	if d.LossRate < 4.6 || d.LossRate > 5 {
		t.Errorf("loss rate %v, want 5 %% at 1/256 resolution", d.LossRate)
	}
}

// TestVoIPMetricsG722NoMOS: a G.722 call's block carries the R factor but
// MOS-LQ and MOS-CQ "unavailable"; before any packet R is unavailable too.
func TestVoIPMetricsG722NoMOS(t *testing.T) {
	sn := QualitySnapshot{Codec: G722, PTime: 20 * time.Millisecond, expected: 500, lost: 10}
	m := sn.Metrics(QualitySnapshot{})
	if m.MOSLQ != 0 || m.MOSCQ != 0 || m.RFactor < 50 {
		t.Fatalf("G.722 metrics %+v: want R and no MOS", m)
	}
	blk := m.VoIPMetricsBlock(1)
	if blk.MOSLQ != 127 || blk.MOSCQ != 127 || blk.RFactor == 127 {
		t.Errorf("G.722 block MOS-LQ %d MOS-CQ %d R %d", blk.MOSLQ, blk.MOSCQ, blk.RFactor)
	}
	if blk := (Metrics{}).VoIPMetricsBlock(1); blk.RFactor != 127 || blk.MOSLQ != 127 {
		t.Errorf("no packets yet: R %d MOS %d, want 127", blk.RFactor, blk.MOSLQ)
	}
}

// TestDecodeVoIPMetricsRefuses values out of range, naming each field.
func TestDecodeVoIPMetricsRefuses(t *testing.T) {
	b := &rtcp.VoIPMetricsReportBlock{Gmin: 0, RFactor: 101, MOSLQ: 9, MOSCQ: 51, RXConfig: 0x10, JBNominal: 500, JBAbsMax: 300}
	_, err := DecodeVoIPMetrics(b)
	if !errors.Is(err, ErrInvalidXR) {
		t.Fatalf("err %v, want ErrInvalidXR", err)
	}
	for _, f := range []string{"Gmin 0", "R factor 101", "MOS-LQ 9", "MOS-CQ 51", "RX config JBA 1", "JB nominal 500"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %q", err, f)
		}
	}
	ok := &rtcp.VoIPMetricsReportBlock{Gmin: 16, RFactor: 127, ExtRFactor: 127, MOSLQ: 127, MOSCQ: 127}
	if _, err := DecodeVoIPMetrics(ok); err != nil {
		t.Errorf("all unavailable: %v", err)
	}
}

// FuzzParseVoIPMetrics: any datagram either fails with ErrInvalidXR or
// yields blocks whose figures are in range; an accepted block encodes
// back to the same octets.
func FuzzParseVoIPMetrics(f *testing.F) {
	good := Metrics{Expected: 10, LossRate: 10, Gmin: 16, RFactor: 80, MOSLQ: 4, MOSCQ: 3.9, JBNominal: 40 * time.Millisecond, JBAbsMax: 300 * time.Millisecond}
	b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ExtendedReport{SenderSSRC: 5, Reports: []rtcp.ReportBlock{good.VoIPMetricsBlock(6)}}})
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte{0x80, 207, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, d []byte) {
		reps, err := ParseVoIPMetrics(d)
		if err != nil {
			if !errors.Is(err, ErrInvalidXR) {
				t.Fatalf("error %v does not wrap ErrInvalidXR", err)
			}
			return
		}
		for _, r := range reps {
			m := r.Metrics
			if m.LossRate < 0 || m.LossRate >= 100 || m.RFactor > 100 || m.MOSLQ > 5 || m.MOSCQ > 5 || m.Gmin < 1 {
				t.Fatalf("out of range: %+v", m)
			}
		}
	})
}

// TestPeerXRKept: the peer's VoIP Metrics block about our SSRC is kept
// (RemoteQuality); a block about another source is ignored; a block out
// of range counts as an invalid packet and is not kept.
func TestPeerXRKept(t *testing.T) {
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(Negotiated{Codec: PCMA, PTime: 20 * time.Millisecond, Remote: netip.MustParseAddrPort("127.0.0.1:9")}); err != nil {
		t.Fatal(err)
	}
	send := func(blk *rtcp.VoIPMetricsReportBlock) {
		b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 7}, &rtcp.ExtendedReport{SenderSSRC: 7, Reports: []rtcp.ReportBlock{blk}}})
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		s.handleRTCPLocked(b, netip.MustParseAddrPort("127.0.0.1:9"), time.Now())
		s.mu.Unlock()
	}
	m := Metrics{Expected: 100, LossRate: 2, Gmin: 16, RFactor: 88, MOSLQ: 4.2, MOSCQ: 4.1, JBNominal: 40 * time.Millisecond}
	send(m.VoIPMetricsBlock(s.ssrc + 1))
	if !s.RemoteQuality().At.IsZero() {
		t.Fatal("a block about another SSRC was kept")
	}
	send(m.VoIPMetricsBlock(s.ssrc))
	r := s.RemoteQuality()
	if r.At.IsZero() || r.Sender != 7 || r.Metrics.MOSLQ != 4.2 || r.Metrics.RFactor != 88 || r.Metrics.Codec != PCMA {
		t.Fatalf("kept %+v", r)
	}
	bad := m.VoIPMetricsBlock(s.ssrc)
	bad.MOSLQ = 99
	before := s.Stats().Invalid
	send(bad)
	if s.Stats().Invalid != before+1 || s.RemoteQuality().Metrics.MOSLQ != 4.2 {
		t.Errorf("an out-of-range block: invalid %d→%d, kept %+v", before, s.Stats().Invalid, s.RemoteQuality().Metrics)
	}
}
