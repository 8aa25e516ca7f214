package phone

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"basestation/internal/testpeer"
	"basestation/sim/slic"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// chip drives the simulated SLIC the way a driver would (telephony.md §1),
// so the phone can be tested on a real line.
type chip struct {
	t *testing.T
	c spi.Conn
}

func newChip(t *testing.T, m *slic.Model) *chip {
	c, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		t.Fatal(err)
	}
	return &chip{t: t, c: c}
}

func (h *chip) wr(reg, v byte) {
	if err := h.c.Tx([]byte{reg & 0x7F, v}, nil); err != nil {
		h.t.Fatal(err)
	}
}

func (h *chip) rd(reg byte) byte {
	r := make([]byte, 2)
	if err := h.c.Tx([]byte{reg | 0x80, 0}, r); err != nil {
		h.t.Fatal(err)
	}
	return r[1]
}

func (h *chip) wrInd(a byte, v uint16) {
	for h.rd(31) != 0 {
	}
	h.wr(28, byte(v))
	h.wr(29, byte(v>>8))
	h.wr(30, a)
}

// up powers the chip, programs the US ring preset with the chip cadence
// and the PCM slot (reg 1 value) and sets the linefeed.
func (h *chip) up(reg1, linefeed byte) {
	h.wr(74, 0x3F)
	h.wr(14, 0)
	for h.rd(82) < 0xC0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	h.wrInd(20, 0x7EFD)
	h.wrInd(21, 0x0155)
	h.wr(48, 0x80)
	h.wr(49, 0x3E)
	h.wr(50, 0x00)
	h.wr(51, 0x7D)
	h.wr(34, 0x18)
	h.wr(1, reg1)
	h.wr(64, linefeed)
}

// daemonSide reads the PCM slot continuously, like the daemon's audio loop.
type daemonSide struct {
	mu  sync.Mutex
	got []int16
}

func (d *daemonSide) run(ctx context.Context, pcm interface {
	ReadFrame(context.Context, []int16) error
}) {
	buf := make([]int16, 80)
	for pcm.ReadFrame(ctx, buf) == nil {
		d.mu.Lock()
		d.got = append(d.got, buf...)
		d.mu.Unlock()
	}
}

func (d *daemonSide) samples() []int16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int16(nil), d.got...)
}

