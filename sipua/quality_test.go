package sipua

import (
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"basestation/sipua/media"
)

// TestQualityReportsVirtualTime runs a call's media with the production
// defaults (interval reports every 30 s, thresholds checked every 5 s)
// in virtual time. The far end sends 20 ms PCMU packets for 65 s and
// loses every 5th packet between 30 s and 45 s: the first interval report
// (30 s) has no loss, alerts for loss (NLR) and MOS-LQ are raised within
// a window of the loss starting and cleared within a window of it ending,
// the second interval report (60 s) carries half its interval lost at
// 20 % (10 %), and the end report the whole call's 150 lost packets.
func TestQualityReportsVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u, err := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		c := &call{ext: &extension{name: "101"}, dlg: &dialog{callID: "q-1"}}
		lo := netip.MustParseAddr("127.0.0.1")
		ms, err := u.newMediaAt(c, netip.AddrPortFrom(lo, 0), lo, media.SRTPOff, []media.Codec{media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
		if err := ms.Apply(media.Negotiated{Codec: media.PCMU, PTime: 20 * time.Millisecond, Direction: media.SendRecv,
			Remote: peerAddr, RemoteRTCP: peerAddr}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ms.Attach(newFakePort(8000, 0))
		// The far end: a packet every 20 ms for 65 s.
		sent := make(chan int)
		go func() {
			to := net.UDPAddrFromAddrPort(ms.s.LocalAddr())
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 77}, Payload: make([]byte, 160)}
			n := 0
			for i := 0; i < 65*50; i++ {
				time.Sleep(20 * time.Millisecond)
				pkt.SequenceNumber, pkt.Timestamp = uint16(1000+i), uint32(i*160)
				at := time.Since(start)
				if at >= 30*time.Second && at < 45*time.Second && i%5 == 0 {
					continue
				}
				b, _ := pkt.Marshal()
				if _, err := peer.WriteToUDP(b, to); err != nil {
					t.Error(err)
				}
				n++
			}
			sent <- n
		}()
		n := <-sent
		time.Sleep(100 * time.Millisecond)
		u.emit(ms.endReport(ms.Close()))

		var intervals []*QualityEvent
		var alerts []*QualityAlertEvent
		var end *QualityEvent
		for len(u.events) > 0 {
			switch e := (<-u.events).(type) {
			case *QualityEvent:
				if e.Report == QualityInterval {
					intervals = append(intervals, e)
				} else {
					end = e
				}
			case *QualityAlertEvent:
				alerts = append(alerts, e)
			}
		}
		at := func(tm time.Time) time.Duration { return tm.Sub(start).Round(10 * time.Millisecond) }
		for _, e := range intervals {
			t.Logf("interval at %v: loss %.2f %% MOS-LQ %.2f R %.1f expected %d", at(e.Time), e.Metrics.LossRate, e.Metrics.MOSLQ, e.Metrics.RFactor, e.Metrics.Expected)
		}
		for _, a := range alerts {
			t.Logf("alert at %v: %s %s %.2f (threshold %.2f)", at(a.Time), a.Metric, a.State, a.Value, a.Threshold)
		}
		if len(intervals) != 2 {
			t.Fatalf("%d interval reports in 65 s, want 2 (30 s period)", len(intervals))
		}
		if d := at(intervals[0].Time); d < 29*time.Second || d > 31*time.Second || intervals[0].Metrics.LossRate != 0 || intervals[0].Metrics.Expected < 1400 {
			t.Errorf("first interval report at %v: %+v", d, intervals[0].Metrics)
		}
		if d := at(intervals[1].Time); d < 59*time.Second || d > 61*time.Second || math.Abs(intervals[1].Metrics.LossRate-10) > 1 {
			t.Errorf("second interval report at %v, loss %.2f %% (want ≈ 10)", d, intervals[1].Metrics.LossRate)
		}
		want := map[string][2]time.Duration{} // metric → raised, cleared
		for _, a := range alerts {
			w := want[a.Metric]
			if a.State == "raised" {
				w[0] = at(a.Time)
			} else {
				w[1] = at(a.Time)
			}
			want[a.Metric] = w
		}
		for _, m := range []string{"NLR", "MOSLQ"} {
			w, ok := want[m]
			if !ok || w[0] < 30*time.Second || w[0] > 36*time.Second || w[1] < 45*time.Second || w[1] > 51*time.Second {
				t.Errorf("%s alert raised at %v and cleared at %v: want within a 5 s window of 30 s and 45 s", m, w[0], w[1])
			}
		}
		if len(alerts) != 4 && len(alerts) != 6 { // NLR, MOSLQ (and RCQ) raised and cleared once each
			t.Errorf("%d alerts", len(alerts))
		}
		if end == nil || end.Report != QualityEnd || end.Metrics.Lost != uint64(65*50-n) || end.Summary.PacketsReceived != uint64(n) {
			t.Fatalf("end report %+v, want %d lost of %d", end, 65*50-n, 65*50)
		}
		if end.Metrics.MOSLQ < 3 || end.Metrics.MOSLQ > 4.2 || end.Metrics.BurstDensity != 0 && end.Metrics.BurstDuration == 0 {
			t.Errorf("end report metrics %+v", end.Metrics)
		}
	})
}

