package media

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// rawPeer is a plain UDP socket standing in for the far end.
func rawPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func peerAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// TestDTMFWireFormat sends '7' for 120 ms and checks the packets on the
// wire byte by byte against RFC 4733 §2.3/§2.5 (parsed here by hand, not
// with the package's parser): same timestamp for the event, M only on the
// first packet, growing duration, the end packet three times with the
// final duration, and one sequence space shared with the audio.
func TestDTMFWireFormat(t *testing.T) {
	peer := rawPeer(t)
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Apply(Negotiated{Codec: PCMU, PayloadType: 0, PTime: 20 * time.Millisecond, EventPT: 101, LocalEventPT: 101,
		Remote: peerAddr(peer), Direction: SendRecv})
	if err != nil {
		t.Fatal(err)
	}
	port := newFakePort(8000, 440)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, port) }()
	defer func() { cancel(); <-done }()

	type pkt struct {
		b []byte
	}
	var got []pkt
	buf := make([]byte, 1500)
	sentDigit := false
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		peer.SetReadDeadline(time.Now().Add(time.Second))
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pkt{append([]byte(nil), buf[:n]...)})
		if len(got) == 5 && !sentDigit {
			if err := s.SendDigit('7', 120*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			sentDigit = true
		}
		if len(got) >= 25 {
			break
		}
	}
	var events [][]byte
	var firstEv, afterEv = -1, -1
	for i, p := range got {
		b := p.b
		if b[0] != 0x80 {
			t.Fatalf("packet %d: first octet %#02x, want 0x80 (V=2, no P/X/CC)", i, b[0])
		}
		if i > 0 {
			prev := binary.BigEndian.Uint16(got[i-1].b[2:4])
			if cur := binary.BigEndian.Uint16(b[2:4]); cur != prev+1 {
				t.Fatalf("packet %d: sequence %d after %d: not one shared sequence space", i, cur, prev)
			}
		}
		pt := b[1] & 0x7F
		if pt == 101 {
			if firstEv < 0 {
				firstEv = i
			}
			events = append(events, b)
		} else if firstEv >= 0 && afterEv < 0 {
			afterEv = i
		}
	}
	// 120 ms at 20 ms per packet: durations 160..960, the last (960, E)
	// three times. Total 6 packets + 2 retransmissions of the end.
	if len(events) != 8 {
		t.Fatalf("%d event packets, want 8", len(events))
	}
	ts0 := binary.BigEndian.Uint32(events[0][4:8])
	ssrc := binary.BigEndian.Uint32(events[0][8:12])
	for i, b := range events {
		if len(b) != 16 {
			t.Fatalf("event packet %d is %d octets, want 12+4", i, len(b))
		}
		wantM := byte(0)
		if i == 0 {
			wantM = 0x80
		}
		if b[1] != wantM|101 {
			t.Errorf("event packet %d: octet 1 = %#02x, want %#02x", i, b[1], wantM|101)
		}
		if binary.BigEndian.Uint32(b[4:8]) != ts0 || binary.BigEndian.Uint32(b[8:12]) != ssrc {
			t.Errorf("event packet %d: timestamp/SSRC changed", i)
		}
		dur := uint16(160 * (i + 1))
		end := byte(0)
		if i >= 5 {
			dur, end = 960, 0x80
		}
		want := []byte{7, end | 10, byte(dur >> 8), byte(dur)}
		if string(b[12:]) != string(want) {
			t.Errorf("event packet %d payload % x, want % x", i, b[12:], want)
		}
	}
	// The event starts at the timestamp the audio packet it replaces
	// would have had; audio resumes after it with M set.
	prevAudioTS := binary.BigEndian.Uint32(got[firstEv-1].b[4:8])
	if ts0 != prevAudioTS+160 {
		t.Errorf("event timestamp %d, want %d (next audio slot)", ts0, prevAudioTS+160)
	}
	if afterEv < 0 {
		t.Fatal("audio did not resume")
	}
	a := got[afterEv].b
	if a[1] != 0x80 || binary.BigEndian.Uint32(a[4:8]) != ts0+8*160 {
		t.Errorf("resumed audio: octet 1 %#02x ts %d, want 0x80 and %d", a[1], binary.BigEndian.Uint32(a[4:8]), ts0+8*160)
	}
}

// pcapUDP returns the UDP payloads and capture times of a classic pcap file
// (Ethernet or raw IPv4 link).
func pcapUDP(t *testing.T, path string) (payloads [][]byte, at []time.Duration) {
	t.Helper()
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) < 24 || binary.LittleEndian.Uint32(d) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap", path)
	}
	link := binary.LittleEndian.Uint32(d[20:])
	var t0 time.Duration
	for off := 24; off+16 <= len(d); {
		sec, usec := binary.LittleEndian.Uint32(d[off:]), binary.LittleEndian.Uint32(d[off+4:])
		incl := int(binary.LittleEndian.Uint32(d[off+8:]))
		p := d[off+16 : off+16+incl]
		off += 16 + incl
		if link == 1 {
			p = p[14:]
		}
		ihl := int(p[0]&15) * 4
		if p[9] != 17 {
			continue
		}
		u := p[ihl:]
		ts := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		if len(payloads) == 0 {
			t0 = ts
		}
		payloads = append(payloads, u[8:])
		at = append(at, ts-t0)
	}
	return payloads, at
}

