package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/sim"
	"basestation/sim/broker"
	"basestation/sim/pbx"
	"basestation/sim/radio"
	"basestation/sim/softphone"
	"basestation/sim/vboard"
)

// plan is one measurement run's shape.
type plan struct {
	Calls    int           // measure at 0..Calls concurrent calls
	Settle   time.Duration // after a step, before its window
	Window   time.Duration // CPU and RSS window per step
	Interval time.Duration // RSS sampling interval
	// HeapRate, if not 0, is the daemon process's runtime.MemProfileRate:
	// a heap profile at 0 and N calls then splits the live heap per call by
	// part. It costs the process a little CPU, so the full plan leaves it
	// off unless BASESTATION_PERF_HEAP=1.
	HeapRate int
	// Smoke marks the short form: figures only show the harness works.
	Smoke bool
	// AloneIdle is the window of the basestationd binary alone in the
	// idle state (issue 11 asks for 60 s; BASESTATION_PERF_ALONE_IDLE
	// overrides it, e.g. 30s).
	AloneIdle time.Duration
}

// aloneIdle applies BASESTATION_PERF_ALONE_IDLE to p.
func (p plan) aloneIdle() plan {
	if d, err := time.ParseDuration(os.Getenv("BASESTATION_PERF_ALONE_IDLE")); err == nil && d >= time.Second {
		p.AloneIdle = d
	}
	return p
}

func shortPlan() plan {
	return plan{Calls: 2, Settle: 500 * time.Millisecond, Window: time.Second, Interval: 100 * time.Millisecond, HeapRate: 4096, Smoke: true,
		AloneIdle: time.Second}.aloneIdle()
}

func fullPlan() plan {
	p := plan{Calls: 4, Settle: 3 * time.Second, Window: 10 * time.Second, Interval: 250 * time.Millisecond, AloneIdle: time.Minute}
	if os.Getenv("BASESTATION_PERF_HEAP") == "1" {
		p.HeapRate = 4096
	}
	return p.aloneIdle()
}

// step is one measured state.
type step struct {
	Calls int
	W     Window
	// Go runtime figures of ours over the window: allocation rate, GC
	// cycles, goroutine stacks at the end.
	AllocKiBps, MallocsPerS, GCPerS, StackKiB float64
	// AufileKiB is baresip's aufile memory at this step by the model in
	// aufileHeld, subtracted from RSS for the per-call slope.
	AufileKiB float64
}

// result is one system's run.
type result struct {
	Name string
	Idle Window // ours: registered, MQTT connected, two devices paired
	// NoDevices is ours before pairing: 101 registered on the analog port,
	// MQTT connected, no DECT device (the state basestationd reaches).
	NoDevices Window
	Steps     []step // 0..Calls
	HeapKiB   []uint64
	// Parts is, for the first and the last step, the share of CPU time by
	// part (see part) from a CPU profile taken in a window after the
	// measurement (ours only).
	Parts map[int]map[string]float64
	// Heap is, for the first and the last step, the live heap in KiB by
	// part from a heap profile (ours, when the plan's HeapRate is set).
	Heap map[int]map[string]float64
	// WAVKiB is the size of baresip's aufile WAV (0 for ours).
	WAVKiB float64
}

// rssSlope is KiB per call by least squares over the steps, with
// baresip's aufile memory taken out (anon selects RssAnon instead of
// VmRSS).
func (r result) rssSlope(anon bool) float64 { return r.slope(anon, true) }

// rawRSSSlope is the VmRSS slope with nothing taken out.
func (r result) rawRSSSlope() float64 { return r.slope(false, false) }

func (r result) slope(anon, discount bool) float64 {
	var xs, ys []float64
	for _, s := range r.Steps {
		xs = append(xs, float64(s.Calls))
		y := s.W.RSSKiB
		if anon {
			y = s.W.AnonKiB
		}
		if discount {
			y -= s.AufileKiB
		}
		ys = append(ys, y)
	}
	f, err := LeastSquares(xs, ys)
	if err != nil {
		return 0
	}
	return f.Slope
}

// cpuSlope is CPU ms/s per call by least squares over the steps.
func (r result) cpuSlope() float64 {
	var xs, ys []float64
	for _, s := range r.Steps {
		xs = append(xs, float64(s.Calls))
		ys = append(ys, s.W.CPUmsPerS)
	}
	f, err := LeastSquares(xs, ys)
	if err != nil {
		return 0
	}
	return f.Slope
}

