package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"basestation/internal/testpeer"
)

// rfc3550Jitter is the RFC 3550 §6.4.1 interarrival jitter estimator, in
// 8 kHz ticks, with its mean over the packets seen (what Metrics.Jitter
// reports): the relay runs it on the packets it emits, as the truth of
// the jitter it applied.
type rfc3550Jitter struct {
	mu          sync.Mutex
	j, sum      float64
	n           int
	prev        float64
	havePrev    bool
	first       time.Time
	firstStamps bool
}

func (r *rfc3550Jitter) packet(p []byte, at time.Time) {
	var h rtp.Header
	if _, err := h.Unmarshal(p); err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.firstStamps {
		r.first, r.firstStamps = at, true
	}
	transit := at.Sub(r.first).Seconds()*8000 - float64(h.Timestamp)
	if r.havePrev {
		d := math.Abs(transit - r.prev)
		r.j += (d - r.j) / 16
	}
	r.prev, r.havePrev = transit, true
	r.sum += r.j
	r.n++
}

func (r *rfc3550Jitter) mean() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return 0
	}
	return time.Duration(r.sum / float64(r.n) / 8000 * float64(time.Second))
}

// rtcpTap relays RTCP between two sessions (their reports latch to it)
// and keeps a copy of each datagram B sends.
type rtcpTap struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
	done chan struct{}
}

func newRTCPTap(t *testing.T, a, b netip.AddrPort) *rtcpTap {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tp := &rtcpTap{conn: c, done: make(chan struct{})}
	go func() {
		defer close(tp.done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			dst := b
			if from == b {
				dst = a
				tp.mu.Lock()
				tp.got = append(tp.got, append([]byte(nil), buf[:n]...))
				tp.mu.Unlock()
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], dst)
		}
	}()
	t.Cleanup(func() { c.Close(); <-tp.done })
	return tp
}

func (tp *rtcpTap) datagrams() [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([][]byte(nil), tp.got...)
}

