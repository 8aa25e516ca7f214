package update

// The test machine: a real RAUC service on a private D-Bus, two
// file-backed slots, the custom bootloader backend of testdata/bootctl.sh
// and the "daemon" (this test binary re-executed as the updater) started
// from the booted slot's image. A power cut is SIGKILL of the updater and
// of the RAUC service, then a boot.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

const (
	slotSize  = 1 << 20
	imageSize = 512 << 10
	maxTry    = 3
)

// image is a slot image: a header line naming its version and whether
// the build is healthy, then deterministic filler.
func image(version, health string) []byte {
	b := make([]byte, imageSize)
	copy(b, fmt.Sprintf("BSIMG version=%s health=%s\n", version, health))
	r := rand.New(rand.NewPCG(uint64(len(version)), 7))
	for i := 64; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// readImage reads a slot's header; ok is false for a slot that does not
// hold a complete known image.
func readImage(path string) (version, health string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < imageSize {
		return "", "", false
	}
	line, _, _ := bytes.Cut(b[:64], []byte("\n"))
	if _, err := fmt.Sscanf(string(line), "BSIMG version=%s health=%s", &version, &health); err != nil {
		return "", "", false
	}
	return version, health, bytes.Equal(b[:imageSize], image(version, health))
}

// pki is the test's certificates: the project's CA and signer, and a
// rogue signer from another CA.
type pki struct {
	dir                          string
	ca, signCert, signKey        string
	rogueCert, rogueKey, rogueCA string
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func newPKI(t testing.TB, dir string) pki {
	p := pki{dir: dir}
	ext := filepath.Join(dir, "ext.cnf")
	if err := os.WriteFile(ext, []byte("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) (ca, cert, key string) {
		ca = filepath.Join(dir, name+"-ca.pem")
		cakey := filepath.Join(dir, name+"-ca.key")
		cert = filepath.Join(dir, name+"-sign.pem")
		key = filepath.Join(dir, name+"-sign.key")
		csr := filepath.Join(dir, name+".csr")
		run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", ca, "-days", "2",
			"-subj", "/CN="+name+" test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
		run(t, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN="+name+" signer")
		run(t, "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
		return
	}
	p.ca, p.signCert, p.signKey = mk("project")
	p.rogueCA, p.rogueCert, p.rogueKey = mk("rogue")
	return p
}

// bundle builds a signed RAUC bundle holding image(version, health).
func bundle(t testing.TB, dir, name, compatible, version, health, cert, key string) []byte {
	in := filepath.Join(dir, name+"-in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "rootfs.img"), image(version, health), 0o644); err != nil {
		t.Fatal(err)
	}
	// format=plain: the verity format needs device-mapper
	// (/dev/mapper/control), which this container lacks.
	man := fmt.Sprintf("[update]\ncompatible=%s\nversion=%s\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n", compatible, version)
	if err := os.WriteFile(filepath.Join(in, "manifest.raucm"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".raucb")
	run(t, "rauc", "bundle", "--cert="+cert, "--key="+key, in, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bus is a private D-Bus (configured as a system bus) for RAUC.
type bus struct{ addr string }

func startBus(t testing.TB, dir string) bus {
	sock := filepath.Join(dir, "bus.sock")
	conf := filepath.Join(dir, "bus.conf")
	c := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=` + sock + `</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy></busconfig>`
	if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--print-address", "--nofork")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	return bus{addr: strings.TrimSpace(line)}
}

// machine is one base: its slots, bootloader state, data directory
// (outside the slots) and RAUC configuration.
type machine struct {
	t      testing.TB
	dir    string
	bus    bus
	pki    pki
	svc    *exec.Cmd
	helper *exec.Cmd
	exited chan error // the helper's Wait
	booted string
	boots  int
}

const compatible = "basestation-test"

func newMachine(t testing.TB, dir string, b bus, p pki, hc helperConfig) *machine {
	m := &machine{t: t, dir: dir, bus: b, pki: p}
	t.Cleanup(func() { m.powerCut(); m.unmount() })
	for _, d := range []string{"data", "rauc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile("testdata/bootctl.sh")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bootctl.sh", script, 0o755)
	write("boot.state", []byte("primary=A\nA_attempts=3\nB_attempts=3\nA_trial=0\nB_trial=0\nbooted=A\n"), 0o644)
	a := make([]byte, slotSize)
	copy(a, image("1.1.0", "good"))
	write("slotA.img", a, 0o644)
	bimg := make([]byte, slotSize)
	copy(bimg, image("1.0.0", "good"))
	write("slotB.img", bimg, 0o644)
	conf := fmt.Sprintf(`[system]
compatible=%s
bootloader=custom
data-directory=%s/rauc
mountprefix=%s/mnt

[keyring]
path=%s

[handlers]
bootloader-custom-backend=%s/bootctl.sh

[slot.rootfs.0]
device=%s/slotA.img
type=raw
bootname=A

[slot.rootfs.1]
device=%s/slotB.img
type=raw
bootname=B
`, compatible, dir, dir, p.ca, dir, dir, dir)
	write("system.conf", []byte(conf), 0o644)
	write("data/config.json", []byte(`{"extensions":["101"]}`), 0o600)
	write("data/pairings.json", []byte(`{"dect-0a1b2c3d":"key"}`), 0o600)
	hc.Conf = filepath.Join(dir, "system.conf")
	hc.Bus = b.addr
	hb, _ := json.Marshal(hc)
	write("helper.json", hb, 0o644)
	return m
}

func (m *machine) path(n string) string { return filepath.Join(m.dir, n) }

// unmount undoes what a killed RAUC left mounted (a reboot would).
func (m *machine) unmount() {
	b, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && strings.HasPrefix(f[1], m.dir+"/") {
			if err := syscall.Unmount(f[1], syscall.MNT_DETACH); err != nil {
				m.t.Errorf("unmount %s: %v", f[1], err)
			}
		}
	}
}

// dump is the machine's story, for a failure message.
func (m *machine) dump() string {
	h, _ := os.ReadFile(m.path("helper.log"))
	st, _ := os.ReadFile(m.path("boot.state"))
	var rs []string
	for _, r := range m.reports() {
		rs = append(rs, fmt.Sprintf("%s %s %s %d/%d %s dup=%v", r.ID, r.State, r.Reason, r.Bytes, r.Size, r.Detail, r.Duplicate))
	}
	return fmt.Sprintf("boot.state:\n%s\nreports:\n%s\nhelper log:\n%s", st, strings.Join(rs, "\n"), testpeer.Tail(string(h), 40))
}

func (m *machine) bootState() map[string]int {
	b, err := os.ReadFile(m.path("boot.state"))
	if err != nil {
		m.t.Fatal(err)
	}
	st := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "primary", "booted":
			st[k+"="+v] = 1
		default:
			n, err := strconv.Atoi(v)
			if err != nil {
				m.t.Fatalf("boot.state: %q", l)
			}
			st[k] = n
		}
	}
	return st
}

// boot plays the bootloader: the primary slot if it has attempts left
// (spending one while on trial), else the other. It checks that the slot
// it starts was marked good or is on trial with attempts left and holds a
// complete image, then starts the RAUC service and the updater.
func (m *machine) boot() {
	m.t.Helper()
	m.unmount()
	st := m.bootState()
	b, _ := os.ReadFile(m.path("boot.state"))
	primary := "A"
	if st["primary=B"] == 1 {
		primary = "B"
	}
	other := map[string]string{"A": "B", "B": "A"}[primary]
	pick := ""
	for _, s := range []string{primary, other} {
		if st[s+"_attempts"] > 0 {
			pick = s
			break
		}
	}
	if pick == "" {
		m.t.Fatalf("no bootable slot:\n%s", b)
	}
	if st[pick+"_trial"] == 1 {
		st[pick+"_attempts"]--
	}
	if _, _, ok := readImage(m.path("slot" + pick + ".img")); !ok {
		m.t.Fatalf("boot %d: slot %s holds no complete image:\n%s", m.boots, pick, b)
	}
	m.booted = pick
	m.boots++
	pr := "A"
	if st["primary=B"] == 1 {
		pr = "B"
	}
	state := fmt.Sprintf("primary=%s\nA_attempts=%d\nB_attempts=%d\nA_trial=%d\nB_trial=%d\nbooted=%s\n",
		pr, st["A_attempts"], st["B_attempts"], st["A_trial"], st["B_trial"], pick)
	tmp := m.path("boot.state.new")
	if err := os.WriteFile(tmp, []byte(state), 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := os.Rename(tmp, m.path("boot.state")); err != nil {
		m.t.Fatal(err)
	}
	m.svc = exec.Command("rauc", "--conf="+m.path("system.conf"), "--override-boot-slot="+pick, "service")
	m.svc.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+m.bus.addr)
	// Its own process group: a power cut also kills what it runs (the
	// bootloader backend script).
	m.svc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	svcLog, _ := os.OpenFile(m.path("rauc-service.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	m.svc.Stdout, m.svc.Stderr = svcLog, svcLog
	if err := m.svc.Start(); err != nil {
		m.t.Fatal(err)
	}
	svcLog.Close()
	m.helper = exec.Command(os.Args[0], "-test.run=^TestHelperUpdater$")
	m.helper.Env = append(os.Environ(), "UPDATE_HELPER_DIR="+m.dir)
	m.helper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // with its rauc client
	hl, _ := os.OpenFile(m.path("helper.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	m.helper.Stdout, m.helper.Stderr = hl, hl
	if err := m.helper.Start(); err != nil {
		m.t.Fatal(err)
	}
	hl.Close()
	m.exited = make(chan error, 1)
	go func(h *exec.Cmd, c chan error) { c <- h.Wait() }(m.helper, m.exited)
}

// powerCut kills the updater and the RAUC service.
func (m *machine) powerCut() {
	if m.helper != nil {
		_ = syscall.Kill(-m.helper.Process.Pid, syscall.SIGKILL)
		<-m.exited
		m.helper = nil
	}
	m.stopService()
}

// waitHelper waits for the updater to ask for a reboot (exit 100) or to
// settle (exit 0 after a final state); it returns the exit code.
func (m *machine) waitHelper(limit time.Duration) int {
	code, ok := m.waitFor(limit)
	if !ok {
		m.powerCut()
		log, _ := os.ReadFile(m.path("helper.log"))
		m.t.Fatalf("updater did not finish within %v; log:\n%s", limit, testpeer.Tail(string(log), 30))
	}
	return code
}

// waitFor waits up to d for the updater to exit; ok is false if it still runs.
func (m *machine) waitFor(d time.Duration) (code int, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-m.exited:
		m.helper = nil
		if err == nil {
			return 0, true
		}
		if ee, isExit := err.(*exec.ExitError); isExit {
			return ee.ExitCode(), true
		}
		m.t.Fatalf("updater: %v", err)
	case <-t.C:
	}
	return 0, false
}

func (m *machine) stopService() {
	if m.svc != nil {
		_ = syscall.Kill(-m.svc.Process.Pid, syscall.SIGKILL)
		_ = m.svc.Wait()
		m.svc = nil
	}
}

// settle boots until the updater exits 0 (the job is final) and returns
// the machine's reports.
func (m *machine) settle() []Job {
	for i := 0; ; i++ {
		if i > 12 {
			m.t.Fatalf("no final state after %d boots", i)
		}
		if m.helper == nil {
			m.boot()
		}
		code := m.waitHelper(60 * time.Second)
		m.stopService()
		if code == 0 {
			break
		}
		if code != 100 {
			log, _ := os.ReadFile(m.path("helper.log"))
			m.t.Fatalf("updater exited %d; log:\n%s", code, testpeer.Tail(string(log), 30))
		}
	}
	return m.reports()
}

func (m *machine) reports() []Job {
	b, _ := os.ReadFile(m.path("data/reports.log"))
	var out []Job
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		var j Job
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			continue // a line cut by the power cut
		}
		out = append(out, j)
	}
	return out
}

func finals(rs []Job, id string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if r.ID == id && Final(r.State) && !seen[r.State+"/"+r.Reason] {
			seen[r.State+"/"+r.Reason] = true
			out = append(out, r.State+"/"+r.Reason)
		}
	}
	return out
}

// helperConfig is what the re-executed updater reads from helper.json.
type helperConfig struct {
	Conf, Bus, CA  string
	Request        Request
	AllowDowngrade bool
	IdleMS         int
	HealthMS       int
}

// TestHelperUpdater is the daemon side of the machine, run in its own
// process by boot: it runs the updater with the booted slot's image.
func TestHelperUpdater(t *testing.T) {
	dir := os.Getenv("UPDATE_HELPER_DIR")
	if dir == "" {
		t.Skip("the machine's updater process")
	}
	os.Exit(helperMain(dir))
}

type fileLines struct{ path string }

func (l fileLines) Idle() bool { _, err := os.Stat(l.path); return err != nil }

type imageHealth struct{ good bool }

func (h imageHealth) Healthy(context.Context) error {
	if !h.good {
		return fmt.Errorf("extension 101 not registered")
	}
	return nil
}

func helperMain(dir string) int {
	var hc helperConfig
	b, err := os.ReadFile(filepath.Join(dir, "helper.json"))
	if err == nil {
		err = json.Unmarshal(b, &hc)
	}
	if err != nil {
		fmt.Println("helper:", err)
		return 2
	}
	st, _ := os.ReadFile(filepath.Join(dir, "boot.state"))
	booted := "A"
	if strings.Contains(string(st), "booted=B") {
		booted = "B"
	}
	version, health, ok := readImage(filepath.Join(dir, "slot"+booted+".img"))
	if !ok {
		fmt.Println("helper: booted slot has no image")
		return 2
	}
	fmt.Printf("helper: booted %s running %s (%s)\n", booted, version, health)
	caPEM, _ := os.ReadFile(hc.CA)
	client, err := NewHTTPClient(caPEM)
	if err != nil {
		fmt.Println("helper:", err)
		return 2
	}
	data := filepath.Join(dir, "data")
	var mu sync.Mutex
	report := func(j Job) error {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(filepath.Join(data, "reports.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		line, _ := json.Marshal(j)
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
		return f.Sync()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rebooted := make(chan struct{})
	u, err := New(Config{
		Dir:            data,
		Installer:      RAUC{Conf: hc.Conf, Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + hc.Bus}},
		Lines:          fileLines{filepath.Join(data, "line-busy")},
		Health:         imageHealth{good: health == "good"},
		HTTP:           client,
		Reboot:         func(context.Context) error { close(rebooted); cancel(); return nil },
		Report:         report,
		Running:        version,
		AllowDowngrade: hc.AllowDowngrade,
		IdleDeadline:   time.Duration(hc.IdleMS) * time.Millisecond,
		HealthDeadline: time.Duration(hc.HealthMS) * time.Millisecond,
		Poll:           20 * time.Millisecond,
		RetryDelay:     20 * time.Millisecond,
		Retries:        3,
	})
	if err != nil {
		fmt.Println("helper:", err)
		return 2
	}
	// The cloud sends the job (again) until it sees a final result; a
	// re-sent id is answered, never run again.
	j, err := u.Submit(hc.Request)
	if err != nil {
		fmt.Println("helper: submit:", err)
		return 2
	}
	if j.Duplicate {
		_ = report(j)
	}
	errc := make(chan error, 1)
	go func() { errc <- u.Run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			select {
			case <-rebooted:
				return 100
			default:
			}
			fmt.Println("helper: run:", err)
			return 3
		case <-tick.C:
			if c, _ := u.Jobs(); c == nil {
				cancel()
				<-errc
				return 0
			}
		}
	}
}

// server serves bundles over HTTPS on 127.0.0.1 with its own certificate
// (Range supported by http.ServeContent); a path's body can be cut short.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	caPath string
}

func startServer(t testing.TB, dir string) *server {
	s := &server{files: map[string][]byte{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "b.raucb", time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.Close)
	s.caPath = filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(s.caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) put(path string, b []byte) {
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
}

func request(s *server, id, path, version string, b []byte) Request {
	sum := sha256.Sum256(b)
	return Request{ID: id, URL: s.URL + path, Version: version, Size: int64(len(b)), SHA256: fmt.Sprintf("%x", sum)}
}

func slotHash(t testing.TB, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
