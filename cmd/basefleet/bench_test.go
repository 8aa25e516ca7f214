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
	o := options{N: n, Shard: shard{1, 1}, Prefix: "b-", Broker: broker.url, Registrar: kam.URI(), FirstIP: first,
		SIPPort: 25062, Boot: envDuration(t, "BASEFLEET_BOOT", 30*time.Second), BootGrace: envDuration(t, "BASEFLEET_GRACE", 30*time.Second), PairAtBoot: true,
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
	rate, err := sippRegister(t, kam, "b-", first, min(n, 5000))
	if err != nil {
		t.Errorf("SIPp: %v", err)
	} else {
		t.Logf("REGISTER: the fleet %.0f registrations/s (boot storm), SIPp %.0f registrations/s (reg scenario, same kamailio)", rep.RegistrationsPS, rate)
	}
	if !rep.Pass {
		t.Errorf("fleet run failed: %v", rep.Failures)
	}
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
