package fxs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/fxs/dsp"
	"basestation/internal/testpeer"
)

// cidMsg is one message as spandsp's adsi_rx decoded it.
type cidMsg struct {
	typ    string
	fields map[string]string // code (hex) → value
}

// spandspCID builds the spandsp caller-ID decoder harness.
func spandspCID(t *testing.T) string {
	t.Helper()
	gcc := testpeer.Require(t, "gcc")[0]
	testpeer.RequireFile(t, "/usr/include/spandsp/adsi.h")
	bin := filepath.Join(t.TempDir(), "adsi_rx")
	out, err := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-o", bin, "testdata/adsi_rx.c", "-lspandsp", "-lm").CombinedOutput()
	if err != nil {
		t.Fatalf("building the spandsp harness: %v\n%s", err, out)
	}
	return bin
}

// decodeCID runs the independent decoder over 8 kHz samples.
func decodeCID(t *testing.T, bin string, x []int16) []cidMsg {
	t.Helper()
	var in bytes.Buffer
	_ = binary.Write(&in, binary.LittleEndian, x)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("adsi_rx: %v", err)
	}
	var msgs []cidMsg
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "MSG "):
			f := strings.Fields(line)
			msgs = append(msgs, cidMsg{typ: f[1], fields: map[string]string{}})
		case strings.HasPrefix(line, "FIELD ") && len(msgs) > 0:
			rest := strings.TrimPrefix(line, "FIELD ")
			code, val, _ := strings.Cut(rest, " ")
			msgs[len(msgs)-1].fields[code] = val
		}
	}
	return msgs
}

func burstSamples(t *testing.T, msg []byte, typeII bool) []int16 {
	t.Helper()
	b, err := dsp.NewFSKTransmitter(8000, nil)
	if err != nil {
		t.Fatal(err)
	}
	mode := dsp.TypeI
	if typeII {
		mode = dsp.TypeII
	}
	if err := b.Start(mode, msg); err != nil {
		t.Fatal(err)
	}
	out := make([]int16, 800) // 100 ms of silence before
	buf := make([]int16, 80)
	for {
		n := b.Fill(buf)
		out = append(out, buf[:n]...)
		if n < len(buf) {
			break
		}
	}
	return append(out, make([]int16, 800)...)
}

