package pbx_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/pbx"
	"basestation/sim/softphone"
	"basestation/sim/softphone/media"
)

// baresipPeer is a headless baresip 1.0 driven over its ctrl_tcp socket
// (netstring-framed JSON, reference/peers.md §4).
type baresipPeer struct {
	t      *testing.T
	snd    string
	port   int
	proc   *testpeer.Proc
	conn   net.Conn
	mu     sync.Mutex
	events []map[string]any
}

// toneWAV writes an 8 kHz mono 16-bit WAV of a sine.
func toneWAV(path string, hz float64, secs int) error {
	n := 8000 * secs
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)    // PCM
	binary.LittleEndian.PutUint16(b[22:], 1)    // mono
	binary.LittleEndian.PutUint32(b[24:], 8000) // rate
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(8000*math.Sin(2*math.Pi*hz*float64(i)/8000))))
	}
	return os.WriteFile(path, b, 0o644)
}

// wavSamples reads the data chunk of a 16-bit mono 8 kHz WAV.
func wavSamples(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s is not a WAV file", path)
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		size = min(size, len(body))
		if id == "fmt " && (size < 16 || binary.LittleEndian.Uint32(body[4:]) != 8000) {
			return nil, fmt.Errorf("%s is not 8 kHz", path)
		}
		if id == "data" {
			out := make([]int16, size/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		off += 8 + size + size%2
	}
	return nil, fmt.Errorf("%s has no data chunk", path)
}

// startBaresip runs baresip as user registered at the PBX, sending a tone.
func startBaresip(t *testing.T, p *pbx.PBX, user, pass string, hz float64, answermode string) *baresipPeer {
	t.Helper()
	bin := testpeer.Require(t, "baresip")[0]
	dir := t.TempDir()
	snd := filepath.Join(dir, "snd")
	if err := os.Mkdir(snd, 0o755); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(dir, "tone.wav")
	if err := toneWAV(wav, hz, 30); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t, true) // baresip also opens port+1 (TLS)
	ctrl := testpeer.FreePort(t, false)
	cfg := strings.Join([]string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", port),
		"net_interface 127.0.0.1",
		"dns_server 127.0.0.1:53",
		"audio_player aubridge,null-" + user,
		"audio_alert aubridge,null-" + user,
		"audio_source aufile," + wav,
		"ausrc_srate 8000", "ausrc_channels 1", "auplay_srate 8000", "auplay_channels 1",
		"ausrc_format s16", "auplay_format s16", "auenc_format s16", "audec_format s16",
		"audio_buffer 20-160", "jitter_buffer_delay 1-10", "rtp_ports 40000-49999",
		"rtcp_mux no", "rtp_stats yes", "rtp_tos 0", "call_local_timeout 120", "call_max_calls 4",
		fmt.Sprintf("ctrl_tcp_listen 127.0.0.1:%d", ctrl),
		"snd_path " + snd,
		"module_path /usr/lib/baresip/modules",
		"module g711.so", "module aufile.so", "module aubridge.so", "module sndfile.so",
		"module_tmp uuid.so", "module_tmp account.so",
		"module_app contact.so", "module_app menu.so", "module_app ctrl_tcp.so",
		"",
	}, "\n")
	acct := fmt.Sprintf("<sip:%s@127.0.0.1;transport=udp>;auth_pass=%s;outbound=\"sip:%s\";answermode=%s;audio_codecs=PCMU,PCMA;regint=600;ptime=20\n",
		user, pass, p.Addr(), answermode)
	for name, body := range map[string]string{"config": cfg, "accounts": acct, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc := testpeer.Start(t, dir, bin, "-f", dir, "-4", "-n", "127.0.0.1")
	testpeer.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", ctrl), 10*time.Second, proc)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &baresipPeer{t: t, snd: snd, port: port, proc: proc, conn: conn}
	go b.read()
	waitFor(t, 10*time.Second, "baresip "+user+" registered at the PBX", func() bool {
		for _, r := range p.Registrations() {
			if r.Ext == user && strings.Contains(strings.ToLower(r.UserAgent), "baresip") {
				return true
			}
		}
		return false
	})
	return b
}

