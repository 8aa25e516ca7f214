package sipua

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A burst of 20,000 junk datagrams from 200 source addresses (garbage,
// requests missing headers, an outsider's INVITEs, NOTIFYs, OPTIONS, BYEs
// and ACKs) leaves no state behind: the heap after GC is back near its
// baseline at once (it used to grow about 2 KB a datagram, held for 32 s
// by sipgo's transactions, plus a pool entry per source kept forever),
// sipgo's UDP connection pool has not grown, and the UA still answers.
func TestJunkBurstLeavesNoState(t *testing.T) {
	reg := newPBXRelay(t, "")
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", reg.addr())}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	addr := u.ListenAddr()
	pool := u.sua.TransportLayer().Pool("udp")
	time.Sleep(100 * time.Millisecond)
	poolBefore := pool.Size()
	base := heapAfterGC()

	junk := []func(i int) string{
		func(i int) string { return fmt.Sprintf("junk %d \x01\x02\xff garbage", i) },
		func(i int) string { // no To: used to crash the daemon
			return fmt.Sprintf("NOTIFY sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-j%d\r\n"+
				"From: <sip:a@b>;tag=1\r\nCall-ID: j%d\r\nCSeq: 1 NOTIFY\r\nEvent: message-summary\r\nContent-Length: 0\r\n\r\n", i, i)
		},
	}
	for _, m := range []string{"INVITE", "NOTIFY", "OPTIONS", "BYE", "ACK", "SUBSCRIBE", "MESSAGE"} {
		lines, body := request(m, "1001")
		if m == "BYE" || m == "ACK" {
			lines[3] += ";tag=x"
		}
		junk = append(junk, func(i int) string {
			l := append([]string(nil), lines...)
			l[1] = fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-%s%d", m, i)
			l[4] = fmt.Sprintf("Call-ID: junk-%s-%d", m, i)
			return string(sipMsg(l, body))
		})
	}
	const sources, per = 200, 100
	for s := range sources {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		for i := range per {
			n := s*per + i
			if _, err := c.Write([]byte(junk[n%len(junk)](n))); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		time.Sleep(2 * time.Millisecond) // bounded load
	}
	// Everything is read and answered (or dropped) before we measure.
	time.Sleep(500 * time.Millisecond)
	probe, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	lines, body := request("OPTIONS", "1001")
	lines[1] = "Via: SIP/2.0/UDP " + probe.LocalAddr().String() + ";branch=z9hG4bK-probe;rport"
	if _, err := probe.Write(sipMsg(lines, body)); err != nil {
		t.Fatal(err)
	}
	_ = probe.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := probe.Read(buf)
	if err != nil || string(buf[:min(n, 11)]) != "SIP/2.0 200" {
		t.Fatalf("OPTIONS after the burst: %q %v", buf[:n], err)
	}

	grown := int64(heapAfterGC()) - int64(base)
	t.Logf("heap %+d bytes after %d junk datagrams (%.1f B each); %d dropped unanswered", grown, sources*per,
		float64(grown)/float64(sources*per), u.dropped.Load())
	if grown > 512<<10 {
		t.Errorf("heap grew %d bytes after the burst, want < 512 KiB", grown)
	}
	if after := pool.Size(); after > poolBefore+1 { // +1: the probe
		t.Errorf("UDP connection pool grew from %d to %d entries", poolBefore, after)
	}
	if r, _ := u.Registration("101"); r.State != RegRegistered {
		t.Errorf("registration %s after the burst", r.State)
	}
	if n := u.panics.Load(); n != 0 {
		t.Errorf("%d handler panics", n)
	}
}
