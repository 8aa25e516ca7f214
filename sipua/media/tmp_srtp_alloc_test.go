package media

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestTmpSRTPAllocs(t *testing.T) {
	res := testing.Benchmark(func(b *testing.B) {
		sink := sinkSocket(b)
		s, _ := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
		defer s.Close()
		k := make([]byte, 30)
		s.Apply(Negotiated{Codec: PCMU, PTime: 20 * time.Millisecond, Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(), SRTP: &SRTPKeys{Suite: SuiteAES128SHA1_80, LocalKey: k, RemoteKey: k}})
		s.portRate = 8000
		frame := make([]int16, 80)
		out := make([]int16, 80)
		rbuf := make([]byte, 1500)
		start := time.Now()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.mu.Lock()
			s.sendTick(frame)
			s.sendTick(frame)
			s.mu.Unlock()
			n, _ := sink.Read(rbuf)
			// reflect our own packet back (same key both ways)
			s.handleRTP(rbuf[:n], netip.MustParseAddrPort("127.0.0.1:1"), start.Add(time.Duration(i)*20*time.Millisecond))
			s.mu.Lock()
			s.playTick(out)
			s.playTick(out)
			s.mu.Unlock()
		}
		if s.jb.st.received == 0 { b.Fatal("none") }
	})
	t.Logf("SRTP: %d allocs/op %d B/op %v", res.AllocsPerOp(), res.AllocedBytesPerOp(), res.NsPerOp())
}
