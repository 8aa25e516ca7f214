package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The soak's flags (go test ./internal/soak -seed N -steps M -duration D).
var (
	flagSeed     = flag.Int64("seed", 0, "run this seed (0: the CI set, seeds 1..-seeds)")
	flagSeeds    = flag.Int("seeds", 3, "how many seeds run in parallel: 1..n, or -seed N..N+n-1 when both are given")
	flagSteps    = flag.Int("steps", 700, "steps per seed")
	flagDuration = flag.Duration("duration", 0, "run each seed this long instead of -steps (0: use -steps)")
	flagQuiet    = flag.Int("quiet-every", 120, "steps between quiet points (resource checks)")
	flagLog      = flag.String("soak-log", "", "debug log of the base to this file (child processes append .seedN)")
	flagKeep     = flag.Bool("keep-going", false, "after a violation, bring the base back to a known state and go on (long runs)")
	// -soak is accepted for the commands that asked for the walk while it
	// was not in `go test` (make soak); the walk runs without it.
	_ = flag.Bool("soak", false, "accepted, no effect: the walk runs unless -short")
)

// seedsSet says whether -seeds was given on the command line.
func seedsSet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "seeds" })
	return set
}

// childArg turns the test binary into one seed's soak process.
const childArg = "soak-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(runChild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// runChild runs one seed's walk; its standard output is the journal the
// parent reads (one line per step, violation and quiet point).
func runChild(args []string) int {
	fs := flag.NewFlagSet(childArg, flag.ContinueOnError)
	seed := fs.Int64("seed", 1, "")
	steps := fs.Int("steps", 100, "")
	dur := fs.Duration("duration", 0, "")
	quiet := fs.Int("quiet-every", 120, "")
	logPath := fs.String("log", "", "")
	keep := fs.Bool("keep-going", false, "")
	inject := fs.String("inject", "", "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	journal := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush() // a panic must not lose the step that caused it
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	dir, err := os.MkdirTemp("", "soak-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	r := run{seed: *seed, steps: *steps, duration: *dur, quietEvery: *quiet, keepGoing: *keep, journal: journal, log: log, dir: dir, inject: *inject}
	if err := r.do(context.Background()); err != nil {
		journal("FAIL %v", err)
		return 1
	}
	return 0
}

// TestSoak runs the random walk of every seed in a child process and
// reports each failure with its seed, the steps that led to it and the
// child's panic or race report.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak is not short")
	}
	first, n := *flagSeed, *flagSeeds
	if first == 0 {
		first = 1 // the CI set
	} else if !seedsSet() {
		n = 1 // -seed N alone replays N
	}
	var seeds []int64
	for i := range int64(n) {
		seeds = append(seeds, first+i)
	}
	// Every seed's child runs at once (t.Parallel would hold all but
	// GOMAXPROCS of them back); each is reported in its own subtest.
	results := make([]seedResult, len(seeds))
	var wg sync.WaitGroup
	for i, seed := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runSeed(seed)
		}()
	}
	wg.Wait()
	for i, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if msg := results[i].report(t); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// seedResult is what one seed's child process left.
type seedResult struct {
	seed           int64
	err            error
	elapsed        time.Duration
	stdout, stderr []byte
}

func runSeed(seed int64) seedResult {
	args := []string{"-steps", strconv.Itoa(*flagSteps), "-duration", flagDuration.String(), "-quiet-every", strconv.Itoa(*flagQuiet)}
	if *flagKeep {
		args = append(args, "-keep-going")
	}
	if *flagLog != "" {
		args = append(args, "-log", fmt.Sprintf("%s.seed%d", *flagLog, seed))
	}
	return runSeedArgs(seed, args)
}

// runSeedArgs runs one seed's child with the given child flags.
func runSeedArgs(seed int64, extra []string) seedResult {
	args := append([]string{childArg, "-seed", strconv.FormatInt(seed, 10)}, extra...)
	limit := time.Duration(*flagSteps) * 3 * time.Second
	if *flagDuration > 0 {
		limit = *flagDuration + 5*time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	return seedResult{seed: seed, err: err, elapsed: time.Since(start), stdout: stdout.Bytes(), stderr: stderr.Bytes()}
}

// report logs the seed's quiet points and returns its failure ("" when it
// passed): the seed, how to replay it, the violations, the last steps and
// the child's panic or race report.
func (res seedResult) report(t *testing.T) string {
	seed, err, elapsed := res.seed, res.err, res.elapsed
	stdout, stderr := bytes.NewBuffer(res.stdout), bytes.NewBuffer(res.stderr)
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	var steps, quiet, problems []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "STEP "):
			steps = append(steps, l)
		case strings.HasPrefix(l, "QUIET "), strings.HasPrefix(l, "DONE "), strings.HasPrefix(l, "TIMES "), strings.HasPrefix(l, "NOTE "):
			quiet = append(quiet, l)
		case strings.HasPrefix(l, "VIOLATION "), strings.HasPrefix(l, "FAIL "):
			problems = append(problems, l)
		}
	}
	for _, q := range quiet {
		t.Log(q)
	}
	t.Logf("seed %d: %d steps in %v", seed, len(steps), elapsed.Round(time.Second))
	race := strings.Contains(stderr.String(), "WARNING: DATA RACE")
	if err == nil && !race && len(problems) == 0 {
		return ""
	}
	// Keep the whole journal for a look afterwards.
	path := filepath.Join(os.TempDir(), fmt.Sprintf("soak-seed%d-%d.journal", seed, os.Getpid()))
	_ = os.WriteFile(path, append(stdout.Bytes(), append([]byte("\n--- stderr ---\n"), stderr.Bytes()...)...), 0o644)
	var b strings.Builder
	fmt.Fprintf(&b, "soak seed %d failed after %d steps (%v): %v\n", seed, len(steps), elapsed.Round(time.Second), describeExit(err, race))
	fmt.Fprintf(&b, "replay: go test ./internal/soak -run 'TestSoak$' -seed %d -steps %d -v\n", seed, len(steps))
	fmt.Fprintf(&b, "whole journal: %s\n", path)
	for _, p := range problems {
		fmt.Fprintln(&b, p)
	}
	from := max(0, len(steps)-60)
	fmt.Fprintf(&b, "the last %d of %d steps:\n", len(steps)-from, len(steps))
	for _, s := range steps[from:] {
		fmt.Fprintln(&b, "  "+s)
	}
	if se := stderr.String(); se != "" {
		fmt.Fprintf(&b, "child stderr (first 150 lines):\n%s", headLines(se, 150))
	}
	return b.String()
}

func describeExit(err error, race bool) string {
	var ee *exec.ExitError
	switch {
	case race:
		return "the race detector reported a data race"
	case errors.As(err, &ee) && ee.ExitCode() == 2:
		return "the base panicked (exit status 2)"
	case err != nil:
		return err.Error()
	}
	return "invariant violated"
}

func headLines(s string, n int) string {
	ls := strings.SplitAfter(s, "\n")
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, "")
}
