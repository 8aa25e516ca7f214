package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// recorder collects the run's measurements; safe for concurrent use.
type recorder struct {
	mu        sync.Mutex
	ph        string
	lat       map[string][]time.Duration
	errs      map[string]int
	examples  map[string][]string
	nerr      int
	bootTook  time.Duration
	reconnect time.Duration
	samples   []resourceSample
	idle      *idleSample
}

type resourceSample struct {
	At         string  `json:"at"`
	RSSBytes   int64   `json:"rss_bytes"`
	RSSPerBase int64   `json:"rss_per_base_bytes"`
	HeapBytes  uint64  `json:"go_heap_inuse_bytes"`
	Goroutines int     `json:"goroutines"`
	CPUSeconds float64 `json:"cpu_seconds_total"`
}

type idleSample struct {
	Window          string  `json:"window"`
	CPUPercentCore  float64 `json:"cpu_percent_of_one_core"`
	CPUPerBaseMicro float64 `json:"cpu_us_per_base_per_s"`
}

func newRecorder() *recorder {
	return &recorder{ph: "start", lat: map[string][]time.Duration{}, errs: map[string]int{}, examples: map[string][]string{}}
}

func (r *recorder) mark(phase string) {
	r.mu.Lock()
	r.ph = phase
	r.mu.Unlock()
}

func (r *recorder) phase() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ph
}

func (r *recorder) add(name string, d time.Duration) {
	r.mu.Lock()
	r.lat[name] = append(r.lat[name], d)
	r.mu.Unlock()
}

// errorf counts an error of kind, keeping the first few messages.
func (r *recorder) errorf(kind, format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[kind]++
	r.nerr++
	if len(r.examples[kind]) < 3 {
		r.examples[kind] = append(r.examples[kind], fmt.Sprintf(format, a...))
	}
}

func (r *recorder) errorCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nerr
}

func (r *recorder) bootDone(d time.Duration) {
	r.mu.Lock()
	r.bootTook = d
	r.mu.Unlock()
}

func (r *recorder) reconnected(d time.Duration) {
	r.mu.Lock()
	r.reconnect = d
	r.mu.Unlock()
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// rssBytes reads VmRSS from /proc/self/status.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmRSS(b)
}

// parseVmRSS finds "VmRSS: N kB" in a /proc/PID/status text (0 if absent
// or malformed).
func parseVmRSS(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0
		}
		return n * 1024
	}
	return 0
}

