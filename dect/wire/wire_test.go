package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCRC16CheckValue(t *testing.T) {
	// CRC-16/CCITT-FALSE catalogue check value.
	if got := CRC16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("CRC16(123456789) = %04x, want 29b1", got)
	}
}

func TestFrameRoundTripAndResync(t *testing.T) {
	var stream []byte
	payloads := [][]byte{{}, {0x01, 0x07, 0x01, 0x00}, bytes.Repeat([]byte{0xA5, 0x5A}, 100), make([]byte, MaxPayload)}
	stream = append(stream, 0x00, 0xA5, 0xA5, 0x5A, 0x09) // garbage with a false sync
	for i, p := range payloads {
		var err error
		stream, err = AppendFrame(stream, CtrlData, byte(i), p)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, 0xA5, 0x5A, 0x01, 0x00, 0x00, 0x03) // false header, CRC will not match
	}
	// Feed in awkward pieces.
	var d Decoder
	var got [][]byte
	for len(stream) > 0 {
		n := min(len(stream), 7)
		k := d.Feed(stream[:n])
		stream = stream[k:]
		for {
			f, ok := d.Next()
			if !ok {
				break
			}
			if f.Ctrl != CtrlData || int(f.Seq) != len(got) {
				t.Fatalf("frame %d: %v seq %d", len(got), f.Ctrl, f.Seq)
			}
			got = append(got, append([]byte(nil), f.Payload...))
		}
	}
	if len(got) != len(payloads) {
		t.Fatalf("decoded %d frames, want %d", len(got), len(payloads))
	}
	for i := range got {
		if !bytes.Equal(got[i], payloads[i]) {
			t.Errorf("frame %d payload differs", i)
		}
	}
	if d.BadCRC == 0 || d.Garbage == 0 {
		t.Errorf("counters %+v", d)
	}
}