// TestQualityJudge: thresholds by codec; a negative threshold is never
// crossed; a figure raised once is not raised again until it cleared.
func TestQualityJudge(t *testing.T) {
	u, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newQualityMonitor(u, "101", "c", QualityConfig{MaxRoundTrip: -1})
	good := media.Metrics{Codec: media.PCMU, Expected: 250, LossRate: 0.4, RFactor: 92, MOSLQ: 4.3, Jitter: 5 * time.Millisecond, RoundTrip: time.Second}
	bad := media.Metrics{Codec: media.PCMU, Expected: 250, LossRate: 6, DiscardRate: 1, RFactor: 60, MOSLQ: 3.2, Jitter: 60 * time.Millisecond, RoundTrip: time.Second}
	names := func(ev []Event) string {
		var s []string
		for _, e := range ev {
			a := e.(*QualityAlertEvent)
			s = append(s, a.Metric+" "+a.State)
		}
		return strings.Join(s, ", ")
	}
	now := time.Now()
	if ev := m.judgeLocked(good, now); len(ev) != 0 {
		t.Errorf("good window: %s", names(ev))
	}
	if got := names(m.judgeLocked(bad, now)); got != "MOSLQ raised, RCQ raised, NLR raised, IAJ raised" {
		t.Errorf("bad window: %q", got)
	}
	if ev := m.judgeLocked(bad, now); len(ev) != 0 {
		t.Errorf("still bad: raised again: %s", names(ev))
	}
	if ev := m.judgeLocked(media.Metrics{}, now); len(ev) != 0 {
		t.Errorf("a window without packets (hold) cleared or raised: %s", names(ev))
	}
	if got := names(m.judgeLocked(good, now)); got != "MOSLQ cleared, RCQ cleared, NLR cleared, IAJ cleared" {
		t.Errorf("good again: %q", got)
	}
	// G.722: no MOS-LQ, R judged.
	wb := bad
	wb.Codec, wb.MOSLQ, wb.MOSCQ = media.G722, 0, 0
	if got := names(m.judgeLocked(wb, now)); got != "RCQ raised, NLR raised, IAJ raised" {
		t.Errorf("G.722 bad window: %q", got)
	}
}

// TestQualityConfigValidate names each bad field; defaults fill zeros.
func TestQualityConfigValidate(t *testing.T) {
	err := Config{Quality: QualityConfig{Interval: time.Millisecond, Window: 10 * time.Millisecond, MinMOSLQ: 5, MinR: 120, MaxLossPct: 101},
		SIPDSCP: 64, RTPDSCP: 99}.Validate()
	for _, f := range []string{"quality interval 1ms", "quality window 10ms", "MOS-LQ 5", "min R 120", "max loss 101", "SIP DSCP 64", "RTP DSCP 99"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("error %v does not name %q", err, f)
		}
	}
	for _, q := range []QualityConfig{{Interval: 10 * time.Second, Window: 20 * time.Second}, {Window: time.Minute}} {
		if err := (Config{Quality: q}).Validate(); err == nil {
			t.Errorf("window %v longer than the interval %v accepted", q.Window, q.Interval)
		}
	}
	if err := (Config{Quality: QualityConfig{Interval: -1, MaxJitter: -1}, SIPDSCP: -1, RTPDSCP: 46}).Validate(); err != nil {
		t.Errorf("off and unmarked refused: %v", err)
	}
	d := QualityConfig{}.withDefaults()
	if d.Interval != 30*time.Second || d.Window != 5*time.Second || d.MinMOSLQ != 3.5 || d.MinR != 70 || d.MaxLossPct != 3 ||
		d.MaxJitter != 40*time.Millisecond || d.MaxRoundTrip != 400*time.Millisecond {
		t.Errorf("defaults %+v", d)
	}
	if (Config{}).sipDSCP() != 24 || (Config{SIPDSCP: -1}).sipDSCP() != -1 || (Config{SIPDSCP: 10}).sipDSCP() != 10 {
		t.Error("SIP DSCP default/unmarked/explicit")
	}
}
