package testpeer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BaresipOptions shape a headless baresip 1.0 phone.
type BaresipOptions struct {
	// User and Password are the SIP account; Registrar (host:port) is
	// where it registers (empty: no registration, called directly).
	User, Password, Registrar string
	// DisplayName is the account's display name ("" for none).
	DisplayName string
	// ToneHz is the sine the phone "speaks" (an 8 kHz WAV played by the
	// aufile source) for ToneSecs seconds per call (0 means 30 s).
	ToneHz   float64
	ToneSecs int
	// Answer is the answer mode: "manual" (default) or "auto".
	Answer string
	// SIPTrace makes baresip print every SIP message it sends and
	// receives (-s), so tests can check headers such as
	// P-Asserted-Identity.
	SIPTrace bool
	// AccountParams is appended to the account line (e.g.
	// ";mediaenc=srtp-mand", which also loads the srtp module).
	AccountParams string
	// NoRecord leaves the sndfile module out (no call recordings).
	NoRecord bool
	// AudioCodecs is the account's codec list in offer order (default
	// "PCMU,PCMA"); naming G722 (as "G722/16000/1": baresip takes a bare
	// name for 8000 Hz) loads baresip's g722 module.
	AudioCodecs string
	// SampleRate is the rate of the phone's audio source (its tone WAV),
	// player and recordings: 8000 (default) or 16000 (wideband, G.722).
	SampleRate int
}

// Baresip is a running baresip driven over its ctrl_tcp JSON socket. Every
// call's audio is recorded (sndfile) in SoundDir unless NoRecord.
type Baresip struct {
	User     string
	SIPPort  int
	Dir      string
	SoundDir string
	Proc     *Proc
	Rate     int // sample rate of its audio and recordings

	conn   net.Conn
	rd     *bufio.Reader
	mu     sync.Mutex
	events []map[string]any
	seen   []map[string]any
	evCh   chan struct{}
}

