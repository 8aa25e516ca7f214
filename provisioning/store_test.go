package provisioning

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func versioned(v uint64) *Config {
	c := sample()
	c.Version = v
	for i := range c.Extensions {
		c.Extensions[i].DisplayName = fmt.Sprintf("user %d v%d", i, v)
		c.Extensions[i].SIP.Password = fmt.Sprintf("pw-%d-v%d", i, v)
	}
	return c
}

// consistent reports whether every field that names a version names c's.
func consistent(c *Config) error {
	for i, e := range c.Extensions {
		if e.DisplayName != fmt.Sprintf("user %d v%d", i, c.Version) {
			return fmt.Errorf("version %d: extensions[%d].display_name is %q", c.Version, i, e.DisplayName)
		}
		if e.SIP.Password != fmt.Sprintf("pw-%d-v%d", i, c.Version) {
			return fmt.Errorf("version %d: extensions[%d] password from another version", c.Version, i)
		}
	}
	return nil
}

func TestStoreRoundTripAndSecrets(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("empty store: %v", err)
	}
	for v := uint64(1); v <= 3; v++ {
		if err := s.Save(versioned(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, info, err := s.Load()
	if err != nil || got.Version != 3 || info.File != configFile || len(info.Problems) != 0 {
		t.Fatalf("load: %+v %+v %v", got, info, err)
	}
	if err := consistent(got); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, configFile))
	if strings.Contains(string(b), "pw-0-v3") {
		t.Fatal("config.json holds a SIP password")
	}
	secrets, _ := filepath.Glob(filepath.Join(dir, "secrets-*.json"))
	if len(secrets) != 2 { // current and previous
		t.Fatalf("secrets files: %v", secrets)
	}
	for _, f := range secrets {
		st, _ := os.Stat(f)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode().Perm())
		}
	}
}

func TestStoreCorruptionFallsBack(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, dir string){
		"flipped byte": func(t *testing.T, dir string) {
			f := filepath.Join(dir, configFile)
			b, _ := os.ReadFile(f)
			i := strings.Index(string(b), "user 0 v2")
			b[i] = 'U'
			os.WriteFile(f, b, 0o600)
		},
		"truncated": func(t *testing.T, dir string) {
			f := filepath.Join(dir, configFile)
			b, _ := os.ReadFile(f)
			os.WriteFile(f, b[:len(b)/2], 0o600)
		},
		"missing": func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, configFile)) },
		"secrets damaged": func(t *testing.T, dir string) {
			var body configBody
			s := &Store{dir: dir}
			if err := s.readSealed(configFile, &body); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, body.SecretsFile), []byte(`{"format":1}`), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := OpenStore(dir, quiet())
			s.Save(versioned(1))
			s.Save(versioned(2))
			damage(t, dir)
			got, info, err := s.Load()
			if err != nil || got.Version != 1 || info.File != prevFile {
				t.Fatalf("got %v %+v %v, want version 1 from %s", got, info, err, prevFile)
			}
			if name != "missing" && len(info.Problems) == 0 {
				t.Fatal("damage not reported")
			}
			if err := consistent(got); err != nil {
				t.Fatal(err)
			}
			// The next save must not replace the good fallback with the
			// damaged file.
			if err := s.Save(versioned(3)); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := s.Load(); got.Version != 3 {
				t.Fatalf("after save: version %d", got.Version)
			}
		})
	}
	t.Run("all damaged", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := OpenStore(dir, quiet())
		s.Save(versioned(1))
		s.Save(versioned(2))
		os.WriteFile(filepath.Join(dir, configFile), []byte("garbage"), 0o600)
		os.WriteFile(filepath.Join(dir, prevFile), []byte("{}"), 0o600)
		if _, _, err := s.Load(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
}

// TestStorePowerLoss re-executes the test binary as a child that saves
// configurations in a loop and kills it with SIGKILL at random moments;
// after every kill the store must load a complete configuration, of the
// last version the child reported saved or the one after it.
func TestStorePowerLoss(t *testing.T) {
	if dir := os.Getenv("PROVISIONING_POWERLOSS_DIR"); dir != "" {
		powerLossChild(dir)
		return
	}
	dir := t.TempDir()
	rounds := 12
	if testing.Short() {
		rounds = 5
	}
	last := uint64(0)
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStorePowerLoss$")
		cmd.Env = append(os.Environ(), "PROVISIONING_POWERLOSS_DIR="+dir, "PROVISIONING_POWERLOSS_START="+strconv.FormatUint(last+1, 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		saved := make(chan uint64, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					saved <- n
				}
			}
			close(saved)
		}()
		// Once it is saving, let it run a random while, then kill it
		// mid-flight.
		acked := last
		select {
		case v, ok := <-saved:
			if ok {
				acked = v
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("child never saved")
		}
		time.Sleep(time.Duration(rand.IntN(40000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		for v := range saved {
			acked = v
		}
		s, err := OpenStore(dir, quiet())
		if err != nil {
			t.Fatal(err)
		}
		got, info, err := s.Load()
		if acked == 0 && errors.Is(err, ErrNoConfig) {
			continue
		}
		if err != nil {
			t.Fatalf("round %d: load after kill: %v", round, err)
		}
		if err := consistent(got); err != nil {
			t.Fatalf("round %d: mixed configuration: %v", round, err)
		}
		if got.Version < acked || got.Version > acked+1 {
			t.Fatalf("round %d: loaded version %d, child had acknowledged %d (%+v)", round, got.Version, acked, info)
		}
		last = got.Version
	}
	t.Logf("%d kills; the child reached version %d", rounds, last)
	if last < uint64(rounds) {
		t.Fatalf("child saved only up to version %d in %d rounds", last, rounds)
	}
}

func powerLossChild(dir string) {
	start, _ := strconv.ParseUint(os.Getenv("PROVISIONING_POWERLOSS_START"), 10, 64)
	s, err := OpenStore(dir, quiet())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for v := start; ; v++ {
		if err := s.Save(versioned(v)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("saved %d\n", v)
	}
}
