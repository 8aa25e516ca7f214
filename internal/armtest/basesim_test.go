package armtest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/phone"
)

// crossBuild builds pkg for linux/goarch (GOARM=7 for arm) into dir.
func crossBuild(t *testing.T, dir, pkg, goarch string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg)+"-"+goarch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM=7")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for %s: %v\n%s", pkg, goarch, err, b)
	}
	return out
}

// api is a client of basesim's control API (docs/simulator.md).
type api struct {
	t    *testing.T
	base string
	proc *testpeer.Proc
}

func (a *api) do(method, path, body string, into any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("%s %s %s: %d %s", method, path, body, resp.StatusCode, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// eventually polls cond until it holds, failing after d (longer in CI,
// where qemu shares two cores with every other test).
func (a *api) eventually(what string, d time.Duration, cond func() bool) {
	a.t.Helper()
	if testpeer.InCI() {
		d *= 3
	}
	deadline := time.Now().Add(d)
	for !cond() {
		if a.proc.Exited() {
			a.t.Fatalf("basesim exited while waiting for %s", what)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type portView struct {
	Phone phone.State `json:"phone"`
	// Daemon is what the daemon reports of the port (the line itself,
	// as an instrument, is under "line").
	Daemon struct {
		State string `json:"state"`
	} `json:"daemon"`
}

type softphoneView struct {
	State   string  `json:"state"`
	HeardHz float64 `json:"heard_hz"`
}

func (a *api) port() (v portView) { a.do("GET", "/v1/ports/1", "", &v); return }
func (a *api) softphone(ext string) (v softphoneView) {
	a.do("GET", "/v1/softphones/"+ext, "", &v)
	return
}

func (a *api) registered(ext string) bool {
	var v struct {
		Status struct {
			Registrations []struct {
				Extension, State string
			} `json:"registrations"`
		} `json:"status"`
	}
	a.do("GET", "/v1/base", "", &v)
	for _, r := range v.Status.Registrations {
		if r.Extension == ext && r.State == "registered" {
			return true
		}
	}
	return false
}

// dominantHz is the strongest frequency of x between 200 and 3400 Hz in
// 5 Hz steps (Goertzel), 0 for silence.
func dominantHz(x []int16) float64 {
	best, bestP := 0.0, 0.0
	for f := 200.0; f <= 3400; f += 5 {
		k := 2 * math.Cos(2*math.Pi*f/8000)
		var s1, s2 float64
		for _, v := range x {
			s := float64(v) + k*s1 - s2
			s2, s1 = s1, s
		}
		if p := s1*s1 + s2*s2 - k*s1*s2; p > bestP {
			best, bestP = f, p
		}
	}
	if bestP < float64(len(x))*float64(len(x))*100 {
		return 0
	}
	return best
}

// TestBasesimCallOnARMv7 runs the armv7 daemon (basesim) under
// qemu-arm-static and drives one whole call through its control API:
// Bob's softphone 102 calls 101, the analog phone rings with caller ID
// and goes off-hook, audio flows both ways (judged by frequency at each
// end), the analog phone hangs up and Bob's call ends.
func TestBasesimCallOnARMv7(t *testing.T) {
	qemu := testpeer.Require(t, "qemu-arm-static")[0]
	dir := t.TempDir()
	bin := crossBuild(t, dir, "basestation/cmd/basesim", "arm")

	// It is an ARM (32-bit, EABI) executable: the host cannot run it
	// without qemu.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_ARM || f.Class != elf.ELFCLASS32 {
		t.Fatalf("%s is %v %v, want EM_ARM ELFCLASS32", bin, f.Machine, f.Class)
	}
	f.Close()
	ver, err := exec.Command(qemu, bin, "-version").CombinedOutput()
	if err != nil || !strings.Contains(string(ver), "linux/arm") {
		t.Fatalf("basesim -version under qemu: %v\n%s", err, ver)
	}
	t.Logf("%s", bytes.TrimSpace(ver))

	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", testpeer.FreePort(t, false)) }
	apiAddr := addr()
	proc := testpeer.Start(t, dir, qemu, bin, "-console=false", "-state-dir", filepath.Join(dir, "state"),
		"-api", apiAddr, "-mqtt", addr(), "-pbx", addr(), "-sip", addr(), "-log-level", "warn")
	testpeer.WaitListening(t, apiAddr, 90*time.Second, proc)
	a := &api{t: t, base: "http://" + apiAddr, proc: proc}
	start := time.Now()

	a.eventually("101 registered", 20*time.Second, func() bool { return a.registered("101") })
	a.do("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	a.eventually("the analog phone rings", 15*time.Second, func() bool { return a.port().Phone.Ringing })
	a.eventually("the analog phone shows Bob's caller ID", 15*time.Second, func() bool {
		c := a.port().Phone.CallerID
		return c != nil && c.Number == "102" && c.Name == "Bob Softphone"
	})
	a.do("POST", "/v1/ports/1/offhook", "", nil)
	a.eventually("Bob connected", 10*time.Second, func() bool { return a.softphone("102").State == "connected" })

	// The analog phone speaks 700 Hz; Bob's softphone sends 1000 Hz.
	a.do("POST", "/v1/ports/1/speak", `{"hz":700,"ms":8000}`, nil)
	a.eventually("Bob hears the analog phone's 700 Hz", 10*time.Second, func() bool {
		hz := a.softphone("102").HeardHz
		return hz > 690 && hz < 710
	})
	wav := filepath.Join(dir, "ear.wav")
	a.do("POST", "/v1/ports/1/record", fmt.Sprintf(`{"path":%q}`, wav), nil)
	time.Sleep(2 * time.Second)
	a.do("POST", "/v1/ports/1/stop-recording", "", nil)
	ear, err := phone.ReadWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if len(ear) < 8000 {
		t.Fatalf("the phone's ear recorded %d samples in 2 s", len(ear))
	}
	if hz := dominantHz(ear[len(ear)-4000:]); hz < 985 || hz > 1015 {
		t.Fatalf("the analog phone hears %v Hz, want Bob's 1000 Hz", hz)
	}

	a.do("POST", "/v1/ports/1/onhook", "", nil)
	a.eventually("Bob's call ends", 10*time.Second, func() bool { return a.softphone("102").State == "idle" })
	a.eventually("the port is idle", 10*time.Second, func() bool { return a.port().Daemon.State == "idle" })
	t.Logf("the call under qemu took %v", time.Since(start).Round(time.Millisecond))
}
