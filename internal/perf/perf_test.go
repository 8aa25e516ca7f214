package perf

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// full reports whether the full measurement was asked for.
func full() bool { return os.Getenv("BASESTATION_PERF") == "1" }

func runs() int {
	n, err := strconv.Atoi(os.Getenv("BASESTATION_PERF_RUNS"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 9)
}

// comparison is ours and baresip over one or more alternating runs.
type comparison struct {
	ours, bare []result
	binary     []result // the basestationd binary alone (virtual board in this process)
}

// run measures both systems, alternating which goes first.
func runComparison(t testing.TB, p plan, n int) comparison {
	t.Helper()
	var cmp comparison
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		f := startFarEnds(t, ctx, p.Calls)
		cmp.binary = append(cmp.binary, measureBinary(t, ctx, f, p))
		if i%2 == 0 {
			cmp.ours = append(cmp.ours, measureOurs(t, ctx, f, p))
			cmp.bare = append(cmp.bare, measureBaresip(t, ctx, f, p))
		} else {
			cmp.bare = append(cmp.bare, measureBaresip(t, ctx, f, p))
			cmp.ours = append(cmp.ours, measureOurs(t, ctx, f, p))
		}
		cancel()
	}
	return cmp
}

// noDevices returns the medians of the basestationd binary and of the
// perf-child in the same state (registered, MQTT connected, no device):
// their difference is what hosting the daemon in the test binary adds.
func (c comparison) noDevices() (bin, kid Window) {
	var b, k [3][]float64
	for i, br := range c.binary {
		w, n := br.NoDevices, c.ours[i].NoDevices
		b[0], b[1], b[2] = append(b[0], w.RSSKiB), append(b[1], w.AnonKiB), append(b[2], w.CPUmsPerS)
		k[0], k[1], k[2] = append(k[0], n.RSSKiB), append(k[1], n.AnonKiB), append(k[2], n.CPUmsPerS)
	}
	return Window{RSSKiB: Median(b[0]), AnonKiB: Median(b[1]), CPUmsPerS: Median(b[2])},
		Window{RSSKiB: Median(k[0]), AnonKiB: Median(k[1]), CPUmsPerS: Median(k[2])}
}

// alone is the median of the basestationd binary's idle windows (two
// extensions, two devices).
func (c comparison) alone() Window {
	ws := make([]Window, 0, len(c.binary))
	for _, br := range c.binary {
		ws = append(ws, br.Idle)
	}
	return medianWindow(ws)
}

// bareIdle is the median of baresip's idle windows.
func (c comparison) bareIdle() Window {
	ws := make([]Window, 0, len(c.bare))
	for _, r := range c.bare {
		ws = append(ws, r.Idle)
	}
	return medianWindow(ws)
}

func medianWindow(ws []Window) Window {
	var f [5][]float64
	for _, w := range ws {
		for i, v := range []float64{w.RSSKiB, w.AnonKiB, w.CPUmsPerS, w.VolCSPerS, w.InvolCSPerS} {
			f[i] = append(f[i], v)
		}
	}
	return Window{RSSKiB: Median(f[0]), AnonKiB: Median(f[1]), CPUmsPerS: Median(f[2]), VolCSPerS: Median(f[3]), InvolCSPerS: Median(f[4])}
}

// figures are the medians over the runs.
type figures struct {
	IdleRSS, IdleAnon         float64 // KiB
	RSSPerCall, AnonPerCall   float64 // KiB per call (discounted for baresip)
	RawRSSPerCall             float64
	CPUIdle                   float64 // ms/s
	CPUSlope, CPUPerCallAtMax float64 // ms/s per call
	CPUAtMax                  float64 // ms/s at the most calls
	CPUPerCallNoSim           float64 // ours: without the simulated hardware's share
}

