package wire

import "testing"

func BenchmarkFrameEncode(b *testing.B) {
	m := Msg{Type: TRing, TID: 14, Handset: 1, Cadence: 0, Number: "5551234567", Name: "ALICE SMITH",
		Time: DateTime{Year: 2026, Month: 11, Day: 22, Hour: 9, Min: 30}}
	payload, _ := m.Append(nil)
	buf := make([]byte, 0, MaxFrame)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) + HeaderLen + TrailerLen))
	for b.Loop() {
		var err error
		buf, err = AppendFrame(buf[:0], CtrlData, 7, payload)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	m := Msg{Type: TRing, TID: 14, Handset: 1, Number: "5551234567", Name: "ALICE SMITH"}
	payload, _ := m.Append(nil)
	frame, _ := AppendFrame(nil, CtrlData, 7, payload)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		d.Feed(frame)
		f, ok := d.Next()
		if !ok || len(f.Payload) != len(payload) {
			b.Fatal("no frame")
		}
	}
}

func TestFrameCodecZeroAllocs(t *testing.T) {
	payload := make([]byte, 40)
	buf := make([]byte, 0, MaxFrame)
	frame, _ := AppendFrame(nil, CtrlData, 7, payload)
	var d Decoder
	if n := testing.AllocsPerRun(200, func() {
		buf, _ = AppendFrame(buf[:0], CtrlData, 7, payload)
		d.Feed(frame)
		if _, ok := d.Next(); !ok {
			t.Fatal("no frame")
		}
	}); n != 0 {
		t.Errorf("frame encode+decode allocates %v times", n)
	}
}
