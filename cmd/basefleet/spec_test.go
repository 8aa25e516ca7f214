package main

import (
	"bytes"
	"flag"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestShardSplitCoversTheFleetOnce(t *testing.T) {
	for _, total := range []int{1, 2, 7, 500, 10000} {
		for n := 1; n <= 7; n++ {
			next, smallest, largest := 0, total, 0
			for k := 1; k <= n; k++ {
				lo, hi := shard{k, n}.indexes(total)
				if lo != next {
					t.Fatalf("total %d, shard %d/%d starts at %d, want %d", total, k, n, lo, next)
				}
				next = hi
				smallest, largest = min(smallest, hi-lo), max(largest, hi-lo)
			}
			if next != total || largest-smallest > 1 {
				t.Fatalf("total %d over %d shards: ends at %d, sizes %d..%d", total, n, next, smallest, largest)
			}
		}
	}
}

func TestParseShard(t *testing.T) {
	if s, err := parseShard("2/3"); err != nil || s != (shard{2, 3}) {
		t.Fatalf("2/3: %v %v", s, err)
	}
	for _, bad := range []string{"", "1", "0/2", "3/2", "1/0", "-1/2", "a/b", "1/2/3", " 1/2"} {
		if _, err := parseShard(bad); err == nil || !strings.Contains(err.Error(), "k/n") {
			t.Errorf("shard %q accepted (%v)", bad, err)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/3", "0/0", "9/x", "1/2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := parseShard(s)
		if err != nil {
			return
		}
		if sh.K < 1 || sh.K > sh.N {
			t.Fatalf("%q parsed as %v", s, sh)
		}
		lo, hi := sh.indexes(1000)
		if lo < 0 || hi > 1000 || lo > hi {
			t.Fatalf("%q: range %d..%d", s, lo, hi)
		}
	})
}

func TestSpecsAreDistinctAndOnLoopback(t *testing.T) {
	first := netip.MustParseAddr("127.1.0.1")
	seen := map[string]bool{}
	for i := 0; i < 70000; i += 7 {
		s, err := makeSpec("f-", first, i)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Contact.IsLoopback() || seen[s.Contact.String()] || seen[s.ID] || seen[s.linxID()] {
			t.Fatalf("base %d: %s %s %s repeats or is off loopback", i, s.ID, s.Contact, s.linxID())
		}
		seen[s.Contact.String()], seen[s.ID], seen[s.linxID()] = true, true, true
	}
	s, _ := makeSpec("f-", first, 257)
	if s.Contact.String() != "127.1.1.2" || s.ID != "f-00257" || s.Users[1].User != "f-00257-102" {
		t.Fatalf("base 257: %s %s %s", s.Contact, s.ID, s.Users[1].User)
	}
	if _, err := makeSpec("f-", netip.MustParseAddr("127.255.255.250"), 10); err == nil {
		t.Fatal("a contact address past 127.255.255.255 was accepted")
	}
	if _, err := makeSpec("Bad_", first, 0); err == nil {
		t.Fatal("an upper-case base id prefix was accepted")
	}
}

func TestConfigNamesTheLinxOnlyOncePaired(t *testing.T) {
	s, _ := makeSpec("f-", netip.MustParseAddr("127.1.0.1"), 3)
	c := s.config("sip:127.0.0.1:5060", 4, false)
	if c.Version != 4 || len(c.Extensions) != 2 || c.Extensions[1].Devices.Linx != "" || c.Extensions[0].SIP.Domain != "127.0.0.1" {
		t.Fatalf("unpaired config: %+v", c)
	}
	if c := s.config("sip:127.0.0.1:5060", 5, true); c.Extensions[1].Devices.Linx != "dect-100000003" {
		t.Fatalf("paired config names %q", c.Extensions[1].Devices.Linx)
	}
}

func TestFlagsRefuseBadInput(t *testing.T) {
	ok := []string{"-broker", "tcp://127.0.0.1:1883", "-registrar", "sip:127.0.0.1:5060"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-registrar", "sip:127.0.0.1:5060"}, "broker"},
		{append(ok, "-n", "0"), "-n 0"},
		{append(ok, "-shard", "3/2"), "k/n"},
		{[]string{"-broker", "tcp://127.0.0.1:1883", "-registrar", "sip:pbx.example.com"}, "not an IP"},
		{[]string{"-broker", "127.0.0.1:1883", "-registrar", "sip:127.0.0.1"}, "tcp://"},
		{append(ok, "-sip-first", "::1"), "IPv4"},
		{append(ok, "-sip-first", "224.0.0.1"), "IPv4"},
		{append(ok, "-n", "20", "-sip-first", "10.255.255.250"), "past 10.255.255.255"},
		{append(ok, "-broker-stop", "true"), "go together"},
		{append(ok, "-pcm-pace", "1ms"), "pcm-pace"},
		{append(ok, "-boot", "-1s"), "negative"},
		{append(ok, "extra"), "unexpected"},
	} {
		var stderr bytes.Buffer
		_, _, _, err := parseFlags(flag.NewFlagSet("t", flag.ContinueOnError), c.args, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one naming %q", c.args, err, c.want)
		}
	}
	o, _, _, err := parseFlags(flag.NewFlagSet("t", flag.ContinueOnError), append(ok, "-n", "10", "-boot", "2s", "-steady", "1s"), &bytes.Buffer{})
	if err != nil || o.N != 10 || o.Timeout != 2*time.Second+60*time.Second+time.Second+2*time.Minute {
		t.Fatalf("good flags: %+v %v", o, err)
	}
}

func TestPrintUsers(t *testing.T) {
	var out bytes.Buffer
	code, err := mainErr(t.Context(), []string{"-n", "4", "-shard", "2/2", "-print-users"}, &out, &bytes.Buffer{})
	if err != nil || code != 0 {
		t.Fatal(code, err)
	}
	want := "fleet-00002-101 pw-fleet-00002-101\nfleet-00002-102 pw-fleet-00002-102\nfleet-00003-101 pw-fleet-00003-101\nfleet-00003-102 pw-fleet-00003-102\n"
	if out.String() != want {
		t.Fatalf("got\n%s", out.String())
	}
}

func TestParseVmRSS(t *testing.T) {
	for in, want := range map[string]int64{
		"Name:\tx\nVmRSS:\t  1234 kB\nVmHWM: 9 kB\n": 1234 * 1024,
		"VmRSS: 12 MB\n": 0,
		"VmRSS: -1 kB\n": 0,
		"VmRSS:\n":       0,
		"VmHWM: 5 kB\n":  0,
		"VmRSS: 0x10 kB": 0,
	} {
		if got := parseVmRSS([]byte(in)); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
	if rssBytes() <= 0 {
		t.Error("this process's RSS not read")
	}
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte("VmRSS:\t 100 kB\n"))
	f.Add([]byte("VmRSS: 1 MB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := parseVmRSS(b); v < 0 || v%1024 != 0 {
			t.Fatalf("%q: %d", b, v)
		}
	})
}

func TestDistNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	d := distOf(ds)
	if d.N != 100 || d.Min != 1 || d.P50 != 50 || d.P90 != 90 || d.P99 != 99 || d.Max != 100 {
		t.Fatalf("%+v", d)
	}
	if d := distOf([]time.Duration{7 * time.Millisecond}); d.P99 != 7 || d.P50 != 7 {
		t.Fatalf("one sample: %+v", d)
	}
	if d := distOf(nil); d.N != 0 {
		t.Fatalf("none: %+v", d)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	if err := raiseFileLimit(10); err != nil {
		t.Fatal(err)
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur < 10*fdsPerBase+512 {
		t.Fatalf("limit %+v, %v", l, err)
	}
	// Beyond what any process may have: refused with the figures named.
	err := raiseFileLimit(1 << 40)
	if err == nil || !strings.Contains(err.Error(), "open files") || !strings.Contains(err.Error(), "ulimit -n") {
		t.Fatalf("an impossible limit: %v", err)
	}
}

// TestPushShortfall: failed registration pushes within the allowed
// fraction are reported but pass; one more fails the run.
func TestPushShortfall(t *testing.T) {
	rep := func(done int) *report {
		r := newRecorder()
		for range done {
			r.add("push→paired", time.Millisecond)
		}
		for range 10 - done {
			r.errorf("push-pair", "refused")
		}
		return r.report(&fleetRun{o: options{Shard: shard{1, 1}, Pushes: 10, PushShortfall: 0.1}, rec: r})
	}
	if r := rep(9); !r.Pass || r.Errors["push-pair"] != 1 {
		t.Fatalf("9 of 10 with 10 %% allowed: pass %v, errors %v, %v", r.Pass, r.Errors, r.Failures)
	}
	if r := rep(8); r.Pass || len(r.Failures) != 2 {
		t.Fatalf("8 of 10: pass %v, %v", r.Pass, r.Failures)
	}
	r := newRecorder()
	r.errorf("config-push", "x")
	if rp := r.report(&fleetRun{o: options{Shard: shard{1, 1}, PushShortfall: 1}, rec: r}); rp.Pass {
		t.Fatal("an error of another kind passed")
	}
}