func TestCallerIDMessagesDecodeInSpandsp(t *testing.T) {
	bin := spandspCID(t)
	when := time.Date(2026, 11, 22, 9, 5, 0, 0, time.UTC)
	digits := "123456789012345678"
	letters := "ABCDEFGHIJKLMNO"
	type want struct{ typ, dt, num, numAbs, name, nameAbs string }
	var cases []struct {
		cid    endpoint.CallerID
		format CallerIDFormat
		w      want
	}
	add := func(c endpoint.CallerID, f CallerIDFormat, w want) {
		cases = append(cases, struct {
			cid    endpoint.CallerID
			format CallerIDFormat
			w      want
		}{c, f, w})
	}
	// Every allowed number and name length.
	for n := 1; n <= MaxCallerNumber; n++ {
		name := letters[:min(n, MaxCallerName)]
		add(endpoint.CallerID{Number: digits[:n], Name: name, Time: when}, CallerIDMDMF,
			want{typ: "80", dt: "11220905", num: digits[:n], name: name})
	}
	add(endpoint.CallerID{Number: "+1 (613) 555-0199", Name: "Smith John Alexander", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "16135550199", name: "Smith John Alex"})
	add(endpoint.CallerID{Reason: endpoint.Private, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "P", nameAbs: "P"})
	add(endpoint.CallerID{Reason: endpoint.OutOfArea, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "O", nameAbs: "O"})
	add(endpoint.CallerID{Number: "6135550100", NameReason: endpoint.Private, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "6135550100", nameAbs: "P"})
	add(endpoint.CallerID{Number: "6135550100", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "6135550100", nameAbs: "O"})
	add(endpoint.CallerID{Number: "1234567890123456789", Name: "Too Long", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "O", name: "Too Long"})
	for _, typeII := range []bool{false, true} {
		for _, c := range cases {
			msg, err := CallerIDMessage(&c.cid, c.format, time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeCID(t, bin, burstSamples(t, msg, typeII))
			if len(got) != 1 {
				t.Fatalf("type II %v %+v: spandsp decoded %d messages", typeII, c.cid, len(got))
			}
			m, w := got[0], c.w
			check := func(code, v string) {
				if m.fields[code] != v {
					t.Errorf("type II %v %+v: field %s = %q, want %q (all %v)", typeII, c.cid, code, m.fields[code], v, m.fields)
				}
			}
			if m.typ != w.typ {
				t.Errorf("type %s", m.typ)
			}
			check("01", w.dt)
			check("02", w.num)
			check("04", w.numAbs)
			check("07", w.name)
			check("08", w.nameAbs)
		}
	}
	// VMWI on and off.
	for _, on := range []bool{true, false} {
		got := decodeCID(t, bin, burstSamples(t, dsp.VMWI(on), false))
		want := `\x00`
		if on {
			want = `\xff`
		}
		if len(got) != 1 || got[0].typ != "82" || got[0].fields["0b"] != want {
			t.Errorf("VMWI %v: %+v", on, got)
		}
	}
	// A corrupted message is refused by the independent decoder: the test
	// can fail. (The modulator itself refuses a bad checksum, so corrupt a
	// data byte and fix the checksum off by one.)
	msg, _ := CallerIDMessage(&endpoint.CallerID{Number: "5551234", Time: when}, CallerIDMDMF, time.Time{}, nil)
	bad := append([]byte(nil), msg...)
	bad[5]++
	bad[len(bad)-1] = dsp.Checksum(bad[:len(bad)-1]) + 1
	tx, _ := dsp.NewFSKTransmitter(8000, nil)
	if tx.Start(dsp.TypeI, bad) == nil {
		t.Fatal("modulator accepted a bad checksum")
	}
	// The harness discriminates: a plain test modulator's burst decodes
	// with the right checksum and not with a wrong one.
	if got := decodeCID(t, bin, plainFSK(msg)); len(got) != 1 {
		t.Errorf("control burst: %+v", got)
	}
	if got := decodeCID(t, bin, plainFSK(bad)); len(got) != 0 {
		t.Errorf("bad checksum decoded: %+v", got)
	}
	// SDMF.
	msg, _ = CallerIDMessage(&endpoint.CallerID{Number: "6135550100", Time: when}, CallerIDSDMF, time.Time{}, nil)
	got := decodeCID(t, bin, burstSamples(t, msg, false))
	if len(got) != 1 || got[0].typ != "04" {
		t.Errorf("SDMF: %+v", got)
	} else if s := fmt.Sprint(got[0].fields); !strings.Contains(s, "6135550100") {
		t.Errorf("SDMF fields %v", s)
	}
}

// plainFSK is a minimal Bell 202 modulator for the harness self-check:
// 300 seizure bits, 180 marks, 8-N-1 bytes, 10 trailing marks.
func plainFSK(msg []byte) []int16 {
	var bits []int
	for i := 0; i < 300; i++ {
		bits = append(bits, i&1)
	}
	for i := 0; i < 180; i++ {
		bits = append(bits, 1)
	}
	for _, c := range msg {
		bits = append(bits, 0)
		for j := 0; j < 8; j++ {
			bits = append(bits, int(c>>j)&1)
		}
		bits = append(bits, 1)
	}
	for i := 0; i < 10; i++ {
		bits = append(bits, 1)
	}
	n := len(bits) * 8000 / 1200
	out := make([]int16, 800, 800+n+800)
	ph := 0.0
	for i := 0; i < n; i++ {
		f := 1200.0
		if bits[i*1200/8000] == 0 {
			f = 2200
		}
		ph += 2 * math.Pi * f / 8000
		out = append(out, int16(5000*math.Sin(ph)))
	}
	return append(out, make([]int16, 800)...)
}

// Caller-ID content comes from the network (SIP From / P-Asserted-Identity):
// whatever it holds, the message is well formed and the modulator takes it.
func FuzzCallerIDMessage(f *testing.F) {
	f.Add("+1 (613) 555-0199", "ACME Widgets Inc.", 0, 0, int64(0))
	f.Add("", "", 1, 1, int64(1700000000))
	f.Add("12345678901234567890", "Ünïcödé 名前", 2, 0, int64(-5))
	f.Add("*67#", "\x00\x7f\xff", 0, 2, int64(42))
	tx, err := dsp.NewFSKTransmitter(8000, nil)
	if err != nil {
		f.Fatal(err)
	}
	reasons := []endpoint.Reason{endpoint.Present, endpoint.Private, endpoint.OutOfArea}
	f.Fuzz(func(t *testing.T, number, name string, np, nmp int, unix int64) {
		cid := &endpoint.CallerID{Number: number, Name: name,
			Reason: reasons[uint(np)%3], NameReason: reasons[uint(nmp)%3],
			Time: time.Unix(unix, 0).UTC()}
		for _, format := range []CallerIDFormat{CallerIDMDMF, CallerIDSDMF} {
			msg, err := CallerIDMessage(cid, format, time.Time{}, nil)
			if err != nil {
				t.Fatalf("%+v %s: %v", cid, format, err)
			}
			if int(msg[1]) != len(msg)-3 || dsp.Checksum(msg[:len(msg)-1]) != msg[len(msg)-1] {
				t.Fatalf("malformed message % x", msg)
			}
			if err := tx.Start(dsp.TypeI, msg); err != nil {
				t.Fatalf("modulator refused % x: %v", msg, err)
			}
		}
	})
}
