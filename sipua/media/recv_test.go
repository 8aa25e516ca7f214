package media

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestDatagramReader checks the non-blocking reader the tick loop uses:
// nothing waiting is not an error, the source address and payload are
// right (IPv4 and IPv6), the arrival time is when the datagram reached the
// socket, not when it was read (kernel timestamp; Linux only), and an
// oversized datagram is reported without data (counted invalid).
func TestDatagramReader(t *testing.T) {
	for _, network := range []string{"127.0.0.1", "::1"} {
		t.Run(network, func(t *testing.T) {
			ip := net.ParseIP(network)
			rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
			if err != nil {
				t.Skipf("no %s: %v", network, err)
			}
			defer rx.Close()
			tx, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			buf := make([]byte, 1500)
			r, err := newDatagramReader(buf, rx)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, ok, err := r.next(0, time.Now()); ok || err != nil {
				t.Fatalf("empty socket: ok %v err %v", ok, err)
			}
			msg := []byte("hello rtp")
			// Linux turns receive timestamping on for the system lazily
			// (deferred work after the first socket asks): until then a
			// datagram is stamped when read. So a read-time arrival is
			// retried a few times before it counts as a failure.
			for attempt := 1; ; attempt++ {
				sent := time.Now()
				if _, err := tx.WriteToUDPAddrPort(msg, rx.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(60 * time.Millisecond)
				now := time.Now()
				data, from, at, ok, err := r.next(0, now)
				if !ok || err != nil {
					t.Fatalf("datagram not read: ok %v err %v", ok, err)
				}
				want := tx.LocalAddr().(*net.UDPAddr).AddrPort()
				if from.Addr().Unmap() != want.Addr().Unmap() || from.Port() != want.Port() {
					t.Errorf("from %v, want %v", from, want)
				}
				if !bytes.Equal(data, msg) {
					t.Errorf("data %q, want %q", data, msg)
				}
				if runtime.GOOS != "linux" {
					break
				}
				if at.Before(sent.Add(-time.Millisecond)) {
					t.Fatalf("arrival %v before the datagram was sent", sent.Sub(at))
				}
				age := now.Sub(at)
				if age >= 40*time.Millisecond {
					break
				}
				if attempt == 5 {
					t.Fatalf("arrival %v before the read (sent %v before it), want ≈60 ms: kernel timestamp not used", age, now.Sub(sent))
				}
			}
			// Per datagram: one read, no allocation.
			dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := tx.WriteToUDPAddrPort(msg, dst); err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(time.Second); ; {
					if _, _, _, ok, err := r.next(0, time.Now()); ok || err != nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("datagram not seen")
					}
				}
			})
			if allocs != 0 {
				t.Errorf("%.1f allocations per datagram read, want 0", allocs)
			}
			big := make([]byte, 2000)
			if _, err := tx.WriteToUDPAddrPort(big, rx.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Second)
			for {
				data, _, _, ok, err := r.next(0, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					if runtime.GOOS == "linux" && data != nil {
						t.Errorf("oversized datagram returned %d bytes, want none (invalid)", len(data))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("oversized datagram not seen")
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestRunIsOneGoroutine checks that a running session adds exactly one
// goroutine (Run's own): RTP and RTCP are read by its tick loop, with no
// reader goroutines and no wake-up per packet.
func TestRunIsOneGoroutine(t *testing.T) {
	p := newPair(t, Config{RTCPInterval: 200 * time.Millisecond}, Config{RTCPInterval: 200 * time.Millisecond}, Options{}, Options{})
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	done := make(chan struct{}, 2)
	go func() { _ = p.a.Run(ctx, newFakePort(8000, 1000)); done <- struct{}{} }()
	go func() { _ = p.b.Run(ctx, newFakePort(8000, 0)); done <- struct{}{} }()
	time.Sleep(500 * time.Millisecond)
	if n := runtime.NumGoroutine() - base; n > 2 {
		t.Errorf("%d goroutines for two running sessions, want 2", n)
	}
	<-done
	<-done
	st := p.b.Stats()
	if st.PacketsReceived < 20 || st.RTCPReceived == 0 {
		t.Errorf("media did not flow: %+v", st)
	}
}