// TestKeypadDTMFIndependentDecoders: the keypad's digits, after crossing
// the µ-law PCM slot to the daemon side, are decoded by spandsp's dtmf_rx
// (strict) and multimon-ng, with the configured timing.
func TestKeypadDTMFIndependentDecoders(t *testing.T) {
	rx := buildC(t, "dtmfrx")
	paths := testpeer.Require(t, "multimon-ng", "sox")
	const digits = "0123456789*#ABCD"
	var captured []int16
	var stereo []byte
	var ear []int16
	dir := t.TempDir()
	wav := filepath.Join(dir, "both.wav")
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: quiet()})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		h := newChip(t, m)
		h.up(0x28, 1) // µ-law, forward active
		p := New(m, Config{Logger: quiet()})
		var d daemonSide
		go d.run(ctx, m.PCM())
		if err := p.Record(wav, true); err != nil {
			t.Fatal(err)
		}
		p.OffHook()
		time.Sleep(100 * time.Millisecond)
		if err := p.DialDTMF(ctx, digits); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if err := p.StopRecording(); err != nil {
			t.Fatal(err)
		}
		captured = d.samples()
		ear = p.EarAudio()
		if err := p.DialDTMF(ctx, "5x"); err == nil {
			t.Error("digit x accepted")
		}
		p.OnHook()
		if err := p.DialDTMF(ctx, "5"); err == nil {
			t.Error("DTMF dialled on-hook")
		}
		cancel()
	})
	// spandsp: digits, durations and level.
	out, err := run(t, s16le(captured), rx)
	if err != nil {
		t.Fatalf("dtmfrx: %v", err)
	}
	var got string
	sc := bufio.NewScanner(bytes.NewReader(out))
	var prevEnd int
	for sc.Scan() {
		var dg string
		var start, end, lvl int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d %d", &dg, &start, &end, &lvl); err != nil {
			t.Fatalf("dtmfrx line %q: %v", sc.Text(), err)
		}
		got += dg
		// spandsp declares start and end with 13–40 ms latency each
		// (102-sample blocks), so the 80 ms tones read 55–105 ms.
		if on := end - start; on < 55 || on > 105 {
			t.Errorf("digit %s on for %d ms (spandsp), want ≈ 80", dg, on)
		}
		if prevEnd != 0 {
			if gap := start - prevEnd; gap < 55 || gap > 105 {
				t.Errorf("gap before %s %d ms, want ≈ 80", dg, gap)
			}
		}
		prevEnd = end
	}
	if got != digits {
		t.Errorf("spandsp decoded %q, want %q", got, digits)
	}
	// multimon-ng needs 22050 Hz raw input.
	raw := filepath.Join(dir, "keys.raw")
	writeFile(t, raw, s16le(captured))
	rs, err := run(t, nil, paths[1], "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", raw,
		"-t", "raw", "-r", "22050", "-e", "signed-integer", "-b", "16", "-c", "1", "-")
	if err != nil {
		t.Fatal(err)
	}
	mo, err := run(t, rs, paths[0], "-q", "-a", "DTMF", "-t", "raw", "-")
	if err != nil && len(mo) == 0 {
		t.Fatal(err)
	}
	var mm string
	for _, l := range strings.Split(string(mo), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "DTMF: "); ok {
			mm += s
		}
	}
	if mm != digits {
		t.Errorf("multimon-ng decoded %q, want %q", mm, digits)
	}
	// The stereo recording: left = ear, right = mic (the keypad).
	stereo, err = os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	if len(stereo) < 44 || binary.LittleEndian.Uint16(stereo[22:]) != 2 || int(binary.LittleEndian.Uint32(stereo[40:])) != len(stereo)-44 {
		t.Fatalf("recording header wrong (%d bytes)", len(stereo))
	}
	frames := (len(stereo) - 44) / 4
	var micEnergy float64
	for i := range frames {
		l := int16(binary.LittleEndian.Uint16(stereo[44+4*i:]))
		r := int16(binary.LittleEndian.Uint16(stereo[44+4*i+2:]))
		micEnergy += float64(r) * float64(r)
		if i < len(ear) && l != ear[i] {
			t.Fatalf("recorded ear sample %d = %d, ear history %d", i, l, ear[i])
		}
	}
	if micEnergy == 0 {
		t.Error("recording has no microphone audio")
	}
}

// TestRotaryAndFlashTiming: the rotary dial breaks the loop 10 times per
// second at 60/40 with the inter-digit pause, as the chip's loop-closure
// detector sees it, and a flash opens the loop for its duration.
func TestRotaryAndFlashTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: quiet()})
		h := newChip(t, m)
		h.up(0x28, 1)
		h.wr(69, 0x04) // 5 ms debounce, as the driver sets it
		p := New(m, Config{Logger: quiet()})
		p.OffHook()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if err := p.DialRotary(context.Background(), "305"); err != nil {
			t.Fatal(err)
		}
		dialEnd := time.Now()
		if err := p.Flash(context.Background(), 600*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		// Loop-closure changes as the chip reported them.
		var opens, closes []time.Time
		for _, ev := range m.Timeline() {
			if ev.Kind != slic.LoopDetect || ev.At.Before(start) {
				continue
			}
			if ev.Note == "open" {
				opens = append(opens, ev.At)
			} else {
				closes = append(closes, ev.At)
			}
		}
		if len(opens) != 19 || len(closes) != 19 {
			t.Fatalf("chip saw %d opens / %d closes, want 18 pulses + 1 flash", len(opens), len(closes))
		}
		var digits []int
		n := 0
		for i := range 18 {
			if br := closes[i].Sub(opens[i]); !near(br, 60*time.Millisecond, time.Millisecond) {
				t.Errorf("break %d lasted %v, want 60 ms", i, br)
			}
			n++
			if i+1 < 18 {
				mk := opens[i+1].Sub(closes[i])
				if mk > 300*time.Millisecond {
					if mk < 700*time.Millisecond {
						t.Errorf("inter-digit pause %v, want ≥ 700 ms", mk)
					}
					digits = append(digits, n)
					n = 0
				} else if !near(mk, 40*time.Millisecond, time.Millisecond) {
					t.Errorf("make %d lasted %v, want 40 ms", i, mk)
				}
			}
		}
		digits = append(digits, n)
		if fmt.Sprint(digits) != "[3 10 5]" {
			t.Errorf("pulse trains %v, want [3 10 5]", digits)
		}
		if fl := closes[18].Sub(opens[18]); !near(fl, 600*time.Millisecond, time.Millisecond) || opens[18].Before(dialEnd) {
			t.Errorf("flash: loop open %v, want 600 ms", fl)
		}
		if err := p.DialRotary(context.Background(), "1#"); err == nil {
			t.Error("rotary accepted #")
		}
	})
}