// TestQualityThroughRelay sends a tone from A to B through a relay that
// drops 5 % of the packets (one at a random place in every 20) and delays each by a uniform 0–90 ms (RFC 3550
// interarrival jitter of that delay: E|d1−d2| = 90/3 = 30 ms), with a
// 20 ms packet time. B's figures (the Metrics its quality reports and its
// RTCP XR carry) must give the loss within ±1 point of the loss applied
// and the jitter within ±5 ms of the jitter applied: the relay's own
// RFC 3550 measure of what it emitted, and the nominal 30 ms when the
// host let the relay keep to it (a loaded host fires its timers late). B's XR
// VoIP Metrics blocks reach A, whose pion/rtcp decoding gives B's
// figures; where tshark is installed its RTCP XR dissector decodes the
// same blocks.
func TestQualityThroughRelay(t *testing.T) {
	const lossPct, appliedJitter = 5, 30 * time.Millisecond
	r := newRelay(t, lossPct, 0, 3*appliedJitter)
	r.exactLoss = true
	var truth rfc3550Jitter
	r.onForward = truth.packet
	a, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"), RTCPInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var snapMu sync.Mutex
	var snaps []QualitySnapshot
	b, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"), RTCPInterval: 500 * time.Millisecond,
		QualityEvery: 2 * time.Second, OnQuality: func(sn QualitySnapshot) { snapMu.Lock(); snaps = append(snaps, sn); snapMu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	r.a, r.b = a.LocalAddr(), b.LocalAddr()
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); r.run(ctx) }()
	defer func() { cancel(); <-relayDone }() // no goroutine outlives the test
	rtcpOf := func(s *Session) netip.AddrPort {
		return netip.AddrPortFrom(s.LocalAddr().Addr(), s.LocalAddr().Port()+1)
	}
	tap := newRTCPTap(t, rtcpOf(a), rtcpOf(b)) // RTCP both ways goes through the tap
	base := Negotiated{Codec: PCMU, PTime: 20 * time.Millisecond, Direction: SendRecv}
	na, nb := base, base
	na.Remote, na.RemoteRTCP = r.addr(), peerAddr(tap.conn)
	nb.Remote, nb.RemoteRTCP = r.addr(), peerAddr(tap.conn)
	if err := a.Apply(na); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(nb); err != nil {
		t.Fatal(err)
	}
	dur := 8 * time.Second
	if testing.Short() {
		dur = 5 * time.Second
	}
	// A stops first; B goes on until every delayed packet has arrived.
	ctxA, cancelA := context.WithTimeout(context.Background(), dur)
	defer cancelA()
	ctxB, cancelB := context.WithTimeout(context.Background(), dur+400*time.Millisecond)
	defer cancelB()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = a.Run(ctxA, newFakePort(8000, 1000)) }()
	go func() { defer wg.Done(); _ = b.Run(ctxB, newFakePort(8000, 0)) }()
	wg.Wait()

	applied := 100 * float64(r.dropped.Load()) / float64(r.dropped.Load()+r.forwarded.Load())
	m := b.Quality()
	t.Logf("relay: %d forwarded, %d dropped: loss applied %.2f %% (nominal %d %%); jitter of what it emitted %v (nominal %v)",
		r.forwarded.Load(), r.dropped.Load(), applied, lossPct, truth.mean(), appliedJitter)
	t.Logf("B measured: expected %d lost %d discarded %d: NLR %.2f %% JDR %.2f %% BLD %.1f %% BD %v GLD %.1f %% GD %v IAJ %v RTD %v ESD %v JBN %v JBM %v JBX %v R %.1f MOS-LQ %.2f MOS-CQ %.2f",
		m.Expected, m.Lost, m.Discarded, m.LossRate, m.DiscardRate, m.BurstDensity, m.BurstDuration, m.GapDensity, m.GapDuration,
		m.Jitter, m.RoundTrip, m.EndSystemDelay, m.JBNominal, m.JBMax, m.JBAbsMax, m.RFactor, m.MOSLQ, m.MOSCQ)
	if math.Abs(m.LossRate-applied) > 1 {
		t.Errorf("loss %.2f %%, applied %.2f %%: more than 1 point apart", m.LossRate, applied)
	}
	if math.Abs(applied-lossPct) > 1.5 {
		t.Errorf("the relay applied %.2f %% loss for a nominal %d %%", applied, lossPct)
	}
	near := func(a, b time.Duration) bool { return a-b <= 5*time.Millisecond && b-a <= 5*time.Millisecond }
	if !near(m.Jitter, truth.mean()) {
		t.Errorf("jitter %v, applied %v (the relay's emission): more than 5 ms apart", m.Jitter, truth.mean())
	}
	switch {
	case near(truth.mean(), appliedJitter):
		if !near(m.Jitter, appliedJitter) {
			t.Errorf("jitter %v, applied %v: more than 5 ms apart", m.Jitter, appliedJitter)
		}
	default:
		// A loaded host fires the relay's timers late: it applied more
		// jitter than asked, and the figures are judged against that.
		t.Logf("the relay emitted with %v of jitter, not the nominal %v (host loaded): compared with what it emitted", truth.mean(), appliedJitter)
	}
	if m.Expected < 200 || m.GapDuration <= 0 || m.GapDensity <= 0 || m.JBNominal < 40*time.Millisecond ||
		m.JBAbsMax != 300*time.Millisecond || m.EndSystemDelay != m.JBNominal+30*time.Millisecond || m.RoundTrip <= 0 {
		t.Errorf("implausible figures %+v", m)
	}
	if m.MOSLQ < 2.5 || m.MOSLQ > 4.2 || m.RFactor > 85 || m.RFactor < 40 {
		t.Errorf("R %.1f MOS-LQ %.2f: not lowered by %.1f %% loss", m.RFactor, m.MOSLQ, m.LossRate)
	}
	// Interval figures (2 s periods) see the loss too.
	snapMu.Lock()
	if len(snaps) < 2 {
		t.Errorf("%d quality snapshots in %v, want one per 2 s", len(snaps), dur)
	} else if iv := snaps[len(snaps)-1].Metrics(snaps[len(snaps)-2]); iv.Expected < 80 || iv.LossRate == 0 && iv.Lost != 0 {
		t.Errorf("last interval %+v", iv)
	}
	snapMu.Unlock()

	// A decoded B's XR (pion/rtcp): B's view of A's stream.
	rm := a.RemoteQuality()
	if rm.At.IsZero() {
		t.Fatal("A received no RTCP XR VoIP Metrics from B")
	}
	rq := rm.Metrics
	t.Logf("A decoded B's XR: %+v", rq)
	if math.Abs(rq.LossRate-m.LossRate) > 1.5 || rq.Gmin != 16 || rq.JBAbsMax != 300*time.Millisecond || rq.MOSLQ < 2.5 || rq.RFactor == 0 {
		t.Errorf("A's decoded XR %+v does not match B's figures", rq)
	}
	// And the octets B sent, by another decoder.
	var withXR [][]byte
	for _, d := range tap.datagrams() {
		if reps, err := ParseVoIPMetrics(d); err == nil && len(reps) == 1 {
			withXR = append(withXR, d)
		}
	}
	if len(withXR) < 3 {
		t.Fatalf("%d of B's RTCP reports carried an XR VoIP Metrics block", len(withXR))
	}
	tsharkDecodesXR(t, withXR, m)
}

