package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/radio"
	"basestation/sim/slic"
)

// Restart survival (issue 11, item 2): the daemon runs as its own process
// (the real basestationd binary, built here) against the simulated board
// served by basesim --serve-board's world. It is killed with SIGKILL while
// the port rings, during a call on the port, during a call on a Linx and
// while the registration window is open, then started again against the
// same board. Within 2 s of the restart the line is safe (ringing stopped,
// linefeed forward-active for the hook state), the chip was reset and
// re-verified, the radio link resynchronised (the module rebooted and
// every paired device re-attached, so no pairing was lost), every
// extension registered again by the new process, and a phone left
// off-hook hears dial tone. Each case runs restartRounds times in a row.
func TestRestartSurvival(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	r := startRestartRig(t)
	start := time.Now()
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		med := time.Duration(0)
		if len(r.took) > 0 {
			ts := append([]time.Duration(nil), r.took...)
			sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
			med = ts[len(ts)/2]
		}
		t.Logf("restart survival: %d rounds per case in %v; %d recoveries, median %v, slowest %v (limit %v)",
			rounds, time.Since(start).Round(time.Millisecond), len(r.took), med.Round(time.Millisecond), r.slowest.Round(time.Millisecond), recoveryLimit())
	})
	cases := []struct {
		name    string
		setup   func(e *simEnv, round int) // brings the scenario to the moment of the kill
		offHook bool                       // the analog phone is off-hook across the restart
		cleanup func(e *simEnv)
	}{
		{"port rings", func(e *simEnv, _ int) {
			e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
			e.eventually("the port rings", 8*time.Second, func() bool {
				p, _ := e.w.board.SLIC.Linefeed()
				return p == slic.LFRinging
			})
		}, false, func(e *simEnv) {
			_ = e.call("POST", "/v1/softphones/102/hangup", "", nil)
		}},
		{"call on the port", func(e *simEnv, _ int) {
			e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
			e.eventually("dial tone", 5*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
			e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
			e.eventually("Bob's phone rings", 10*time.Second, func() bool { return e.softphone("102").State == "incoming" })
			e.mustOK("POST", "/v1/softphones/102/answer", "", nil)
			e.eventually("connected", 10*time.Second, func() bool { return e.softphone("102").State == "connected" })
		}, true, func(e *simEnv) {
			_ = e.call("POST", "/v1/softphones/102/hangup", "", nil)
			_ = e.call("POST", "/v1/ports/1/onhook", "", nil)
		}},
		{"call on a Linx", func(e *simEnv, _ int) {
			e.mustOK("POST", "/v1/devices/"+r.linx+"/offhook", "", nil)
			time.Sleep(300 * time.Millisecond)
			e.mustOK("POST", "/v1/devices/"+r.linx+"/dial", `{"digits":"102#"}`, nil)
			e.eventually("Bob's phone rings", 10*time.Second, func() bool { return e.softphone("102").State == "incoming" })
			e.mustOK("POST", "/v1/softphones/102/answer", "", nil)
			e.eventually("the Linx's call is connected", 10*time.Second, func() bool {
				return e.softphone("102").State == "connected" && e.device(r.linx).AudioRate != 0
			})
		}, false, func(e *simEnv) {
			_ = e.call("POST", "/v1/softphones/102/hangup", "", nil)
			_ = e.call("POST", "/v1/devices/"+r.linx+"/onhook", "", nil)
		}},
		{"pairing", func(e *simEnv, round int) {
			e.mustOK("POST", "/v1/base/button", `{"held_ms": 3500}`, nil)
			e.eventually("registration window open", 8*time.Second, func() bool { return e.w.board.Radio.RegistrationOpen() })
			if round < 5 { // the module holds 8 devices: a Headset pairs, killed mid-way, in the first rounds
				var dv deviceView
				e.mustOK("POST", "/v1/devices", `{"kind":"headset"}`, &dv)
				r.mu.Lock()
				r.headsets = append(r.headsets, dv.Name)
				r.mu.Unlock()
				e.mustOK("POST", "/v1/devices/"+dv.Name+"/pair", `{"pin":"0000"}`, nil)
			}
		}, false, func(e *simEnv) {}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			e := r.env(t)
			t0 := time.Now()
			// A failed round still leaves the office idle for the next case.
			t.Cleanup(func() {
				c.cleanup(e)
				_ = e.call("POST", "/v1/softphones/102/hangup", "", nil)
			})
			for i := 0; i < rounds; i++ {
				func() {
					defer func() {
						if t.Failed() {
							r.mu.Lock()
							log := tail(r.stderr.String(), 12000)
							r.mu.Unlock()
							t.Logf("(in round %d) phone %+v; PBX calls %+v\ndaemon's log (tail):\n%s", i+1, r.w.board.Phone.State(), r.w.pbx.Calls(), log)
						}
					}()
					c.setup(e, i)
					r.killAndRestart(e, c.offHook, fmt.Sprintf("%s, round %d", c.name, i+1))
					c.cleanup(e)
					e.eventually("Bob idle", 10*time.Second, func() bool { return e.softphone("102").State == "idle" })
					e.eventually("the Linx idle", 10*time.Second, func() bool { return e.device(r.linx).Call == radio.CallIdle })
				}()
			}
			t.Logf("%s: %d rounds in %v", c.name, rounds, time.Since(t0).Round(time.Millisecond))
			r.mu.Lock()
			hs := append([]string(nil), r.headsets...)
			r.mu.Unlock()
			for _, n := range hs {
				st := e.device(n)
				t.Logf("%s paired as the daemon was killed: registered %v, attached %v", n, st.Registered, st.Attached)
			}
		})
	}
}