// StartBaresip starts baresip on free loopback ports and, with a
// Registrar, waits until it is registered. It is stopped (by PID) at
// cleanup.
func StartBaresip(t testing.TB, o BaresipOptions) *Baresip {
	t.Helper()
	bins := Require(t, "baresip")
	if o.Answer == "" {
		o.Answer = "manual"
	}
	if o.ToneSecs == 0 {
		o.ToneSecs = 30
	}
	if o.AudioCodecs == "" {
		o.AudioCodecs = "PCMU,PCMA"
	}
	if o.SampleRate == 0 {
		o.SampleRate = 8000
	}
	if o.SampleRate != 8000 && o.SampleRate != 16000 {
		t.Fatalf("baresip: sample rate %d (want 8000 or 16000)", o.SampleRate)
	}
	if strings.ContainsAny(o.DisplayName, "\"\r\n") {
		t.Fatalf("baresip: display name %q", o.DisplayName)
	}
	dir := t.TempDir()
	snd := filepath.Join(dir, "snd")
	if err := os.MkdirAll(snd, 0o755); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(dir, "tone.wav")
	if err := WriteToneWAVAt(wav, o.ToneHz, o.ToneSecs, o.SampleRate); err != nil {
		t.Fatal(err)
	}
	sipPort := FreePort(t, true) // baresip also binds port+1 (TLS)
	ctrlPort := FreePort(t, false)
	modules := []string{"g711", "aufile", "aubridge"}
	if strings.Contains(strings.ToUpper(o.AudioCodecs), "G722") {
		modules = append(modules, "g722")
	}
	if !o.NoRecord {
		modules = append(modules, "sndfile")
	}
	if strings.Contains(o.AccountParams, "srtp") {
		modules = append(modules, "srtp")
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "poll_method epoll\nsip_listen 127.0.0.1:%d\nnet_interface 127.0.0.1\ndns_server 127.0.0.1:53\n", sipPort)
	fmt.Fprintf(&cfg, "audio_player aubridge,null-%s\naudio_alert aubridge,null-%s\naudio_source aufile,%s\n", o.User, o.User, wav)
	fmt.Fprintf(&cfg, "ausrc_srate %d\nausrc_channels 1\nauplay_srate %d\nauplay_channels 1\n", o.SampleRate, o.SampleRate)
	cfg.WriteString("ausrc_format s16\nauplay_format s16\nauenc_format s16\naudec_format s16\n")
	cfg.WriteString("audio_buffer 20-160\njitter_buffer_delay 1-10\nrtp_ports 30000-39999\nrtcp_mux no\nrtp_stats yes\nrtp_tos 0\n")
	cfg.WriteString("call_local_timeout 120\ncall_max_calls 8\n")
	fmt.Fprintf(&cfg, "ctrl_tcp_listen 127.0.0.1:%d\nsnd_path %s\n", ctrlPort, snd)
	cfg.WriteString("module_path /usr/lib/baresip/modules\n")
	for _, m := range modules {
		fmt.Fprintf(&cfg, "module %s.so\n", m)
	}
	cfg.WriteString("module_tmp uuid.so\nmodule_tmp account.so\nmodule_app contact.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\n")
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	name := ""
	if o.DisplayName != "" {
		name = fmt.Sprintf("%q ", o.DisplayName)
	}
	acct := fmt.Sprintf("%s<sip:%s@127.0.0.1:%d>;regint=0;answermode=%s;audio_codecs=%s;ptime=20", name, o.User, sipPort, o.Answer, o.AudioCodecs)
	if o.Registrar != "" {
		acct = fmt.Sprintf("%s<sip:%s@127.0.0.1;transport=udp>;auth_pass=%s;outbound=\"sip:%s\";answermode=%s;audio_codecs=%s;regint=600;ptime=20",
			name, o.User, o.Password, o.Registrar, o.Answer, o.AudioCodecs)
	}
	acct += o.AccountParams + "\n"
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(acct), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contacts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", dir, "-4", "-n", "127.0.0.1"}
	if o.SIPTrace {
		args = append(args, "-s")
	}
	proc := Start(t, dir, bins[0], args...)
	WaitListening(t, fmt.Sprintf("127.0.0.1:%d", ctrlPort), 10*time.Second, proc)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrlPort))
	if err != nil {
		t.Fatal(err)
	}
	b := &Baresip{User: o.User, SIPPort: sipPort, Dir: dir, SoundDir: snd, Proc: proc, Rate: o.SampleRate, conn: c, rd: bufio.NewReader(c), evCh: make(chan struct{}, 1)}
	go b.readLoop()
	t.Cleanup(func() { c.Close() })
	if o.Registrar != "" {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(proc.Output(), "200 OK") {
			if time.Now().After(deadline) || proc.Exited() {
				t.Fatalf("baresip %s did not register at %s:\n%s", o.User, o.Registrar, proc.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return b
}

// readLoop reads the netstring-framed JSON messages of ctrl_tcp.
func (b *Baresip) readLoop() {
	for {
		lenStr, err := b.rd.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(lenStr, ":")))
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		buf := make([]byte, n+1) // the message and its ','
		if _, err := io.ReadFull(b.rd, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:n], &m) == nil {
			b.mu.Lock()
			b.events = append(b.events, m)
			b.seen = append(b.seen, m)
			b.mu.Unlock()
			select {
			case b.evCh <- struct{}{}:
			default:
			}
		}
	}
}

// Command sends one ctrl_tcp command (e.g. "dial", "sip:101@…"; "accept";
// "hangup"). The reply arrives as a message with "response": true.
func (b *Baresip) Command(cmd, params string) error {
	js, err := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(js), js); err != nil {
		return fmt.Errorf("baresip %s ctrl: %w", b.User, err)
	}
	return nil
}

// ErrNoEvent is returned by WaitEvent when the event did not come in time.
var ErrNoEvent = errors.New("baresip event not seen")

// WaitEvent waits for (and consumes) the first not yet consumed event of
// type typ (CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED, …).
func (b *Baresip) WaitEvent(typ string, d time.Duration) (map[string]any, error) {
	deadline := time.Now().Add(d)
	for {
		b.mu.Lock()
		for i, e := range b.events {
			if e["type"] == typ {
				b.events = append(b.events[:i:i], b.events[i+1:]...)
				b.mu.Unlock()
				return e, nil
			}
		}
		b.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s within %v at baresip %s (events so far: %s)", ErrNoEvent, typ, d, b.User, b.eventTypes())
		}
		select {
		case <-b.evCh:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// MustEvent is WaitEvent failing the test (from the test's goroutine).
func (b *Baresip) MustEvent(t testing.TB, typ string, d time.Duration) map[string]any {
	t.Helper()
	e, err := b.WaitEvent(typ, d)
	if err != nil {
		t.Fatalf("%v\n--- baresip %s output (tail):\n%s", err, b.User, Tail(b.Proc.Output(), 3000))
	}
	return e
}

// Events returns every message received so far (consumed or not).
func (b *Baresip) Events() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.seen...)
}

