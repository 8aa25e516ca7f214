package sipua

import (
	"basestation/internal/testpeer"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// udpTOSSocket is a UDP socket on 127.0.0.1 reporting each datagram's
// TOS octet (IP_RECVTOS).
func udpTOSSocket(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc, _ := c.SyscallConn()
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1) }); err != nil || serr != nil {
		t.Fatalf("IP_RECVTOS: %v %v", err, serr)
	}
	return c
}

// firstTOS returns the TOS octet and text of the first datagram on c.
func firstTOS(t *testing.T, c *net.UDPConn, d time.Duration) (int, string) {
	t.Helper()
	buf, oob := make([]byte, 4096), make([]byte, 128)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, oobn, _, _, err := c.ReadMsgUDP(buf, oob)
	if err != nil {
		t.Fatalf("nothing received: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 {
			return int(m.Data[0]), string(buf[:n])
		}
	}
	t.Fatal("no IP_TOS control message")
	return 0, ""
}

// TestSIPOverUDPMarked: the REGISTER (and the registrar probe's CRLF)
// leave the UA's SIP sockets with DSCP
// CS3 (TOS 0x60) by default, the configured class otherwise, unmarked
// with -1; read from the packets received by a registrar socket.
func TestSIPOverUDPMarked(t *testing.T) {
	for _, tc := range []struct {
		dscp, want int
	}{{0, 24 << 2}, {46, 46 << 2}, {-1, 0}} {
		t.Run(fmt.Sprint(tc.dscp), func(t *testing.T) {
			reg := udpTOSSocket(t)
			startUA(t, Config{SIPDSCP: tc.dscp, Extensions: []Extension{ext("101", "1001", "pw", reg.LocalAddr().String())}})
			// The registrar probe's CRLF may come first: it is SIP too.
			for range 10 {
				tos, msg := firstTOS(t, reg, 5*time.Second)
				if tos != tc.want {
					t.Errorf("%.12q TOS %#x, want %#x", msg, tos, tc.want)
				}
				if strings.HasPrefix(msg, "REGISTER ") {
					return
				}
			}
			t.Error("no REGISTER received")
		})
	}
}

// loSniffer records the TOS octet of IPv4 TCP segments with payload
// between 127.0.0.1 ports, from an AF_PACKET socket on the loopback
// interface (root only: the test is skipped otherwise).
type loSniffer struct {
	fd   int
	mu   sync.Mutex
	segs map[[2]uint16][]int // (src port, dst port) → TOS of each segment with data
	stop chan struct{}
	done chan struct{}
}

func sniffLoopback(t *testing.T) *loSniffer {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_IP)))
	if err != nil {
		if testpeer.InCI() { // CI runs as root: the socket must open there
			t.Fatalf("no packet socket: %v", err)
		}
		t.Skipf("no packet socket (not root?): %v", err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		unix.Close(fd)
		t.Fatalf("loopback interface: %v", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: lo.Index}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000})
	s := &loSniffer{fd: fd, segs: map[[2]uint16][]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	t.Cleanup(func() { close(s.stop); <-s.done; unix.Close(fd) })
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *loSniffer) run() {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil || n < 20 || buf[0]>>4 != 4 || buf[9] != unix.IPPROTO_TCP {
			continue
		}
		ihl := int(buf[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(buf[2:]))
		if total > n || ihl+20 > total {
			continue
		}
		tcp := buf[ihl:total]
		if ihl+int(tcp[12]>>4)*4 >= total {
			continue // no payload (SYN, ACK)
		}
		key := [2]uint16{binary.BigEndian.Uint16(tcp[0:]), binary.BigEndian.Uint16(tcp[2:])}
		s.mu.Lock()
		s.segs[key] = append(s.segs[key], int(buf[1]))
		s.mu.Unlock()
	}
}

// tos returns the TOS octets of the data segments sent to port (or,
// with from, from port).
func (s *loSniffer) tos(port uint16, from bool) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for k, v := range s.segs {
		if (!from && k[1] == port) || (from && k[0] == port) {
			out = append(out, v...)
		}
	}
	return out
}

// TestSIPOverTCPAndTLSMarked: SIP over TCP and TLS connections that sipgo
// dials (the REGISTER; the TLS ClientHello), and the answers the UA sends
// on a TCP connection it accepted, leave with DSCP CS3: the TOS octet is
// read from the segments on the loopback interface.
func TestSIPOverTCPAndTLSMarked(t *testing.T) {
	sn := sniffLoopback(t)
	for _, tr := range []Transport{TCP, TLS} {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 2048)
			n, _ := c.Read(b)
			got <- string(b[:n])
		}()
		e := ext("101", "1001", "pw", l.Addr().String())
		e.Account.Transport = tr
		u := startUA(t, Config{Extensions: []Extension{e}, TLSRootCAs: x509.NewCertPool()})
		select {
		case msg := <-got:
			if tr == TCP && !strings.HasPrefix(msg, "REGISTER ") || tr == TLS && (len(msg) < 1 || msg[0] != 0x16) {
				t.Errorf("%s: received %.30q", tr, msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing received", tr)
		}
		time.Sleep(100 * time.Millisecond)
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		checkTOS(t, fmt.Sprintf("%s dialled by the UA", tr), sn.tos(port, false), 24<<2)
		u.stop(t)
	}

	// A connection accepted by the UA: its answer to an OPTIONS.
	u := startUA(t, Config{})
	addr := u.ListenAddr()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lport := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	fmt.Fprintf(c, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bK-q1\r\nMax-Forwards: 70\r\nTo: <sip:%s>\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nCall-ID: qos-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		addr, lport, addr)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2048)
	n, err := c.Read(b)
	if err != nil || !strings.HasPrefix(string(b[:n]), "SIP/2.0 ") {
		t.Fatalf("no answer on the accepted connection: %v %q", err, b[:n])
	}
	time.Sleep(100 * time.Millisecond)
	_, p, _ := net.SplitHostPort(addr)
	var uport uint16
	fmt.Sscan(p, &uport)
	checkTOS(t, "TCP accepted by the UA", sn.tos(uport, true), 24<<2)
}

func checkTOS(t *testing.T, what string, tos []int, want int) {
	t.Helper()
	if len(tos) == 0 {
		t.Errorf("%s: no data segment seen", what)
		return
	}
	for _, v := range tos {
		if v != want {
			t.Errorf("%s: TOS %#x, want %#x (%v)", what, v, want, tos)
			return
		}
	}
	t.Logf("%s: %d segments, TOS %#x", what, len(tos), want)
}
