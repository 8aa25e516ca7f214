package dsp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

func TestCallerIDMessageBytes(t *testing.T) {
	c := CallerID{Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Number: "5551234567", Name: "BOB"}
	m, err := c.MDMF()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x80, 27, 0x01, 8, '0', '1', '0', '2', '0', '3', '0', '4', 0x02, 10, '5', '5', '5', '1', '2', '3', '4', '5', '6', '7', 0x07, 3, 'B', 'O', 'B'}
	var sum byte
	for _, b := range want {
		sum += b
	}
	want = append(want, -sum)
	if !bytes.Equal(m, want) {
		t.Errorf("MDMF\n got %x\nwant %x", m, want)
	}
	s, err := (&CallerID{Time: c.Time, NumberAbsent: Private}).SDMF()
	if err != nil {
		t.Fatal(err)
	}
	wantS := []byte{0x04, 9, '0', '1', '0', '2', '0', '3', '0', '4', 'P'}
	sum = 0
	for _, b := range wantS {
		sum += b
	}
	if wantS = append(wantS, -sum); !bytes.Equal(s, wantS) {
		t.Errorf("SDMF\n got %x\nwant %x", s, wantS)
	}
	if got := VMWI(true); !bytes.Equal(got, []byte{0x82, 0x03, 0x0B, 0x01, 0xFF, 0x70}) {
		t.Errorf("VMWI on %x (reference frame 82 03 0B 01 FF 70)", got)
	}
	if got := VMWI(false); !bytes.Equal(got, []byte{0x82, 0x03, 0x0B, 0x01, 0x00, 0x6F}) {
		t.Errorf("VMWI off %x", got)
	}
	if got := VMWISDMF(true); !bytes.Equal(got[:5], []byte{0x06, 0x03, 0x42, 0x42, 0x42}) {
		t.Errorf("SDMF VMWI on %x", got)
	}
	for _, m := range [][]byte{m, s, VMWI(true), VMWI(false), VMWISDMF(true), VMWISDMF(false)} {
		var sum byte
		for _, b := range m {
			sum += b
		}
		if sum != 0 {
			t.Errorf("%x: bytes sum to %d, want 0", m, sum)
		}
	}
}

func TestCallerIDValidation(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	bad := []struct {
		c    CallerID
		sdmf bool
		says string
	}{
		{CallerID{Number: strings.Repeat("1", MaxNumberLen+1)}, false, "digits long"},
		{CallerID{Name: strings.Repeat("x", MaxNameLen+1)}, false, "bytes long"},
		{CallerID{Number: "555-1234"}, false, "not a digit"},
		{CallerID{Number: "+15551234"}, false, "not a digit"},
		{CallerID{Name: "Zoë"}, false, "not printable ASCII"},
		{CallerID{Name: "TAB\there"}, false, "not printable ASCII"},
		{CallerID{Number: "5551234", NumberAbsent: Private}, false, "together with absence"},
		{CallerID{Name: "A", NameAbsent: Unavailable}, false, "together with absence"},
		{CallerID{NumberAbsent: 'X'}, false, "absence reason"},
		{CallerID{NameAbsent: 'p'}, false, "absence reason"},
		{CallerID{}, false, "no parameter"},
		{CallerID{Number: "5551234"}, true, "requires the date"},
		{CallerID{Time: when, Number: "5551234", Name: "A"}, true, "cannot carry a name"},
		{CallerID{Time: when}, true, "requires a number"},
	}
	for _, b := range bad {
		var err error
		if b.sdmf {
			_, err = b.c.SDMF()
		} else {
			_, err = b.c.MDMF()
		}
		if !errors.Is(err, ErrCallerID) || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%+v: error %v, want one saying %q", b.c, err, b.says)
		}
	}
}

