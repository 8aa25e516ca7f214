package fxs

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

func TestCallerNameSpeltInASCII(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Müller-Lüdenscheidt", "Muller-Ludensch"}, // spelt before the cut
		{"Renée Côté", "Renee Cote"},
		{"Straße", "Strasse"},
		{"STRASSE ẞ", "STRASSE SS"},
		{"Ærøskøbing", "AEroskobing"},
		{"Søren Kierkegård", "Soren Kierkegar"},
		{"François Núñez", "Francois Nunez"},
		{"Œuvre cœur", "OEuvre coeur"},
		{"Łukasz Żółć", "Lukasz Zolc"},
		{"Đorđe Þór Ðís", "Dorde Thor Dis"},
		{"İstanbul ılık", "Istanbul ilik"},
		{"Nguyễn Văn Thủy", "Nguyen Van Thuy"},
		{"O’Brien “Bob”", "O'Brien \"Bob\""},
		{"O´Neil – Sales", "O'Neil - Sales"},
		{"Col·legi", "Collegi"},
		{"Paŀlars", "Pallars"},  // ŀ decomposes to l and a middle dot
		{"ﬁne ＡＢＣ", "fine ABC"}, // ligature, full-width (NFKD)
		{"  Jane \t Doe  ", "Jane Doe"},
		{"Zoë\u200d\u00ad", "Zoe"},             // format characters dropped
		{"e\u0301te\u0301", "ete"},             // already decomposed
		{"Ivan Иванов", "Ivan ??????"},         // no transliteration of Cyrillic
		{"王伟", ""},                             // nothing readable: sent as unavailable
		{"☎ ☎", ""},                            // ditto
		{"Bob 😀", "Bob ?"},                     // other characters become '?'
		{"bad\xffutf8", "bad?utf8"},            // invalid UTF-8
		{"ABCDEFGHIJKLMN Z", "ABCDEFGHIJKLMN"}, // no trailing space after the cut
		{"", ""},
	} {
		if got := callerName(c.in); got != c.want {
			t.Errorf("callerName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The accented names as two independent Bell 202 decoders read them from
// the port's FSK burst: spandsp's adsi_rx (strict, checksum) and
// minimodem's caller-ID receiver.
func TestAccentedCallerNameDecoded(t *testing.T) {
	when := time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC)
	cases := []struct{ name, want string }{
		{"Müller-Lüdenscheidt", "Muller-Ludensch"},
		{"Renée Ærø Straße", "Renee AEro Stra"},
		{"Łukasz Żółć", "Lukasz Zolc"},
	}
	bin := spandspCID(t)
	bins := testpeer.Require(t, "minimodem", "sox")
	for _, c := range cases {
		msg, err := CallerIDMessage(&endpoint.CallerID{Number: "6135550142", Name: c.name, Time: when}, CallerIDMDMF, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		x := burstSamples(t, msg, false)
		got := decodeCID(t, bin, x)
		if len(got) != 1 || got[0].fields["07"] != c.want {
			t.Errorf("%q: spandsp decoded %+v, want name %q", c.name, got, c.want)
		}
		if mm := minimodemName(t, bins, x); mm != c.want {
			t.Errorf("%q: minimodem shows name %q, want %q", c.name, mm, c.want)
		}
	}
}

// minimodemName decodes one caller-ID burst with minimodem and returns its
// Name line.
func minimodemName(t *testing.T, bins []string, x []int16) string {
	t.Helper()
	dir := t.TempDir()
	var raw bytes.Buffer
	_ = binary.Write(&raw, binary.LittleEndian, x)
	rawPath, wav := filepath.Join(dir, "cid.s16"), filepath.Join(dir, "cid.wav")
	if err := os.WriteFile(rawPath, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bins[1], "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", rawPath, wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins[0], "--rx", "callerid", "-q", "-f", wav).Output()
	if err != nil {
		t.Fatalf("minimodem: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Name:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("minimodem printed no name:\n%s", out)
	return ""
}

func FuzzCallerName(f *testing.F) {
	for _, s := range []string{"Müller-Lüdenscheidt", "Straße", "王伟", "O’Brien", "ﬁ", "a\u0301", "\xff", "  x  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := callerName(s)
		if len(n) > MaxCallerName || !utf8.ValidString(n) {
			t.Fatalf("callerName(%q) = %q: too long or not UTF-8", s, n)
		}
		for i := 0; i < len(n); i++ {
			if n[i] < 0x20 || n[i] > 0x7E {
				t.Fatalf("callerName(%q) = %q: byte %#x is not printable ASCII", s, n, n[i])
			}
		}
		if n != strings.TrimSpace(n) || strings.Contains(n, "  ") {
			t.Fatalf("callerName(%q) = %q: stray spaces", s, n)
		}
		if again := callerName(n); again != n {
			t.Fatalf("callerName not stable on its output: %q -> %q", n, again)
		}
	})
}
