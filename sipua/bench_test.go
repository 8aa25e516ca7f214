package sipua

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

// autoEndpoint answers a ringing call after a short delay (unless another
// endpoint took it first) and hangs up when the call ends. Its audio port
// plays a precomputed tone and discards what it receives, paced like a
// PCM channel of the board (see pcmClockPort).
type autoEndpoint struct {
	name  string
	delay time.Duration
	rep   Reporter
	mu    sync.Mutex
	timer *time.Timer
	table []int16
	epoch int64 // CLOCK_MONOTONIC ns of the highway's frame 0
	ports []*pcmClockPort
}

// newAutoEndpoint makes an endpoint whose audio frames are due at epoch +
// k·10 ms (CLOCK_MONOTONIC). Every endpoint of one benchmark gets the same
// epoch: on the board all PCM time slots (the SLIC's and the DECT
// module's) share the highway's frame sync, so their frames complete at
// the same instants.
func newAutoEndpoint(name string, delay time.Duration, epoch int64) *autoEndpoint {
	t := make([]int16, 80) // 100 Hz period at 8 kHz: 1 kHz sine, 8 samples
	for i := range t {
		t[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	return &autoEndpoint{name: name, delay: delay, table: t, epoch: epoch}
}

func monotonicNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func (a *autoEndpoint) String() string { return a.name }
func (a *autoEndpoint) Ring(endpoint.CallerID, endpoint.Cadence) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.timer = time.AfterFunc(a.delay, func() { a.rep(endpoint.Event{Kind: endpoint.OffHook}) })
	return nil
}
func (a *autoEndpoint) StopRinging() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
	return nil
}
func (a *autoEndpoint) PlayTone(t endpoint.Tone) error {
	if t == endpoint.Busy || t == endpoint.Reorder || t == endpoint.Dial {
		go a.rep(endpoint.Event{Kind: endpoint.OnHook})
	}
	return nil
}
func (a *autoEndpoint) ConnectAudio() (endpoint.AudioPort, error) {
	p, err := newPCMClockPort(a.table, a.epoch)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.ports = append(a.ports, p)
	a.mu.Unlock()
	return p, nil
}
func (a *autoEndpoint) DisconnectAudio() error {
	a.mu.Lock()
	ports := a.ports
	a.ports = nil
	a.mu.Unlock()
	for _, p := range ports {
		p.f.Close()
	}
	return nil
}
func (a *autoEndpoint) SetMessageWaiting(bool) error             { return nil }
func (a *autoEndpoint) AlertCallWaiting(endpoint.CallerID) error { return nil }

// pcmClockPort is a PCM channel as the board's TDM driver presents it
// (board.PCMDevice): a file descriptor that becomes readable once per
// 10 ms frame, read through the Go poller. The frame clock is a timerfd
// armed on the highway's frame grid, so a read blocks exactly as a read
// of a PCM slot device does (one poller wake-up per frame instant for all
// slots together); captured audio is a precomputed tone, played audio is
// discarded.
type pcmClockPort struct {
	table []int16
	pos   int
	f     *os.File
	b     [8]byte
	ready uint64 // frames produced and not yet read
}

func newPCMClockPort(table []int16, epoch int64) (*pcmClockPort, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	const frame = int64(10 * time.Millisecond)
	first := epoch + ((monotonicNow()-epoch)/frame+1)*frame
	spec := unix.ItimerSpec{Interval: unix.NsecToTimespec(frame), Value: unix.NsecToTimespec(first)}
	if err := unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return &pcmClockPort{table: table, f: os.NewFile(uintptr(fd), "pcm-clock")}, nil
}

func (p *pcmClockPort) Rate() int { return 8000 }

// ReadFrame returns the next frame when the clock has produced it; frames
// the reader was late for are returned at once (the count the timerfd
// reports is the device FIFO's fill).
func (p *pcmClockPort) ReadFrame(ctx context.Context, dst []int16) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.ready == 0 {
		if _, err := p.f.Read(p.b[:]); err != nil {
			return err
		}
		p.ready = binary.NativeEndian.Uint64(p.b[:])
		if p.ready > 8 {
			p.ready = 8 // a FIFO of 80 ms overflows: the oldest frames are lost
		}
	}
	p.ready--
	for i := range dst {
		dst[i] = p.table[p.pos]
		p.pos = (p.pos + 1) % len(p.table)
	}
	return nil
}

func (p *pcmClockPort) WriteFrame(context.Context, []int16) error { return nil }

