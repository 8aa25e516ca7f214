package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"basestation/internal/daemon"
	"basestation/internal/settings"
	"basestation/internal/testpeer"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/sim"
	"basestation/sim/broker"
	"basestation/sim/radio"
	"basestation/sipua"
)

const baseID = "base-e2e"

// The office's users at the PBX. 101 has the base's analog port.
var users = []struct{ Number, Name, Password string }{
	{"101", "Alice Analog", "alice-pw-101"},
	{"102", "Bob Baresip", "bob-pw-102"},
	{"103", "Carol Baresip", "carol-pw-103"},
}

// callerID101 is 101's outbound caller ID, which the PBX lets 101 assert.
const callerID101 = "+16135550101"

// office is a whole office for a test: kamailio as the PBX, the daemon on
// the simulated board, the in-process broker and the portal's client.
type office struct {
	t     *testing.T
	k     *testpeer.Kamailio
	board *sim.Board
	d     *daemon.Daemon
	cloud *cloud.Client
	ctx   context.Context
}

func testLogger() *slog.Logger {
	if os.Getenv("E2E_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startOffice starts kamailio, the broker, the board and the daemon,
// pushes the office's configuration as the portal does, and waits until
// 101 is registered at kamailio and subscribed to its voicemail.
func startOffice(t *testing.T) *office {
	t.Helper()
	pw := map[string]string{}
	for _, u := range users {
		pw[u.Number] = u.Password
	}
	k := testpeer.StartKamailio(t, testpeer.KamailioOptions{Users: pw, CallerIDs: map[string][]string{"101": {callerID101}}})
	log := testLogger()

	ctx, cancel := context.WithCancel(context.Background())
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	board, err := sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		cancel()
		br.Close()
		t.Fatal(err)
	}
	boardDone := make(chan struct{})
	go func() { _ = board.Run(ctx); close(boardDone) }()

	cfg := settings.Defaults()
	cfg.BaseID = baseID
	cfg.StateDir = t.TempDir()
	cfg.MQTT.Broker = br.URL()
	cfg.SIP.Listen = fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, false)) // UDP and TCP both free
	cfg.SIP.RTPPortMin, cfg.SIP.RTPPortMax = 0, 0
	d, err := daemon.New(cfg, daemon.Options{
		Board: board.HAL(),
		Log:   log.With("base", baseID),
		SIP:   func(c *sipua.Config) { c.RTPPortMin, c.RTPPortMax = 0, 0 },
		Agent: func(o *provisioning.Options) {
			o.ConnectRetryInterval = 100 * time.Millisecond
			o.MaxReconnectInterval = time.Second
		},
	})
	if err != nil {
		cancel()
		board.Close()
		br.Close()
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	o := &office{t: t, k: k, board: board, d: d, ctx: ctx}
	t.Cleanup(func() {
		if o.cloud != nil {
			o.cloud.Close()
		}
		cancel()
		select {
		case err := <-runDone:
			if err != nil {
				t.Errorf("daemon Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the daemon did not stop within 10 s of its context ending")
		}
		<-boardDone
		board.Close()
		br.Close()
	})

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	o.cloud, err = cloud.Dial(dctx, cloud.Options{Brokers: []string{br.URL()}, ClientID: "e2e-portal", Logger: log.With("e2e", "portal")})
	if err != nil {
		t.Fatalf("portal client: %v", err)
	}
	c := &provisioning.Config{
		Schema:  provisioning.SchemaVersion,
		Base:    baseID,
		Version: 1,
		System: provisioning.System{
			Registrars: []string{k.URI()},
			ToneRegion: "US",
			TimeZone:   "America/Toronto",
		},
	}
	for _, u := range users {
		e := provisioning.Extension{
			Number:          u.Number,
			DisplayName:     u.Name,
			SIP:             provisioning.SIPAccount{User: u.Number, Password: u.Password, Domain: "127.0.0.1"},
			CallerID:        "+1613555" + "0" + u.Number,
			VoicemailNumber: "*97",
		}
		if u.Number == "101" {
			e.Devices.Port = provisioning.PortDeviceID
		}
		c.Extensions = append(c.Extensions, e)
	}
	pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
	defer pcancel()
	if _, err := o.cloud.Push(pctx, c, nil); err != nil {
		t.Fatalf("pushing the office's configuration: %v", err)
	}
	o.eventually("101 registered at kamailio", 10*time.Second, func() bool { return o.registered("101") })
	k.WaitLog(t, "MARK-REGISTERED sip:101@127.0.0.1", 2*time.Second)
	o.eventually("the DECT module ready", 10*time.Second, func() bool { return o.d.Status().RadioReady })
	return o
}

func (o *office) registered(ext string) bool {
	for _, r := range o.d.Status().Registrations {
		if r.Extension == ext && r.State == provisioning.RegRegistered {
			return true
		}
	}
	return false
}

// eventually polls cond every 20 ms until it holds, or fails the test.
func (o *office) eventually(what string, d time.Duration, cond func() bool) {
	o.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			o.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// linesIdle reports whether every line of the base is idle.
func (o *office) linesIdle() bool {
	for _, l := range o.d.Status().Lines {
		if l.State != "idle" {
			return false
		}
	}
	return true
}

// phone starts baresip as user (of users) playing a tone of hz.
func (o *office) phone(number string, hz float64, trace bool) *testpeer.Baresip {
	o.t.Helper()
	for _, u := range users {
		if u.Number == number {
			return testpeer.StartBaresip(o.t, testpeer.BaresipOptions{
				User: u.Number, Password: u.Password, DisplayName: u.Name, Registrar: o.k.Addr(),
				ToneHz: hz, Answer: "manual", SIPTrace: trace,
			})
		}
	}
	o.t.Fatalf("no user %s", number)
	return nil
}

// pairLinx registers a new simulated Linx as the portal's "Register New
// Device" does: the cloud's command opens the base's registration window,
// the Linx pairs with the PIN, and the command's result names the device.
func (o *office) pairLinx(pin string) (*radio.Device, string) {
	o.t.Helper()
	_, dev, err := o.board.AddDevice("linx", radio.DeviceOptions{})
	if err != nil {
		o.t.Fatal(err)
	}
	type res struct {
		r   *provisioning.Result
		err error
	}
	done := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(o.ctx, 30*time.Second)
		defer cancel()
		r, err := o.cloud.RegisterDevice(ctx, baseID, 60*time.Second, pin, nil)
		done <- res{r, err}
	}()
	o.eventually("the base's registration window opens", 15*time.Second, func() bool {
		select {
		case r := <-done:
			o.t.Fatalf("RegisterDevice ended before the window opened: %+v, %v", r.r, r.err)
		default:
		}
		return o.board.Radio.RegistrationOpen()
	})
	pctx, pcancel := context.WithTimeout(o.ctx, 15*time.Second)
	defer pcancel()
	if err := dev.Pair(pctx, pin); err != nil {
		o.t.Fatalf("pairing the Linx with PIN %s: %v", pin, err)
	}
	var r res
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		o.t.Fatal("RegisterDevice gave no result within 30 s")
	}
	if r.err != nil {
		o.t.Fatalf("RegisterDevice: %v", r.err)
	}
	if r.r.Status != provisioning.StatusSucceeded || r.r.Device == nil {
		o.t.Fatalf("RegisterDevice result %+v", r.r)
	}
	if r.r.Device.Type != provisioning.DeviceLinx {
		o.t.Fatalf("paired device is a %q, want a linx", r.r.Device.Type)
	}
	return dev, r.r.Device.ID
}