func (b *baresipPeer) read() {
	rd := bufio.NewReader(b.conn)
	for {
		l, err := rd.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSuffix(l, ":"))
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		buf := make([]byte, n+1) // payload and the trailing comma
		if _, err := io.ReadFull(rd, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:n], &m) == nil {
			b.mu.Lock()
			b.events = append(b.events, m)
			b.mu.Unlock()
		}
	}
}

func (b *baresipPeer) command(cmd, params string) {
	js, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(js), js); err != nil {
		b.t.Fatalf("baresip ctrl_tcp: %v", err)
	}
}

func (b *baresipPeer) waitEvent(typ string, d time.Duration) {
	b.t.Helper()
	waitFor(b.t, d, "baresip event "+typ, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, e := range b.events {
			if e["type"] == typ {
				b.events = append(b.events[:i:i], b.events[i+1:]...)
				return true
			}
		}
		return false
	})
}

// heard analyses the middle of what baresip received in its last call.
func (b *baresipPeer) heard() media.Analysis {
	b.t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.snd, "dump-*-dec.wav"))
	if len(files) == 0 {
		b.t.Fatalf("baresip recorded nothing in %s", b.snd)
	}
	x, err := wavSamples(files[len(files)-1])
	if err != nil {
		b.t.Fatal(err)
	}
	if len(x) < 4000 {
		b.t.Fatalf("baresip recorded only %d samples", len(x))
	}
	return media.Analyse(x[len(x)/2-1600:len(x)/2+1600], 8000)
}

// Interop with a real phone: baresip registers at the PBX with digest auth;
// a softphone calls it and hears its tone, then baresip calls the softphone;
// in both directions baresip's recording holds the softphone's tone.
func TestInteropBaresip(t *testing.T) {
	p := startPBX(t, pbx.Config{Auth: true})
	ctx := tctx(t, 40*time.Second)
	br := startBaresip(t, p, "102", "pw102", 1000, "auto")
	sp := startPhone(t, softphone.Config{User: "101", Password: "pw101", DisplayName: "Soft", Registrar: p.Addr(), ToneHz: 600, AutoAnswer: true})
	if err := sp.Register(ctx); err != nil {
		t.Fatal(err)
	}

	if err := sp.Call(ctx, "102"); err != nil {
		t.Fatal(err)
	}
	br.waitEvent("CALL_ESTABLISHED", 5*time.Second)
	waitTone(t, sp, 1000)
	time.Sleep(1500 * time.Millisecond) // let baresip record
	if err := sp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	br.waitEvent("CALL_CLOSED", 5*time.Second)
	if a := br.heard(); math.Abs(a.Freq-600) > 10 {
		t.Errorf("baresip heard %.1f Hz (%.1f dBFS), want 600", a.Freq, a.DBFS)
	}

	sp.SetTone(1400)
	br.command("dial", "sip:101@"+p.Addr())
	ev, err := sp.WaitEvent(ctx, softphone.EvIncoming)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Info.FromUser != "102" {
		t.Errorf("softphone saw caller %q, want 102", ev.Info.FromUser)
	}
	if _, err := sp.WaitEvent(ctx, softphone.EvConnected); err != nil {
		t.Fatal(err)
	}
	waitTone(t, sp, 1000)
	time.Sleep(1500 * time.Millisecond)
	br.command("hangup", "")
	if _, err := sp.WaitEvent(ctx, softphone.EvEnded); err != nil {
		t.Fatal(err)
	}
	br.waitEvent("CALL_CLOSED", 5*time.Second)
	if a := br.heard(); math.Abs(a.Freq-1400) > 10 {
		t.Errorf("baresip heard %.1f Hz (%.1f dBFS), want 1400", a.Freq, a.DBFS)
	}
	cs := p.Calls()
	if len(cs) != 2 || cs[0].Callee != "102" || cs[1].Caller != "102" || cs[1].EndedBy != "102" {
		t.Errorf("calls %+v", cs)
	}
}