// tsharkDecodesXR writes the RTCP datagrams to a pcap file and has
// Wireshark's dissector decode their VoIP Metrics blocks; the last must
// match m (the final figures).
func tsharkDecodesXR(t *testing.T, dgrams [][]byte, m Metrics) {
	path, err := testpeer.LookPath("tshark")
	if err != nil {
		if testpeer.InCI() {
			t.Fatalf("tshark is required and missing in CI: %v; install with %s", err, testpeer.InstallHint)
		}
		t.Logf("tshark not installed: the XR blocks are not cross-checked by Wireshark's dissector (%s)", testpeer.InstallHint)
		return
	}
	pcap := filepath.Join(t.TempDir(), "xr.pcap")
	if err := os.WriteFile(pcap, pcapOf(dgrams, 40002, 40003), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-r", pcap, "-d", "udp.port==40003,rtcp", "-Y", "rtcp.xr.bt == 7", "-T", "fields",
		"-E", "separator=,", "-e", "rtcp.xr.voipmetrics.gmin", "-e", "rtcp.xr.voipmetrics.rfactor", "-e", "rtcp.xr.voipmetrics.moslq",
		"-e", "rtcp.xr.voipmetrics.jbabsmax", "-e", "rtcp.xr.voipmetrics.gapduration", "-e", "rtcp.xr.voipmetrics.signallevel")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("tshark decoded %d XR VoIP Metrics blocks of %d reports; last: %s", len(lines), len(dgrams), lines[len(lines)-1])
	if len(lines) != len(dgrams) {
		t.Errorf("tshark found %d XR VoIP Metrics blocks in %d reports", len(lines), len(dgrams))
	}
	f := strings.Split(lines[len(lines)-1], ",")
	if len(f) != 6 {
		t.Fatalf("tshark fields %q", lines[len(lines)-1])
	}
	num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	if num(f[0]) != 16 || num(f[3]) != 300 || num(f[1]) < 40 || num(f[1]) > 100 || num(f[2]) < 2.5 || num(f[2]) > 4.5 || num(f[4]) <= 0 {
		t.Errorf("tshark decoded Gmin %s R %s MOS-LQ %s JB abs max %s gap duration %s; want 16, R and MOS-LQ of the call (%.1f, %.2f), 300, > 0",
			f[0], f[1], f[2], f[3], f[4], m.RFactor, m.MOSLQ)
	}
}

// pcapOf wraps UDP payloads in IPv4/UDP headers (127.0.0.1, sport →
// dport) in a classic pcap file of raw IP packets (LINKTYPE_RAW).
func pcapOf(payloads [][]byte, sport, dport uint16) []byte {
	var b bytes.Buffer
	hdr := []any{uint32(0xa1b2c3d4), uint16(2), uint16(4), int32(0), uint32(0), uint32(65535), uint32(101)}
	for _, v := range hdr {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	for i, p := range payloads {
		n := 20 + 8 + len(p)
		ip := make([]byte, 28, n)
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(n))
		copy(ip[12:], []byte{127, 0, 0, 1, 127, 0, 0, 1})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		sum = (sum >> 16) + sum&0xffff
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum+sum>>16))
		binary.BigEndian.PutUint16(ip[20:], sport)
		binary.BigEndian.PutUint16(ip[22:], dport)
		binary.BigEndian.PutUint16(ip[24:], uint16(8+len(p)))
		ip = append(ip, p...)
		for _, v := range []uint32{uint32(1700000000 + i), 0, uint32(n), uint32(n)} {
			_ = binary.Write(&b, binary.LittleEndian, v)
		}
		b.Write(ip)
	}
	return b.Bytes()
}