// ---- signal checks (independent of the daemon's and the simulator's DSP) ----

// tonePower is the share of x's energy at freq (Goertzel; 1 for a pure
// sine at freq over a whole number of cycles).
func tonePower(x []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2, e float64
	for _, v := range x {
		s := float64(v) + k*s1 - s2
		s2, s1 = s1, s
		e += float64(v) * float64(v)
	}
	if e == 0 {
		return 0
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	return p / (e * float64(len(x)) / 2)
}

// dominantHz scans 200–3400 Hz in 5 Hz steps and returns the strongest
// frequency of x, or 0 when x is (near) silent.
func dominantHz(x []int16) float64 {
	if len(x) < 80 || rms(x) < 200 {
		return 0
	}
	best, bestP := 0.0, 0.0
	for f := 200.0; f <= 3400; f += 5 {
		if p := tonePower(x, f); p > bestP {
			best, bestP = f, p
		}
	}
	return best
}

func rms(x []int16) float64 {
	if len(x) == 0 {
		return 0
	}
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(x)))
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// last returns the last n samples of x.
func last(x []int16, n int) []int16 {
	if len(x) > n {
		return x[len(x)-n:]
	}
	return x
}

// earHz is the dominant frequency of the last 0.25 s the analog phone
// heard.
func (o *office) earHz() float64 { return dominantHz(last(o.board.Phone.EarAudio(), 2000)) }

// toneSamples is a sine at hz, 8 kHz, amplitude 8000.
func toneSamples(hz float64, d time.Duration) []int16 {
	n := int(d.Seconds() * 8000)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return out
}

// recordedTone checks that baresip's recording of its last call carries
// freq in at least a second's worth of 100 ms blocks, and returns the
// number of such blocks.
func recordedTone(t *testing.T, b *testpeer.Baresip, freq float64) int {
	t.Helper()
	var x []int16
	var err error
	deadline := time.Now().Add(3 * time.Second)
	for {
		x, err = b.Decoded()
		if err == nil && len(x) > 8000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s's recording: %v (%d samples)", b.User, err, len(x))
		}
		time.Sleep(100 * time.Millisecond)
	}
	blocks := 0
	for i := 0; i+800 <= len(x); i += 800 {
		seg := x[i : i+800]
		if rms(seg) > 500 && near(dominantHz(seg), freq, 15) {
			blocks++
		}
	}
	if blocks < 10 {
		t.Fatalf("baresip %s heard %.0f Hz in only %d of %d 100 ms blocks of its recording", b.User, freq, blocks, len(x)/800)
	}
	t.Logf("baresip %s heard %.0f Hz in %d of %d 100 ms blocks", b.User, freq, blocks, len(x)/800)
	return blocks
}

// sipTrace returns the SIP messages baresip printed with -s (each
// "#", a "UDP from -> to" line, the message, in colour escapes) that
// contain every one of words.
func sipTrace(b *testpeer.Baresip, words ...string) []string {
	var out []string
	for _, m := range strings.Split(b.Output(), "\x1b[36;1m#\n")[1:] {
		m, _, _ = strings.Cut(m, "\x1b[;m")
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(m, w)
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}
