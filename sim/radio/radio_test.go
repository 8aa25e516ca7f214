package radio

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"basestation/hal"
)

func docFrames(t *testing.T) [][]byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/radio-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "frame: "); ok {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(rest), " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d examples", len(out))
	}
	return out
}

// TestDocExamples checks the emulator's own codec against the document:
// every example frame scans, rebuilds byte-exact, and every host request
// among them parses.
func TestDocExamples(t *testing.T) {
	requests := 0
	for _, b := range docFrames(t) {
		var s frameScanner
		s.push(b)
		f, ok := s.next()
		if !ok || len(s.buf) != 0 {
			t.Errorf("doc frame % X not scanned", b)
			continue
		}
		if again := buildFrame(f.kind, f.seq, f.payload); !bytes.Equal(again, b) {
			t.Errorf("doc frame % X rebuilt as % X", b, again)
		}
		if f.kind == kindData && f.payload[0] < 0x80 {
			if _, err := parseRequest(f.payload); err != nil {
				t.Errorf("doc request % X: %v", f.payload, err)
			}
			requests++
		}
	}
	if requests < 8 {
		t.Errorf("only %d requests checked", requests)
	}
}

func TestDocAuthVector(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	var rs, rf, rp, rs2, rf2 [8]byte
	copy(rs[:], h("1122334455667788"))
	copy(rf[:], h("D01FF9E211680421"))
	copy(rp[:], h("A03FF2C523D00842"))
	copy(rs2[:], h("0102030405060708"))
	copy(rf2[:], h("9B114F2554518859"))
	k := pinKey("1234")
	if !bytes.Equal(k[:], h("FFFF1234FFFF1234FFFF1234FFFF1234")) {
		t.Errorf("K %X", k)
	}
	if k0 := pinKey("0000"); !bytes.Equal(k0[:4], h("FFFF0000")) {
		t.Errorf("K(0000) %X", k0)
	}
	ks := sessionKey(k, rs)
	r1 := res1(ks, rf)
	uak := ksPrime(ks)
	r2 := res2(uak, rp)
	if !bytes.Equal(r1[:], h("964F1AA6")) || !bytes.Equal(r2[:], h("332D2C38")) || !bytes.Equal(uak[:], h("9C7654DCD56A3D099310444812523797")) {
		t.Errorf("RES1 %X RES2 %X UAK %X", r1, r2, uak)
	}
	if a := res1(sessionKey(uak, rs2), rf2); !bytes.Equal(a[:], h("649CBC27")) {
		t.Errorf("auth %X", a)
	}
}

func TestCRC(t *testing.T) {
	if c := crcCCITT([]byte("123456789")); c != 0x29B1 {
		t.Fatalf("%04x", c)
	}
}

func TestScannerResync(t *testing.T) {
	good := buildFrame(kindData, 4, []byte{0x02, 0x01, 0, 0, 0, 1})
	bogus := []byte{0xA5, 0x5A, 0x01, 0x00, 0x00, 0xFF} // claims 255 bytes
	var s frameScanner
	s.push(append(append([]byte{0x00, 0xA5}, bogus...), good...))
	if _, ok := s.next(); ok {
		t.Fatal("frame before the stall")
	}
	s.idle()
	f, ok := s.next()
	if !ok || f.seq != 4 {
		t.Fatalf("after stall: %+v %v", f, ok)
	}
}

func TestPCMPairPacedLoopback(t *testing.T) {
	a, b := newPCMPair(hal.RateNarrowband)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	frame := SpeechFrame(hal.RateNarrowband, 1000, 4000, 0)
	if err := a.WriteFrame(ctx, frame); err != nil {
		t.Fatal(err)
	}
	got := make([]int16, 80)
	start := time.Now()
	for i := 0; i < 10; i++ {
		if err := b.ReadFrame(ctx, got); err != nil {
			t.Fatal(err)
		}
		if i == 0 && !equalFrames(got, frame) {
			t.Error("first frame differs")
		}
		if i > 0 && got[5] != 0 {
			t.Error("silence expected when nothing was written")
		}
	}
	if el := time.Since(start); el < 90*time.Millisecond {
		t.Errorf("10 frames in %v: not paced", el)
	}
	if err := b.ReadFrame(ctx, make([]int16, 79)); err == nil {
		t.Error("wrong frame size accepted")
	}
	a.Close()
	if err := b.ReadFrame(ctx, got); err != hal.ErrClosed {
		t.Errorf("after close: %v", err)
	}
}

func equalFrames(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResetPinHoldsModule(t *testing.T) {
	e, err := New(&Options{BootDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	time.Sleep(20 * time.Millisecond)
	boots := e.Stats().Boots
	if boots != 1 {
		t.Fatalf("boots %d", boots)
	}
	e.ResetPin().Out(gpio.Low)
	time.Sleep(20 * time.Millisecond)
	if e.Stats().Boots != boots {
		t.Fatal("booted while held in reset")
	}
	e.ResetPin().Out(gpio.High)
	deadline := time.Now().Add(time.Second)
	for e.Stats().Boots == boots {
		if time.Now().After(deadline) {
			t.Fatal("did not boot after reset released")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestModuleTablePersists checks the module keeps its table in StatePath
// like flash.
func TestModuleTablePersists(t *testing.T) {
	path := t.TempDir() + "/module.json"
	e, err := New(&Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	d := e.NewLinx(DeviceOptions{IPEI: 0x123456789})
	e.InjectSubscription(3, d)
	e.Close()
	e2, err := New(&Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if tab := e2.Table(); len(tab) != 1 || tab[0].Handset != 3 || tab[0].IPEI != 0x123456789 || tab[0].Type != "linx" {
		t.Fatalf("table %+v", tab)
	}
}

func FuzzScanner(f *testing.F) {
	f.Add(buildFrame(kindData, 1, []byte{1, 1, 1, 0}))
	f.Add([]byte{0xA5, 0x5A, 0x01, 0x00, 0x02, 0x00, 0xA5})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s frameScanner
		s.push(data)
		for {
			fr, ok := s.next()
			if !ok {
				break
			}
			var s2 frameScanner
			s2.push(buildFrame(fr.kind, fr.seq, fr.payload))
			if f2, ok := s2.next(); !ok || !bytes.Equal(f2.payload, fr.payload) || f2.kind != fr.kind {
				t.Fatal("scanned frame does not rebuild")
			}
			if len(fr.payload) > maxPayload {
				t.Fatal("oversized payload")
			}
		}
		if len(s.buf) > len(data) {
			t.Fatal("buffer grew")
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 0x01, 0x00})
	f.Add([]byte{0x0E, 0x08, 0x01, 0x00, 0x00, 0x07, 0xEA, 0x0B, 0x16, 0x09, 0x1E, 0x00, 0x01, 0x36, 0x00})
	f.Add([]byte{0x03, 0x03, 0x00, 0x3C, 0x04, 0x31, 0x32, 0x33, 0x34})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRequest(data)
		if err != nil {
			return
		}
		if r.tid == 0 || len(r.number) > 32 || len(r.name) > 32 || len(r.model) > 32 {
			t.Fatalf("accepted %+v", r)
		}
	})
}
