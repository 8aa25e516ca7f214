package media

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tosSocket is a UDP socket on 127.0.0.1 that reports the TOS octet of
// each datagram received (IP_RECVTOS).
func tosSocket(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1) }); err != nil || serr != nil {
		t.Fatalf("IP_RECVTOS: %v %v", err, serr)
	}
	return c
}

// readTOS returns the TOS octets of the datagrams that arrive on c within d.
func readTOS(t *testing.T, c *net.UDPConn, d time.Duration) []int {
	t.Helper()
	var out []int
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		_, oobn, _, _, err := c.ReadMsgUDP(buf, oob)
		if err != nil {
			return out
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			t.Fatal(err)
		}
		tos := -1
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 {
				tos = int(m.Data[0])
			}
		}
		out = append(out, tos)
	}
}

// TestRTPMarkedEF: a session's RTP and RTCP leave with DSCP EF (TOS 0xB8)
// by default, also from a dual-stack socket bound to the wildcard
// address; DSCP -1 leaves them unmarked. The TOS octet is read from the
// packets as received.
func TestRTPMarkedEF(t *testing.T) {
	for _, tc := range []struct {
		name string
		bind string
		dscp int
		want int
	}{
		{"loopback EF", "127.0.0.1:0", 0, DSCPEF << 2},
		{"wildcard EF", "0.0.0.0:0", 0, DSCPEF << 2},
		{"AF41", "127.0.0.1:0", 34, 34 << 2},
		{"unmarked", "127.0.0.1:0", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rtpIn, rtcpIn := tosSocket(t), tosSocket(t)
			s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort(tc.bind), DSCP: tc.dscp, RTCPInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(Negotiated{Codec: PCMU, PTime: 20 * time.Millisecond, Direction: SendRecv,
				Remote: peerAddr(rtpIn), RemoteRTCP: peerAddr(rtcpIn)}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			done := make(chan struct{})
			go func() { defer close(done); _ = s.Run(ctx, newFakePort(8000, 1000)) }()
			rtp := readTOS(t, rtpIn, 400*time.Millisecond)
			rtcp := readTOS(t, rtcpIn, 50*time.Millisecond)
			<-done
			if len(rtp) < 5 || len(rtcp) == 0 {
				t.Fatalf("received %d RTP and %d RTCP packets", len(rtp), len(rtcp))
			}
			for _, got := range append(rtp, rtcp...) {
				if got != tc.want {
					t.Fatalf("TOS %#x, want %#x (RTP %v, RTCP %v)", got, tc.want, rtp, rtcp)
				}
			}
		})
	}
	if _, err := NewSession(Config{LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"), DSCP: 64}); err == nil {
		t.Error("DSCP 64 accepted")
	}
}