// cpuPerCallNoSim is cpuPerCallAtMax with the CPU share of the simulated
// hardware and the harness (by profile label) taken out of both ends.
func (r result) cpuPerCallNoSim() float64 {
	first, last := r.Steps[0], r.Steps[len(r.Steps)-1]
	own := func(s step) float64 {
		p := r.Parts[s.Calls]
		return s.W.CPUmsPerS * (1 - p["sim"] - p["harness"])
	}
	return (own(last) - own(first)) / float64(last.Calls)
}

// cpuPerCallAtMax is (CPU at N calls − CPU at 0 calls) / N.
func (r result) cpuPerCallAtMax() float64 {
	first, last := r.Steps[0], r.Steps[len(r.Steps)-1]
	return (last.W.CPUmsPerS - first.W.CPUmsPerS) / float64(last.Calls)
}

// farEnds are everything outside the measured process, in the test process:
// the cloud's broker and portal, the PBX and the callers.
type farEnds struct {
	t      testing.TB
	broker *broker.Broker
	pbx    *pbx.PBX
	cloud  *cloud.Client
	phones []*softphone.Phone // callers 201..20N
}

// Extensions: the base's 101 (analog port), 103..105 (DECT devices);
// baresip's 301..304; the callers 201..204.
var (
	baseExts    = []string{"101", "103", "104", "105"}
	aloneExts   = []string{"106", "107", "108", "109"} // the basestationd binary's (measureBinary)
	baresipExts = []string{"301", "302", "303", "304"}
)

func password(ext string) string { return "pw-" + ext }

func startFarEnds(t testing.TB, ctx context.Context, callers int) *farEnds {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	f := &farEnds{t: t}
	var err error
	f.broker, err = broker.Start(broker.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.broker.Close() })
	users := map[string]string{}
	for _, e := range append(append(slices.Clone(aloneExts), baseExts...), baresipExts...) {
		users[e] = password(e)
	}
	for i := 1; i <= callers; i++ {
		e := strconv.Itoa(200 + i)
		users[e] = password(e)
	}
	f.pbx, err = pbx.New(pbx.Config{Users: users, Auth: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.pbx.Run(ctx) }()
	f.cloud, err = cloud.Dial(ctx, cloud.Options{Brokers: []string{f.broker.URL()}, ClientID: "perf-portal", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cloud.Close)
	for i := 1; i <= callers; i++ {
		e := strconv.Itoa(200 + i)
		p, err := softphone.New(softphone.Config{User: e, Password: password(e), DisplayName: "Caller " + e, Registrar: f.pbx.Addr(), ToneHz: 1000}, log)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.Run(ctx) }()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = p.Register(rctx)
		cancel()
		if err != nil {
			t.Fatalf("caller %s: %v", e, err)
		}
		f.phones = append(f.phones, p)
	}
	return f
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call makes caller i (0-based) call ext and returns once answer() has been
// done and the caller is connected. answer is called when ringing(ext)
// holds (nil: the far end answers by itself).
func (f *farEnds) call(ctx context.Context, i int, ext string, ringing func() bool, answer func()) {
	f.t.Helper()
	p := f.phones[i]
	done := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done <- p.Call(cctx, ext)
	}()
	if answer != nil {
		eventually(f.t, ext+" ringing", 15*time.Second, ringing)
		answer()
	}
	select {
	case err := <-done:
		if err != nil {
			f.t.Fatalf("call %s → %s: %v", p.Addr(), ext, err)
		}
	case <-time.After(20 * time.Second):
		f.t.Fatalf("call to %s not connected after 20 s", ext)
	}
	eventually(f.t, "caller "+strconv.Itoa(201+i)+" connected", 5*time.Second, func() bool { return p.State() == softphone.Connected })
}

// hangupAll ends every caller's call.
func (f *farEnds) hangupAll(ctx context.Context) {
	for _, p := range f.phones {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = p.Hangup(hctx)
		cancel()
	}
}

// checkAudio fails unless every one of the first n callers keeps receiving
// RTP (the measured side is sending audio).
func (f *farEnds) audioCounts(n int) []int {
	c := make([]int, n)
	for i := range n {
		c[i] = f.phones[i].ReceivedPackets()
	}
	return c
}