func TestFrameCorruptionDetected(t *testing.T) {
	f, _ := AppendFrame(nil, CtrlData, 3, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	for i := 2; i < len(f); i++ {
		for bit := 0; bit < 8; bit++ {
			c := append([]byte(nil), f...)
			c[i] ^= 1 << bit
			var d Decoder
			d.Feed(c)
			if fr, ok := d.Next(); ok {
				t.Fatalf("bit %d of byte %d flipped: decoded %+v", bit, i, fr)
			}
		}
	}
}

func TestStallAbandonsLongCandidate(t *testing.T) {
	good, _ := AppendFrame(nil, CtrlAck, 9, nil)
	// A header claiming 300 bytes, then a good frame.
	bogus := []byte{0xA5, 0x5A, 0x01, 0x00, 0x01, 0x2C}
	var d Decoder
	d.Feed(append(bogus, good...))
	if _, ok := d.Next(); ok {
		t.Fatal("decoded while the candidate is incomplete")
	}
	d.Stall()
	f, ok := d.Next()
	if !ok || f.Ctrl != CtrlAck || f.Seq != 9 {
		t.Fatalf("after stall: %+v %v", f, ok)
	}
}

func TestAppendFrameRejects(t *testing.T) {
	if _, err := AppendFrame(nil, CtrlData, 0, make([]byte, MaxPayload+1)); err == nil {
		t.Error("oversized payload accepted")
	}
	if _, err := AppendFrame(nil, Ctrl(9), 0, nil); err == nil {
		t.Error("bad kind accepted")
	}
}

func TestIPEI(t *testing.T) {
	i := IPEI{EMC: 0x1234, PSN: 0x56789}
	b := i.Bytes()
	if hex.EncodeToString(b[:]) != "0123456789" {
		t.Errorf("bytes % x", b)
	}
	back, err := IPEIFromBytes(b)
	if err != nil || back != i {
		t.Errorf("round trip %v %v", back, err)
	}
	if _, err := IPEIFromBytes([5]byte{0x10}); err == nil {
		t.Error("top bits accepted")
	}
	// 04660 0354185 + check digit: sum of digit*position mod 11.
	s := i.String()
	if s[:12] != "046600354185" || len(s) != 13 {
		t.Errorf("IPEI string %q", s)
	}
	sum := 0
	for k := 0; k < 12; k++ {
		sum += (k + 1) * int(s[k]-'0')
	}
	if want := byte('0' + sum%11); sum%11 != 10 && s[12] != want {
		t.Errorf("check digit %c, want %c", s[12], want)
	}
}

func TestPINToAC(t *testing.T) {
	for pin, want := range map[string]string{"0000": "ffff0000", "1234": "ffff1234", "12345678": "12345678", "91240": "fff91240"} {
		ac, err := PINToAC(pin)
		if err != nil || hex.EncodeToString(ac[:]) != want {
			t.Errorf("PINToAC(%s) = %x %v, want %s", pin, ac, err, want)
		}
	}
	for _, bad := range []string{"", "123", "123456789", "12a4"} {
		if _, err := PINToAC(bad); err == nil {
			t.Errorf("PIN %q accepted", bad)
		}
	}
}

func TestKeyAllocationConsistency(t *testing.T) {
	rs := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	rf := [8]byte{9, 9, 9, 9, 9, 9, 9, 9}
	rp := [8]byte{7, 7, 7, 7, 7, 7, 7, 7}
	res1, res2, uak, err := KeyAllocation("1234", rs, rf, rp)
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := PINToAC("1234")
	ks := A11(KeyFromAC(ac), rs)
	if r, _ := A12(ks, rf); r != res1 {
		t.Error("RES1 differs")
	}
	if A21(ks) != uak || A22(uak, rp) != res2 {
		t.Error("UAK/RES2 differ")
	}
	other, _, _, _ := KeyAllocation("1235", rs, rf, rp)
	if other == res1 {
		t.Error("a different PIN gave the same RES1")
	}
	if Authenticate(uak, rs, rf) == Authenticate(A21(uak), rs, rf) {
		t.Error("different keys authenticate alike")
	}
}

// sampleMessages has one message of every type.
func sampleMessages() []Msg {
	when := DateTime{Year: 2026, Month: 11, Day: 22, Hour: 17, Min: 5, Sec: 9}
	ip := IPEI{EMC: 0x0ABC, PSN: 0xDEF01}
	var rs, rf, rp [8]byte
	for i := range rs {
		rs[i], rf[i], rp[i] = byte(i), byte(0x10+i), byte(0x20+i)
	}
	res := [4]byte{0xDE, 0xAD, 0xBE, 0xEF}
	return []Msg{
		{Type: THello, TID: 1, ProtoMajor: 1},
		{Type: THello | CnfBit, TID: 1, ProtoMajor: 1, RFPI: [5]byte{0, 0x12, 0x34, 0x56, 0x78}, Slots: 4, Capacity: 8, Firmware: "emu-1.0"},
		{Type: TKeepalive, TID: 2, Counter: 77},
		{Type: TKeepalive | CnfBit, TID: 2, Counter: 77},
		{Type: TRegOpen, TID: 3, Seconds: 60, PIN: "0000"},
		{Type: TRegOpen | CnfBit, TID: 3, Status: StatusOK},
		{Type: TRegClose, TID: 4},
		{Type: TRegClose | CnfBit, TID: 4, Status: StatusNotOpen},
		{Type: TPairChall, TID: 5, IPEI: ip, RS: rs, RandF: rf},
		{Type: TPairChall | CnfBit, TID: 5, Res: res, RandP: rp},
		{Type: TPairAccept, TID: 6, IPEI: ip, Handset: 1, Res: res},
		{Type: TPairAccept | CnfBit, TID: 6},
		{Type: TPairReject, TID: 7, IPEI: ip, Reason: RejectWrongPIN},
		{Type: TPairReject | CnfBit, TID: 7},
		{Type: TAuth, TID: 8, Handset: 1, RS: rs, RandF: rf},
		{Type: TAuth | CnfBit, TID: 8, Res: res},
		{Type: TAuthResult, TID: 9, Handset: 1, Reason: 1},
		{Type: TAuthResult | CnfBit, TID: 9},
		{Type: TDeviceList, TID: 10},
		{Type: TDeviceList | CnfBit, TID: 10, Devices: []DeviceEntry{{Handset: 1, IPEI: ip, Type: Linx, Model: "Linx L1"}, {Handset: 2, IPEI: IPEI{EMC: 1, PSN: 2}, Type: Headset, Caps: CapWideband, Model: "H"}}},
		{Type: TDeviceAdd, TID: 11, Handset: 2, IPEI: ip, DevType: Headset, Caps: CapWideband, Model: "Headset H1"},
		{Type: TDeviceAdd | CnfBit, TID: 11, Status: StatusFull},
		{Type: TDeregister, TID: 12, Handset: 2, IPEI: ip},
		{Type: TDeregister | CnfBit, TID: 12, Status: StatusUnknown},
		{Type: TPage, TID: 13, On: 1},
		{Type: TPage | CnfBit, TID: 13},
		{Type: TRing, TID: 14, Handset: 1, Cadence: 2, CLI: CLINumber, Time: when, Number: "5551234567", Name: "ALICE"},
		{Type: TRing | CnfBit, TID: 14, Status: StatusUnreachable},
		{Type: TCallProceed, TID: 15, Handset: 1},
		{Type: TCallProceed | CnfBit, TID: 15},
		{Type: TRelease, TID: 16, Handset: 1, Reason: ReleaseAuthFailed},
		{Type: TRelease | CnfBit, TID: 16},
		{Type: TTone, TID: 17, Handset: 1, Tone: ToneBusy},
		{Type: TTone | CnfBit, TID: 17},
		{Type: TAudioConnect, TID: 18, Handset: 1, Slot: 2, Rate: RateWB},
		{Type: TAudioConnect | CnfBit, TID: 18},
		{Type: TAudioDisc, TID: 19, Handset: 1},
		{Type: TAudioDisc | CnfBit, TID: 19},
		{Type: TMWI, TID: 20, Handset: 1, On: 1, Count: 3},
		{Type: TMWI | CnfBit, TID: 20},
		{Type: TCallWaiting, TID: 21, Handset: 1, CLI: CLIPrivate},
		{Type: TCallWaiting | CnfBit, TID: 21, Status: StatusBusy},
		{Type: TDateTime, TID: 22, Time: when},
		{Type: TDateTime | CnfBit, TID: 22},
		{Type: TDeviceStatus, TID: 23, Handset: 2},
		{Type: TDeviceStatus | CnfBit, TID: 23, Link: LinkInRange, RSSI: -67, Quality: 98, Battery: 81, Firmware: "H1 1.4.2"},
		{Type: TLocate, TID: 24, Handset: 2, On: 1},
		{Type: TLocate | CnfBit, TID: 24, Status: StatusUnreachable},
		{Type: TLinkInd, Handset: 2, Link: LinkOutOfRange, RSSI: RSSIUnknown, Quality: QualityUnknown, Battery: BatteryNone},
		{Type: TRegClosedInd, Reason: CloseTimeout},
		{Type: TPairReqInd, IPEI: ip, DevType: Linx, Model: "Linx L1"},
		{Type: TAttachInd, Handset: 1, IPEI: ip},
		{Type: TDetachInd, Handset: 1},
		{Type: TSetupInd, Handset: 1},
		{Type: TAlertingInd, Handset: 1},
		{Type: TConnectInd, Handset: 1},
		{Type: TReleaseInd, Handset: 1, Reason: ReleaseNormal},
		{Type: TKeysInd, Handset: 1, Digits: "123*#R"},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	seen := map[Type]bool{}
	for _, m := range sampleMessages() {
		b, err := m.Append(nil)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v: decode % x: %v", m.Type, b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%v: round trip\n got %+v\nwant %+v", m.Type, got, m)
		}
		// Every truncation is an error, never a panic or a half message.
		for n := 2; n < len(b); n++ {
			if _, err := Decode(b[:n]); err == nil {
				t.Errorf("%v: truncated to %d bytes decoded", m.Type, n)
			}
		}
		if _, err := Decode(append(b, 0)); !errors.Is(err, ErrTrailing) {
			t.Errorf("%v: trailing byte: %v", m.Type, err)
		}
		seen[m.Type] = true
	}
	for t0 := Type(0); t0 < 0xFF; t0++ {
		if (t0.IsRequest() || t0.IsConfirm() || t0.IsIndication()) && !seen[t0] {
			t.Errorf("no sample for %v", t0)
		}
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		hex, want string
	}{
		{"", "no header"},
		{"7f01", "unknown message type"},
		{"0100", "tid 0"},
		{"c001", "non-zero tid"},
		{"0e0100000000000000000000000000", "handset number 0"},
		{"0e0101090000000000000000000000", "cadence"},
		{"03010000043132333", "truncated"},
		{"030100000431323361", "PIN"},
		{"c80001025a5a", "invalid key"},
		{"c1000123456789090003414243", "device type"},
		{"16010000010101000000", "date-time"},
		{"c0000009", "close reason"},
		{"8101090100001234567804080765", "status"},
		{"c9000103bd6450", "link state"},
		{"c9000100bd6550", "link quality 101"},
		{"c9000100bd6465", "battery 101"},
		{"18010102", "locate flag"},
	} {
		b, _ := hex.DecodeString(tc.hex)
		_, err := Decode(b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("% x: error %v, want mention of %q", b, err, tc.want)
		}
	}
}

