package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/sim/radio"
)

var (
	bsctlOnce sync.Once
	bsctlPath string
	bsctlErr  error
)

// bsctl runs the administrator's CLI, built once from cmd/bsctl, against
// the simulated office's broker, as docs/simulator.md shows.
func (e *simEnv) bsctl(args ...string) (string, error) {
	e.t.Helper()
	bsctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bsctl-")
		if err != nil {
			bsctlErr = err
			return
		}
		bsctlPath = filepath.Join(dir, "bsctl")
		out, err := exec.Command("go", "build", "-o", bsctlPath, "basestation/cmd/bsctl").CombinedOutput()
		if err != nil {
			bsctlErr = fmt.Errorf("go build bsctl: %v\n%s", err, out)
		}
	})
	if bsctlErr != nil {
		e.t.Fatal(bsctlErr)
	}
	full := append([]string{"--broker", e.w.broker.URL(), "--base", e.w.opt.BaseID, "--timeout", "30s"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bsctlPath, full...).CombinedOutput()
	return string(out), err
}

// registerLinx runs "bsctl register" and pairs a new simulated Linx while
// the window is open, returning the simulator name and the cloud's id.
func (e *simEnv) registerDevice(kind, pin string) (string, string) {
	e.t.Helper()
	var dv deviceView
	e.mustOK("POST", "/v1/devices", `{"kind":"`+kind+`"}`, &dv)
	type res struct {
		out string
		err error
	}
	// A base just started may refuse the window while its radio module is
	// still coming up (it waits 5 s for it): the administrator tries again.
	var done chan res
	for try := 1; ; try++ {
		done = make(chan res, 1)
		go func() {
			out, err := e.bsctl("--json", "register", "--window", "60s", "--pin", pin)
			done <- res{out, err}
		}()
		var refused *res
		e.eventually("registration window open", 15*time.Second, func() bool {
			select {
			case r := <-done:
				refused = &r
				return true
			default:
			}
			return e.w.board.Radio.RegistrationOpen()
		})
		if refused == nil {
			break
		}
		if try == 3 {
			e.t.Fatalf("bsctl register ended before the window opened, %d times: %v\n%s", try, refused.err, refused.out)
		}
		e.t.Logf("bsctl register ended before the window opened (%v); again:\n%s", refused.err, refused.out)
		time.Sleep(time.Second)
	}
	e.mustOK("POST", "/v1/devices/"+dv.Name+"/pair", `{"pin":"`+pin+`"}`, nil)
	r := <-done
	if r.err != nil {
		e.t.Fatalf("bsctl register: %v\n%s", r.err, r.out)
	}
	// Progress lines for people, then the final result as JSON.
	var id string
	if i := strings.Index(r.out, "{"); i >= 0 {
		var v struct {
			Status string `json:"status"`
			Device *struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"device"`
		}
		if err := json.Unmarshal([]byte(r.out[i:]), &v); err == nil && v.Status == "succeeded" && v.Device != nil {
			id = v.Device.ID
			if v.Device.Type != kind {
				e.t.Errorf("paired device type %q, want %q", v.Device.Type, kind)
			}
		}
	}
	if id == "" {
		e.t.Fatalf("bsctl register printed no paired device:\n%s", r.out)
	}
	return dv.Name, id
}

func (e *simEnv) device(name string) radio.DeviceState {
	var v deviceView
	e.mustOK("GET", "/v1/devices/"+name, "", &v)
	return v.State
}

// Issue 6, first scenario: register a Linx from bsctl, assign it to 101,
// which already has the analog port; a call to 101 rings both at once; the
// Linx answers; audio flows both ways (checked by frequency at the phones);
// hang-up clears both sides. Then removing the Linx from 101 stops it
// ringing for 101 at once, and it cannot call out.
func TestLinxJoinsExtension101(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	linx, id := e.registerDevice("linx", "1234")
	if !strings.HasPrefix(id, "dect-") {
		t.Fatalf("device id %q", id)
	}
	if out, err := e.bsctl("assign", "--ext", "101", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	out, err := e.bsctl("devices", "--ext", "101")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "port1") {
		t.Fatalf("bsctl devices --ext 101: %v\n%s", err, out)
	}

	// Bob calls 101: the analog phone and the Linx ring at once.
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("the analog phone rings", 8*time.Second, func() bool { return e.port().Phone.Ringing })
	e.eventually("the Linx rings", 3*time.Second, func() bool { return e.device(linx).Call == radio.CallRinging })
	if c := e.device(linx).Caller; c.Name != "Bob Softphone" {
		t.Errorf("the Linx shows %+v, want Bob Softphone", c)
	}
	e.eventually("the analog phone shows caller ID", 8*time.Second, func() bool {
		c := e.port().Phone.CallerID
		return c != nil && c.Name == "Bob Softphone"
	})
	// The Linx answers: the analog phone stops ringing.
	e.mustOK("POST", "/v1/devices/"+linx+"/answer", "", nil)
	e.eventually("Bob connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	// The port's line leaves the ringing state (the phone's bell is only
	// on 2 s of every 6, so the line state, not the bell, says it stopped).
	e.eventually("the analog phone stops ringing", 8*time.Second, func() bool { return e.port().Daemon.State != "ringing" })
	if st := e.device(linx).Call; st != radio.CallConnected {
		t.Fatalf("the Linx is %q", st)
	}
	d, _ := e.w.board.Device(linx)
	d.SetSpeech(600, 8000)
	e.eventually("Bob hears the Linx's 600 Hz", 5*time.Second, func() bool {
		hz := e.softphone("102").HeardHz
		return hz > 590 && hz < 610
	})
	e.eventually("the Linx hears Bob's 1000 Hz", 5*time.Second, func() bool {
		f := dominantHz(d.Heard().Last, 80)
		return f > 900 && f < 1100
	})
	// Bob hangs up: both sides clear.
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
	e.eventually("the Linx's call is released", 5*time.Second, func() bool { return e.device(linx).Call == radio.CallIdle })
	// Its user hangs up the analog phone behind the Linx.
	e.mustOK("POST", "/v1/devices/"+linx+"/onhook", "", nil)
	e.eventually("the line is idle", 5*time.Second, func() bool {
		for _, l := range e.w.daemon().Status().Lines {
			if l.State != "idle" {
				return false
			}
		}
		return true
	})

	// Bob calls again; while both ring, the administrator takes the Linx
	// away from 101: it stops ringing at once, the analog phone goes on.
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("the Linx rings again", 8*time.Second, func() bool { return e.device(linx).Call == radio.CallRinging })
	if out, err := e.bsctl("unassign", "--ext", "101", "--device", id); err != nil {
		t.Fatalf("bsctl unassign: %v\n%s", err, out)
	}
	e.eventually("the Linx stops ringing", 3*time.Second, func() bool { return e.device(linx).Call != radio.CallRinging })
	if l := e.port().Daemon.State; l != "ringing" {
		t.Fatalf("the analog phone's line is %q when only the Linx was taken away", l)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("Bob connected to the analog phone", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually("Bob idle", 5*time.Second, func() bool { return e.softphone("102").State == "idle" })

	// The Linx belongs to no extension now: it cannot call out.
	calls := len(e.w.pbx.Calls())
	e.mustOK("POST", "/v1/devices/"+linx+"/offhook", "", nil)
	time.Sleep(300 * time.Millisecond)
	_ = e.call("POST", "/v1/devices/"+linx+"/dial", `{"digits":"102#"}`, nil)
	time.Sleep(time.Second)
	if n := len(e.w.pbx.Calls()); n != calls {
		t.Fatalf("the unassigned Linx placed a call: %+v", e.w.pbx.Calls()[n-1])
	}
	if st := e.softphone("102").State; st != "idle" {
		t.Fatalf("Bob's phone is %q after the unassigned Linx dialed", st)
	}
	_ = e.call("POST", "/v1/devices/"+linx+"/onhook", "", nil)
}