func summarize(rs []result) figures {
	var f [10][]float64
	for _, r := range rs {
		last := r.Steps[len(r.Steps)-1]
		for i, v := range []float64{r.Idle.RSSKiB, r.Idle.AnonKiB, r.rssSlope(false), r.rssSlope(true), r.rawRSSSlope(),
			r.Steps[0].W.CPUmsPerS, r.cpuSlope(), r.cpuPerCallAtMax(), last.W.CPUmsPerS} {
			f[i] = append(f[i], v)
		}
	}
	for _, r := range rs {
		if r.Parts[0] != nil && r.Parts[r.Steps[len(r.Steps)-1].Calls] != nil {
			f[9] = append(f[9], r.cpuPerCallNoSim())
		}
	}
	return figures{Median(f[0]), Median(f[1]), Median(f[2]), Median(f[3]), Median(f[4]), Median(f[5]), Median(f[6]), Median(f[7]), Median(f[8]), Median(f[9])}
}

func (c comparison) table(p plan) string {
	o, b := summarize(c.ours), summarize(c.bare)
	var s strings.Builder
	race := ""
	if raceEnabled {
		race = " — RACE BUILD: figures not representative"
	}
	if p.Smoke {
		race += " — short form (1 s windows: CPU in steps of 10 ms/s; heap profiling on): smoke figures, not for quoting"
	}
	fmt.Fprintf(&s, "%d run(s), %d calls max, %v windows, medians%s\n", len(c.ours), p.Calls, p.Window, race)
	fmt.Fprintf(&s, "%-34s %14s %14s %8s\n", "metric", "basestationd", "baresip", "ratio")
	row := func(name string, a, bb float64, unit string) {
		ratio := "-"
		if bb != 0 {
			ratio = fmt.Sprintf("%.2f", a/bb)
		}
		fmt.Fprintf(&s, "%-34s %14s %14s %8s\n", name, fmt.Sprintf("%.1f %s", a, unit), fmt.Sprintf("%.1f %s", bb, unit), ratio)
	}
	bin, kid := c.noDevices()
	fmt.Fprintf(&s, "registered, MQTT connected, no DECT device: basestationd binary %.0f KiB RSS / %.0f KiB anon / %.1f ms/s; perf-child %.0f / %.0f / %.1f (the test binary adds %.0f KiB RSS, %.0f KiB anon)\n",
		bin.RSSKiB, bin.AnonKiB, bin.CPUmsPerS, kid.RSSKiB, kid.AnonKiB, kid.CPUmsPerS, kid.RSSKiB-bin.RSSKiB, kid.AnonKiB-bin.AnonKiB)
	alone := c.alone()
	bareIdle := c.bareIdle()
	fmt.Fprintf(&s, "daemon alone (basestationd binary, virtual board in another process), idle: 2 extensions registered, MQTT connected, 2 devices paired:\n")
	row("  alone: idle VmRSS", alone.RSSKiB, bareIdle.RSSKiB, "KiB")
	row("  alone: idle RssAnon", alone.AnonKiB, bareIdle.AnonKiB, "KiB")
	row("  alone: idle CPU", alone.CPUmsPerS, bareIdle.CPUmsPerS, "ms/s")
	row("  alone: idle voluntary switches", alone.VolCSPerS, bareIdle.VolCSPerS, "/s")
	row("  alone: idle involuntary switches", alone.InvolCSPerS, bareIdle.InvolCSPerS, "/s")
	a := summarize(c.binary)
	row("  alone: VmRSS per call (slope)", a.RSSPerCall, b.RSSPerCall, "KiB")
	row("  alone: RssAnon per call (slope)", a.AnonPerCall, b.AnonPerCall, "KiB")
	row(fmt.Sprintf("  alone: CPU at %d calls", p.Calls), a.CPUAtMax, b.CPUAtMax, "ms/s")
	row("  alone: CPU per call (slope)", a.CPUSlope, b.CPUSlope, "ms/s")
	row(fmt.Sprintf("  alone: CPU per call at %d calls", p.Calls), a.CPUPerCallAtMax, b.CPUPerCallAtMax, "ms/s")
	for i, r := range c.binary {
		fmt.Fprintf(&s, "  run %d %-26s idle %.0f/%.0f/%.2f/%.1f;", i+1, r.Name, r.Idle.RSSKiB, r.Idle.AnonKiB, r.Idle.CPUmsPerS, r.Idle.VolCSPerS)
		for _, st := range r.Steps {
			fmt.Fprintf(&s, " %d: %.0f/%.0f/%.2f/%.1f", st.Calls, st.W.RSSKiB, st.W.AnonKiB, st.W.CPUmsPerS, st.W.VolCSPerS)
		}
		fmt.Fprintf(&s, " (VmRSS KiB / RssAnon KiB / CPU ms/s / voluntary switches/s)\n")
	}
	fmt.Fprintf(&s, "daemon with the simulated board in its process (perf-child):\n")
	row("idle VmRSS", o.IdleRSS, b.IdleRSS, "KiB")
	row("  same, test binary's extra out", o.IdleRSS-(kid.RSSKiB-bin.RSSKiB), b.IdleRSS, "KiB")
	row("idle RssAnon", o.IdleAnon, b.IdleAnon, "KiB")
	row("  same, test binary's extra out", o.IdleAnon-(kid.AnonKiB-bin.AnonKiB), b.IdleAnon, "KiB")
	row("VmRSS per call (slope)", o.RSSPerCall, b.RSSPerCall, "KiB")
	row("RssAnon per call (slope)", o.AnonPerCall, b.AnonPerCall, "KiB")
	row("VmRSS per call, raw", o.RawRSSPerCall, b.RawRSSPerCall, "KiB")
	row("CPU at 0 calls", o.CPUIdle, b.CPUIdle, "ms/s")
	row(fmt.Sprintf("CPU at %d calls", p.Calls), o.CPUAtMax, b.CPUAtMax, "ms/s")
	row("CPU per call (slope)", o.CPUSlope, b.CPUSlope, "ms/s")
	row(fmt.Sprintf("CPU per call at %d calls", p.Calls), o.CPUPerCallAtMax, b.CPUPerCallAtMax, "ms/s")
	if !math.IsNaN(o.CPUPerCallNoSim) {
		row("  same, sim hardware's share out", o.CPUPerCallNoSim, b.CPUPerCallAtMax, "ms/s")
	}
	fmt.Fprintf(&s, "per-step (calls: VmRSS KiB / RssAnon KiB / CPU ms/s):\n")
	for i := range c.ours {
		for _, r := range []result{c.ours[i], c.bare[i]} {
			fmt.Fprintf(&s, "  run %d %-26s idle %.0f/%.0f/%.2f;", i+1, r.Name, r.Idle.RSSKiB, r.Idle.AnonKiB, r.Idle.CPUmsPerS)
			for _, st := range r.Steps {
				fmt.Fprintf(&s, " %d: %.0f/%.0f/%.2f", st.Calls, st.W.RSSKiB, st.W.AnonKiB, st.W.CPUmsPerS)
			}
			if len(r.HeapKiB) > 0 {
				fmt.Fprintf(&s, " (Go heap in use KiB %v)", r.HeapKiB)
			}
			for _, n := range []int{0, p.Calls} {
				if parts, ok := r.Parts[n]; ok {
					fmt.Fprintf(&s, " [CPU share at %d calls: daemon %.0f%%, sim %.0f%%, harness %.0f%%, runtime %.0f%%]", n, 100*parts["daemon"], 100*parts["sim"], 100*parts["harness"], 100*parts["runtime"])
				}
			}
			if len(r.HeapKiB) > 0 {
				s.WriteString(" [Go runtime per step: alloc KiB/s, mallocs/s, GC/s, stacks KiB:")
				for _, st := range r.Steps {
					fmt.Fprintf(&s, " %d: %.0f, %.0f, %.2f, %.0f;", st.Calls, st.AllocKiBps, st.MallocsPerS, st.GCPerS, st.StackKiB)
				}
				s.WriteString("]")
			}
			if h0, hn := r.Heap[0], r.Heap[p.Calls]; h0 != nil && hn != nil {
				fmt.Fprintf(&s, " [live heap per call by part (heap profile, rate %d B): daemon %.1f KiB, sim %.1f KiB, harness %.1f KiB, runtime %.1f KiB; at 0 calls: daemon %.0f KiB, sim %.0f KiB]",
					p.HeapRate, (hn["daemon"]-h0["daemon"])/float64(p.Calls), (hn["sim"]-h0["sim"])/float64(p.Calls),
					(hn["harness"]-h0["harness"])/float64(p.Calls), (hn["runtime"]-h0["runtime"])/float64(p.Calls), h0["daemon"], h0["sim"])
			}
			if r.WAVKiB > 0 {
				fmt.Fprintf(&s, " (aufile WAV %.0f KiB; modelled aufile KiB per step:", r.WAVKiB)
				for _, st := range r.Steps {
					fmt.Fprintf(&s, " %.0f", st.AufileKiB)
				}
				s.WriteString(")")
			}
			s.WriteString("\n")
		}
	}
	return s.String()
}

