package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// TestFleetBenchmark is the measurement behind BENCHMARKS.md, run only
// when BASEFLEET_BENCH is set to the fleet size: a boot storm of N bases
// (started within BASEFLEET_BOOT, 30 s, each pairing its Linx so both
// extensions register, all complete BASEFLEET_GRACE, 30 s, later) against mosquitto and kamailio, an idle window, registration-
// mode pushes with N connected, then SIPp's REGISTER scenario against the
// same kamailio with the same users. BASEFLEET_REPORT names a file for the
// JSON report.
func TestFleetBenchmark(t *testing.T) {
	s := os.Getenv("BASEFLEET_BENCH")
	if s == "" {
		t.Skip("BASEFLEET_BENCH=N runs the fleet benchmark")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("BASEFLEET_BENCH=%q is not a fleet size", s)
	}
	idle := envDuration(t, "BASEFLEET_IDLE", 30*time.Second)
	first := netip.MustParseAddr("127.4.0.1")
	broker := startMosquitto(t)
	kam := kamailioFor(t, "b-", first, n)
	boot := envDuration(t, "BASEFLEET_BOOT", 30*time.Second)
	grace := envDuration(t, "BASEFLEET_GRACE", 30*time.Second)
	var fleetRate float64
	pass := true
	if shards := os.Getenv("BASEFLEET_SHARDS"); shards != "" {
		// Shards as processes of the basefleet binary, side by side on
		// this host (one process may hold fewer descriptors than a large
		// fleet needs).
		k, err := strconv.Atoi(shards)
		if err != nil || k < 1 {
			t.Fatalf("BASEFLEET_SHARDS=%q is not a count", shards)
		}
		reps := runShardProcesses(t, k, []string{"-n", fmt.Sprint(n), "-prefix", "b-", "-broker", broker.url,
			"-registrar", kam.URI(), "-sip-first", first.String(), "-sip-port", "25062", "-boot", boot.String(),
			"-boot-grace", grace.String(), "-pair-at-boot", "-idle", idle.String(), "-steady", "30s",
			"-pushes", fmt.Sprint(200 / k), "-push-rate", fmt.Sprint(20 / k)})
		for _, rep := range reps {
			fleetRate += rep.RegistrationsPS
			pass = pass && rep.Pass
		}
	} else {
		o := options{N: n, Shard: shard{1, 1}, Prefix: "b-", Broker: broker.url, Registrar: kam.URI(), FirstIP: first,
			SIPPort: 25062, Boot: boot, BootGrace: grace, PairAtBoot: true,
			Idle: idle, Steady: 30 * time.Second, Pushes: 200, PushRate: 20, Fast: true, QuietRadio: true, Progress: os.Stderr, ProgressEvery: 2 * time.Second}
		if p := os.Getenv("BASEFLEET_LOG"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			o.Log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
		rep := runFleet(t, context.Background(), o)
		if p := os.Getenv("BASEFLEET_REPORT"); p != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Error(err)
			}
		}
		fleetRate, pass = rep.RegistrationsPS, rep.Pass
		if !rep.Pass {
			t.Errorf("fleet run failed: %v", rep.Failures)
		}
	}
	rate, err := sippRegister(t, kam, "b-", first, min(n, 5000))
	if err != nil {
		t.Errorf("SIPp: %v", err)
	} else {
		t.Logf("REGISTER: the fleet %.0f registrations/s (boot storm), SIPp %.0f registrations/s (reg scenario, same kamailio)", fleetRate, rate)
	}
	if !pass {
		t.Error("a shard failed")
	}
}

// runShardProcesses builds basefleet and runs shards 1/k … k/k of it as
// processes side by side with args; it returns their reports (and logs
// their tables and the sum of their resources).
func runShardProcesses(t *testing.T, k int, args []string) []*report {
	dir := t.TempDir()
	bin := filepath.Join(dir, "basefleet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build basefleet: %v\n%s", err, out)
	}
	cmds := make([]*exec.Cmd, k)
	outs := make([]*bytesBuffer, k)
	for i := range k {
		a := append(append([]string(nil), args...), "-shard", fmt.Sprintf("%d/%d", i+1, k), "-quiet",
			"-json", filepath.Join(dir, fmt.Sprintf("shard%d.json", i+1)))
		cmds[i] = exec.Command(bin, a...)
		outs[i] = &bytesBuffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	var reps []*report
	var rss, idle float64
	for i, c := range cmds {
		err := c.Wait()
		t.Logf("shard %d/%d (exit %v):\n%s", i+1, k, err, outs[i].String())
		b, rerr := os.ReadFile(filepath.Join(dir, fmt.Sprintf("shard%d.json", i+1)))
		var rep report
		if rerr != nil || json.Unmarshal(b, &rep) != nil {
			t.Errorf("shard %d/%d: no report", i+1, k)
			continue
		}
		reps = append(reps, &rep)
		for _, s := range rep.Resources {
			if s.At == "idle" {
				rss += float64(s.RSSBytes)
			}
		}
		if rep.Idle != nil {
			idle += rep.Idle.CPUPercentCore
		}
	}
	t.Logf("all shards, idle: RSS %.0f MB, CPU %.1f %% of one core", rss/(1<<20), idle)
	return reps
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q is not a duration", name, s)
	}
	return d
}

// sippScenario registers [field0] with digest authentication (401, then
// 200), as the bases do; [field1] is the authentication keyword.
const sippScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: 600
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
[field1]
Max-Forwards: 70
Expires: 600
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
`

// sippRegister runs SIPp's REGISTER scenario for the users of the first
// count bases (two each) as fast as kamailio answers (at most 200 in
// flight) and returns the registrations per second.
func sippRegister(t *testing.T, kam *testpeer.Kamailio, prefix string, first netip.Addr, count int) (float64, error) {
	bin := testpeer.Require(t, "sipp")[0]
	dir := t.TempDir()
	var users []string
	for i := 0; i < count; i++ {
		s, err := makeSpec(prefix, first, i)
		if err != nil {
			return 0, err
		}
		for _, u := range s.Users {
			// SIPp takes the whole authentication keyword from the
			// injection file (it does not nest [field1] inside it).
			users = append(users, fmt.Sprintf("%s;[authentication username=%s password=%s]", u.User, u.User, u.Password))
		}
	}
	sort.Strings(users)
	csv := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(csv, []byte("SEQUENTIAL\n"+strings.Join(users, "\n")+"\n"), 0o600); err != nil {
		return 0, err
	}
	sf := filepath.Join(dir, "reg.xml")
	if err := os.WriteFile(sf, []byte(sippScenario), 0o600); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, kam.Addr(), "-sf", sf, "-inf", csv, "-m", fmt.Sprint(len(users)),
		"-r", "100000", "-l", "200", "-i", "127.0.0.1", "-p", fmt.Sprint(testpeer.FreePort(t, false)), "-nostdin", "-timeout", "120s", "-trace_err")
	cmd.Dir = dir
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, testpeer.Tail(string(out), 2000))
	}
	return float64(len(users)) / el.Seconds(), nil
}
