package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fits fails if a line of s is wider than the help's 80 columns.
func fits(t *testing.T, what, s string) {
	t.Helper()
	for i, l := range strings.Split(s, "\n") {
		if n := utf8.RuneCountInString(l); n > helpWidth {
			t.Errorf("%s: line %d is %d columns: %q", what, i+1, n, l)
		}
	}
}

func TestHelp(t *testing.T) {
	// -h, --help and help exit 0 with the whole help on stdout.
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"--broker", "tcp://127.0.0.1:1", "-h"}} {
		r := bsctlRaw(t, args...)
		expect(t, r, exitOK, "usage: bsctl", "register", "remove-device", "--broker URL", "--timeout DURATION", "exit codes:")
		if r.errOut != "" {
			t.Errorf("%q: stderr %q", args, r.errOut)
		}
		fits(t, strings.Join(args, " "), r.out)
	}
	// Every exit code is listed, with its number.
	r := bsctlRaw(t, "help")
	for _, e := range exitCodes() {
		if !strings.Contains(r.out, fmt.Sprintf("\n  %-3d  ", e.code)) {
			t.Errorf("exit code %d not listed:\n%s", e.code, r.out)
		}
	}
	// No arguments: the help on stderr, a usage error.
	r = bsctlRaw(t)
	expect(t, r, exitUsage, "usage: bsctl")
	if r.out != "" {
		t.Errorf("stdout %q", r.out)
	}

	// Each command's help: bsctl help CMD, bsctl CMD -h, bsctl CMD --help.
	for _, c := range commands() {
		r := bsctlRaw(t, "help", c.name)
		expect(t, r, exitOK, "usage: bsctl [global flags] "+c.name, "Global flags and exit codes: bsctl help")
		fits(t, "help "+c.name, r.out)
		for _, h := range []string{"-h", "--help"} {
			if r2 := bsctlRaw(t, c.name, h); r2.code != exitOK || r2.out != r.out {
				t.Errorf("%s %s: exit %d, output differs from bsctl help %s:\n%s", c.name, h, r2.code, c.name, r2.out)
			}
		}
	}
	expect(t, bsctlRaw(t, "help", "register"), exitOK, "--window DURATION", "--pin PIN", "Ctrl-C closes registration mode")
	expect(t, bsctlRaw(t, "help", "set"), exitOK, "--caller-id E164", "exits at once with code 4")
}

func TestMistypedCommandSuggestsTheNearest(t *testing.T) {
	for _, c := range []struct {
		typed string
		want  string // "" for no suggestion
	}{
		{"regster", "did you mean register?"},
		{"registr", "did you mean register?"},
		{"assing", "did you mean assign?"},      // swapped letters
		{"devcies", "did you mean devices?"},    // swapped letters
		{"stat", "did you mean state?"},         // short: one edit
		{"config", "config-get or config-push"}, // a prefix of two
		{"close", "did you mean close-registration?"},
		{"frobnicate", ""},
		{"x", ""},
	} {
		r := bsctlRaw(t, c.typed)
		expect(t, r, exitUsage, fmt.Sprintf("unknown command %q", c.typed), "bsctl help lists the commands")
		if c.want == "" && strings.Contains(r.errOut, "did you mean") {
			t.Errorf("%s: suggests %q", c.typed, r.errOut)
		}
		if c.want != "" && !strings.Contains(r.errOut, c.want) {
			t.Errorf("%s: %q lacks %q", c.typed, r.errOut, c.want)
		}
	}
	// bsctl help with a typo, and a mistyped flag.
	expect(t, bsctlRaw(t, "help", "extentions"), exitUsage, "did you mean extensions?")
	expect(t, bsctlRaw(t, "--base", "bs-1", "register", "--windw", "30s"), exitUsage, "-windw", "did you mean --window?")
	expect(t, bsctlRaw(t, "--brokr", "x", "bases"), exitUsage, "did you mean --broker?")
}

func TestNearest(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"ab", "ba", 1}, {"ca", "abc", 3},
	} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	names := []string{"bs-1", "bs-2", "office-7", "warehouse"}
	if got := nearest("bs1", names); !slices.Equal(got, []string{"bs-1"}) {
		t.Errorf("nearest bs1: %q", got)
	}
	if got := nearest("ofice-7", names); !slices.Equal(got, []string{"office-7"}) {
		t.Errorf("nearest ofice-7: %q", got)
	}
	if got := nearest("zzz", names); got != nil {
		t.Errorf("nearest zzz: %q", got)
	}
}

func TestWrap(t *testing.T) {
	got := wrap("one two three four five six", 14, "  ")
	want := "  one two\n  three four\n  five six"
	if got != want {
		t.Fatalf("%q", got)
	}
	// A word longer than the width stands alone.
	if got := wrap("a verylongwordindeed b", 8, ""); got != "a\nverylongwordindeed\nb" {
		t.Fatalf("%q", got)
	}
}

// What a person types as a command name: the suggestions never panic,
// never suggest what is not a command, and a command's own name is its
// nearest.
func FuzzUnknownCommand(f *testing.F) {
	for _, s := range []string{"regster", "", "config", "x", "close-registratio", "ñandú", "\xff\xfe", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1000 {
			return
		}
		near := nearest(s, names)
		if len(near) > 3 {
			t.Fatalf("%d suggestions", len(near))
		}
		for _, n := range near {
			if !slices.Contains(names, n) {
				t.Fatalf("suggests %q", n)
			}
		}
		if slices.Contains(names, s) && (len(near) == 0 || near[0] != s) {
			t.Fatalf("%q: nearest %q", s, near)
		}
		if d, e := editDistance(s, "register"), editDistance("register", s); d != e || d > max(len([]rune(s)), 8) {
			t.Fatalf("distance %d / %d", d, e)
		}
		var errOut strings.Builder
		a := newApp(io.Discard, &errOut)
		a.unknownCommand(s)
		if !strings.Contains(errOut.String(), "bsctl help lists the commands") {
			t.Fatalf("%q", errOut.String())
		}
	})
}

// Help text wrapping: no line wider than the width unless it is one word.
func FuzzWrap(f *testing.F) {
	f.Add("one two three four five six", 14, 2)
	f.Add("", 80, 22)
	f.Fuzz(func(t *testing.T, text string, width, indent int) {
		if width < 1 || width > 200 || indent < 0 || indent >= width || len(text) > 2000 {
			return
		}
		for _, l := range strings.Split(wrap(text, width, strings.Repeat(" ", indent)), "\n") {
			if len(l) > width && len(strings.Fields(l)) > 1 {
				t.Fatalf("line %q wider than %d", l, width)
			}
		}
	})
}
