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

// sippCall runs SIPp with a UAS scenario, calls it with our SDP offer over a
// hand-written SIP exchange (INVITE, 200 OK, ACK), applies its answer
// through ProcessAnswer to s, runs s until SIPp ends its scenario, and
// returns the negotiated parameters and what s played.
func sippCall(t *testing.T, scenario string, pcaps []string, s *Session, opts Options) (Negotiated, []int16) {
	t.Helper()
	sipp := testpeer.Require(t, "sipp")[0]
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range pcaps {
		src := filepath.Join("/usr/share/sip-tester", f)
		testpeer.RequireFile(t, src)
		if err := os.Symlink(src, filepath.Join(dir, "pcap", f)); err != nil {
			t.Fatal(err)
		}
	}
	scen, _ := filepath.Abs(filepath.Join("testdata", scenario))
	sipPort := testpeer.FreePort(t, false)
	mediaPort := testpeer.FreePort(t, true)
	proc := testpeer.Start(t, dir, sipp, "-sf", scen, "-i", "127.0.0.1", "-p", fmt.Sprint(sipPort),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(mediaPort), "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error")

	opts.Addr = s.LocalAddr()
	neg := mustNeg(t, opts)
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
	if params.Remote.Port() != uint16(mediaPort) {
		t.Fatalf("negotiated remote %v, want SIPp's media port %d", params.Remote, mediaPort)
	}
	if err := s.Apply(params); err != nil {
		t.Fatal(err)
	}
	port := newFakePort(8000, 0)
	port.maxKeep = 8000 * 20
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, port) }()
	ack := fmt.Sprintf("ACK sip:sipp@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ack1;rport\r\n%s%s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		sipPort, me, common, toHdr)
	if _, err := sig.WriteToUDP([]byte(ack), target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !proc.Exited() {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // late reports or packets would show
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return params, port.snapshot()
}

// TestSIPpPlaysRFC2833: SIPp (UAS) answers our offer and plays its shipped
// RFC 2833 captures for 1, 5 and # with play_pcap_audio; the session must
// report exactly "15#".
func TestSIPpPlaysRFC2833(t *testing.T) {
	var mu sync.Mutex
	var digits string
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"),
		OnDigit: func(d Digit) { mu.Lock(); digits += string(d.Rune()); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	params, _ := sippCall(t, "sipp_uas_dtmf.xml", []string{"dtmf_2833_1.pcap", "dtmf_2833_5.pcap", "dtmf_2833_pound.pcap"}, s, Options{})
	if params.Codec != PCMU || params.EventPT != 101 {
		t.Fatalf("negotiated %+v", params)
	}
	mu.Lock()
	defer mu.Unlock()
	if digits != "15#" {
		t.Fatalf("digits reported %q, want \"15#\"", digits)
	}
}

// TestSIPpPlaysPCMA: SIPp answers PCMA and plays its shipped 7 s A-law
// capture (another implementation's stream: 30 ms packets, its own
// timestamps) to the session, which must take every packet (none lost,
// late or invalid) and play the audio.
func TestSIPpPlaysPCMA(t *testing.T) {
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	params, played := sippCall(t, "sipp_uas_pcma.xml", []string{"g711a.pcap"}, s, Options{Codecs: []Codec{PCMA, PCMU}})
	if params.Codec != PCMA {
		t.Fatalf("negotiated %+v", params)
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.PacketsReceived != 236 || st.Lost != 0 || st.Late != 0 || st.Invalid != 0 {
		t.Errorf("received %d (want the capture's 236), lost %d, late %d, invalid %d", st.PacketsReceived, st.Lost, st.Late, st.Invalid)
	}
	var loud int
	for i := 0; i+800 <= len(played); i += 800 {
		if energy(played[i:i+800]) > 1e4 {
			loud++
		}
	}
	if loud < 30 { // ≥ 3 s of the 7 s capture audible
		t.Errorf("only %d of %d 100 ms blocks carry audio", loud, len(played)/800)
	}
}
