package main

// The simulated base's platform for firmware updates (docs/simulator.md,
// "Firmware update"): two file-backed slots, the real RAUC service on a
// private D-Bus with RAUC's custom bootloader backend (bootctl.sh, a boot
// counter kept in a file), the project's signing CA and signer, two signed
// builds served over HTTPS, and the bootloader played at each "reboot".

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	rand2 "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"basestation/update"
)

// bootctlScript is RAUC's custom bootloader backend, the same model as
// update/testdata/bootctl.sh: a boot counter kept in boot.state (primary
// slot, attempts left and trial flag per slot, the booted slot).
const bootctlScript = `#!/bin/sh
# RAUC "custom" bootloader backend for the tests: a boot counter model kept
# in boot.state next to this script's copy (primary slot, attempts left and
# trial flag per slot, the booted slot). The test harness plays the
# bootloader: at each "boot" it starts the primary slot if it has attempts
# left (spending one while on trial), else the other slot. Like a real
# bootloader environment, each change is written at once (a new file
# renamed over the old), so a power cut leaves the old or the new state.
S="$(dirname "$0")/boot.state"
. "$S"
save() {
	printf 'primary=%s\nA_attempts=%s\nB_attempts=%s\nA_trial=%s\nB_trial=%s\nbooted=%s\n' \
		"$primary" "$A_attempts" "$B_attempts" "$A_trial" "$B_trial" "$booted" > "$S.tmp.$$"
	mv "$S.tmp.$$" "$S"
}
case "$1" in
get-primary) echo "$primary" ;;
set-primary)
	eval a=\$${2}_attempts; eval tr=\$${2}_trial
	primary=$2
	if [ "$a" -eq 0 ] || [ "$tr" -eq 1 ]; then eval ${2}_trial=1; fi
	eval ${2}_attempts=3
	save ;;
get-state)
	eval a=\$${2}_attempts
	if [ "$a" -gt 0 ]; then echo good; else echo bad; fi ;;
set-state)
	if [ "$3" = good ]; then eval ${2}_attempts=3; eval ${2}_trial=0; else eval ${2}_attempts=0; fi
	save ;;
get-current) echo "$booted" ;;
*) echo "bootctl: unknown command $1" >&2; exit 1 ;;
esac
`

const (
	fwCompatible = "basesim"
	fwSlotSize   = 1 << 20
	fwImageSize  = 256 << 10
	fwMaxTry     = 3
)