// TestDaemonVsBaresip runs the comparison: by default the short form (1 s
// windows, 0..2 calls), with BASESTATION_PERF=1 the full one. It checks
// that every step really carried its calls (RTP reaching every caller and
// every DECT device during the window) and that the readings are sane; the
// figures are logged, never asserted against a target.
func TestDaemonVsBaresip(t *testing.T) {
	p := shortPlan()
	n := 1
	if full() && !testing.Short() {
		p, n = fullPlan(), runs()
	}
	cmp := runComparison(t, p, n)
	for _, rs := range [][]result{cmp.ours, cmp.bare, cmp.binary} {
		for _, r := range rs {
			if len(r.Steps) != p.Calls+1 {
				t.Fatalf("%s: %d steps", r.Name, len(r.Steps))
			}
			for _, st := range append([]step{{W: r.Idle}}, r.Steps...) {
				if st.W.RSSKiB < 1024 || st.W.AnonKiB <= 0 || st.W.Samples < 2 || st.W.CPUms < 0 {
					t.Fatalf("%s, %d calls: implausible reading %+v", r.Name, st.Calls, st.W)
				}
			}
			// Calls cost CPU: the process with the most calls used some.
			if last := r.Steps[len(r.Steps)-1].W; last.CPUms <= 0 {
				t.Fatalf("%s: no CPU time at %d calls: %+v", r.Name, p.Calls, last)
			}
		}
	}
	t.Logf("\n%s", cmp.table(p))
}

