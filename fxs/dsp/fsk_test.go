package dsp

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// burst modulates msg with a new transmitter at rate, in 10 ms frames,
// between lead and tail silences.
func burst(t testing.TB, rate int, mode FSKMode, msg []byte, opts *FSKOpts) []int16 {
	t.Helper()
	f, err := NewFSKTransmitter(rate, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(mode, msg); err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, rate/5) // 200 ms of silence first
	frame := make([]int16, rate/100)
	total := 0
	for f.Active() {
		total += f.Fill(frame)
		pcm = append(pcm, frame...)
	}
	if want := int(f.Duration().Seconds()*float64(rate) + 0.5); abs(total-want) > 1 {
		t.Errorf("burst of %d samples, Duration says %d", total, want)
	}
	return append(pcm, make([]int16, rate/5)...)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// spandspMessages decodes 8 kHz pcm with spandsp adsi_rx (CLASS) and returns
// each message as delivered (type, length, body: without the checksum, which
// spandsp has verified) and the fields it parsed.
func spandspMessages(t *testing.T, bin string, pcm []int16) (msgs []string, fields [][]string) {
	t.Helper()
	out, err := runBounded(t, 20*time.Second, bin, writeRaw(t, pcm))
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("adsi_rx: %v\n%s", err, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "MSG "):
			msgs = append(msgs, strings.TrimPrefix(l, "MSG "))
			fields = append(fields, nil)
		case strings.HasPrefix(l, "FIELD ") && len(fields) > 0:
			fields[len(fields)-1] = append(fields[len(fields)-1], strings.TrimSpace(strings.TrimPrefix(l, "FIELD ")))
		}
	}
	return msgs, fields
}

// minimodemCID decodes 8 kHz pcm with minimodem --rx callerid and returns
// its output lines (e.g. "Phone: 555-123-4567").
func minimodemCID(t *testing.T, pcm []int16) []string {
	t.Helper()
	bins := testpeer.Require(t, "minimodem", "sox")
	wav := filepath.Join(t.TempDir(), "cid.wav")
	if b, err := exec.Command(bins[1], "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", writeRaw(t, pcm), wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, b)
	}
	out, err := runBounded(t, 20*time.Second, bins[0], "--rx", "callerid", "-q", "-f", wav)
	if err != nil {
		t.Fatalf("minimodem: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "###") {
			lines = append(lines, l)
		}
	}
	return lines
}

func wantFieldsMDMF(c CallerID) []string {
	f := []string{"80"}
	if !c.Time.IsZero() {
		f = append(f, "01 "+hex.EncodeToString(fmt.Appendf(nil, "%02d%02d%02d%02d", c.Time.Month(), c.Time.Day(), c.Time.Hour(), c.Time.Minute())))
	}
	if c.Number != "" {
		f = append(f, "02 "+hex.EncodeToString([]byte(c.Number)))
	} else if c.NumberAbsent != 0 {
		f = append(f, "04 "+hex.EncodeToString([]byte{byte(c.NumberAbsent)}))
	}
	if c.Name != "" {
		f = append(f, "07 "+hex.EncodeToString([]byte(c.Name)))
	} else if c.NameAbsent != 0 {
		f = append(f, "08 "+hex.EncodeToString([]byte{byte(c.NameAbsent)}))
	}
	return f
}

// cidCases covers every allowed length of number and name, the absence
// reasons and date/time present or not.
func cidCases() []CallerID {
	r := rand.New(rand.NewPCG(17, 17))
	when := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	var cs []CallerID
	for n := 1; n <= MaxNumberLen; n++ {
		num := make([]byte, n)
		for i := range num {
			num[i] = byte('0' + r.IntN(10))
		}
		name := make([]byte, min(n, MaxNameLen))
		for i := range name {
			name[i] = byte(0x20 + r.IntN(0x5F))
		}
		name[0] = 'A' // minimodem trims leading blanks
		cs = append(cs, CallerID{Time: when.Add(-time.Duration(n) * 37 * time.Hour), Number: string(num), Name: string(name)})
	}
	cs = append(cs,
		CallerID{Time: when, NumberAbsent: Private, NameAbsent: Private},
		CallerID{Time: when, NumberAbsent: Unavailable, NameAbsent: Unavailable},
		CallerID{Time: when, Number: "6135550123", NameAbsent: Private},
		CallerID{Time: when, NumberAbsent: Private, Name: "WIRELESS CALLER"},
		CallerID{Number: "4165550199", Name: "NO DATE"},
		CallerID{Time: time.Date(2027, 1, 2, 3, 4, 0, 0, time.UTC), Number: "18005550100"},
	)
	return cs
}