// fwBuild is a firmware build: its version and whether it works. A
// "never-registers" build's SIP requests all time out, so its extensions
// never register and its trial boot never proves healthy.
type fwBuild struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Health  string `json:"health"` // "good" or "never-registers"
	URL     string `json:"url"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// fwImage is a slot image: a header naming the build, then filler.
func fwImage(version, health string) []byte {
	b := make([]byte, fwImageSize)
	copy(b, fmt.Sprintf("BSIMG version=%s health=%s\n", version, health))
	r := rand2.New(rand2.NewPCG(uint64(len(version)), 7)) // incompressible: the download takes a while
	for i := 64; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// readFwImage reads a slot's header; an error when the slot holds no
// complete build.
func readFwImage(path string) (version, health string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	if len(b) < fwImageSize {
		return "", "", fmt.Errorf("slot %s: %d bytes, shorter than an image", path, len(b))
	}
	line, _, _ := bytes.Cut(b[:64], []byte("\n"))
	if _, err := fmt.Sscanf(string(line), "BSIMG version=%s health=%s", &version, &health); err != nil {
		return "", "", fmt.Errorf("slot %s holds no image", path)
	}
	if !bytes.Equal(b[:fwImageSize], fwImage(version, health)) {
		return "", "", fmt.Errorf("slot %s: image %s is damaged", path, version)
	}
	return version, health, nil
}

// firmware is the platform. Its processes (the bus, the RAUC service) are
// owned here and stopped by Close.
type firmware struct {
	dir     string
	log     *slog.Logger
	busAddr string
	srv     *httptest.Server
	caFile  string // the firmware server's CA (the daemon's --firmware-ca)
	builds  []fwBuild

	mu      sync.Mutex
	bus     *exec.Cmd
	svc     *exec.Cmd
	booted  string
	version string
	health  string
	boots   int
}

// fwPeers are the programs the platform runs (scripts/install-peers.sh).
var fwPeers = []string{"rauc", "dbus-daemon", "mksquashfs", "unsquashfs"}

func lookPeer(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("firmware update simulation needs %s (install with scripts/install-peers.sh)", name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// newFirmware lays out a new platform in dir (slot A holds running, slot B
// nothing), starts its bus and its bundle server on serve (host:port).
func newFirmware(dir, running, serve string, log *slog.Logger) (f *firmware, err error) {
	for _, p := range fwPeers {
		if _, err := lookPeer(p); err != nil {
			return nil, err
		}
	}
	f = &firmware{dir: dir, log: log}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	for _, d := range []string{"rauc", "mnt", "bundles"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	slotA := make([]byte, fwSlotSize)
	copy(slotA, fwImage(running, "good"))
	files := []struct {
		name string
		b    []byte
		mode os.FileMode
	}{
		{"bootctl.sh", []byte(bootctlScript), 0o755},
		{"boot.state", []byte(fmt.Sprintf("primary=A\nA_attempts=%d\nB_attempts=0\nA_trial=0\nB_trial=0\nbooted=A\n", fwMaxTry)), 0o644},
		{"slotA.img", slotA, 0o644},
		{"slotB.img", make([]byte, fwSlotSize), 0o644},
	}
	for _, fl := range files {
		if err := os.WriteFile(f.path(fl.name), fl.b, fl.mode); err != nil {
			return nil, err
		}
	}
	signCert, signKey, err := f.writePKI()
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	conf := fmt.Sprintf(`[system]
compatible=%s
bootloader=custom
data-directory=%[2]s/rauc
mountprefix=%[2]s/mnt

[keyring]
path=%[2]s/keyring.pem

[handlers]
bootloader-custom-backend=%[2]s/bootctl.sh

[slot.rootfs.0]
device=%[2]s/slotA.img
type=raw
bootname=A

