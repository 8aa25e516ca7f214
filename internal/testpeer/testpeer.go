package testpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InstallHint is the command that installs every peer.
const InstallHint = "scripts/install-peers.sh (run by make test)"

// InCI reports whether the tests run in CI, where missing peers are failures.
func InCI() bool { return os.Getenv("CI") != "" }

// LookPath finds a peer binary on PATH or in the sbin directories, where
// Debian installs servers such as kamailio and mosquitto.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in sbin", name)
}

// Require returns the paths of the named binaries. A missing one fails the
// test in CI and skips it elsewhere.
func Require(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := LookPath(n)
		if err != nil {
			if InCI() {
				t.Fatalf("peer %s is required and missing in CI: %v; install with %s", n, err, InstallHint)
			}
			t.Skipf("peer %s not installed (%v); install with %s", n, err, InstallHint)
		}
		paths[i] = p
	}
	return paths
}

// RequireFile is Require for a file a peer ships (a header, a library).
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if InCI() {
			t.Fatalf("peer file %s is required and missing in CI; install with %s", path, InstallHint)
		}
		t.Skipf("peer file %s missing; install with %s", path, InstallHint)
	}
}

var portMu sync.Mutex
var portsGiven = map[int]bool{}

// FreePort returns a port on 127.0.0.1 that is free for both UDP and TCP at
// the moment of the call, above the well-known ranges, and not handed out
// before by this process. If pair is true, port+1 is free too (for peers
// that also bind the next port, such as baresip's TLS listener or RTCP).
func FreePort(t testing.TB, pair bool) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 200 {
		l, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if port < 20000 || portsGiven[port] || (pair && portsGiven[port+1]) {
			continue
		}
		if !portFree(port) || (pair && !portFree(port+1)) {
			continue
		}
		portsGiven[port] = true
		if pair {
			portsGiven[port+1] = true
		}
		return port
	}
	t.Fatal("no free loopback port found")
	return 0
}

func portFree(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	u, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return false
	}
	u.Close()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Proc is a peer process started by Start.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Output returns what the process has printed so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start runs a peer in its own process group, in dir (if not empty), and
// registers a cleanup that stops it by PID: SIGTERM to the group, then
// SIGKILL after 3 s. Its output is logged when the test fails.
func Start(t testing.TB, dir, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Proc{Name: filepath.Base(name), Cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- output of %s (pid %d) %s:\n%s", p.Name, cmd.Process.Pid, strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// Stop ends the process group by PID and waits for it.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	pid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitListening waits until something accepts TCP connections on addr, or
// fails the test after timeout (or as soon as proc, if given, exits).
func WaitListening(t testing.TB, addr string, timeout time.Duration, proc *Proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if proc != nil && proc.Exited() {
			t.Fatalf("%s exited before listening on %s: %v\n%s", proc.Name, addr, proc.err, proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := ""
	if proc != nil {
		out = proc.Output()
	}
	t.Fatalf("nothing listening on %s after %v\n%s", addr, timeout, out)
}