func TestCallerIDTypeIBySpandsp(t *testing.T) {
	bin := buildC(t, "adsi_rx")
	for _, c := range cidCases() {
		msg, err := c.MDMF()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		msgs, fields := spandspMessages(t, bin, burst(t, 8000, TypeI, msg, nil))
		if len(msgs) != 1 || msgs[0] != hex.EncodeToString(msg[:len(msg)-1]) {
			t.Errorf("%+v: spandsp delivered %q, want one message %x", c, msgs, msg[:len(msg)-1])
			continue
		}
		if got, want := strings.Join(fields[0], "|"), strings.Join(wantFieldsMDMF(c), "|"); got != want {
			t.Errorf("%+v: spandsp fields %s, want %s", c, got, want)
		}
	}
}

func TestCallerIDSDMFBySpandsp(t *testing.T) {
	bin := buildC(t, "adsi_rx")
	when := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	for _, c := range []CallerID{
		{Time: when, Number: "5551234567"},
		{Time: when, Number: "1"},
		{Time: when, NumberAbsent: Private},
		{Time: when, NumberAbsent: Unavailable},
	} {
		msg, err := c.SDMF()
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := spandspMessages(t, bin, burst(t, 8000, TypeI, msg, nil))
		if len(msgs) != 1 || msgs[0] != hex.EncodeToString(msg[:len(msg)-1]) {
			t.Errorf("%+v: spandsp delivered %q, want %x", c, msgs, msg[:len(msg)-1])
		}
	}
}

func TestCallerIDTypeIIBySpandsp(t *testing.T) {
	bin := buildC(t, "adsi_rx")
	c := CallerID{Time: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC), Number: "5145550000", Name: "CALL WAITING"}
	msg, err := c.MDMF()
	if err != nil {
		t.Fatal(err)
	}
	pcm := burst(t, 8000, TypeII, msg, nil)
	msgs, fields := spandspMessages(t, bin, pcm)
	if len(msgs) != 1 || msgs[0] != hex.EncodeToString(msg[:len(msg)-1]) {
		t.Fatalf("spandsp delivered %q, want %x", msgs, msg[:len(msg)-1])
	}
	if got, want := strings.Join(fields[0], "|"), strings.Join(wantFieldsMDMF(c), "|"); got != want {
		t.Errorf("spandsp fields %s, want %s", got, want)
	}
	// Type II has no channel seizure: the first 80 bits are marks, so the
	// signal opens at 1200 Hz only.
	on := pcm[1600 : 1600+530] // 200 ms lead-in, then ~66 ms of marks
	if p12, p22 := tonePower(on, 8000, 1200), tonePower(on, 8000, 2200); p22 > p12/1000 {
		t.Errorf("type II preamble has 2200 Hz energy %.3g vs 1200 Hz %.3g", p22, p12)
	}
}

func TestVMWIBySpandsp(t *testing.T) {
	bin := buildC(t, "adsi_rx")
	for _, on := range []bool{true, false} {
		for name, msg := range map[string][]byte{"MDMF": VMWI(on), "SDMF": VMWISDMF(on)} {
			msgs, _ := spandspMessages(t, bin, burst(t, 8000, TypeI, msg, nil))
			if len(msgs) != 1 || msgs[0] != hex.EncodeToString(msg[:len(msg)-1]) {
				t.Errorf("VMWI %s on=%v: spandsp delivered %q, want %x", name, on, msgs, msg[:len(msg)-1])
			}
		}
	}
}

func TestCallerIDCorruptChecksumRejectedBySpandsp(t *testing.T) {
	// The harness must be able to fail: a wrong checksum is dropped.
	bin := buildC(t, "adsi_rx")
	msg := VMWI(true)
	msg[len(msg)-1]++
	f, err := NewFSKTransmitter(8000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(TypeI, msg); err == nil {
		t.Error("transmitter accepted a bad checksum")
	}
	// bypass the transmitter's check to see spandsp refuse it
	f.Start(TypeI, VMWI(true))
	f.msg[f.msgLen-1]++
	pcm := make([]int16, 0, 8000)
	frame := make([]int16, 80)
	for f.Active() {
		f.Fill(frame)
		pcm = append(pcm, frame...)
	}
	if msgs, _ := spandspMessages(t, bin, append(pcm, make([]int16, 800)...)); len(msgs) != 0 {
		t.Errorf("spandsp accepted a corrupt checksum: %q", msgs)
	}
}

// minimodemAbsence is how minimodem shows the absence reasons.
var minimodemAbsence = map[Absence]string{Private: "[blocked]", Unavailable: "[N/A]"}

func TestCallerIDByMinimodem(t *testing.T) {
	cases := cidCases()
	cases = append(cases, CallerID{Time: time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC), Number: "2125550123", Name: "TYPE II"})
	for i, c := range cases {
		msg, err := c.MDMF()
		if err != nil {
			t.Fatal(err)
		}
		mode := TypeI
		if i == len(cases)-1 {
			mode = TypeII // minimodem needs more marks than spandsp; 80 suffice
		}
		lines := minimodemCID(t, burst(t, 8000, mode, msg, nil))
		got := map[string]string{}
		for _, l := range lines {
			if k, v, ok := strings.Cut(l, ":"); ok {
				got[k] = strings.TrimSpace(v)
			}
		}
		if len(lines) == 0 || lines[0] != "CALLER-ID" {
			t.Errorf("%+v: minimodem printed %q", c, lines)
			continue
		}
		if !c.Time.IsZero() {
			if want := fmt.Sprintf("%02d/%02d %02d:%02d", c.Time.Month(), c.Time.Day(), c.Time.Hour(), c.Time.Minute()); got["Time"] != want {
				t.Errorf("%+v: minimodem Time %q, want %q", c, got["Time"], want)
			}
		}
		switch {
		case c.Number != "":
			if d := strings.ReplaceAll(got["Phone"], "-", ""); d != c.Number {
				t.Errorf("%+v: minimodem Phone %q, want %q", c, got["Phone"], c.Number)
			}
		case c.NumberAbsent != 0:
			if want := minimodemAbsence[c.NumberAbsent]; got["Phone"] != want {
				t.Errorf("%+v: minimodem Phone %q, want %q", c, got["Phone"], want)
			}
		default:
			if _, ok := got["Phone"]; ok {
				t.Errorf("%+v: minimodem shows a Phone line: %q", c, lines)
			}
		}
		switch {
		case c.Name != "":
			if got["Name"] != strings.TrimSpace(c.Name) {
				t.Errorf("%+v: minimodem Name %q, want %q", c, got["Name"], c.Name)
			}
		case c.NameAbsent != 0:
			if want := minimodemAbsence[c.NameAbsent]; got["Name"] != want {
				t.Errorf("%+v: minimodem Name %q, want %q", c, got["Name"], want)
			}
		}
	}
}