// BenchmarkDaemonVsBaresip reports the comparison as benchmark metrics:
// -short gives the short form; otherwise the full one (10 s windows, 4
// calls, BASESTATION_PERF_RUNS runs). One iteration is one whole run.
func BenchmarkDaemonVsBaresip(b *testing.B) {
	p, n := fullPlan(), runs()
	if testing.Short() {
		p, n = shortPlan(), 1
	}
	var cmp comparison
	for b.Loop() {
		cmp = runComparison(b, p, n)
	}
	o, r := summarize(cmp.ours), summarize(cmp.bare)
	bin, kid := cmp.noDevices()
	b.ReportMetric(o.IdleRSS, "idle-RSS-KiB")
	b.ReportMetric(o.IdleRSS-(kid.RSSKiB-bin.RSSKiB), "idle-RSS-bin-est-KiB")
	b.ReportMetric(bin.RSSKiB, "bin-no-dev-RSS-KiB")
	alone, bare := cmp.alone(), cmp.bareIdle()
	b.ReportMetric(alone.RSSKiB, "alone-idle-RSS-KiB")
	b.ReportMetric(alone.CPUmsPerS, "alone-idle-CPU-ms/s")
	b.ReportMetric(alone.VolCSPerS, "alone-idle-vol-switches/s")
	b.ReportMetric(bare.VolCSPerS, "baresip-idle-vol-switches/s")
	al := summarize(cmp.binary)
	b.ReportMetric(al.CPUPerCallAtMax, "alone-CPU-ms/s/call")
	b.ReportMetric(al.RSSPerCall, "alone-RSS-KiB/call")
	b.ReportMetric(r.IdleRSS, "baresip-idle-RSS-KiB")
	b.ReportMetric(o.RSSPerCall, "RSS-KiB/call")
	b.ReportMetric(r.RSSPerCall, "baresip-RSS-KiB/call")
	b.ReportMetric(o.CPUPerCallAtMax, "CPU-ms/s/call")
	b.ReportMetric(r.CPUPerCallAtMax, "baresip-CPU-ms/s/call")
	if r.CPUPerCallAtMax > 0 {
		b.ReportMetric(o.CPUPerCallAtMax/r.CPUPerCallAtMax, "CPU/call-ratio")
	}
	if r.IdleRSS > 0 {
		b.ReportMetric(o.IdleRSS/r.IdleRSS, "idle-RSS-ratio")
	}
	b.Logf("\n%s", cmp.table(p))
}