// sippCaller streams 8 kHz µ-law audio into each call for dur ms.
func sippCallerXML(user string) string {
	return scenario("caller", `
  <send retrans="500"><![CDATA[
INVITE sip:`+user+`@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:bench@[local_ip]:[local_port]>;tag=[pid]b[call_number]
To: <sip:`+user+`@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:bench@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
`+sippInDialogFrom("ACK", 1, "bench", user)+`
  <nop><action><exec rtp_stream="media.ul,-1,0"/></action></nop>
  <pause/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
`+sippInDialogFrom("BYE", 2, "bench", user)+`
  <recv response="200"/>
`)
}

func sippInDialogFrom(method string, cseq int, from, to string) string {
	return strings.NewReplacer(`"Caller Four" <sip:1004@`, `<sip:`+from+`@`, `<sip:1001@`, `<sip:`+to+`@`, `<sip:1004@`, `<sip:`+from+`@`).
		Replace(sippInDialog(method, cseq, ""))
}

func writeUlaw(t testing.TB, path string, secs int) {
	b := make([]byte, 8000*secs)
	for i := range b {
		v := 8000 * math.Sin(2*math.Pi*1000*float64(i)/8000)
		b[i] = linearToUlaw(int16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// linearToUlaw is the G.711 µ-law encoder (test-local, for SIPp's file).
func linearToUlaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	x := int(s)
	if x < 0 {
		x, sign = -x, 0x80
	}
	if x > clip {
		x = clip
	}
	x += bias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0F
	return ^(sign | byte(exp<<4) | byte(mant))
}

// startCallers runs n concurrent SIPp calls of dur into target.
func startCallers(t testing.TB, target, user string, n int, rate int, dur time.Duration) *testpeer.Proc {
	bins := testpeer.Require(t, "sipp")
	dir := t.TempDir()
	writeUlaw(t, filepath.Join(dir, "media.ul"), 2)
	if err := os.WriteFile(filepath.Join(dir, "c.xml"), []byte(sippCallerXML(user)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t, false)
	ctrl := testpeer.FreePort(t, false)
	// SIPp's screen goes to /dev/null: copying it would cost this
	// process CPU inside the measurement window.
	cmd := fmt.Sprintf("exec %s -sf c.xml -i 127.0.0.1 -p %d -mi 127.0.0.1 -m %d -l %d -r %d -d %d -nostdin -cp %d %s >/dev/null 2>&1",
		bins[0], port, n, n, rate, dur.Milliseconds(), ctrl, target)
	return testpeer.Start(t, dir, "/bin/sh", "-c", cmd)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // CLK_TCK 100
}

func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// benchUA starts the UA registered at a fake PBX with n auto-answer
// endpoints on extension 101; callers send to the returned PBX address.
func benchUA(b *testing.B, n int) (*runningUA, string) {
	reg := newPBXRelay(b, "")
	u := startUABench(b, Config{Extensions: []Extension{ext("101", "1001", "pw", reg.addr())}})
	pollRegB(b, u.UA, "101")
	epoch := monotonicNow()
	for i := range n {
		ep := newAutoEndpoint(fmt.Sprintf("ep%d", i), time.Duration(20+10*i)*time.Millisecond, epoch)
		rep, err := u.Attach("101", ep)
		if err != nil {
			b.Fatal(err)
		}
		ep.rep = rep
	}
	return u, reg.addr()
}

func startUABench(b *testing.B, cfg Config) *runningUA {
	cfg.Listen = "127.0.0.1:0"
	u, err := New(cfg, testLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningUA{UA: u, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- u.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-r.done })
	for u.ListenAddr() == "" {
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func pollRegB(b *testing.B, u *UA, ext string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, _ := u.Registration(ext); r.State == RegRegistered {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("not registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startBaresipB(b *testing.B, wavSecs int) *baresip {
	return startBaresipOpts(b, "a", "", "", 1000, "auto", wavSecs)
}

// BenchmarkCallCPU measures CPU per active G.711 call with 4 concurrent
// calls (SIPp callers streaming µ-law, our endpoints answering), and the
// same for baresip 1.0 (aufile source, auto answer) in the same run.
//
//	go test -run '^$' -bench BenchmarkCallCPU -benchtime 1x ./sipua/
func BenchmarkCallCPU(b *testing.B) {
	const calls = 4
	window := 8 * time.Second
	for range b.N {
		_, pbx := benchUA(b, calls)
		i0 := selfCPU()
		time.Sleep(2 * time.Second)
		idle := selfCPU() - i0
		b.ReportMetric(float64(idle.Microseconds())/1000/2, "idle-ms-cpu/s")
		p := startCallers(b, pbx, "1001", calls, 100, window+6*time.Second)
		time.Sleep(3 * time.Second)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c0 := selfCPU()
		time.Sleep(window)
		ours := selfCPU() - c0
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/window.Seconds()/calls, "allocs/s/call")
		p.Stop()

		br := startBaresipB(b, 20)
		q := startCallers(b, fmt.Sprintf("127.0.0.1:%d", br.sipPort), "a", calls, 100, window+6*time.Second)
		time.Sleep(3 * time.Second)
		pid := br.proc.Cmd.Process.Pid
		d0 := procCPU(pid)
		time.Sleep(window)
		theirs := procCPU(pid) - d0
		if testing.Verbose() {
			b.Logf("baresip:\n%s\nsipp:\n%s", tail(br.proc.Output(), 1500), tail(q.Output(), 1500))
		}
		q.Stop()

		perOurs := float64(ours.Microseconds()) / 1000 / window.Seconds() / calls
		perTheirs := float64(theirs.Microseconds()) / 1000 / window.Seconds() / calls
		b.ReportMetric(perOurs, "ms-cpu/s/call")
		b.ReportMetric(perTheirs, "baresip-ms-cpu/s/call")
		if perTheirs > 0 {
			b.ReportMetric(perOurs/perTheirs, "ratio")
		}
	}
}

// BenchmarkCallMemory fits memory against the number of active calls (0
// to 8, least squares) for our UA (Go heap+stacks after GC, and RSS) and
// for baresip (VmRSS, minus its per-call copy of the aufile WAV).
//
//	go test -run '^$' -bench BenchmarkCallMemory -benchtime 1x ./sipua/
func BenchmarkCallMemory(b *testing.B) {
	const maxCalls = 8
	for range b.N {
		u, pbx := benchUA(b, maxCalls)
		p := startCallers(b, pbx, "1001", maxCalls, 1, 20*time.Second)
		var xs, heap, rss, gor, hp, st []float64
		sample := func(n int) {
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			xs = append(xs, float64(n))
			heap = append(heap, float64(ms.HeapInuse+ms.StackInuse))
			hp = append(hp, float64(ms.HeapInuse))
			st = append(st, float64(ms.StackInuse))
			gor = append(gor, float64(runtime.NumGoroutine()))
			rss = append(rss, float64(procRSS(os.Getpid())))
		}
		sample(0)
		start := time.Now()
		for n := 1; n <= maxCalls; n++ {
			// SIPp starts one call per second.
			time.Sleep(time.Until(start.Add(time.Duration(n)*time.Second + 700*time.Millisecond)))
			sample(activeCalls(u.UA))
		}
		p.Stop()
		b.ReportMetric(slope(xs, heap)/1024, "KiB-heap/call")
		b.ReportMetric(slope(xs, rss)/1024, "KiB-rss/call")
		b.ReportMetric(slope(xs, hp)/1024, "KiB-heaponly/call")
		b.ReportMetric(slope(xs, st)/1024, "KiB-stack/call")
		b.ReportMetric(slope(xs, gor), "goroutines/call")

		const wavSecs = 30
		br := startBaresipB(b, wavSecs)
		q := startCallers(b, fmt.Sprintf("127.0.0.1:%d", br.sipPort), "a", maxCalls, 1, 20*time.Second)
		pid := br.proc.Cmd.Process.Pid
		var bx, brss []float64
		bx = append(bx, 0)
		brss = append(brss, float64(procRSS(pid)))
		start = time.Now()
		for n := 1; n <= maxCalls; n++ {
			time.Sleep(time.Until(start.Add(time.Duration(n)*time.Second + 700*time.Millisecond)))
			bx = append(bx, float64(n))
			brss = append(brss, float64(procRSS(pid)))
		}
		q.Stop()
		raw := slope(bx, brss)
		wav := float64(44 + 2*8000*wavSecs)
		b.ReportMetric(raw/1024, "baresip-KiB-rss/call-raw")
		b.ReportMetric((raw-1.04*wav)/1024, "baresip-KiB-rss/call-net")
	}
}

func activeCalls(u *UA) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.calls {
		if c.state == csActive {
			n++
		}
	}
	return n
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(x))
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}