func (b *Baresip) eventTypes() string {
	var s []string
	for _, e := range b.Events() {
		if t, ok := e["type"].(string); ok {
			s = append(s, t)
		}
	}
	return strings.Join(s, ",")
}

// Output is baresip's log so far.
func (b *Baresip) Output() string { return b.Proc.Output() }

// Recordings returns the paths of the received-audio recordings
// (dump-*-dec.wav), oldest first.
func (b *Baresip) Recordings() []string {
	files, _ := filepath.Glob(filepath.Join(b.SoundDir, "dump-*-dec.wav"))
	sort.Strings(files)
	return files
}

// Decoded returns what baresip received in its last recorded call (mono,
// at its SampleRate).
func (b *Baresip) Decoded() ([]int16, error) {
	files := b.Recordings()
	if len(files) == 0 {
		return nil, fmt.Errorf("baresip %s recorded nothing in %s", b.User, b.SoundDir)
	}
	x, rate, err := ReadWAV(files[len(files)-1])
	if err != nil {
		return nil, err
	}
	if rate != b.Rate {
		return nil, fmt.Errorf("baresip %s recorded at %d Hz, want %d", b.User, rate, b.Rate)
	}
	return x, nil
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// WriteToneWAV writes an 8 kHz mono 16-bit WAV of a sine at freq Hz
// (amplitude 8000; freq 0 is silence) lasting secs seconds.
func WriteToneWAV(path string, freq float64, secs int) error {
	return WriteToneWAVAt(path, freq, secs, 8000)
}

// WriteToneWAVAt is WriteToneWAV at another sample rate.
func WriteToneWAVAt(path string, freq float64, secs, rate int) error {
	n := rate * secs
	x := make([]int16, n)
	for i := range x {
		x[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return WriteWAV(path, x, rate)
}

// WriteWAV writes mono 16-bit PCM samples at rate as a WAV file.
func WriteWAV(path string, x []int16, rate int) error {
	n := len(x)
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i, v := range x {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadWAV reads the samples and rate of a 16-bit PCM mono WAV file (the
// chunks are walked by name, so extra chunks are skipped). A malformed
// file is an error naming what is wrong.
func ReadWAV(path string) ([]int16, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	return ParseWAV(b)
}

// ParseWAV is ReadWAV on bytes.
func ParseWAV(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("wav: not a RIFF/WAVE file")
	}
	rate := 0
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		sz := int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8:]
		if sz < 0 || sz > len(body) {
			sz = len(body) // a recorder killed mid-call leaves the size unset
		}
		switch id {
		case "fmt ":
			if sz < 16 {
				return nil, 0, fmt.Errorf("wav: fmt chunk of %d bytes", sz)
			}
			if f := binary.LittleEndian.Uint16(body[0:]); f != 1 {
				return nil, 0, fmt.Errorf("wav: format %d is not PCM", f)
			}
			if ch := binary.LittleEndian.Uint16(body[2:]); ch != 1 {
				return nil, 0, fmt.Errorf("wav: %d channels, want mono", ch)
			}
			if bits := binary.LittleEndian.Uint16(body[14:]); bits != 16 {
				return nil, 0, fmt.Errorf("wav: %d bits per sample, want 16", bits)
			}
			rate = int(binary.LittleEndian.Uint32(body[4:]))
			if rate <= 0 || rate > 384000 {
				return nil, 0, fmt.Errorf("wav: sample rate %d", rate)
			}
		case "data":
			if rate == 0 {
				return nil, 0, errors.New("wav: data chunk before fmt chunk")
			}
			out := make([]int16, sz/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, rate, nil
		}
		off += 8 + sz + sz%2
	}
	return nil, 0, errors.New("wav: no data chunk")
}