func TestAppendValidates(t *testing.T) {
	bad := []Msg{
		{Type: 0x7F, TID: 1},
		{Type: TRing, TID: 0, Handset: 1},
		{Type: TKeysInd, TID: 3, Handset: 1, Digits: "1"},
		{Type: TRegOpen, TID: 1, Seconds: 10, PIN: "12"},
		{Type: TRing, TID: 1, Handset: 1, Name: strings.Repeat("x", 33)},
		{Type: TDateTime, TID: 1, Time: DateTime{Year: 1999, Month: 1, Day: 1}},
		{Type: TLinkInd, Handset: 1, Link: 7},
		{Type: TDeviceStatus | CnfBit, TID: 1, Battery: 140},
	}
	for _, m := range bad {
		if _, err := m.Append(nil); err == nil {
			t.Errorf("%+v encoded", m)
		}
	}
}

// A refusal may end at its STATUS: the emulator (and a module) answers an
// AUTH for a device out of reach with `88 TID 03`, which was rejected as
// truncated, so the host saw a malformed message instead of "unreachable".
// A success without its fields, and a refusal with half of them, are
// still truncated.
func TestBareRefusalDecodes(t *testing.T) {
	for _, c := range []struct {
		in      []byte
		want    Status
		wantErr bool
	}{
		{[]byte{0x88, 0x06, 0x03}, StatusUnreachable, false},
		{[]byte{0x85, 0x02, 0x06}, StatusNotOpen, false},
		{[]byte{0x81, 0x01, 0x04}, StatusBusy, false},
		{[]byte{0x97, 0x09, 0x02}, StatusUnknown, false},
		{[]byte{0x88, 0x06, 0x00}, 0, true},             // a success needs RES
		{[]byte{0x88, 0x06, 0x03, 0x64, 0x9C}, 0, true}, // half a RES
	} {
		m, err := Decode(c.in)
		if c.wantErr {
			if !errors.Is(err, ErrShort) {
				t.Errorf("% x: err %v, want truncated", c.in, err)
			}
			continue
		}
		if err != nil || m.Status != c.want || !m.Bare {
			t.Errorf("% x: %+v, %v; want a bare %v", c.in, m, err, c.want)
			continue
		}
		b, err := m.Append(nil)
		if err != nil || !bytes.Equal(b, c.in) {
			t.Errorf("% x re-encoded as % x (%v)", c.in, b, err)
		}
	}
	if _, err := (&Msg{Type: TAuth | CnfBit, TID: 1, Bare: true}).Append(nil); err == nil {
		t.Error("a bare success encoded")
	}
}
