package media

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func benchSession(b *testing.B, c Codec, rate int, remote netip.AddrPort) *Session {
	b.Helper()
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Apply(Negotiated{Codec: c, PayloadType: c.PayloadType(), PTime: 20 * time.Millisecond,
		EventPT: 101, LocalEventPT: 101, Remote: remote, Direction: SendRecv}); err != nil {
		b.Fatal(err)
	}
	s.portRate = rate
	return s
}

func sinkSocket(b *testing.B) *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkSendPath is one 20 ms packet: two 10 ms frames captured →
// (resampled when the port rate differs) → encoded → RTP header → UDP
// write. Reported per packet.
func BenchmarkSendPath(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    Codec
		rate int
	}{{"PCMU", PCMU, 8000}, {"PCMA", PCMA, 8000}, {"G722", G722, 16000}, {"PCMU-16kport", PCMU, 16000}} {
		b.Run(tc.name, func(b *testing.B) {
			sink := sinkSocket(b)
			go func() { // drain
				buf := make([]byte, 1500)
				for {
					if _, err := sink.Read(buf); err != nil {
						return
					}
				}
			}()
			s := benchSession(b, tc.c, tc.rate, sink.LocalAddr().(*net.UDPAddr).AddrPort())
			port := &fakePort{rate: tc.rate, freq: 1000, amp: 8000}
			frame := make([]int16, tc.rate/100)
			for i := range frame {
				frame[i] = int16(i * 150)
			}
			_ = port
			b.ReportAllocs()
			for b.Loop() {
				for range 2 {
					s.mu.Lock()
					s.sendTick(frame)
					s.mu.Unlock()
				}
			}
			if s.sentPkts == 0 {
				b.Fatal("nothing sent")
			}
		})
	}
}

// BenchmarkReceivePath is one 20 ms packet: UDP read → RTP parse →
// jitter buffer → two 10 ms playout ticks (decode, concealment state,
// resampling when needed). Reported per packet; the sender's write is
// included in the loop but done from another socket.
func BenchmarkReceivePath(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    Codec
		rate int
	}{{"PCMU", PCMU, 8000}, {"PCMA", PCMA, 8000}, {"G722", G722, 16000}, {"G722-8kport", G722, 8000}} {
		b.Run(tc.name, func(b *testing.B) {
			tx := sinkSocket(b)
			s := benchSession(b, tc.c, tc.rate, tx.LocalAddr().(*net.UDPAddr).AddrPort())
			dst := s.LocalAddr()
			var pkt rtp.Packet
			pkt.Header = rtp.Header{Version: 2, PayloadType: tc.c.PayloadType(), SSRC: 77}
			payload := make([]byte, 160)
			for i := range payload {
				payload[i] = byte(i * 3)
			}
			pkt.Payload = payload
			wire := make([]byte, 1500)
			rbuf := make([]byte, 1500)
			out := make([]int16, tc.rate/100)
			start := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				pkt.SequenceNumber = uint16(i)
				pkt.Timestamp = uint32(i * 160)
				i++
				n, _ := pkt.MarshalTo(wire)
				if _, err := tx.WriteToUDPAddrPort(wire[:n], dst); err != nil {
					b.Fatal(err)
				}
				m, from, err := s.rtpConn.ReadFromUDPAddrPort(rbuf)
				if err != nil {
					b.Fatal(err)
				}
				s.handleRTP(rbuf[:m], from, start.Add(time.Duration(i)*20*time.Millisecond))
				s.mu.Lock()
				s.playTick(out)
				s.playTick(out)
				s.mu.Unlock()
			}
			if s.jb.st.received == 0 {
				b.Fatal("nothing received")
			}
		})
	}
}

// TestPacketPathsAllocationFree is the acceptance check behind the
// benchmarks: 0 allocations per 20 ms packet, send (encode, packetize,
// write) plus receive (read, parse, jitter buffer, decode, playout), for
// every codec and with SRTP. The session's own packets are looped back.
func TestPacketPathsAllocationFree(t *testing.T) {
	key := make([]byte, srtpKeyLen)
	for i := range key {
		key[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		c    Codec
		srtp *SRTPKeys
	}{{"PCMU", PCMU, nil}, {"PCMA", PCMA, nil}, {"G722", G722, nil},
		{"PCMU-SRTP", PCMU, &SRTPKeys{Suite: SuiteAES128SHA1_80, LocalKey: key, RemoteKey: key}}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ca := c.LocalAddr().(*net.UDPAddr).AddrPort()
			s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Apply(Negotiated{Codec: tc.c, PayloadType: tc.c.PayloadType(), PTime: 20 * time.Millisecond,
				Remote: ca, SRTP: tc.srtp}); err != nil {
				t.Fatal(err)
			}
			rate := tc.c.SampleRate()
			s.portRate = rate
			frame := make([]int16, rate/100)
			for i := range frame {
				frame[i] = int16(i * 100)
			}
			out := make([]int16, rate/100)
			rbuf := make([]byte, 1500)
			start := time.Now()
			i := 0
			step := func() {
				s.mu.Lock()
				s.sendTick(frame)
				s.sendTick(frame)
				s.mu.Unlock()
				c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := c.Read(rbuf)
				if err != nil {
					t.Fatalf("packet %d not sent: %v", i, err)
				}
				s.handleRTP(rbuf[:n], ca, start.Add(time.Duration(i)*20*time.Millisecond))
				s.mu.Lock()
				s.playTick(out)
				s.playTick(out)
				s.mu.Unlock()
				i++
			}
			for range 10 {
				step()
			}
			a := testing.AllocsPerRun(200, step)
			switch {
			case a != 0 && tc.srtp != nil && raceEnabled:
				// pion/srtp draws buffers from a sync.Pool, which the race
				// detector empties at random. The assertion is made by the
				// non-race run CI does of this test:
				//	go test -count=1 -run Alloc ./sipua/media/
				t.Logf("%.1f allocations per packet under -race (sync.Pool); asserted without -race", a)
			case a != 0:
				t.Errorf("%.1f allocations per packet (send+receive), want 0", a)
			}
			if st := s.Stats(); st.PacketsReceived < 200 || st.Invalid != 0 || st.Concealed != 0 {
				t.Errorf("loop-back stats %+v", st)
			}
		})
	}
}
