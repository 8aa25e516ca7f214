package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzFrameDecoder(f *testing.F) {
	good, _ := AppendFrame(nil, CtrlData, 1, []byte{0x01, 0x01, 0x01, 0x00})
	ack, _ := AppendFrame(nil, CtrlAck, 1, nil)
	f.Add(good)
	f.Add(append(append([]byte{0xA5, 0xA5, 0x5A, 0x01, 0x00, 0xFF}, good...), ack...))
	f.Add([]byte{0xA5, 0x5A, 0x01, 0x00, 0x02, 0x00})
	f.Add(bytes.Repeat([]byte{0xA5, 0x5A}, 600))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		rest := data
		for len(rest) > 0 {
			n := d.Feed(rest)
			if n == 0 {
				t.Fatalf("decoder took nothing with %d buffered", d.Buffered())
			}
			rest = rest[n:]
			for {
				fr, ok := d.Next()
				if !ok {
					break
				}
				// Every frame it yields re-encodes to a valid frame.
				b, err := AppendFrame(nil, fr.Ctrl, fr.Seq, fr.Payload)
				if err != nil {
					t.Fatalf("yielded an unencodable frame: %v", err)
				}
				var d2 Decoder
				d2.Feed(b)
				if f2, ok := d2.Next(); !ok || !bytes.Equal(f2.Payload, fr.Payload) {
					t.Fatal("re-encoded frame does not decode")
				}
			}
		}
		for d.Stall() {
			for {
				if _, ok := d.Next(); !ok {
					break
				}
			}
		}
		if d.Buffered() != 0 {
			t.Fatalf("%d bytes left after stalling everything", d.Buffered())
		}
	})
}

// FuzzMessage drives Decode (every message decoder, selected by the type
// byte) and checks that whatever decodes re-encodes to the same bytes.
func FuzzMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := m.Append(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		b, err := m.Append(nil)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v (%+v)", err, m)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", data, b)
		}
		m2, err := Decode(b)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("second decode: %v", err)
		}
	})
}

// FuzzMessageBody gives each message type's decoder arbitrary bodies: the
// type is chosen by the first input byte among all defined types.
func FuzzMessageBody(f *testing.F) {
	var types []Type
	for t0 := Type(1); t0 < 0xFF; t0++ {
		if t0.IsRequest() || t0.IsConfirm() || t0.IsIndication() {
			types = append(types, t0)
		}
	}
	for _, m := range sampleMessages() {
		b, _ := m.Append(nil)
		for k, t0 := range types {
			if t0 == m.Type {
				f.Add(byte(k), b[2:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, sel byte, body []byte) {
		typ := types[int(sel)%len(types)]
		m := Msg{Type: typ, TID: 1}
		if typ.IsIndication() {
			m.TID = 0
		}
		if err := DecodeBody(&m, body); err != nil {
			return
		}
		b, err := m.Append(nil)
		if err != nil {
			t.Fatalf("%v: decoded body does not encode: %v", typ, err)
		}
		if !bytes.Equal(b[2:], body) {
			t.Fatalf("%v: re-encoding differs", typ)
		}
	})
}
