package fxs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func burstSamples(msg []byte, typeII bool) []int16 {
	b := newFSKBurst(msg, typeII, 8000)
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
	digits := "123456789012345"
	letters := "ABCDEFGHIJKLMNO"
	type want struct{ typ, dt, num, numAbs, name, nameAbs string }
	var cases []struct {
		cid    CallerID
		format CallerIDFormat
		w      want
	}
	add := func(c CallerID, f CallerIDFormat, w want) {
		cases = append(cases, struct {
			cid    CallerID
			format CallerIDFormat
			w      want
		}{c, f, w})
	}
	// Every allowed number and name length.
	for n := 1; n <= MaxCallerNumber; n++ {
		add(CallerID{Number: digits[:n], Name: letters[:n], Time: when}, CallerIDMDMF,
			want{typ: "80", dt: "11220905", num: digits[:n], name: letters[:n]})
	}
	add(CallerID{Number: "+1 (613) 555-0199", Name: "Smith John Alexander", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "16135550199", name: "Smith John Alex"})
	add(CallerID{NumberPresentation: Private, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "P", nameAbs: "P"})
	add(CallerID{NumberPresentation: OutOfArea, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "O", nameAbs: "O"})
	add(CallerID{Number: "6135550100", NamePresentation: Private, Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "6135550100", nameAbs: "P"})
	add(CallerID{Number: "6135550100", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", num: "6135550100", nameAbs: "O"})
	add(CallerID{Number: "1234567890123456", Name: "Too Long", Time: when}, CallerIDMDMF,
		want{typ: "80", dt: "11220905", numAbs: "O", name: "Too Long"})
	for _, typeII := range []bool{false, true} {
		for _, c := range cases {
			msg, err := CallerIDMessage(&c.cid, c.format, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got := decodeCID(t, bin, burstSamples(msg, typeII))
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
		got := decodeCID(t, bin, burstSamples(VMWIMessage(on), false))
		want := `\x00`
		if on {
			want = `\xff`
		}
		if len(got) != 1 || got[0].typ != "82" || got[0].fields["0b"] != want {
			t.Errorf("VMWI %v: %+v", on, got)
		}
	}
	// A corrupted checksum is refused by the independent decoder: the test
	// can fail.
	msg, _ := CallerIDMessage(&CallerID{Number: "5551234", Time: when}, CallerIDMDMF, time.Time{})
	msg[len(msg)-1]++
	if got := decodeCID(t, bin, burstSamples(msg, false)); len(got) != 0 {
		t.Errorf("bad checksum decoded: %+v", got)
	}
	// SDMF.
	msg, _ = CallerIDMessage(&CallerID{Number: "6135550100", Time: when}, CallerIDSDMF, time.Time{})
	got := decodeCID(t, bin, burstSamples(msg, false))
	if len(got) != 1 || got[0].typ != "04" {
		t.Errorf("SDMF: %+v", got)
	} else if s := fmt.Sprint(got[0].fields); !strings.Contains(s, "6135550100") {
		t.Errorf("SDMF fields %v", s)
	}
}