[slot.rootfs.1]
device=%[2]s/slotB.img
type=raw
bootname=B
`, fwCompatible, dir)
	if err := os.WriteFile(f.path("system.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := f.startBus(); err != nil {
		return nil, fmt.Errorf("private D-Bus: %w", err)
	}
	if err := f.startServer(serve); err != nil {
		return nil, fmt.Errorf("bundle server on %s: %w", serve, err)
	}
	major, minor := nextVersions(running)
	for _, b := range []fwBuild{{Name: "good", Version: major, Health: "good"}, {Name: "never-registers", Version: minor, Health: "never-registers"}} {
		if err := f.buildBundle(&b, signCert, signKey); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", b.Name, err)
		}
		f.builds = append(f.builds, b)
	}
	return f, nil
}

// nextVersions are two versions above running: x.(y+1).0 and x.(y+1).1.
func nextVersions(running string) (string, string) {
	p := strings.Split(running, ".")
	minor := 0
	if len(p) > 1 {
		minor, _ = strconv.Atoi(p[1])
	}
	base := fmt.Sprintf("%s.%d", p[0], minor+1)
	return base + ".0", base + ".1"
}

func (f *firmware) path(name string) string { return filepath.Join(f.dir, name) }

// writePKI writes the keyring (the project's CA) and a signer it issued.
func (f *firmware) writePKI() (cert, key string, err error) {
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "basesim firmware CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	sKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	sTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "basesim firmware signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature}
	sDER, err := x509.CreateCertificate(rand.Reader, sTmpl, caCert, &sKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(sKey)
	if err != nil {
		return "", "", err
	}
	cert, key = f.path("signer.pem"), f.path("signer.key")
	for _, w := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{f.path("keyring.pem"), "CERTIFICATE", caDER, 0o644}, {cert, "CERTIFICATE", sDER, 0o644}, {key, "PRIVATE KEY", keyDER, 0o600}} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.typ, Bytes: w.der}), w.mode); err != nil {
			return "", "", err
		}
	}
	return cert, key, nil
}

// buildBundle signs a plain RAUC bundle holding b's image (the verity
// format needs device-mapper, which containers usually lack).
func (f *firmware) buildBundle(b *fwBuild, cert, key string) error {
	in := f.path("bundles/" + b.Name + "-in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(in, "rootfs.img"), fwImage(b.Version, b.Health), 0o644); err != nil {
		return err
	}
	man := fmt.Sprintf("[update]\ncompatible=%s\nversion=%s\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n", fwCompatible, b.Version)
	if err := os.WriteFile(filepath.Join(in, "manifest.raucm"), []byte(man), 0o644); err != nil {
		return err
	}
	out := f.path("bundles/" + b.Name + ".raucb")
	_ = os.Remove(out)
	if o, err := exec.Command("rauc", "bundle", "--cert="+cert, "--key="+key, in, out).CombinedOutput(); err != nil {
		return fmt.Errorf("rauc bundle: %v: %s", err, strings.TrimSpace(string(o)))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	b.URL, b.Size, b.SHA256 = f.srv.URL+"/"+b.Name+".raucb", int64(len(data)), hex.EncodeToString(sum[:])
	return nil
}

func (f *firmware) startBus() error {
	sock := f.path("bus.sock")
	c := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=` + sock + `</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy></busconfig>`
	if err := os.WriteFile(f.path("bus.conf"), []byte(c), 0o600); err != nil {
		return err
	}
	bin, _ := lookPeer("dbus-daemon")
	cmd := exec.Command(bin, "--config-file="+f.path("bus.conf"), "--nofork")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	f.mu.Lock()
	f.bus = cmd
	f.mu.Unlock()
	for range 100 {
		if fileExists(sock) {
			f.busAddr = "unix:path=" + sock
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("dbus-daemon did not create its socket")
}

func (f *firmware) startServer(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	files := http.FileServer(http.Dir(f.path("bundles")))
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".raucb") || strings.Count(r.URL.Path, "/") != 1 {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r) // Range requests: the download resumes
	}))
	f.srv.Listener.Close()
	f.srv.Listener = l
	f.srv.StartTLS()
	f.caFile = f.path("firmware-server-ca.pem")
	return os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o644)
}

// installer is RAUC's client on the platform's bus.
func (f *firmware) installer() update.RAUC {
	return update.RAUC{Conf: f.path("system.conf"), Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + f.busAddr}}
}

// boot plays the bootloader: the primary slot if it has attempts left
// (spending one while on trial), else the other one; then it starts the
// RAUC service told which slot booted. It returns the booted build.
func (f *firmware) boot() (version, health string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unmount()
	st, err := f.bootState()
	if err != nil {
		return "", "", err
	}
	primary := st["primary"]
	other := map[string]string{"A": "B", "B": "A"}[primary]
	pick := ""
	for _, s := range []string{primary, other} {
		if st[s+"_attempts"] != "0" {
			pick = s
			break
		}
	}
	if pick == "" {
		return "", "", errors.New("bootloader: no slot has attempts left")
	}
	if st[pick+"_trial"] == "1" {
		n, _ := strconv.Atoi(st[pick+"_attempts"])
		st[pick+"_attempts"] = strconv.Itoa(n - 1)
	}
	st["booted"] = pick
	state := fmt.Sprintf("primary=%s\nA_attempts=%s\nB_attempts=%s\nA_trial=%s\nB_trial=%s\nbooted=%s\n",
		st["primary"], st["A_attempts"], st["B_attempts"], st["A_trial"], st["B_trial"], pick)
	if err := os.WriteFile(f.path("boot.state.new"), []byte(state), 0o644); err != nil {
		return "", "", err
	}
	if err := os.Rename(f.path("boot.state.new"), f.path("boot.state")); err != nil {
		return "", "", err
	}
	version, health, err = readFwImage(f.path("slot" + pick + ".img"))
	if err != nil {
		return "", "", fmt.Errorf("bootloader: %w", err)
	}
	svc := exec.Command("rauc", "--conf="+f.path("system.conf"), "--override-boot-slot="+pick, "service")
	svc.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+f.busAddr)
	svc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // with the backend script it runs
	lf, err := os.OpenFile(f.path("rauc-service.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", "", err
	}
	defer lf.Close()
	svc.Stdout, svc.Stderr = lf, lf
	if err := svc.Start(); err != nil {
		return "", "", fmt.Errorf("RAUC service: %w", err)
	}
	f.svc = svc
	f.booted, f.version, f.health = pick, version, health
	f.boots++
	f.log.Info("firmware: booted", "slot", pick, "version", version, "build", health, "boot", f.boots)
	return version, health, nil
}