// TestTypeICallerIDBetweenRings: a complete on-hook caller-ID call on the
// simulated line: chip cadence 2 s / 4 s, the daemon sends spandsp FSK into
// the PCM slot during the silent period (on-hook transmission), the ringer
// and the display see it with timestamps; then the user answers and the
// ear hears the daemon's dial tone.
func TestTypeICallerIDBetweenRings(t *testing.T) {
	gen := buildC(t, "cidgen")
	fsk := cidSpandsp(t, gen, 300, 180, cidCases()[0].msg)
	synctest.Test(t, func(t *testing.T) {
		m := slic.New(slic.Config{Logger: quiet()})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Run(ctx)
		h := newChip(t, m)
		h.up(0x38, 1) // linear PCM, forward active
		p := New(m, Config{Logger: quiet()})
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		h.wr(64, 4)
		time.Sleep(2600 * time.Millisecond) // 600 ms into the first silence
		pcm := m.PCM()
		frame := make([]int16, 80)
		for off := 0; off < len(fsk); off += 80 {
			clear(frame)
			copy(frame, fsk[off:])
			if err := pcm.WriteFrame(ctx, frame); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(6200*time.Millisecond - time.Since(start)) // into the second ring
		st := p.State()
		if !st.Ringing || st.Rings != 2 {
			t.Errorf("ringing %v rings %d, want ringing, 2", st.Ringing, st.Rings)
		}
		cidCases()[0].check(t, st)
		rings := p.Rings()
		if len(rings) != 2 {
			t.Fatalf("rings %+v", rings)
		}
		if on := rings[0].End.Sub(rings[0].Start); on != 2*time.Second {
			t.Errorf("first ring %v, want 2 s", on)
		}
		if off := rings[1].Start.Sub(rings[0].End); off != 4*time.Second {
			t.Errorf("ring silence %v, want 4 s", off)
		}
		if math.Abs(rings[0].Vrms-45) > 1 || math.Abs(rings[0].Hz-20) > 0.2 || !rings[0].Valid {
			t.Errorf("ring signal %+v", rings[0])
		}
		var burst *Segment
		for _, s := range p.Segments() {
			if s.Label == ToneFSK {
				burst = &s
			}
		}
		if burst == nil {
			t.Fatal("no FSK heard")
		}
		if burst.Start.Before(rings[0].End.Add(500*time.Millisecond)) || burst.Start.Add(burst.Dur).After(rings[1].Start.Add(-200*time.Millisecond)) {
			t.Errorf("FSK %v+%v not inside the window after ring 1 (%v) and before ring 2 (%v)", burst.Start.Sub(start), burst.Dur, rings[0].End.Sub(start), rings[1].Start.Sub(start))
		}
		if st.CallerID.Received.Before(burst.Start) || st.CallerID.Received.After(burst.Start.Add(burst.Dur)) {
			t.Errorf("caller ID received at %v, outside its burst %v+%v; segments %v", st.CallerID.Received.Sub(start), burst.Start.Sub(start), burst.Dur, p.Segments())
		}
		// Answer: ring trip, the daemon plays dial tone (350+440, −13 dBm0).
		p.OffHook()
		time.Sleep(100 * time.Millisecond)
		if p.State().Ringing {
			t.Error("still ringing after answer")
		}
		tone := synth(nil, 8000, []float64{350, 440}, []float64{peakFromDBm0(-13), peakFromDBm0(-13)})
		for off := 0; off < len(tone); off += 80 {
			if err := pcm.WriteFrame(ctx, tone[off:off+80]); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if got := p.Hearing(); got != ToneDial {
			t.Errorf("off-hook the ear hears %q, want dial", got)
		}
		cancel()
	})
}

// TestCIDCW: off-hook, the phone answers CAS with DTMF 'D' within 100 ms
// (decoded by spandsp), then shows the caller from the following FSK.
func TestCIDCW(t *testing.T) {
	gen := buildC(t, "cidgen")
	rx := buildC(t, "dtmfrx")
	const v = 0.12
	sas := soxSignal(t, 1, tonePart{dur: 0.3}, tonePart{freqs: []float64{440}, dur: 0.3, vol: v}, tonePart{dur: 0.2})
	cas := soxSignal(t, 1, tonePart{freqs: []float64{2130, 2750}, dur: 0.08, vol: v})
	fsk := cidSpandsp(t, gen, 0, 80, msgBytes(0x80, param(1, "11221531"), param(2, "2125550100"), param(7, "CALLER TWO")))
	casEnd := len(sas) + len(cas)
	var mic []int16
	var st State
	var heardCW bool
	synctest.Test(t, func(t *testing.T) {
		p := New(&fakeLine{}, Config{Logger: quiet()})
		p.OffHook()
		mic = feed(p, sas[:len(sas)-1600])
		heardCW = p.Hearing() == ToneCallWaiting
		mic = append(mic, feed(p, sas[len(sas)-1600:])...)
		mic = append(mic, feed(p, cas)...)
		mic = append(mic, feed(p, silence(160*time.Millisecond))...)
		mic = append(mic, feed(p, fsk)...)
		mic = append(mic, feed(p, silence(200*time.Millisecond))...)
		st = p.State()
	})
	if !heardCW {
		t.Error("SAS not heard as call-waiting")
	}
	if st.CASAcks != 1 {
		t.Fatalf("CAS acks %d, want 1", st.CASAcks)
	}
	c := st.CallerID
	if c == nil || c.Number != "2125550100" || c.Name != "CALLER TWO" || !c.CallWaiting {
		t.Errorf("call-waiting caller %+v", c)
	}
	out, err := run(t, s16le(mic), rx)
	if err != nil {
		t.Fatalf("dtmfrx on the phone's ACK: %v", err)
	}
	var dg string
	var s0, e0, lvl int
	if _, err := fmt.Sscanf(string(out), "%s %d %d %d", &dg, &s0, &e0, &lvl); err != nil || dg != "D" {
		t.Fatalf("ACK decoded as %q (%v), want D", out, err)
	}
	if on := e0 - s0; on < 40 || on > 85 {
		t.Errorf("spandsp measured the ACK at %d ms, want ≈ 60", on)
	}
	// Exact timing from the microphone samples.
	first, last := -1, -1
	for i, s := range mic {
		if s != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if d := time.Duration(first-casEnd) * time.Second / sampleRate; d < 0 || d > 100*time.Millisecond {
		t.Errorf("ACK starts %v after CAS end, want 0–100 ms", d)
	}
	if d := time.Duration(last-first+1) * time.Second / sampleRate; !near(d, 60*time.Millisecond, 2*time.Millisecond) {
		t.Errorf("ACK lasts %v, want 60 ms", d)
	}
}

// TestNoCIDCWPhone: a Type I-only phone does not answer CAS.
func TestNoCIDCWPhone(t *testing.T) {
	cas := synth(nil, 640, []float64{2130, 2750}, []float64{3000, 3000})
	synctest.Test(t, func(t *testing.T) {
		p := New(&fakeLine{}, Config{Logger: quiet(), NoCIDCW: true})
		p.OffHook()
		mic := feed(p, append(append(silence(200*time.Millisecond), cas...), silence(200*time.Millisecond)...))
		for _, s := range mic {
			if s != 0 {
				t.Fatal("Type I phone sent audio after CAS")
			}
		}
		if p.State().Hearing != ToneSilence {
			t.Error("hearing")
		}
	})
}