func (f *farEnds) checkAudioFlowed(before []int, what string) {
	f.t.Helper()
	for i, b := range before {
		if a := f.phones[i].ReceivedPackets(); a <= b+10 {
			f.t.Fatalf("%s: caller %d received %d RTP packets during the window (%d → %d)", what, 201+i, a-b, b, a)
		}
		if st := f.phones[i].State(); st != softphone.Connected {
			f.t.Fatalf("%s: caller %d is %q, not connected", what, 201+i, st)
		}
	}
}

// ---- the daemon under test -------------------------------------------------

// child is the daemon process and its control connection.
type child struct {
	t    testing.TB
	proc *testpeer.Proc
	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
}

func startChild(t testing.TB, brokerURL, base string, memRate int) *child {
	t.Helper()
	ctlPort := testpeer.FreePort(t, false)
	sipPort := testpeer.FreePort(t, false)
	ctl := fmt.Sprintf("127.0.0.1:%d", ctlPort)
	proc := startMeasured(t, "", os.Args[0], childArg,
		"-broker", brokerURL, "-base-id", base, "-state-dir", t.TempDir(),
		"-sip", fmt.Sprintf("127.0.0.1:%d", sipPort), "-control", ctl, "-memprofilerate", strconv.Itoa(memRate))
	testpeer.WaitListening(t, ctl, 20*time.Second, proc)
	c, err := net.Dial("tcp", ctl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &child{t: t, proc: proc, conn: c, rd: bufio.NewReader(c)}
}

func (c *child) pid() int { return c.proc.Cmd.Process.Pid }

// do sends one command and decodes the answer's data into out (if not nil).
func (c *child) do(out any, cmd ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintln(c.conn, strings.Join(cmd, " ")); err != nil {
		return err
	}
	line, err := c.rd.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%s: %w", cmd[0], err)
	}
	var resp struct {
		Data  json.RawMessage `json:"data"`
		Error string          `json:"error"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("%s: answer %q: %w", cmd[0], line, err)
	}
	if resp.Error != "" {
		return fmt.Errorf("%s: %s", cmd[0], resp.Error)
	}
	if out != nil {
		return json.Unmarshal(resp.Data, out)
	}
	return nil
}

func (c *child) must(out any, cmd ...string) {
	c.t.Helper()
	if err := c.do(out, cmd...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *child) status() childStatus {
	c.t.Helper()
	var s childStatus
	c.must(&s, "status")
	return s
}

func (c *child) registered(exts ...string) bool {
	st := c.status()
	n := 0
	for _, r := range st.Daemon.Registrations {
		for _, e := range exts {
			if r.Extension == e && r.State == "registered" {
				n++
			}
		}
	}
	return n == len(exts)
}

// pairDevice adds a simulated device of kind and registers it the way the
// portal does (Register New Device, PIN), then assigns it to ext.
func pairDevice(t testing.TB, ctx context.Context, c *child, f *farEnds, base, kind, ext string) string {
	t.Helper()
	var added struct{ Name string }
	c.must(&added, "add", kind)
	type res struct {
		r   *provisioning.Result
		err error
	}
	done := make(chan res, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		r, err := f.cloud.RegisterDevice(rctx, base, 40*time.Second, "1234", nil)
		done <- res{r, err}
	}()
	var r res
	eventually(t, "registration window open", 15*time.Second, func() bool {
		select {
		case r = <-done:
			t.Fatalf("register-device ended before the window opened: %+v %v", r.r, r.err)
		default:
		}
		return c.status().RegOpen
	})
	c.must(nil, "pair", added.Name, "1234")
	r = <-done
	if r.err != nil || r.r == nil || r.r.Device == nil {
		t.Fatalf("register %s: %+v %v", kind, r.r, r.err)
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := f.cloud.AssignDevice(actx, base, ext, r.r.Device.ID); err != nil {
		t.Fatalf("assign %s to %s: %v", r.r.Device.ID, ext, err)
	}
	return added.Name
}

// part attributes a CPU sample to the innermost project code on its stack:
// "sim" for the simulated hardware (basestation/sim/...: the SLIC model,
// the phone, the DECT module emulator and its devices) and what it calls,
// "harness" for this package's child, "daemon" for the rest of the
// project (internal/daemon, fxs, dect, sipua, provisioning), "runtime" when
// no project code is on the stack (GC, scheduler, third-party goroutines
// such as the MQTT client's).
func part(stack []string) string {
	for _, fn := range stack {
		if !strings.HasPrefix(fn, "basestation/") {
			continue
		}
		switch {
		case strings.HasPrefix(fn, "basestation/sim/"), strings.HasPrefix(fn, "basestation/sim."):
			return "sim"
		case strings.HasPrefix(fn, "basestation/internal/perf"):
			return "harness"
		}
		return "daemon"
	}
	return "runtime"
}

// profileParts takes a CPU profile of the child for d and returns the
// share of CPU time by part (nil if the profile holds under 300 ms of
// samples). The profiler's total runs below /proc's utime+stime (it saw
// 40-45 % of it in the full runs), so only the shares are used. With BASESTATION_PERF_PROFILES=DIR the
// profile is kept as DIR/name-PID.pprof for go tool pprof.
func profileParts(t testing.TB, c *child, d time.Duration, name string) map[string]float64 {
	t.Helper()
	path := t.TempDir() + "/cpu.pprof"
	c.must(nil, "profile-start", path)
	time.Sleep(d)
	c.must(nil, "profile-stop")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("BASESTATION_PERF_PROFILES"); dir != "" {
		keep := fmt.Sprintf("%s/%s-%d.pprof", dir, name, c.pid())
		if err := os.WriteFile(keep, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("CPU profile kept: %s (go tool pprof %s %s)", keep, os.Args[0], keep)
	}
	tot, err := CPUByStack(b, part)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, v := range tot {
		sum += v
	}
	if sum < int64(300*time.Millisecond) {
		return nil // too few samples (100 Hz) to say anything
	}
	out := map[string]float64{}
	for k, v := range tot {
		if sum > 0 {
			out[k] = float64(v) / float64(sum)
		}
	}
	return out
}

// pushConfig publishes the office's configuration for base: exts at the
// PBX, the first on the analog port.
func pushConfig(t testing.TB, ctx context.Context, f *farEnds, base string, exts []string) {
	t.Helper()
	host, _, _ := net.SplitHostPort(f.pbx.Addr())
	cfg := &provisioning.Config{
		Schema:  provisioning.SchemaVersion,
		Base:    base,
		Version: 1,
		System:  provisioning.System{Registrars: []string{"sip:" + f.pbx.Addr()}, ToneRegion: "US", TimeZone: "UTC"},
	}
	for i, e := range exts {
		x := provisioning.Extension{Number: e, DisplayName: "User " + e,
			SIP: provisioning.SIPAccount{User: e, Password: password(e), Domain: host}, CallerID: "+1613555" + "0" + e}
		if i == 0 {
			x.Devices.Port = provisioning.PortDeviceID
		}
		cfg.Extensions = append(cfg.Extensions, x)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := f.cloud.Push(pctx, cfg, nil); err != nil {
		t.Fatalf("pushing the configuration of %s: %v", base, err)
	}
}

// measureBinary runs the real basestationd binary (built as make cross
// builds it: CGO_ENABLED=0, -trimpath -ldflags '-s -w') with --board virtual:SOCKET, the simulated board
// served from this test process (so the process measured is the daemon
// alone), against the same broker and PBX, MQTT connected: first with 106
// on the analog port registered and no device, then with a Linx and a
// Headset paired the portal's way to 107, so that 107 registers too —
// issue 11's idle state (two extensions, two devices).
func measureBinary(t testing.TB, ctx context.Context, f *farEnds, p plan) result {
	t.Helper()
	dir := t.TempDir()
	bin := dir + "/basestationd"
	// Built as make cross builds it for the board: static, stripped.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "basestation/cmd/basestationd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build basestationd: %v\n%s", err, out)
	}
	const base = "perf-bsd"
	sip := testpeer.FreePort(t, false)
	vb, board := serveBoard(t, ctx)
	proc := startMeasured(t, dir, bin, "--board", vb, "--broker", f.broker.URL(), "--base-id", base,
		"--state-dir", dir+"/state", "--sip-listen", fmt.Sprintf("127.0.0.1:%d", sip), "--log-level", "warn")
	defer proc.Stop()
	pushConfig(t, ctx, f, base, aloneExts) // an extension with no device here does not register
	registered := func(exts ...string) func() bool {
		return func() bool {
			if proc.Exited() {
				t.Fatalf("basestationd exited:\n%s", proc.Output())
			}
			n := 0
			for _, r := range f.pbx.Registrations() {
				if slices.Contains(exts, r.Ext) {
					n++
				}
			}
			return n >= len(exts)
		}
	}
	// 107 has no device on this base yet, so it is not registered.
	eventually(t, "basestationd's 106 registered", 20*time.Second, registered("106"))
	r := result{Name: "basestationd alone"}
	time.Sleep(2 * p.Settle)
	var err error
	if r.NoDevices, err = MeasureWindow(ctx, proc.Cmd.Process.Pid, p.Window, p.Interval); err != nil {
		t.Fatal(err)
	}
	_, linx := pairOnBoard(t, ctx, board, f, base, "linx", "107")
	headset, hsName := pairOnBoard(t, ctx, board, f, base, "headset", "107")
	eventually(t, "107 registered with its devices", 20*time.Second, registered("106", "107"))
	time.Sleep(2 * p.Settle)
	if r.Idle, err = MeasureWindow(ctx, proc.Cmd.Process.Pid, p.AloneIdle, p.Interval); err != nil {
		t.Fatal(err)
	}
	if proc.Exited() {
		t.Fatalf("basestationd exited:\n%s", proc.Output())
	}
	r.Steps = binaryCalls(t, ctx, f, p, board, base, headset, []string{"port", linx, hsName}, proc.Cmd.Process.Pid, registered)
	return r
}

// binaryCalls measures the binary at 0..p.Calls concurrent calls, one per
// extension: 106 on the analog port, 107 on the Linx, 108 on the Headset
// (moved there from 107) and 109 on a second Linx. eps are the port and
// the board's names of the Linx and the Headset.
func binaryCalls(t testing.TB, ctx context.Context, f *farEnds, p plan, b *sim.Board, base, headset string, eps []string, pid int, registered func(...string) func() bool) []step {
	t.Helper()
	exts := aloneExts
	if p.Calls >= 3 {
		actx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if _, err := f.cloud.UnassignDevice(actx, base, "107", headset); err != nil {
			t.Fatalf("take the Headset off 107: %v", err)
		}
		if _, err := f.cloud.AssignDevice(actx, base, "108", headset); err != nil {
			t.Fatalf("give the Headset to 108: %v", err)
		}
		cancel()
	}
	if p.Calls >= 4 {
		_, name := pairOnBoard(t, ctx, b, f, base, "linx", "109")
		eps = append(eps, name)
	}
	eventually(t, "the binary's extensions registered", 20*time.Second, registered(exts[:min(p.Calls, 4)]...))
	if p.Calls > len(eps) {
		t.Fatalf("plan has %d calls, the served board %d endpoints", p.Calls, len(eps))
	}
	defer f.hangupAll(ctx)
	var steps []step
	for n := 0; n <= p.Calls; n++ {
		if n > 0 {
			ep, ext := eps[n-1], exts[n-1]
			var dv *radio.Device
			if ep != "port" {
				var err error
				if dv, err = b.Device(ep); err != nil {
					t.Fatal(err)
				}
			}
			ringing := func() bool {
				if dv == nil {
					return b.Phone.State().Ringing
				}
				return dv.State().Call == "ringing"
			}
			f.call(ctx, n-1, ext, ringing, func() {
				if dv == nil {
					b.Phone.OffHook()
					return
				}
				if err := dv.Answer(); err != nil {
					t.Fatalf("answer on %s: %v", ep, err)
				}
				dv.SetSpeech(float64(400+100*n), 8000)
			})
		}
		time.Sleep(p.Settle)
		before := f.audioCounts(n)
		w, err := MeasureWindow(ctx, pid, p.Window, p.Interval)
		if err != nil {
			t.Fatal(err)
		}
		f.checkAudioFlowed(before, fmt.Sprintf("basestationd alone, %d calls", n))
		steps = append(steps, step{Calls: n, W: w})
	}
	b.Phone.OnHook()
	return steps
}

// pairOnBoard pairs a new simulated device of kind on the board served to
// the basestationd binary, the portal's way (register-device, the PIN on
// the device), assigns it to ext and returns its id and its name on the
// board.
func pairOnBoard(t testing.TB, ctx context.Context, b *sim.Board, f *farEnds, base, kind, ext string) (id, name string) {
	t.Helper()
	name, dv, err := b.AddDevice(kind, radio.DeviceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		r   *provisioning.Result
		err error
	}
	done := make(chan res, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		r, err := f.cloud.RegisterDevice(rctx, base, 40*time.Second, "1234", nil)
		done <- res{r, err}
	}()
	var r res
	eventually(t, "registration window open on the served board", 15*time.Second, func() bool {
		select {
		case r = <-done:
			t.Fatalf("register-device ended before the window opened: %+v %v", r.r, r.err)
		default:
		}
		return b.Radio.RegistrationOpen()
	})
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := dv.Pair(pctx, "1234"); err != nil {
		t.Fatalf("pairing the %s: %v", kind, err)
	}
	r = <-done
	if r.err != nil || r.r == nil || r.r.Device == nil {
		t.Fatalf("register %s: %+v %v", kind, r.r, r.err)
	}
	if _, err := f.cloud.AssignDevice(pctx, base, ext, r.r.Device.ID); err != nil {
		t.Fatalf("assign %s to %s: %v", r.r.Device.ID, ext, err)
	}
	return r.r.Device.ID, name
}

// heapParts writes a heap profile of the child (after a GC) and returns
// its live heap in KiB by part.
func heapParts(t testing.TB, c *child) map[string]float64 {
	t.Helper()
	path := t.TempDir() + "/heap.pprof"
	c.must(nil, "heap-profile", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tot, err := ByStack(b, "inuse_space", part)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for k, v := range tot {
		out[k] = float64(v) / 1024
	}
	return out
}

// measureOurs runs the daemon process through idle and 0..p.Calls calls.
func measureOurs(t testing.TB, ctx context.Context, f *farEnds, p plan) result {
	t.Helper()
	const base = "perf-base"
	c := startChild(t, f.broker.URL(), base, p.HeapRate)
	pushConfig(t, ctx, f, base, baseExts)
	eventually(t, "101 registered", 20*time.Second, func() bool { return c.registered("101") })
	eventually(t, "DECT module ready", 20*time.Second, func() bool { return c.status().Daemon.RadioReady })
	r := result{Name: "basestationd (perf-child)"}
	time.Sleep(2 * p.Settle)
	var err error
	if r.NoDevices, err = MeasureWindow(ctx, c.pid(), p.Window, p.Interval); err != nil {
		t.Fatal(err)
	}

	// Idle: registered, MQTT connected, two devices paired.
	endpoints := []string{"port"}
	endpoints = append(endpoints, pairDevice(t, ctx, c, f, base, "linx", "103"))
	endpoints = append(endpoints, pairDevice(t, ctx, c, f, base, "headset", "104"))
	eventually(t, "101, 103, 104 registered", 20*time.Second, func() bool { return c.registered("101", "103", "104") })
	if st := c.status(); !st.Daemon.CloudConnected || len(st.Daemon.Devices) != 2 {
		t.Fatalf("idle state: cloud connected %v, %d devices paired", st.Daemon.CloudConnected, len(st.Daemon.Devices))
	}
	time.Sleep(2 * p.Settle)
	if r.Idle, err = MeasureWindow(ctx, c.pid(), p.Window, p.Interval); err != nil {
		t.Fatal(err)
	}
	// A fourth endpoint for the fourth call.
	if p.Calls >= 4 {
		endpoints = append(endpoints, pairDevice(t, ctx, c, f, base, "linx", "105"))
		eventually(t, "105 registered", 20*time.Second, func() bool { return c.registered("105") })
	}
	if p.Calls > len(endpoints) {
		t.Fatalf("plan has %d calls, the base has %d endpoints", p.Calls, len(endpoints))
	}
	defer f.hangupAll(ctx)
	for n := 0; n <= p.Calls; n++ {
		if n > 0 {
			ep, ext := endpoints[n-1], baseExts[n-1]
			ringing := func() bool {
				st := c.status()
				if ep == "port" {
					return st.PhoneRinging
				}
				return st.Devices[ep].Call == "ringing"
			}
			f.call(ctx, n-1, ext, ringing, func() { c.must(nil, "answer", ep) })
			if ep != "port" {
				c.must(nil, "speech", ep, strconv.Itoa(400+100*n))
			}
		}
		time.Sleep(p.Settle)
		before := f.audioCounts(n)
		st0 := c.status()
		w, err := MeasureWindow(ctx, c.pid(), p.Window, p.Interval)
		if err != nil {
			t.Fatal(err)
		}
		f.checkAudioFlowed(before, fmt.Sprintf("ours, %d calls", n))
		st1 := c.status()
		for _, ep := range endpoints[:n] {
			if ep == "port" {
				continue
			}
			if st1.Devices[ep].HeardFrame <= st0.Devices[ep].HeardFrame {
				t.Fatalf("ours, %d calls: device %s heard no audio in the window", n, ep)
			}
		}
		sec := w.Seconds
		r.Steps = append(r.Steps, step{Calls: n, W: w,
			AllocKiBps:  float64(st1.TotalAlloc-st0.TotalAlloc) / 1024 / sec,
			MallocsPerS: float64(st1.Mallocs-st0.Mallocs) / sec,
			GCPerS:      float64(st1.NumGC-st0.NumGC) / sec,
			StackKiB:    float64(st1.StackKiB)})
		r.HeapKiB = append(r.HeapKiB, st1.HeapInuseKiB)
		if n == 0 || n == p.Calls {
			if r.Parts == nil {
				r.Parts = map[int]map[string]float64{}
			}
			if parts := profileParts(t, c, p.Window, fmt.Sprintf("ours-%dcalls", n)); parts != nil {
				r.Parts[n] = parts
			}
			if p.HeapRate > 0 {
				if r.Heap == nil {
					r.Heap = map[int]map[string]float64{}
				}
				r.Heap[n] = heapParts(t, c)
			}
		}
	}
	for _, ep := range endpoints {
		_ = c.do(nil, "hangup", ep)
	}
	return r
}

// ---- baresip ---------------------------------------------------------------

// aufileHeld models the memory baresip 1.0's aufile source holds in RSS
// after the calls answered at the given times (in order): each call loads
// the whole WAV into an audio buffer when it starts ("aufile: loaded N
// bytes") and frees it frame by frame as it plays (16,000 B/s); freed
// memory stays in the process and is reused by the next call's load, so
// RSS keeps the peak, reached at the last load: n·file minus what the
// earlier calls had played by then. In a full run (1,281 KiB file, 13 s
// steps) the raw RSS increments were 1,404, 1,192, 976 and 764 KiB; less
// the model's 1,281, 1,078, 875 and 672 KiB that leaves 123, 114, 101 and
// 92 KiB: the model explains the falling increments. A plain "minus one
// file per call" would not (it made the slope negative).
func aufileHeld(answered []time.Time, wavBytes int) float64 {
	if len(answered) == 0 {
		return 0
	}
	last := answered[len(answered)-1]
	held := float64(len(answered) * wavBytes)
	for _, t := range answered[:len(answered)-1] {
		held -= math.Min(float64(wavBytes), 16000*last.Sub(t).Seconds())
	}
	return held
}

// writeWAV writes an 8 kHz mono 16-bit WAV of a 440 Hz tone and returns its
// data size in bytes.
func writeWAV(path string, d time.Duration) (int, error) {
	n := int(d.Seconds() * 8000)
	data := make([]byte, 44+2*n)
	copy(data, "RIFF")
	le32 := func(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	le16 := func(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
	le32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	le32(data[16:], 16)
	le16(data[20:], 1)
	le16(data[22:], 1)
	le32(data[24:], 8000)
	le32(data[28:], 16000)
	le16(data[32:], 2)
	le16(data[34:], 16)
	copy(data[36:], "data")
	le32(data[40:], uint32(2*n))
	// A 440 Hz tone from a 8000/440 phase accumulator, integer only.
	for i := range n {
		ph := (i * 440 % 8000) * 4 // 0..32000 over one period
		var v int
		switch {
		case ph < 8000:
			v = ph
		case ph < 24000:
			v = 16000 - ph
		default:
			v = ph - 32000
		}
		le16(data[44+2*i:], uint16(int16(v)))
	}
	return 2 * n, os.WriteFile(path, data, 0o644)
}

// measureBaresip runs baresip with four accounts at the same PBX through
// 0..p.Calls calls from the same callers.
func measureBaresip(t testing.TB, ctx context.Context, f *farEnds, p plan) result {
	t.Helper()
	bin := testpeer.Require(t, "baresip")[0]
	dir := t.TempDir()
	// The longest call lives through every step after the first.
	// aufile loads the whole file per call and the call ends at its end:
	// the longest call lives through every step after the first.
	wavDur := time.Duration(p.Calls)*(p.Settle+p.Window) + 30*time.Second
	wavBytes, err := writeWAV(dir+"/src.wav", wavDur)
	if err != nil {
		t.Fatal(err)
	}
	sipPort := testpeer.FreePort(t, true)
	rtp := testpeer.FreePort(t, false)
	conf := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
dns_server 127.0.0.1:53
call_local_timeout 120
call_max_calls %d
audio_player aubridge,null
audio_alert aubridge,null
audio_source aufile,%s/src.wav
ausrc_srate 8000
ausrc_channels 1
auplay_srate 8000
auplay_channels 1
ausrc_format s16
auplay_format s16
auenc_format s16
audec_format s16
audio_buffer 20-160
jitter_buffer_delay 1-10
rtp_ports %d-%d
rtcp_mux no
rtp_tos 0
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module_tmp account.so
module_app menu.so
`, sipPort, max(p.Calls, 1)+1, dir, rtp, rtp+40)
	if err := os.WriteFile(dir+"/config", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var acc strings.Builder
	for _, e := range baresipExts {
		fmt.Fprintf(&acc, "<sip:%s@%s>;auth_pass=%s;answermode=auto;audio_codecs=PCMU;regint=600;ptime=20\n", e, f.pbx.Addr(), password(e))
	}
	if err := os.WriteFile(dir+"/accounts", []byte(acc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := startMeasured(t, dir, bin, "-f", dir, "-4", "-n", "127.0.0.1")
	eventually(t, "baresip's accounts registered", 20*time.Second, func() bool {
		if proc.Exited() {
			t.Fatalf("baresip exited:\n%s", proc.Output())
		}
		n := 0
		for _, r := range f.pbx.Registrations() {
			for _, e := range baresipExts {
				if r.Ext == e {
					n++
				}
			}
		}
		return n == len(baresipExts)
	})
	pid := proc.Cmd.Process.Pid
	r := result{Name: "baresip 1.0.0", WAVKiB: float64(wavBytes) / 1024}
	time.Sleep(2 * p.Settle)
	if r.Idle, err = MeasureWindow(ctx, pid, p.Window, p.Interval); err != nil {
		t.Fatal(err)
	}
	defer f.hangupAll(ctx)
	var answered []time.Time
	for n := 0; n <= p.Calls; n++ {
		if n > 0 {
			f.call(ctx, n-1, baresipExts[n-1], nil, nil)
			answered = append(answered, time.Now())
		}
		time.Sleep(p.Settle)
		before := f.audioCounts(n)
		w, err := MeasureWindow(ctx, pid, p.Window, p.Interval)
		if err != nil {
			t.Fatal(err)
		}
		f.checkAudioFlowed(before, fmt.Sprintf("baresip, %d calls", n))
		r.Steps = append(r.Steps, step{Calls: n, W: w, AufileKiB: aufileHeld(answered, wavBytes) / 1024})
	}
	return r
}

// startMeasured starts a measured process with testpeer.Start; with
// BASESTATION_PERF_CPU=N it is pinned to CPU N with taskset (which execs
// the program, so the PID is the program's), as performance.md §8 row 4
// suggests for the CPU figures.
func startMeasured(t testing.TB, dir, bin string, args ...string) *testpeer.Proc {
	t.Helper()
	cpu := os.Getenv("BASESTATION_PERF_CPU")
	if cpu == "" {
		return testpeer.Start(t, dir, bin, args...)
	}
	if _, err := strconv.Atoi(cpu); err != nil {
		t.Fatalf("BASESTATION_PERF_CPU=%q is not a CPU number", cpu)
	}
	ts := testpeer.Require(t, "taskset")[0]
	return testpeer.Start(t, dir, ts, append([]string{"-c", cpu, bin}, args...)...)
}

// serveBoard serves a simulated board on a Unix socket from the test
// process, as basesim --serve-board does, until the test ends, and returns
// basestationd's --board value for it.
func serveBoard(t testing.TB, ctx context.Context) (string, *sim.Board) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	b, err := sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pvb") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	path := dir + "/board.sock"
	l, err := vboard.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = b.Run(ctx) }()
	go func() { defer wg.Done(); _ = vboard.New(b.HAL(), vboard.Options{Log: log}).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close()
		os.RemoveAll(dir)
	})
	return "virtual:" + path, b
}
