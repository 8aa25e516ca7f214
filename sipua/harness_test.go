package sipua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

// ---- fake endpoint ----

// fakeEndpoint is a phone for tests: it records what the user agent asks
// of it, and its audio port plays a sine tone and records what it hears.
type fakeEndpoint struct {
	name string
	tone float64 // Hz of what it "speaks"; 0 = silence

	mu       sync.Mutex
	log      []string
	ringing  bool
	cid      endpoint.CallerID
	mwi      bool
	lastTone endpoint.Tone
	port     *fakePort
	changed  chan struct{}
}

func newFakeEndpoint(name string, tone float64) *fakeEndpoint {
	return &fakeEndpoint{name: name, tone: tone, changed: make(chan struct{}, 1)}
}

func (f *fakeEndpoint) String() string { return f.name }

func (f *fakeEndpoint) note(s string) {
	f.log = append(f.log, s)
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeEndpoint) Ring(cid endpoint.CallerID, cadence endpoint.Cadence) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ringing, f.cid = true, cid
	f.note("ring " + cid.Number + " " + string(cadence))
	return nil
}
func (f *fakeEndpoint) StopRinging() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ringing = false
	f.note("stop-ringing")
	return nil
}
func (f *fakeEndpoint) PlayTone(t endpoint.Tone) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTone = t
	f.note("tone " + string(t))
	return nil
}
func (f *fakeEndpoint) ConnectAudio() (endpoint.AudioPort, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.port == nil {
		f.port = newFakePort(8000, f.tone)
	}
	f.note("audio-on")
	return f.port, nil
}
func (f *fakeEndpoint) DisconnectAudio() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("audio-off")
	return nil
}
func (f *fakeEndpoint) SetMessageWaiting(on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mwi = on
	f.note(fmt.Sprintf("mwi %v", on))
	return nil
}
func (f *fakeEndpoint) AlertCallWaiting(cid endpoint.CallerID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("call-waiting " + cid.Number)
	return nil
}

func (f *fakeEndpoint) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.log {
		if strings.HasPrefix(l, s) {
			return true
		}
	}
	return false
}

func (f *fakeEndpoint) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f.has(s) {
		if time.Now().After(deadline) {
			f.mu.Lock()
			t.Fatalf("%s: %q not seen within %v; log: %q", f.name, s, d, f.log)
			f.mu.Unlock()
		}
		select {
		case <-f.changed:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *fakeEndpoint) received() []int16 {
	f.mu.Lock()
	p := f.port
	f.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.recorded()
}

// fakePort is a real-time paced 10 ms audio port.
type fakePort struct {
	rate   int
	freq   float64
	n      int
	next   time.Time
	mu     sync.Mutex
	rec    []int16
	maxRec int
}

func newFakePort(rate int, freq float64) *fakePort {
	return &fakePort{rate: rate, freq: freq, maxRec: rate * 30}
}

func (p *fakePort) Rate() int { return p.rate }

func (p *fakePort) ReadFrame(ctx context.Context, dst []int16) error {
	if p.next.IsZero() {
		p.next = time.Now()
	}
	p.next = p.next.Add(10 * time.Millisecond)
	if w := time.Until(p.next); w > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w):
		}
	}
	for i := range dst {
		if p.freq > 0 {
			dst[i] = int16(8000 * math.Sin(2*math.Pi*p.freq*float64(p.n)/float64(p.rate)))
		}
		p.n++
	}
	return nil
}

func (p *fakePort) WriteFrame(ctx context.Context, src []int16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.rec) < p.maxRec {
		p.rec = append(p.rec, src...)
	}
	return nil
}

func (p *fakePort) recorded() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.rec...)
}

// ---- signal checks (independent of the media package's code) ----

// goertzelPower returns the normalised power of freq in x.
func goertzelPower(x []int16, rate int, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s := float64(v) + k*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	if e == 0 {
		return 0
	}
	return p / (e * float64(len(x)) / 2)
}

// dominantFreq scans 100-3500 Hz in 10 Hz steps and returns the peak.
func dominantFreq(x []int16, rate int) float64 {
	best, bestP := 0.0, 0.0
	for f := 100.0; f <= 3500; f += 10 {
		if p := goertzelPower(x, rate, f); p > bestP {
			best, bestP = f, p
		}
	}
	return best
}

func rms(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(e / float64(len(x)))
}

// ---- peers ----

type kamailio struct {
	port int
	dir  string
	proc *testpeer.Proc
}

func startKamailio(t *testing.T, users map[string]string) *kamailio {
	t.Helper()
	bins := testpeer.Require(t, "kamailio")
	dir := t.TempDir()
	port := testpeer.FreePort(t, false)
	cfg, err := os.ReadFile("testdata/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(cfg), "MYPORT", fmt.Sprint(port))
	text = strings.ReplaceAll(text, "MYCTL", filepath.Join(dir, "ctl"))
	if err := os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("event_route[htable:mod-init] {\n")
	for u, p := range users {
		fmt.Fprintf(&b, "\t$sht(users=>%s) = \"%s\";\n", u, p)
	}
	b.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "users.cfg"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := testpeer.Start(t, dir, bins[0], "-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-Y", dir, "-w", dir, "-m", "32", "-M", "4")
	testpeer.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second, proc)
	return &kamailio{port: port, dir: dir, proc: proc}
}

func (k *kamailio) addr() string { return fmt.Sprintf("127.0.0.1:%d", k.port) }

// waitLog waits for a marker line in kamailio's log.
func (k *kamailio) waitLog(t *testing.T, marker string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(k.proc.Output(), marker) {
		if time.Now().After(deadline) {
			t.Fatalf("kamailio never logged %q", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- UA under test ----

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type runningUA struct {
	*UA
	cancel context.CancelFunc
	done   chan error
}

func startUA(t *testing.T, cfg Config) *runningUA {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	u, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningUA{UA: u, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- u.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(5 * time.Second)
	for u.ListenAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("UA never listened")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func (r *runningUA) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("Run did not return after cancel")
	}
}

// waitReg waits for a registration event of ext in state.
func waitReg(t *testing.T, u *UA, ext string, state RegState, d time.Duration) *RegistrationEvent {
	t.Helper()
	ev := waitEvent(t, u, d, func(e Event) bool {
		r, ok := e.(*RegistrationEvent)
		return ok && r.Extension == ext && r.State == state
	})
	return ev.(*RegistrationEvent)
}

func waitEvent(t *testing.T, u *UA, d time.Duration, match func(Event) bool) Event {
	t.Helper()
	tm := time.After(d)
	for {
		select {
		case e := <-u.Events():
			if testing.Verbose() {
				t.Logf("event %T %+v", e, e)
			}
			if match(e) {
				return e
			}
		case <-tm:
			t.Fatalf("event not seen within %v", d)
		}
	}
}

// pollReg waits until ext is in state (without consuming events).
func pollReg(t *testing.T, u *UA, ext string, state RegState, d time.Duration) RegistrationEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r, ok := u.Registration(ext)
		if ok && r.State == state {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("extension %s: state %s (%s), want %s", ext, r.State, r.LastError, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
