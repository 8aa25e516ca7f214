package wire

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// docFrames returns every "frame:" example of docs/radio-protocol.md.
func docFrames(t *testing.T) [][]byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/radio-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(doc), "\n") {
		rest, ok := strings.CutPrefix(line, "frame: ")
		if !ok {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(rest), " ", ""))
		if err != nil {
			t.Fatalf("bad hex in doc line %q: %v", line, err)
		}
		out = append(out, b)
	}
	if len(out) < 20 {
		t.Fatalf("only %d examples found in the doc", len(out))
	}
	return out
}

// TestDocExamples checks that every example frame in the protocol document
// is a valid frame whose message decodes and re-encodes to the same bytes.
func TestDocExamples(t *testing.T) {
	for _, b := range docFrames(t) {
		var d Decoder
		d.Feed(b)
		f, ok := d.Next()
		if !ok || d.Buffered() != 0 {
			t.Errorf("doc frame % X does not decode as one frame", b)
			continue
		}
		again, _ := AppendFrame(nil, f.Ctrl, f.Seq, f.Payload)
		if !bytes.Equal(again, b) {
			t.Errorf("doc frame % X re-encodes as % X", b, again)
		}
		if f.Ctrl != CtrlData {
			continue
		}
		m, err := Decode(f.Payload)
		if err != nil {
			t.Errorf("doc frame % X: %v", b, err)
			continue
		}
		p, _ := m.Append(nil)
		if !bytes.Equal(p, f.Payload) {
			t.Errorf("doc message %v re-encodes differently", m.Type)
		}
	}
}

// TestDocAuthVector checks the test vector of §6.
func TestDocAuthVector(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var rs, rf, rp [8]byte
	copy(rs[:], h("1122334455667788"))
	copy(rf[:], h("D01FF9E211680421"))
	copy(rp[:], h("A03FF2C523D00842"))
	res1, res2, uak, err := KeyAllocation("1234", rs, rf, rp)
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := PINToAC("1234")
	ks := A11(KeyFromAC(ac), rs)
	if !bytes.Equal(ks[:], h("36DCFE767FC097A339BAEEE2B8F89D3D")) || !bytes.Equal(res1[:], h("964F1AA6")) ||
		!bytes.Equal(res2[:], h("332D2C38")) || !bytes.Equal(uak[:], h("9C7654DCD56A3D099310444812523797")) {
		t.Errorf("KS %X RES1 %X RES2 %X UAK %X differ from the document", ks, res1, res2, uak)
	}
	var rs2, rf2 [8]byte
	copy(rs2[:], h("0102030405060708"))
	copy(rf2[:], h("9B114F2554518859"))
	if r := Authenticate(uak, rs2, rf2); !bytes.Equal(r[:], h("649CBC27")) {
		t.Errorf("auth RES1 %X", r)
	}
}