// restartRig is the simulated office served on a socket, with a Linx paired
// and assigned to 103, and the daemon process driving it.
type restartRig struct {
	t        *testing.T
	w        *world
	api      *httptest.Server
	bin      string
	args     []string
	linx     string
	headsets []string // paired during a restart (guarded by mu)
	mu       sync.Mutex
	cmd      *exec.Cmd
	stderr   *lockedBuf
	slowest  time.Duration
	took     []time.Duration // every recovery (guarded by mu)
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startRestartRig(t *testing.T) *restartRig {
	t.Helper()
	dir, err := os.MkdirTemp("", "rs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "basestationd")
	if out, err := exec.Command("go", "build", "-o", bin, "basestation/cmd/basestationd").CombinedOutput(); err != nil {
		t.Fatalf("go build basestationd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opt := defaultOptions()
	opt.MQTT, opt.PBX, opt.SIP, opt.API = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", ""
	opt.StateDir = filepath.Join(dir, "state")
	opt.Log = testLogger(t)
	opt.ServeBoard = filepath.Join(dir, "board.sock")
	w, err := newWorld(ctx, opt)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
	defer scancel()
	if err := w.seedConfig(sctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	// A fixed SIP port, as on the board: the restarted daemon's REGISTER
	// replaces the killed one's binding instead of adding a dead contact.
	// The daemon listens on it for UDP and TCP: it must be free for both
	// (a port free for UDP alone was found taken on TCP in CI, and the
	// daemon could not start).
	sipAddr := fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, false))
	conf := filepath.Join(dir, "basestationd.json")
	if err := os.WriteFile(conf, []byte(`{"sip": {"rtp_port_min": 47000, "rtp_port_max": 47999}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &restartRig{t: t, w: w, api: httptest.NewServer(w.handler()), bin: bin,
		args: []string{"--config", conf, "--board", "virtual:" + opt.ServeBoard, "--base-id", opt.BaseID, "--state-dir", opt.StateDir,
			"--broker", w.broker.URL(), "--sip-listen", sipAddr, "--log-level", "debug"}}
	t.Cleanup(func() {
		r.stop()
		r.api.Close()
		cancel()
		time.Sleep(300 * time.Millisecond)
	})
	r.start()
	e := r.env(t)
	e.eventually("101 registered by the daemon process", 10*time.Second, func() bool { return len(r.bindings("101")) > 0 })
	linx, id := e.registerDevice("linx", "1234")
	if out, err := e.bsctl("assign", "--ext", "103", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("103 registered for the Linx", 10*time.Second, func() bool { return len(r.bindings("103")) > 0 })
	r.linx = linx
	return r
}

func (r *restartRig) env(t *testing.T) *simEnv { return &simEnv{t: t, w: r.w, api: r.api} }

// start runs a new daemon process.
func (r *restartRig) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, r.args...)
	buf := &lockedBuf{}
	cmd.Stderr = buf
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.cmd, r.stderr = cmd, buf
	r.mu.Unlock()
}

// stop ends the daemon process, if any, with SIGTERM.
func (r *restartRig) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// bindings returns the Call-IDs of ext's registrations at the PBX.
func (r *restartRig) bindings(ext string) []string {
	var ids []string
	for _, b := range r.w.pbx.Registrations() {
		if b.Ext == ext {
			ids = append(ids, b.CallID)
		}
	}
	sort.Strings(ids)
	return ids
}

// killAndRestart SIGKILLs the daemon, checks that the hardware kept its
// state, starts a new daemon and checks the recovery within 2 s.
func (r *restartRig) killAndRestart(e *simEnv, offHook bool, what string) {
	t := e.t
	t.Helper()
	sb := r.w.board
	ringing, _ := sb.SLIC.Linefeed()
	old := map[string]bool{}
	for _, ext := range []string{"101", "103"} {
		for _, id := range r.bindings(ext) {
			old[id] = true
		}
	}
	boots := sb.Radio.Stats().Boots
	table := sb.Radio.Table()
	r.mu.Lock()
	cmd, prevLog := r.cmd, r.stderr
	r.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	// The board does not notice: a ringing line keeps ringing.
	if p, _ := sb.SLIC.Linefeed(); p != ringing {
		t.Fatalf("%s: the linefeed changed from %v to %v when the daemon died", what, ringing, p)
	}
	r.start()
	restarted := time.Now()
	deadline := restarted.Add(recoveryLimit())
	var why string
	for {
		why = r.recovered(e, killed, offHook, boots, table, old)
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			log := r.stderr.String()
			r.mu.Unlock()
			t.Fatalf("%s: %v after the restart: %s\nnew daemon's log:\n%s\nkilled daemon's log (tail):\n%s", what, recoveryLimit(), why, log, tail(prevLog.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(restarted)
	r.mu.Lock()
	r.took = append(r.took, took)
	if took > r.slowest {
		r.slowest = took
	}
	r.mu.Unlock()
}

// recoveryLimit is the 2 s of the acceptance. A -race build slows the
// simulated board (in this process) several times and CI shares two cores
// between every package's tests; there the limit only bounds a failure.
func recoveryLimit() time.Duration {
	d := 2 * time.Second
	if raceEnabled || testpeer.InCI() {
		d *= 3
	}
	return d
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// recovered returns what is not yet as it must be after a restart, or "".
func (r *restartRig) recovered(e *simEnv, killed time.Time, offHook bool, boots uint64, table []radio.ModuleEntry, old map[string]bool) string {
	sb := r.w.board
	prog, actual := sb.SLIC.Linefeed()
	ph := sb.Phone.State()
	switch {
	case prog == slic.LFRinging || actual == slic.LFRinging || ph.Ringing:
		return fmt.Sprintf("still ringing (linefeed %v/%v)", prog, actual)
	case offHook && prog != slic.LFForwardActive:
		return fmt.Sprintf("off-hook line fed %v, want forward-active", prog)
	case !offHook && prog != slic.LFForwardActive && prog != slic.LFForwardOHT:
		return fmt.Sprintf("on-hook line fed %v, want forward-active", prog)
	}
	reset := false
	for _, ev := range sb.SLIC.Timeline() {
		if ev.Kind == slic.ResetEvent && ev.At.After(killed) && strings.Contains(ev.Note, "released") {
			reset = true
		}
	}
	r.mu.Lock()
	log := r.stderr.String()
	r.mu.Unlock()
	if !reset || !strings.Contains(log, "proslic ready") {
		return fmt.Sprintf("the chip was not reset and re-verified (reset seen %v)", reset)
	}
	if sb.Radio.Stats().Boots <= boots {
		return "the DECT module was not reset and resynchronised"
	}
	now := map[uint64]bool{}
	for _, en := range sb.Radio.Table() {
		now[en.IPEI] = true
	}
	for _, en := range table {
		if !now[en.IPEI] {
			return fmt.Sprintf("the module lost the pairing of %s %d", en.Type, en.IPEI)
		}
	}
	r.mu.Lock()
	names := append([]string{r.linx}, r.headsets...)
	r.mu.Unlock()
	for i, n := range names {
		d, err := sb.Device(n)
		if err != nil {
			return err.Error()
		}
		// A device that completed pairing, even as the daemon died, is
		// served by the new one; one that did not may pair again.
		if st := d.State(); (i == 0 || st.Registered) && (!st.Attached || st.Denied != "") {
			return fmt.Sprintf("%s (registered %v) is not attached again (denied %q)", n, st.Registered, st.Denied)
		}
	}
	for _, ext := range []string{"101", "103"} {
		fresh := false
		for _, id := range r.bindings(ext) {
			fresh = fresh || !old[id]
		}
		if !fresh {
			return "extension " + ext + " is not registered by the new daemon"
		}
	}
	if offHook && ph.Hearing != "dial" {
		return fmt.Sprintf("the phone left off-hook hears %q, want dial tone", ph.Hearing)
	}
	return ""
}
