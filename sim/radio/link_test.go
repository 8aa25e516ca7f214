package radio

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tarm/serial"
)

// TestLinkOverPTY drives the emulated module's link by hand through the
// pty with tarm/serial: SYNC, a request, its retransmission (acknowledged
// again but not acted on twice), and the module's own retransmission when
// the host does not acknowledge.
func TestLinkOverPTY(t *testing.T) {
	e, err := New(&Options{BootDelay: time.Millisecond, AckTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p, err := serial.OpenPort(&serial.Config{Name: e.Device(), Baud: 115200, ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	linkScenario(t, e, p)
}

// TestLinkInMemory is TestLinkOverPTY over the in-memory line, and the
// port opened a second time: the first session ends, the second works.
func TestLinkInMemory(t *testing.T) {
	e, err := NewInMemory(&Options{BootDelay: time.Millisecond, AckTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Radio().Device != "" || e.OpenPort(0) == nil {
		t.Fatalf("in-memory module: device %q, OpenPort nil %v", e.Radio().Device, e.OpenPort(0) == nil)
	}
	open := e.OpenPort(50 * time.Millisecond)
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	// Reads time out as tarm/serial's do: (0, io.EOF) once the module
	// has nothing more to say (its SYNC after boot comes first).
	for i := 0; ; i++ {
		n, err := first.Read(make([]byte, 64))
		if n == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil || i > 20 {
			t.Fatalf("idle read %d: %d, %v", i, n, err)
		}
	}
	p, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := first.Read(make([]byte, 16)); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("the first session still reads after the port was opened again: %v", err)
	}
	first.Close()
	linkScenario(t, e, p)
	e.Close()
	if _, err := open(); err == nil {
		t.Fatal("a closed module's line opened")
	}
}

func linkScenario(t *testing.T, e *Emulator, p io.ReadWriter) {
	t.Helper()
	var sc frameScanner
	read := func(want byte) rxFrame {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		buf := make([]byte, 256)
		for time.Now().Before(deadline) {
			for {
				f, ok := sc.next()
				if !ok {
					break
				}
				if f.kind == want {
					return f
				}
			}
			n, err := p.Read(buf)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			sc.push(buf[:n])
		}
		t.Fatalf("no frame of kind %d", want)
		return rxFrame{}
	}
	for e.Stats().Boots == 0 {
		time.Sleep(time.Millisecond)
	}
	nonce := []byte{1, 2, 3, 4}
	p.Write(buildFrame(kindSync, 0, nonce))
	if f := read(kindSyncAck); string(f.payload) != string(nonce) {
		t.Fatalf("sync-ack nonce % x", f.payload)
	}
	hello := buildFrame(kindData, 0, []byte{mHello, 7, 1, 0})
	p.Write(hello)
	if f := read(kindAck); f.seq != 0 {
		t.Fatalf("ack seq %d", f.seq)
	}
	cnf1 := read(kindData)
	if cnf1.payload[0] != mHello|cnf || cnf1.payload[1] != 7 || cnf1.payload[2] != stOK {
		t.Fatalf("hello-cnf % x", cnf1.payload)
	}
	// Do not acknowledge: the module retransmits the same frame.
	again := read(kindData)
	if again.seq != cnf1.seq || string(again.payload) != string(cnf1.payload) {
		t.Fatalf("retransmission differs: % x", again.payload)
	}
	p.Write(buildFrame(kindAck, cnf1.seq, nil))
	// A duplicate of the request is acknowledged but not acted on.
	before := e.Stats().Requests
	p.Write(hello)
	if f := read(kindAck); f.seq != 0 {
		t.Fatalf("dup ack seq %d", f.seq)
	}
	time.Sleep(100 * time.Millisecond)
	st := e.Stats()
	if st.Requests != before || st.Duplicates == 0 {
		t.Fatalf("duplicate acted on: %+v", st)
	}
}