// powerOff stops the RAUC service (the rest of the "machine" is the
// daemon, which the world stops first).
func (f *firmware) powerOff() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc != nil {
		_ = syscall.Kill(-f.svc.Process.Pid, syscall.SIGKILL)
		_ = f.svc.Wait()
		f.svc = nil
	}
	f.unmount()
}

// unmount undoes what a stopped RAUC left mounted (a reboot would).
func (f *firmware) unmount() {
	b, _ := os.ReadFile("/proc/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		if fl := strings.Fields(l); len(fl) > 1 && strings.HasPrefix(fl[1], f.dir+"/") {
			_ = syscall.Unmount(fl[1], syscall.MNT_DETACH)
		}
	}
}

func (f *firmware) bootState() (map[string]string, error) {
	b, err := os.ReadFile(f.path("boot.state"))
	if err != nil {
		return nil, err
	}
	st := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("boot.state: line %q", l)
		}
		st[k] = v
	}
	for _, k := range []string{"primary", "A_attempts", "B_attempts", "A_trial", "B_trial"} {
		if st[k] == "" {
			return nil, fmt.Errorf("boot.state: no %s", k)
		}
	}
	return st, nil
}

// fwView is the platform as the control API shows it.
type fwView struct {
	Booted     string            `json:"booted"`
	Version    string            `json:"version"`
	Build      string            `json:"build"`
	Boots      int               `json:"boots"`
	Bootloader map[string]string `json:"bootloader"`
	Slots      map[string]string `json:"slots"`
	Builds     []fwBuild         `json:"builds"`
	CAFile     string            `json:"ca_file"`
}

func (f *firmware) view() (fwView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.bootState()
	if err != nil {
		return fwView{}, err
	}
	v := fwView{Booted: f.booted, Version: f.version, Build: f.health, Boots: f.boots, Bootloader: st,
		Slots: map[string]string{}, Builds: f.builds, CAFile: f.caFile}
	for _, s := range []string{"A", "B"} {
		if ver, h, err := readFwImage(f.path("slot" + s + ".img")); err == nil {
			v.Slots[s] = ver + " (" + h + ")"
		} else {
			v.Slots[s] = "empty"
		}
	}
	return v, nil
}

// Close stops the RAUC service, the bus and the bundle server.
func (f *firmware) Close() {
	f.powerOff()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bus != nil {
		_ = syscall.Kill(-f.bus.Process.Pid, syscall.SIGKILL)
		_ = f.bus.Wait()
		f.bus = nil
	}
	if f.srv != nil {
		f.srv.Close()
	}
}

func (w *world) getFirmware(context.Context, *http.Request) (any, error) {
	if w.fw == nil {
		return nil, notFound("firmware update simulation is off (start basesim with --firmware)")
	}
	return w.fw.view()
}

// reopenPort is the SLIC's SPI port as each boot of the daemon opens it:
// the chip stays on the board across a reboot, so the second and later
// Connects (a new daemon opening spidev again) get the same connection,
// with the same settings checked by the first. The daemon resets the chip
// through its reset line at each start.
type reopenPort struct {
	spi.Port
	mu   sync.Mutex
	conn spi.Conn
	args [3]int64
}

func (p *reopenPort) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	args := [3]int64{int64(f), int64(mode), int64(bits)}
	if p.conn != nil {
		if args != p.args {
			return nil, fmt.Errorf("%s: reopened with other settings %v, first %v", p.Port, args, p.args)
		}
		return p.conn, nil
	}
	c, err := p.Port.Connect(f, mode, bits)
	if err == nil {
		p.conn, p.args = c, args
	}
	return c, err
}