func TestFSKTransmitterErrors(t *testing.T) {
	f, err := NewFSKTransmitter(8000, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{nil, {0x82, 3}, {0x82, 4, 0x0B, 1, 0xFF, 0x6F}, {0x82, 3, 0x0B, 1, 0xFF, 0x71}} {
		if err := f.Start(TypeI, m); !errors.Is(err, ErrCallerID) {
			t.Errorf("Start(%x): %v", m, err)
		}
	}
	if err := f.Start(FSKMode(7), VMWI(true)); err == nil {
		t.Error("unknown mode accepted")
	}
	for _, o := range []FSKOpts{{Level: 5}, {TrailMarks: 1}} {
		if _, err := NewFSKTransmitter(8000, &o); !errors.Is(err, ErrOptions) {
			t.Errorf("options %+v: %v", o, err)
		}
	}
	if _, err := NewFSKTransmitter(44100, nil); !errors.Is(err, ErrRate) {
		t.Errorf("44100 Hz: %v", err)
	}
}

// TestFSKSignal checks the waveform itself with test-local analysis:
// bit timing, tone frequencies, level and continuous phase.
func TestFSKSignal(t *testing.T) {
	for _, rate := range rates {
		f, err := NewFSKTransmitter(rate, nil)
		if err != nil {
			t.Fatal(err)
		}
		msg := VMWI(true)
		if err := f.Start(TypeI, msg); err != nil {
			t.Fatal(err)
		}
		bits := 300 + 180 + 10*len(msg) + 8
		if f.Duration() != time.Duration(bits)*time.Second/1200 {
			t.Errorf("Duration %v for %d bits", f.Duration(), bits)
		}
		var pcm []int16
		frame := make([]int16, rate/100)
		for f.Active() {
			f.Fill(frame)
			pcm = append(pcm, frame...)
		}
		if n := f.Fill(frame); n != 0 || frame[0] != 0 {
			t.Errorf("after the burst Fill wrote %d samples", n)
		}
		// continuous phase: no step larger than the 2200 Hz slope allows
		amp := peakOf(-13.5)
		maxStep := amp * 2 * math.Pi * 2200 / float64(rate) * 1.02
		for i := 1; i < len(pcm); i++ {
			if d := math.Abs(float64(pcm[i]) - float64(pcm[i-1])); d > maxStep+1 {
				t.Fatalf("%d Hz: phase jump at sample %d (%v > %v)", rate, i, d, maxStep)
			}
		}
		spb := float64(rate) / 1200
		// seizure: 250 ms where 1200 and 2200 Hz alternate bit by bit;
		// the mark section (bits 300..479) is pure 1200 Hz.
		marks := pcm[int(310*spb):int(470*spb)]
		if p12, p22 := tonePower(marks, rate, 1200), tonePower(marks, rate, 2200); p22 > p12*1e-4 {
			t.Errorf("%d Hz: mark section has 2200 Hz at %.2g of 1200 Hz", rate, p22/p12)
		}
		if lvl := 10*math.Log10(4*tonePower(marks, rate, 1200)/(32767*32767)) + 3.14; math.Abs(lvl-(-13.5)) > 0.2 {
			t.Errorf("%d Hz: mark level %.2f dBm0, want -13.5", rate, lvl)
		}
		// a single space bit (the first start bit after the marks) lasts
		// one bit time: measure the 2200 Hz stretch by zero crossings.
		start := int(480 * spb)
		seg := pcm[start-int(spb) : start+2*int(spb)]
		if p := tonePower(pcm[start+1:start+int(spb)-1], rate, 2200); p < tonePower(pcm[start+1:start+int(spb)-1], rate, 1200) {
			t.Errorf("%d Hz: start bit at %d is not a space (%v)", rate, start, seg)
		}
	}
}

func TestFSK16kBySpandsp(t *testing.T) {
	// 16 kHz output, resampled to 8 kHz by sox, decoded by spandsp.
	bin := buildC(t, "adsi_rx")
	sox := testpeer.Require(t, "sox")[0]
	c := CallerID{Time: time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC), Number: "9025550111", Name: "WIDEBAND"}
	msg, err := c.MDMF()
	if err != nil {
		t.Fatal(err)
	}
	in := writeRaw(t, burst(t, 16000, TypeI, msg, nil))
	out := filepath.Join(t.TempDir(), "8k.s16")
	if b, err := exec.Command(sox, "-t", "raw", "-r", "16000", "-e", "signed-integer", "-b", "16", "-c", "1", in, "-r", "8000", "-t", "raw", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, b)
	}
	msgs, _ := spandspMessages(t, bin, readRaw(t, out))
	if len(msgs) != 1 || msgs[0] != hex.EncodeToString(msg[:len(msg)-1]) {
		t.Errorf("spandsp delivered %q from the 16 kHz burst", msgs)
	}
}