// SIPp's built-in uac scenario (INVITE, ACK, pause, BYE) goes through the
// PBX (auth off: the built-in scenario does not answer challenges) to a
// registered softphone, over UDP and over TCP (the softphone's leg stays
// UDP); SIPp exits 0 only if every step matched.
func TestInteropSIPpUAC(t *testing.T) {
	bin := testpeer.Require(t, "sipp")[0]
	for _, tr := range []string{"u1", "t1"} {
		t.Run(tr, func(t *testing.T) {
			p := startPBX(t, pbx.Config{Auth: false})
			ctx := tctx(t, 30*time.Second)
			sp := startPhone(t, softphone.Config{User: "102", Registrar: p.Addr(), AutoAnswer: true, ToneHz: 800})
			if err := sp.Register(ctx); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			port := testpeer.FreePort(t, false)
			mport := testpeer.FreePort(t, true)
			cport := testpeer.FreePort(t, false)
			proc := testpeer.Start(t, dir, bin, "-sn", "uac", "-t", tr, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
				"-mi", "127.0.0.1", "-mp", strconv.Itoa(mport), "-cp", strconv.Itoa(cport),
				"-s", "102", "-m", "1", "-d", "1000", "-nostdin", "-timeout", "15s", "-timeout_error", p.Addr())
			waitFor(t, 20*time.Second, "sipp to finish", proc.Exited)
			if code := proc.Cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("sipp uac exit %d:\n%s", code, proc.Output())
			}
			waitFor(t, 3*time.Second, "softphone idle", func() bool { return sp.State() == softphone.Idle })
			cs := p.Calls()
			want := map[string]string{"u1": "UDP", "t1": "TCP"}[tr]
			if len(cs) != 1 || cs[0].Status != 200 || cs[0].Callee != "102" || cs[0].State != "ended" || cs[0].Invite.Transport != want {
				t.Errorf("calls %+v", cs)
			}
		})
	}
}

// The PBX calls a third-party UAS: SIPp's built-in uas scenario, bound to
// extension 104 by a SIPp REGISTER, answers a softphone's call through the
// PBX and takes the PBX's BYE; it exits 0 only if every message matched.
func TestInteropSIPpUAS(t *testing.T) {
	bin := testpeer.Require(t, "sipp")[0]
	p := startPBX(t, pbx.Config{Auth: false})
	ctx := tctx(t, 30*time.Second)
	dir := t.TempDir()
	uasPort := testpeer.FreePort(t, false)
	uas := testpeer.Start(t, dir, bin, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(testpeer.FreePort(t, true)), "-cp", strconv.Itoa(testpeer.FreePort(t, false)),
		"-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error")
	scen, err := filepath.Abs("testdata/sipp-register.xml")
	if err != nil {
		t.Fatal(err)
	}
	reg := testpeer.Start(t, dir, bin, "-sf", scen, "-i", "127.0.0.1", "-p", strconv.Itoa(testpeer.FreePort(t, false)),
		"-cp", strconv.Itoa(testpeer.FreePort(t, false)), "-s", "104", "-key", "contact_port", strconv.Itoa(uasPort),
		"-key", "expires", "300", "-m", "1", "-nostdin", "-timeout", "10s", "-timeout_error", p.Addr())
	waitFor(t, 15*time.Second, "sipp REGISTER to finish", reg.Exited)
	if code := reg.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("sipp register exit %d:\n%s", code, reg.Output())
	}
	regs := p.Registrations()
	if len(regs) != 1 || regs[0].Ext != "104" || !strings.HasSuffix(regs[0].Contact, ":"+strconv.Itoa(uasPort)) {
		t.Fatalf("registrations %+v", regs)
	}
	sp := startPhone(t, softphone.Config{User: "101", Registrar: p.Addr(), ToneHz: 900})
	if err := sp.Call(ctx, "104"); err != nil {
		t.Fatalf("call to SIPp uas: %v\n%s", err, uas.Output())
	}
	time.Sleep(500 * time.Millisecond)
	if err := sp.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "sipp uas to finish", uas.Exited)
	if code := uas.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("sipp uas exit %d:\n%s", code, uas.Output())
	}
	cs := p.Calls()
	if len(cs) != 1 || cs[0].Callee != "104" || cs[0].EndedBy != "101" {
		t.Errorf("calls %+v", cs)
	}
}
