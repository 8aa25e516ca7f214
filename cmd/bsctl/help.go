package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// helpWidth is the width every help line fits in.
const helpWidth = 80

// helpIndent is where descriptions start in the command and flag lists.
const helpIndent = 22

// usage prints the commands, the global flags and the exit codes.
func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, "bsctl: the base station administrator's tool (the cloud portal's flows,\nover MQTT).\n\n")
	fmt.Fprint(w, "usage: bsctl [global flags] COMMAND [flags] [args]\n       bsctl help COMMAND      that command's flags and what it does\n")
	group := ""
	for _, c := range commands() {
		if c.group != group {
			group = c.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		item(w, "  "+c.name, c.summary)
	}
	fmt.Fprint(w, "\nglobal flags (before or after the command):\n")
	var g globals
	fs := flag.NewFlagSet("bsctl", flag.ContinueOnError)
	g.register(fs, func(string) string { return "" })
	printFlags(w, fs, nil)
	fmt.Fprint(w, "\nexit codes:\n")
	for _, e := range exitCodes() {
		itemAt(w, fmt.Sprintf("  %d", e.code), e.text, 7)
	}
}

// help is `bsctl help [COMMAND]`.
func (a *app) help(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		a.usage(a.out)
		return exitOK
	}
	if len(args) > 1 {
		fmt.Fprintf(a.errOut, "bsctl help: one command at a time (got %q)\n", args)
		return exitUsage
	}
	cmd, ok := lookup(args[0])
	if !ok {
		a.unknownCommand(args[0])
		return exitUsage
	}
	a.commandHelp(a.out, cmd)
	return exitOK
}

// commandHelp is one command's help: synopsis, what it does, its flags.
func (a *app) commandHelp(w io.Writer, cmd *command) {
	a.synopsisLine(w, cmd)
	fmt.Fprintln(w)
	fmt.Fprintln(w, wrap(cmd.about, helpWidth, ""))
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.new().flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		printFlags(w, fs, nil)
	}
	if cmd.needBase {
		fmt.Fprintln(w, "\n--base ID (or BSCTL_BASE) names the base.")
	}
	fmt.Fprintln(w, "Global flags and exit codes: bsctl help")
}

// synopsis is the reminder printed after a usage error.
func (a *app) synopsis(w io.Writer, cmd *command) {
	a.synopsisLine(w, cmd)
	fmt.Fprintf(w, "bsctl help %s shows its flags\n", cmd.name)
}

func (a *app) synopsisLine(w io.Writer, cmd *command) {
	head := "usage: bsctl [global flags] " + cmd.name
	// Break only between options, never inside "--ext N" or "[...]".
	var units []string
	for _, f := range strings.Fields(cmd.args) {
		if len(units) > 0 && !strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "[") && !strings.HasSuffix(units[len(units)-1], "]") {
			units[len(units)-1] += " " + f
			continue
		}
		units = append(units, f)
	}
	line := head
	pad := strings.Repeat(" ", len("usage: bsctl "))
	for _, u := range units {
		if len(line)+1+len(u) > helpWidth {
			fmt.Fprintln(w, line)
			line = pad + u
			continue
		}
		line += " " + u
	}
	fmt.Fprintln(w, line)
}

// item prints "name  text" with text wrapped at helpIndent.
func item(w io.Writer, name, text string) { itemAt(w, name, text, helpIndent) }

func itemAt(w io.Writer, name, text string, at int) {
	indent := strings.Repeat(" ", at)
	if len(name) > at-2 {
		fmt.Fprintln(w, name)
		fmt.Fprintln(w, wrap(text, helpWidth, indent))
		return
	}
	body := wrap(text, helpWidth, indent)
	fmt.Fprintln(w, name+body[len(name):])
}

// printFlags lists fs's flags as "--name ARG  usage (default X)", wrapped.
func printFlags(w io.Writer, fs *flag.FlagSet, skip map[string]bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if skip[f.Name] {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		name := "  " + dash + f.Name
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if showDefault(f) {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		item(w, name, usage)
	})
}

func showDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "0s", "false":
		return false
	}
	return true
}

// wrap fills text into lines of at most width columns, every line
// starting with indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line)
			b.WriteByte('\n')
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// unknownCommand says so and suggests the nearest commands.
func (a *app) unknownCommand(name string) {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("bsctl: unknown command %q", name)
	if near := nearest(name, names); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	fmt.Fprintf(a.errOut, "%s\n(bsctl help lists the commands)\n", msg)
}

// flagError adds the nearest flag names to "flag provided but not
// defined" errors.
func flagError(err error, fs *flag.FlagSet) string {
	msg := err.Error()
	bad, ok := strings.CutPrefix(msg, "flag provided but not defined: ")
	if !ok {
		return msg
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if near := nearest(strings.TrimLeft(bad, "-"), names); len(near) > 0 {
		for i := range near {
			near[i] = "--" + near[i]
		}
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return msg
}

// nearest returns the candidates close to s: within a small edit distance
// (a typo or two, a swapped pair of letters), or starting with s, the
// closest first, at most three.
func nearest(s string, candidates []string) []string {
	type cand struct {
		name string
		d    int
	}
	var found []cand
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	for _, c := range candidates {
		d := editDistance(s, c)
		switch {
		case d <= limit:
		case len(s) >= 3 && strings.HasPrefix(c, s):
			d = limit + 1
		default:
			continue
		}
		found = append(found, cand{c, d})
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].d < found[j].d })
	var out []string
	for i, f := range found {
		if i == 3 {
			break
		}
		out = append(out, f.name)
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours, each 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
