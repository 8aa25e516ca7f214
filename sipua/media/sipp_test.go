package media

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// TestSIPpPlaysRFC2833 calls SIPp (a UAS scenario) with our SDP offer over
// a hand-written SIP exchange, takes its answer through ProcessAnswer, and
// lets SIPp play its shipped RFC 2833 captures (1, 5, #) to our session
// with play_pcap_audio: the session must report exactly "15#".
func TestSIPpPlaysRFC2833(t *testing.T) {
	sipp := testpeer.Require(t, "sipp")[0]
	testpeer.RequireFile(t, "/usr/share/sip-tester/dtmf_2833_1.pcap")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "5", "pound"} {
		f := "dtmf_2833_" + n + ".pcap"
		if err := os.Symlink(filepath.Join("/usr/share/sip-tester", f), filepath.Join(dir, "pcap", f)); err != nil {
			t.Fatal(err)
		}
	}
	scen, _ := filepath.Abs(filepath.Join("testdata", "sipp_uas_dtmf.xml"))
	sipPort := testpeer.FreePort(t, false)
	mediaPort := testpeer.FreePort(t, true)
	proc := testpeer.Start(t, dir, sipp, "-sf", scen, "-i", "127.0.0.1", "-p", fmt.Sprint(sipPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(mediaPort), "-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error")

	var mu sync.Mutex
	var digits string
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"),
		OnDigit: func(d Digit) { mu.Lock(); digits += string(d.Rune()); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	neg := mustNeg(t, Options{Addr: s.LocalAddr()})
	offer, err := neg.Offer()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sig.Close()
	me := sig.LocalAddr().(*net.UDPAddr).Port
	target := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}
	common := fmt.Sprintf("From: <sip:tester@127.0.0.1>;tag=t1\r\nCall-ID: media-sipp-%d@127.0.0.1\r\nMax-Forwards: 70\r\n", me)
	invite := fmt.Sprintf("INVITE sip:sipp@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-inv1;rport\r\n%s"+
		"To: <sip:sipp@127.0.0.1>\r\nCSeq: 1 INVITE\r\nContact: <sip:tester@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		sipPort, me, common, me, len(offer), offer)
	var resp string
	buf := make([]byte, 4096)
	for try := 0; try < 25 && resp == ""; try++ {
		if proc.Exited() {
			t.Fatalf("sipp exited: %s", proc.Output())
		}
		sig.WriteToUDP([]byte(invite), target)
		sig.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := sig.ReadFromUDP(buf)
		if err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			resp = string(buf[:n])
		}
	}
	if resp == "" {
		t.Fatal("no 200 OK from sipp")
	}
	head, body, _ := strings.Cut(resp, "\r\n\r\n")
	var toHdr string
	for _, l := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "to:") {
			toHdr = l
		}
	}
	params, err := neg.ProcessAnswer([]byte(body))
	if err != nil {
		t.Fatalf("ProcessAnswer(%q): %v", body, err)
	}
	if params.Codec != PCMU || params.EventPT != 101 || params.Remote.Port() != uint16(mediaPort) {
		t.Fatalf("negotiated %+v", params)
	}
	if err := s.Apply(params); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, newFakePort(8000, 0)) }()
	defer func() { cancel(); <-done }()
	ack := fmt.Sprintf("ACK sip:sipp@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ack1;rport\r\n%s%s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		sipPort, me, common, toHdr)
	if _, err := sig.WriteToUDP([]byte(ack), target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) && !proc.Exited() {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // a late duplicate report would show
	mu.Lock()
	defer mu.Unlock()
	if digits != "15#" {
		t.Fatalf("digits reported %q, want \"15#\"", digits)
	}
}