// TestReceiveSIPpPcapDigits replays SIPp's shipped RFC 2833 captures
// (sip-tester's dtmf_2833_*.pcap, made by another implementation, with
// triple end packets) into a session and checks each digit is reported
// exactly once, with its duration.
func TestReceiveSIPpPcapDigits(t *testing.T) {
	dir := "/usr/share/sip-tester"
	testpeer.RequireFile(t, filepath.Join(dir, "dtmf_2833_0.pcap"))
	digits := "0123456789*#"
	files := []string{}
	for _, c := range digits {
		n := string(c)
		switch c {
		case '*':
			n = "star"
		case '#':
			n = "pound"
		}
		files = append(files, filepath.Join(dir, "dtmf_2833_"+n+".pcap"))
	}
	var mu sync.Mutex
	var gotDigits []Digit
	s, err := NewSession(Config{Logger: quietLog(), LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"), OnDigit: func(d Digit) {
		mu.Lock()
		gotDigits = append(gotDigits, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	peer := rawPeer(t)
	if err := s.Apply(Negotiated{Codec: PCMU, PTime: 20 * time.Millisecond, EventPT: 101, LocalEventPT: 101,
		Remote: peerAddr(peer), Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, newFakePort(8000, 0)) }()
	defer func() { cancel(); <-done }()
	dst := net.UDPAddrFromAddrPort(s.LocalAddr())
	for _, f := range files {
		pl, at := pcapUDP(t, f)
		start := time.Now()
		for i, p := range pl {
			if d := at[i] - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			if _, err := peer.WriteToUDP(p, dst); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(gotDigits)
		mu.Unlock()
		if n >= len(digits) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // would catch a duplicate report
	mu.Lock()
	defer mu.Unlock()
	var str string
	for _, d := range gotDigits {
		str += string(d.Rune())
		if d.Duration != 280*time.Millisecond || d.Volume != 10 {
			t.Errorf("digit %c: duration %v volume %d, want 280ms (0x8c0 ticks) and 10", d.Rune(), d.Duration, d.Volume)
		}
	}
	if str != digits {
		t.Fatalf("reported %q, want %q", str, digits)
	}
}

func TestDTMFReceiverEdgeCases(t *testing.T) {
	var r dtmfRx
	ev := func(e uint8, end bool, dur uint16) TelephoneEvent {
		return TelephoneEvent{Event: e, End: end, Duration: dur, Volume: 10}
	}
	// All end packets lost: reported after 500 ms of silence.
	if _, ok := r.packet(1000, false, ev(3, false, 160)); ok {
		t.Fatal("reported at start")
	}
	r.packet(1000, false, ev(3, false, 320))
	for i := range 49 {
		if _, ok := r.tick(); ok {
			t.Fatalf("reported after %d ticks", i)
		}
	}
	if d, ok := r.tick(); !ok || d.Event != 3 || d.Duration != 40*time.Millisecond {
		t.Fatalf("timeout report %+v %v", d, ok)
	}
	// Next event starts before the previous one's end arrived.
	r.packet(2000, false, ev(4, false, 160))
	if d, ok := r.packet(3000, false, ev(5, false, 160)); !ok || d.Event != 4 {
		t.Fatalf("lost-end event not reported: %+v %v", d, ok)
	}
	if d, ok := r.packet(3000, false, ev(5, true, 800)); !ok || d.Event != 5 || d.Duration != 100*time.Millisecond {
		t.Fatalf("%+v %v", d, ok)
	}
	// Retransmitted ends and an older event's late packet: nothing.
	if _, ok := r.packet(3000, false, ev(5, true, 800)); ok {
		t.Fatal("retransmitted end reported again")
	}
	if _, ok := r.packet(2000, false, ev(4, true, 800)); ok {
		t.Fatal("old event reported")
	}
	if _, ok := r.tick(); ok {
		t.Fatal("tick reported a finished event")
	}
	// A marked packet with an older timestamp is a new event (restart).
	r.packet(100, true, ev(6, false, 160))
	if d, ok := r.packet(100, false, ev(6, true, 320)); !ok || d.Event != 6 {
		t.Fatalf("restarted-timestamp event: %+v %v", d, ok)
	}
}

func TestEventCodes(t *testing.T) {
	for i, c := range "0123456789*#ABCDF" {
		e, err := EventCode(c)
		if err != nil || int(e) != i || eventRune(e) != c {
			t.Errorf("%c: %d %v", c, e, err)
		}
	}
	if _, err := EventCode('x'); err == nil {
		t.Error("x accepted")
	}
}

func FuzzParseTelephoneEvent(f *testing.F) {
	f.Add([]byte{0x05, 0x8a, 0x03, 0x20})
	f.Add([]byte{0x0b, 0x0a})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseTelephoneEvent(b)
		if err != nil {
			if len(b) >= 4 {
				t.Fatalf("rejected %d octets: %v", len(b), err)
			}
			return
		}
		var out [4]byte
		e.MarshalTo(out[:])
		want := [4]byte{b[0], b[1] &^ 0x40, b[2], b[3]} // R bit is not kept
		if out != want {
			t.Fatalf("round trip % x → % x", b[:4], out)
		}
		var r dtmfRx
		r.packet(1, true, e)
		r.tick()
	})
}
