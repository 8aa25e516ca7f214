package update

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

type fixture struct {
	dir     string
	bus     bus
	pki     pki
	srv     *server
	good    []byte // 1.2.0, healthy
	bad     []byte // 1.2.0, never registers
	rogue   []byte // 1.2.0 signed by another CA
	foreign []byte // 1.2.0 for another board
	old     []byte // 1.0.0
}

func newFixture(t *testing.T) *fixture {
	testpeer.Require(t, "rauc", "dbus-daemon", "mksquashfs", "openssl")
	dir := t.TempDir()
	f := &fixture{dir: dir, pki: newPKI(t, dir)}
	f.bus = startBus(t, dir)
	f.srv = startServer(t, dir)
	p := f.pki
	f.good = bundle(t, dir, "good", compatible, "1.2.0", "good", p.signCert, p.signKey)
	f.bad = bundle(t, dir, "bad", compatible, "1.2.0", "bad", p.signCert, p.signKey)
	f.rogue = bundle(t, dir, "rogue", compatible, "1.2.0", "good", p.rogueCert, p.rogueKey)
	f.foreign = bundle(t, dir, "foreign", "other-board", "1.2.0", "good", p.signCert, p.signKey)
	f.old = bundle(t, dir, "old", compatible, "1.0.0", "good", p.signCert, p.signKey)
	for name, b := range map[string][]byte{"good": f.good, "bad": f.bad, "rogue": f.rogue, "foreign": f.foreign, "old": f.old} {
		f.srv.put("/"+name+".raucb", b)
	}
	return f
}

func (f *fixture) machine(t *testing.T, name string, hc helperConfig) *machine {
	d := filepath.Join(f.dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	hc.CA = f.srv.caPath
	if hc.IdleMS == 0 {
		hc.IdleMS = 10000
	}
	if hc.HealthMS == 0 {
		hc.HealthMS = 200
	}
	return newMachine(t, d, f.bus, f.pki, hc)
}

func lastFinal(t *testing.T, m *machine, id string) Job {
	t.Helper()
	rs := m.reports()
	fs := finals(rs, id)
	if len(fs) != 1 {
		t.Fatalf("job %s: final results %v, want exactly one", id, fs)
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].ID == id && Final(rs[i].State) {
			return rs[i]
		}
	}
	panic("unreachable")
}

// TestRAUCGoodAndBadHealthUpdate: a healthy 1.2.0 ends succeeded running
// from slot B marked good; a build that never registers is not marked
// good, the bootloader falls back after its attempts and the old image
// reports rolled-back.
func TestRAUCGoodAndBadHealthUpdate(t *testing.T) {
	f := newFixture(t)
	t.Run("good", func(t *testing.T) {
		m := f.machine(t, "good", helperConfig{Request: request(f.srv, "fw-good", "/good.raucb", "1.2.0", f.good)})
		m.settle()
		j := lastFinal(t, m, "fw-good")
		if j.State != Succeeded {
			t.Fatalf("final %s (%s), want succeeded", j.State, j.Detail)
		}
		if m.booted != "B" {
			t.Fatalf("running from %s, want B", m.booted)
		}
		st := m.bootState()
		if st["primary=B"] != 1 || st["B_trial"] != 0 || st["B_attempts"] != 3 {
			t.Fatalf("boot state %v: B should be primary and marked good", st)
		}
		if v, h, ok := readImage(m.path("slotB.img")); !ok || v != "1.2.0" || h != "good" {
			t.Fatalf("slot B holds %s %s %v", v, h, ok)
		}
		// Re-sending the job id does not install again.
		before := slotHash(t, m.path("slotB.img"))
		m.boot()
		if code := m.waitHelper(30 * time.Second); code != 0 {
			t.Fatalf("re-sent job: updater exited %d", code)
		}
		m.stopService()
		rs := m.reports()
		if last := rs[len(rs)-1]; !last.Duplicate || last.State != Succeeded {
			t.Fatalf("re-sent job answered %+v", last)
		}
		if slotHash(t, m.path("slotB.img")) != before || m.booted != "B" {
			t.Fatal("re-sent job changed a slot")
		}
	})
	t.Run("bad-health", func(t *testing.T) {
		m := f.machine(t, "bad", helperConfig{Request: request(f.srv, "fw-bad", "/bad.raucb", "1.2.0", f.bad)})
		m.settle()
		j := lastFinal(t, m, "fw-bad")
		if j.State != RolledBack {
			t.Fatalf("final %s (%s), want rolled-back", j.State, j.Detail)
		}
		if m.booted != "A" || m.boots != 1+1+maxTry {
			t.Fatalf("running from %s after %d boots, want A after %d", m.booted, m.boots, 2+maxTry)
		}
		st := m.bootState()
		if st["primary=A"] != 1 || st["B_attempts"] != 0 {
			t.Fatalf("boot state %v: A should be primary again, B spent", st)
		}
		sawHealth := false
		for _, r := range m.reports() {
			sawHealth = sawHealth || (r.State == CheckingHealth && strings.Contains(r.Detail, "not registered"))
		}
		if !sawHealth {
			t.Fatal("no checking-health report naming the failed check")
		}
	})
}