// tonePower is a plain DFT power at f over x (test-local, not Goertzel).
func tonePower(x []int16, rate int, f float64) float64 {
	var re, im float64
	for i, v := range x {
		a := 2 * math.Pi * f * float64(i) / float64(rate)
		re += float64(v) * math.Cos(a)
		im -= float64(v) * math.Sin(a)
	}
	return (re*re + im*im) / float64(len(x)*len(x))
}

func TestCallerIDSDMFByMinimodem(t *testing.T) {
	when := time.Date(2026, 7, 8, 9, 10, 0, 0, time.UTC)
	for _, c := range []CallerID{
		{Time: when, Number: "5551234567"},
		{Time: when, Number: "1234567"},
		{Time: when, NumberAbsent: Private},
		{Time: when, NumberAbsent: Unavailable},
	} {
		msg, err := c.SDMF()
		if err != nil {
			t.Fatal(err)
		}
		lines := minimodemCID(t, burst(t, 8000, TypeI, msg, nil))
		got := map[string]string{}
		for _, l := range lines {
			if k, v, ok := strings.Cut(l, ":"); ok {
				got[k] = strings.TrimSpace(v)
			}
		}
		if got["Time"] != "07/08 09:10" {
			t.Errorf("%+v: minimodem Time %q (%q)", c, got["Time"], lines)
		}
		want := c.Number
		if c.NumberAbsent != 0 {
			want = string(rune(c.NumberAbsent)) // minimodem shows SDMF's O/P as is
		}
		if d := strings.ReplaceAll(got["Phone"], "-", ""); d != want {
			t.Errorf("%+v: minimodem Phone %q, want %q", c, got["Phone"], want)
		}
	}
}

// minimodemRaw decodes 8 kHz pcm as plain Bell 202 8-N-1 bytes with
// minimodem --rx 1200 (its callerid mode knows no VMWI).
func minimodemRaw(t *testing.T, pcm []int16) []byte {
	t.Helper()
	bins := testpeer.Require(t, "minimodem", "sox")
	wav := filepath.Join(t.TempDir(), "fsk.wav")
	if b, err := exec.Command(bins[1], "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", writeRaw(t, pcm), wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins[0], "--rx", "1200", "-q", "-8", "-f", wav).Output()
	if err != nil {
		t.Fatalf("minimodem --rx 1200: %v", err)
	}
	return out
}

func TestVMWIByMinimodem(t *testing.T) {
	for _, on := range []bool{true, false} {
		for name, msg := range map[string][]byte{"MDMF": VMWI(on), "SDMF": VMWISDMF(on)} {
			// Type I: channel seizure bytes (0x55; the last one framed
			// against the marks may read 0xD5), then the message.
			out := minimodemRaw(t, burst(t, 8000, TypeI, msg, nil))
			pre, ok := bytes.CutSuffix(out, msg)
			if !ok || len(pre) < 25 || len(bytes.Trim(pre, "\x55\xd5")) != 0 {
				t.Errorf("VMWI %s on=%v type I: minimodem read %x, want 0x55 seizure then %x", name, on, out, msg)
			}
			// Type II: nothing but the message.
			if out := minimodemRaw(t, burst(t, 8000, TypeII, msg, nil)); !bytes.Equal(out, msg) {
				t.Errorf("VMWI %s on=%v type II: minimodem read %x, want %x", name, on, out, msg)
			}
		}
	}
}