func (r *recorder) sample(at string, bases int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := resourceSample{At: at, RSSBytes: rssBytes(), HeapBytes: ms.HeapInuse, Goroutines: runtime.NumGoroutine(), CPUSeconds: cpuSeconds()}
	if bases > 0 {
		s.RSSPerBase = s.RSSBytes / int64(bases)
	}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// measureIdle measures the process's CPU over d with nothing asked of the
// bases (the fleet's own watcher is off).
func (r *recorder) measureIdle(ctx interface{ Done() <-chan struct{} }, d time.Duration, bases int) {
	r.mark("idle")
	c0, t0 := cpuSeconds(), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	c1, el := cpuSeconds(), time.Since(t0).Seconds()
	s := &idleSample{Window: time.Since(t0).Round(time.Millisecond).String(), CPUPercentCore: 100 * (c1 - c0) / el}
	if bases > 0 {
		s.CPUPerBaseMicro = 1e6 * (c1 - c0) / el / float64(bases)
	}
	r.mu.Lock()
	r.idle = s
	r.mu.Unlock()
	r.sample("idle", bases)
}

// dist is a latency distribution in milliseconds.
type dist struct {
	N   int     `json:"n"`
	Min float64 `json:"min_ms"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func distOf(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1 // nearest rank
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	return dist{N: len(s), Min: ms(s[0]), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(s[len(s)-1])}
}

// report is the run's outcome, printed as a table and written as JSON.
type report struct {
	Shard            string              `json:"shard"`
	Fleet            int                 `json:"fleet_size"`
	Bases            int                 `json:"bases_in_shard"`
	Broker           string              `json:"broker"`
	CloudBroker      string              `json:"cloud_broker"`
	Registrar        string              `json:"registrar"`
	BootWindow       string              `json:"boot_window"`
	BootTook         string              `json:"boot_took"`
	Connected        int                 `json:"connected"`
	Registered       int                 `json:"registered"`
	LeftBehind       int                 `json:"left_behind"`
	Latency          map[string]dist     `json:"latency"`
	RegistrationsPS  float64             `json:"registrations_per_s"`
	RegisterTxPS     float64             `json:"register_transactions_per_s"`
	PushesAsked      int                 `json:"registration_pushes_asked"`
	ConfigsAsked     int                 `json:"config_pushes_asked"`
	ReconnectAll     string              `json:"broker_restart_all_reconnected_after,omitempty"`
	Errors           map[string]int      `json:"errors"`
	ErrorExamples    map[string][]string `json:"error_examples,omitempty"`
	Resources        []resourceSample    `json:"resources"`
	Idle             *idleSample         `json:"idle,omitempty"`
	CPUPerBaseSecond float64             `json:"cpu_seconds_per_base_whole_run"`
	Pass             bool                `json:"pass"`
	Failures         []string            `json:"failures,omitempty"`
}

// report builds the report from the recorder and the bases' milestones.
func (r *recorder) report(f *fleetRun) *report {
	f.mu.Lock()
	bases := append([]*base(nil), f.bases...)
	f.mu.Unlock()
	var conn, reg []time.Duration
	var first, last time.Time
	for _, b := range bases {
		m := b.milestones()
		if !m.Connected.IsZero() {
			conn = append(conn, m.Connected.Sub(m.Started))
		}
		if !m.Registered.IsZero() {
			reg = append(reg, m.Registered.Sub(m.Started))
			if last.Before(m.Registered) {
				last = m.Registered
			}
		}
		if !m.Started.IsZero() && (first.IsZero() || m.Started.Before(first)) {
			first = m.Started
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &report{Shard: f.o.Shard.String(), Fleet: f.o.N, Bases: len(f.specs), Broker: f.o.Broker, CloudBroker: f.o.CloudBroker,
		Registrar: f.o.Registrar, BootWindow: f.o.Boot.String(), BootTook: r.bootTook.Round(time.Millisecond).String(),
		Connected: len(conn), Registered: len(reg), LeftBehind: len(f.specs) - len(reg),
		Latency: map[string]dist{"connect": distOf(conn), "registered": distOf(reg)},
		Errors:  map[string]int{}, ErrorExamples: map[string][]string{}, Resources: r.samples, Idle: r.idle, Pass: true}
	if f.o.Pushes > 0 {
		rep.PushesAsked = f.o.Pushes
	}
	if f.o.Configs {
		rep.ConfigsAsked = len(bases)
	}
	for k, v := range r.lat {
		rep.Latency[k] = distOf(v)
	}
	if len(reg) > 0 && last.After(first) {
		// Every registered base registered want() extensions; with digest
		// authentication each registration is two REGISTER transactions
		// (challenged, then accepted).
		rep.RegistrationsPS = float64(len(reg)*f.want()) / last.Sub(first).Seconds()
		rep.RegisterTxPS = 2 * rep.RegistrationsPS
	}
	if r.reconnect > 0 {
		rep.ReconnectAll = r.reconnect.Round(time.Millisecond).String()
	}
	for k, v := range r.errs {
		rep.Errors[k] = v
		rep.ErrorExamples[k] = r.examples[k]
	}
	if n := len(r.samples); n > 0 && len(bases) > 0 {
		rep.CPUPerBaseSecond = r.samples[n-1].CPUSeconds / float64(len(bases))
	}
	fail := func(format string, a ...any) {
		rep.Pass = false
		rep.Failures = append(rep.Failures, fmt.Sprintf(format, a...))
	}
	if rep.LeftBehind > 0 {
		fail("%d of %d bases not connected and registered within %v", rep.LeftBehind, len(f.specs), f.o.Boot+f.o.BootGrace)
	}
	// Registration pushes may fall short by PushShortfall (a fraction):
	// their failures are counted and shown, and fail the run beyond it.
	allowed := int(f.o.PushShortfall * float64(f.o.Pushes))
	for k, v := range r.errs {
		if strings.HasPrefix(k, "push-") && f.o.Pushes-rep.Latency["push→paired"].N <= allowed {
			continue
		}
		fail("%d errors of kind %s", v, k)
	}
	if done := rep.Latency["push→paired"].N; f.o.Pushes > 0 && f.o.Pushes-done > allowed {
		fail("%d of %d registration pushes completed a pairing (%d may fall short)", done, f.o.Pushes, allowed)
	}
	if f.o.Configs && rep.Latency["config push→applied"].N < len(bases) {
		fail("%d of %d configuration pushes applied", rep.Latency["config push→applied"].N, len(bases))
	}
	if f.o.BrokerStop != nil && r.reconnect == 0 {
		fail("not every base connected again after the broker restart")
	}
	return rep
}

// table writes the report as a table.
func (rep *report) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "shard\t%s of a fleet of %d (%d bases here)\n", rep.Shard, rep.Fleet, rep.Bases)
	fmt.Fprintf(tw, "broker / cloud broker\t%s / %s\n", rep.Broker, rep.CloudBroker)
	fmt.Fprintf(tw, "registrar\t%s\n", rep.Registrar)
	fmt.Fprintf(tw, "boot\twindow %s, took %s: connected %d, registered %d, left behind %d\n", rep.BootWindow, rep.BootTook, rep.Connected, rep.Registered, rep.LeftBehind)
	fmt.Fprintf(tw, "REGISTER\t%.0f registrations/s (%.0f transactions/s)\n", rep.RegistrationsPS, rep.RegisterTxPS)
	if rep.ReconnectAll != "" {
		fmt.Fprintf(tw, "broker restart\tall connected again after %s\n", rep.ReconnectAll)
	}
	fmt.Fprintln(tw, "latency\tn\tmin ms\tp50 ms\tp90 ms\tp99 ms\tmax ms")
	names := make([]string, 0, len(rep.Latency))
	for k := range rep.Latency {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := rep.Latency[k]
		fmt.Fprintf(tw, "  %s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", k, d.N, d.Min, d.P50, d.P90, d.P99, d.Max)
	}
	fmt.Fprintln(tw, "resources\tRSS MB\tRSS/base KB\theap MB\tgoroutines\tCPU s")
	for _, s := range rep.Resources {
		fmt.Fprintf(tw, "  %s\t%.1f\t%.1f\t%.1f\t%d\t%.1f\n", s.At, float64(s.RSSBytes)/(1<<20), float64(s.RSSPerBase)/1024,
			float64(s.HeapBytes)/(1<<20), s.Goroutines, s.CPUSeconds)
	}
	if rep.Idle != nil {
		fmt.Fprintf(tw, "idle CPU\t%.1f %% of one core over %s (%.1f µs per base per s)\n", rep.Idle.CPUPercentCore, rep.Idle.Window, rep.Idle.CPUPerBaseMicro)
	}
	kinds := make([]string, 0, len(rep.Errors))
	for k := range rep.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "errors %s\t%d\t%s\n", k, rep.Errors[k], strings.Join(rep.ErrorExamples[k], " | "))
	}
	verdict := "PASS"
	if !rep.Pass {
		verdict = "FAIL: " + strings.Join(rep.Failures, "; ")
	}
	fmt.Fprintf(tw, "result\t%s\n", verdict)
	tw.Flush()
}