// TestRAUCRefusedBeforeWriting: bad signature, wrong compatible, truncated
// download and downgrade each end with their final result and slot B and
// the bootloader state unchanged.
func TestRAUCRefusedBeforeWriting(t *testing.T) {
	f := newFixture(t)
	trunc := f.good[:len(f.good)/2]
	f.srv.put("/trunc.raucb", trunc)
	cases := []struct {
		name        string
		req         Request
		state, reas string
		allowConfig bool
	}{
		{"bad-signature", request(f.srv, "fw-sig", "/rogue.raucb", "1.2.0", f.rogue), Rejected, ReasonBadSignature, false},
		{"compatible", request(f.srv, "fw-compat", "/foreign.raucb", "1.2.0", f.foreign), Rejected, ReasonIncompatible, false},
		{"truncated", func() Request {
			r := request(f.srv, "fw-trunc", "/trunc.raucb", "1.2.0", f.good)
			return r
		}(), Failed, "", false},
		{"downgrade", request(f.srv, "fw-old", "/old.raucb", "1.0.0", f.old), Rejected, ReasonDowngrade, false},
		{"downgrade-job-only", func() Request {
			r := request(f.srv, "fw-old2", "/old.raucb", "1.0.0", f.old)
			r.AllowDowngrade = true
			return r
		}(), Rejected, ReasonDowngrade, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := f.machine(t, c.name, helperConfig{Request: c.req, AllowDowngrade: c.allowConfig})
			slotB := slotHash(t, m.path("slotB.img"))
			boot0, _ := os.ReadFile(m.path("boot.state"))
			m.settle()
			j := lastFinal(t, m, c.req.ID)
			if j.State != c.state || j.Reason != c.reas {
				t.Fatalf("final %s/%s (%s), want %s/%s", j.State, j.Reason, j.Detail, c.state, c.reas)
			}
			if slotHash(t, m.path("slotB.img")) != slotB {
				t.Fatal("slot B was written")
			}
			boot1, _ := os.ReadFile(m.path("boot.state"))
			if string(boot1) != string(boot0) {
				t.Fatalf("bootloader state changed:\n%s", boot1)
			}
			for _, r := range m.reports() {
				if r.State == Installing {
					t.Fatalf("reached installing: %+v", r)
				}
			}
			if m.boots != 1 {
				t.Fatalf("%d boots, want 1", m.boots)
			}
		})
	}
	// Both the job and the configuration allow the downgrade: it installs.
	t.Run("downgrade-allowed", func(t *testing.T) {
		r := request(f.srv, "fw-old3", "/old.raucb", "1.0.0", f.old)
		r.AllowDowngrade = true
		m := f.machine(t, "downgrade-allowed", helperConfig{Request: r, AllowDowngrade: true})
		m.settle()
		if j := lastFinal(t, m, r.ID); j.State != Succeeded || m.booted != "B" {
			t.Fatalf("final %s (%s) on %s, want succeeded on B", j.State, j.Detail, m.booted)
		}
	})
}

// TestRAUCUpdateWaitsForCall: an update pushed during a call waits in
// waiting-for-idle without writing a slot, and installs once the call
// ends; a call that outlasts the deadline makes it rejected/busy.
func TestRAUCUpdateWaitsForCall(t *testing.T) {
	f := newFixture(t)
	t.Run("waits", func(t *testing.T) {
		m := f.machine(t, "waits", helperConfig{Request: request(f.srv, "fw-call", "/good.raucb", "1.2.0", f.good)})
		busy := m.path("data/line-busy")
		if err := os.WriteFile(busy, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		slotB := slotHash(t, m.path("slotB.img"))
		m.boot()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rs := m.reports()
			if len(rs) > 0 && rs[len(rs)-1].State == WaitingForIdle {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never reached waiting-for-idle: %+v", rs)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // the call goes on
		if rs := m.reports(); rs[len(rs)-1].State != WaitingForIdle || slotHash(t, m.path("slotB.img")) != slotB {
			t.Fatalf("did not wait for the call: %+v", rs[len(rs)-1])
		}
		if err := os.Remove(busy); err != nil { // hang up
			t.Fatal(err)
		}
		m.settle()
		if j := lastFinal(t, m, "fw-call"); j.State != Succeeded {
			t.Fatalf("final %s (%s)", j.State, j.Detail)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		m := f.machine(t, "deadline", helperConfig{Request: request(f.srv, "fw-busy", "/good.raucb", "1.2.0", f.good), IdleMS: 300})
		if err := os.WriteFile(m.path("data/line-busy"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		slotB := slotHash(t, m.path("slotB.img"))
		m.settle()
		if j := lastFinal(t, m, "fw-busy"); j.State != Rejected || j.Reason != ReasonBusy {
			t.Fatalf("final %s/%s, want rejected/busy", j.State, j.Reason)
		}
		if slotHash(t, m.path("slotB.img")) != slotB {
			t.Fatal("slot B was written")
		}
	})
}
