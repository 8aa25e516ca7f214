package vboard

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func samples() []*Msg {
	return []*Msg{
		{Type: THello, Tag: 1, Version: Version, Name: "basestationd"},
		{Type: TWelcome, Tag: 1, Version: Version, Name: "virtual", SLIC: "sim-ProSLIC", RadioDev: "/dev/pts/7", RadioBaud: 115200, Slots: 4, Level: 1, LEDs: []string{"power", "cloud"}},
		{Type: TError, Tag: 9, Code: CodeRefused, Name: "channel 9 out of range"},
		{Type: TOK, Tag: 3},
		{Type: TSPIConn, Tag: 4, Hz: 1000000, Mode: 3, Bits: 8},
		{Type: TSPITx, Tag: 5, Read: true, Data: []byte{0x80, 0x00}},
		{Type: TSPIRx, Tag: 5, Data: []byte{0xFF, 0x05}},
		{Type: TSPIRx, Tag: 5},
		{Type: TReset, Tag: 6, Line: LineRadio, Level: 0},
		{Type: TIRQ, Level: 0},
		{Type: TPCMOpen, Tag: 7, Ch: 2, Rate: 16000},
		{Type: TPCMRead, Tag: 8, Ch: 0},
		{Type: TPCMFrame, Tag: 8, Ch: 0, Samples: []int16{0, -1, 32767, -32768}},
		{Type: TPCMWrite, Tag: 10, Ch: 1, Samples: make([]int16, 160)},
		{Type: TPCMClose, Tag: 11, Ch: 1},
		{Type: TLED, Tag: 12, State: 2, Name: "registration"},
		{Type: TButton, HeldMs: 3200},
	}
}

func TestRoundTrip(t *testing.T) {
	var stream []byte
	for _, m := range samples() {
		b, err := Append(nil, m)
		if err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		var got Msg
		if err := Decode(b, &got); err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		if !reflect.DeepEqual(&got, m) {
			t.Errorf("%s: got %+v, want %+v", m.Type, got, *m)
		}
		stream = append(stream, b...)
	}
	r := bytes.NewReader(stream)
	var buf []byte
	for i, want := range samples() {
		var got Msg
		var err error
		if buf, err = ReadMsg(r, buf, &got); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Type != want.Type {
			t.Errorf("message %d: %s, want %s", i, got.Type, want.Type)
		}
	}
	var m Msg
	if _, err := ReadMsg(r, buf, &m); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

// Every malformed or truncated frame is an error that names the problem.
func TestMalformed(t *testing.T) {
	hello, _ := Append(nil, &Msg{Type: THello, Tag: 1, Version: 1, Name: "x"})
	for _, c := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"short header", []byte{0, 1, 1}, "shorter than the 5-byte header"},
		{"length mismatch", []byte{0, 9, 4, 0, 1}, "length field 9 but 3 bytes follow"},
		{"unknown type", []byte{0, 3, 0x77, 0, 1}, "unknown type 0x77"},
		{"bad magic", []byte{0, 10, 1, 0, 1, 'X', 'B', 'R', 'D', 0, 1, 0}, `magic "XBRD"`},
		{"string past end", []byte{0, 5, 0x30, 0, 1, 1, 9}, "LED name of 9 bytes runs 9 bytes past"},
		{"trailing", append(append([]byte{}, hello...), 0), "length field"},
		{"trailing in body", []byte{0, 4, 4, 0, 1, 0}, "OK: 1 trailing bytes"},
		{"samples short", []byte{0, 7, 0x23, 0, 1, 0, 0, 2, 1}, "PCM_WRITE: body ends 3 bytes short"},
		{"irq level", []byte{0, 4, 0x14, 0, 0, 2}, "IRQ: level 2 (0 or 1)"},
		{"reset line", []byte{0, 5, 0x13, 0, 1, 5, 0}, "line 5"},
		{"led state", []byte{0, 5, 0x30, 0, 1, 9, 0}, "LED state 9"},
		{"empty spi", []byte{0, 4, 0x11, 0, 1, 1}, "0 bytes to clock"},
	} {
		var m Msg
		err := Decode(c.frame, &m)
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want malformed naming %q", c.name, err, c.want)
		}
	}
	// Truncated on a stream: inside the length, inside the body.
	for _, cut := range []int{1, 3, len(hello) - 1} {
		var m Msg
		_, err := ReadMsg(bytes.NewReader(hello[:cut]), nil, &m)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: %v, want truncated", cut, err)
		}
	}
	var m Msg
	if _, err := ReadMsg(bytes.NewReader([]byte{0xFF, 0xFF}), nil, &m); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "length 65535") {
		t.Errorf("huge length: %v", err)
	}
}

func TestDirections(t *testing.T) {
	for _, m := range samples() {
		if m.Type.FromClient() == m.Type.FromServer() {
			t.Errorf("%s is from both or neither side", m.Type)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		b, _ := Append(nil, m)
		f.Add(b)
	}
	f.Add([]byte{0, 3, 0x21, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Msg
		if err := Decode(data, &m); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		b, err := Append(nil, &m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		var again Msg
		if err := Decode(b, &again); err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("re-decode: %v %+v vs %+v", err, again, m)
		}
		// The stream reader agrees with Decode and never hangs.
		var s Msg
		_, _ = ReadMsg(bytes.NewReader(data), nil, &s)
	})
}
