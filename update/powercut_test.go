package update

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// TestRAUCPowerCut cuts the power (SIGKILL of the updater and of the RAUC
// service, then a boot) at random points of good and bad-health updates:
// the acceptance's 200 trials in CI without the race detector (`make
// powercut`, about 2 minutes; under -race they take 7½, so the race run
// of CI does 40), 40 in a plain local run, 20 with -short;
// UPDATE_POWERCUT_TRIALS=N runs N. Every
// boot must start a slot marked good or on trial with attempts left and
// holding a complete image (machine.boot checks it); configuration and
// pairings survive; the job ends with exactly one final result, the right
// one, recorded once.
func TestRAUCPowerCut(t *testing.T) {
	trials := 40
	switch {
	case testing.Short():
		trials = 20
	case testpeer.InCI() && !raceEnabled:
		trials = 200
	}
	if s := os.Getenv("UPDATE_POWERCUT_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("UPDATE_POWERCUT_TRIALS=%q is not a positive number of trials", s)
		}
		trials = n
	}
	f := newFixture(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	cuts, fellBack := 0, 0
	for i := range trials {
		bad := i%2 == 1
		id := fmt.Sprintf("fw-%03d", i)
		req := request(f.srv, id, "/good.raucb", "1.2.0", f.good)
		want, wantSlot := Succeeded, "B"
		if bad {
			req = request(f.srv, id, "/bad.raucb", "1.2.0", f.bad)
			want, wantSlot = RolledBack, "A"
		}
		m := f.machine(t, id, helperConfig{Request: req, HealthMS: 100})
		cfg0, _ := os.ReadFile(m.path("data/config.json"))
		pair0, _ := os.ReadFile(m.path("data/pairings.json"))
		n := 1 + rng.IntN(3)
		cutsOnTrial := 0
		for c := 0; c < n; c++ {
			if m.helper == nil {
				m.boot()
			}
			code, exited := m.waitFor(time.Duration(rng.Int64N(int64(1200 * time.Millisecond))))
			if !exited {
				if m.booted == "B" {
					cutsOnTrial++
				}
				m.powerCut()
				cuts++
				continue
			}
			m.stopService()
			if code == 0 {
				break
			}
			if code != 100 {
				t.Fatalf("trial %d: updater exited %d", i, code)
			}
		}
		m.settle()
		if fs := finals(m.reports(), id); !bad && cutsOnTrial >= maxTry && len(fs) == 1 && fs[0] == RolledBack+"/" {
			// Every trial boot of the new slot was cut before it was
			// marked good: the bootloader spent its attempts and fell
			// back, as it must.
			want, wantSlot = RolledBack, "A"
			fellBack++
		}
		fs := finals(m.reports(), id)
		if len(fs) != 1 || fs[0] != want+"/" {
			t.Fatalf("trial %d (%d boots): final results %v, want [%s/]\n%s", i, m.boots, fs, want, m.dump())
		}
		if m.booted != wantSlot {
			t.Fatalf("trial %d: runs %s, want %s\n%s", i, m.booted, wantSlot, m.dump())
		}
		u, err := (store{m.path("data")}).load()
		if err != nil {
			t.Fatalf("trial %d: jobs file: %v", i, err)
		}
		if u.Current != nil || len(u.Done) != 1 || u.Done[0].State != want {
			t.Fatalf("trial %d: jobs file current %+v done %+v", i, u.Current, u.Done)
		}
		cfg1, _ := os.ReadFile(m.path("data/config.json"))
		pair1, _ := os.ReadFile(m.path("data/pairings.json"))
		if string(cfg1) != string(cfg0) || string(pair1) != string(pair0) {
			t.Fatalf("trial %d: configuration or pairings changed", i)
		}
		if i%10 == 9 {
			t.Logf("%d trials done, %d power cuts", i+1, cuts)
		}
		if !t.Failed() {
			m.unmount()
			_ = os.RemoveAll(m.dir)
		}
	}
	t.Logf("%d trials, %d power cuts, %d good updates rolled back because every trial boot was cut", trials, cuts, fellBack)
}
