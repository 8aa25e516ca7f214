package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// FuzzReceiveDatagram feeds arbitrary datagrams to a session's RTP and
// RTCP input (RTP parsing, telephone events, jitter buffer, RTCP reports)
// and plays after each: no panic, and the played frame is always whole.
func FuzzReceiveDatagram(f *testing.F) {
	audio := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 9}, Payload: make([]byte, 160)}
	b, _ := audio.Marshal()
	f.Add(b)
	ev := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: true, SequenceNumber: 2, Timestamp: 320, SSRC: 9}, Payload: []byte{5, 0x8a, 3, 32}}
	b, _ = ev.Marshal()
	f.Add(b)
	sr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 9, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 1, LastSenderReport: 5}}}})
	f.Add(sr)
	f.Add([]byte{0x80})
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(Negotiated{Codec: G722, PayloadType: 9, PTime: 20 * time.Millisecond, EventPT: 101, LocalEventPT: 96,
		Remote: netip.MustParseAddrPort("127.0.0.1:9"), RemoteRTCP: netip.MustParseAddrPort("127.0.0.1:9")}); err != nil {
		f.Fatal(err)
	}
	s.portRate = 8000
	// A peer's XR VoIP Metrics about our stream (reaches the RTCP
	// handler as rtcp-mux: PT 201).
	xrm := Metrics{Expected: 1, Gmin: 16, RFactor: 80, MOSLQ: 4}
	xr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 9}, &rtcp.ExtendedReport{SenderSSRC: 9, Reports: []rtcp.ReportBlock{xrm.VoIPMetricsBlock(s.ssrc)}}})
	f.Add(xr)
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	out := make([]int16, 80)
	start := time.Now()
	n := 0
	f.Fuzz(func(t *testing.T, d []byte) {
		n++
		now := start.Add(time.Duration(n) * 10 * time.Millisecond)
		if len(d) > 0 && d[0]&1 == 1 {
			s.mu.Lock()
			s.handleRTCPLocked(d, from, now)
			s.mu.Unlock()
		} else {
			s.handleRTP(d, from, now)
		}
		s.mu.Lock()
		s.playTick(out)
		s.mu.Unlock()
		_ = s.Stats()
		_ = s.Quality()
		_ = s.RemoteQuality()
	})
}
