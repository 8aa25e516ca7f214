package dsp

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"basestation/hal"
)

func FuzzDTMFDetector(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	seed := func(x []int16) []byte {
		b := make([]byte, 2*len(x))
		for i, v := range x {
			b[2*i], b[2*i+1] = byte(v), byte(uint16(v)>>8)
		}
		return b
	}
	f.Add(seed(toPCM(dtmfTone(r, 8000, '7', 80*ms, 0, 0, -10, -10))), uint8(80), false)
	f.Add(seed(toPCM(concat(dtmfTone(r, 16000, '#', 60*ms, 0.01, 0, -3, -3), silence(16000, 60*ms)))), uint8(160), true)
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f, 0x00, 0x80}, uint8(3), false)
	f.Add(make([]byte, 4000), uint8(0), false)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, wide bool) {
		rate := 8000
		if wide {
			rate = 16000
		}
		d, err := NewDTMFDetector(rate, nil)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int16, len(data)/2)
		for i := range x {
			x[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		n := int(chunk) + 1
		ev := make([]DTMFEvent, 0, 8)
		var open byte
		for len(x) > 0 {
			k := min(n, len(x))
			out := d.Process(x[:k], ev[:0])
			x = x[k:]
			if cap(out) != cap(ev) {
				t.Fatalf("Process grew the event slice to %d", cap(out))
			}
			for _, e := range out {
				if strings.IndexByte(allDigits, e.Digit) < 0 || e.Duration < 0 || e.At < 0 {
					t.Fatalf("malformed event %+v", e)
				}
				if e.End != (open != 0) || (e.End && e.Digit != open) {
					t.Fatalf("event %+v out of order (open %q)", e, open)
				}
				if e.End {
					open = 0
				} else {
					open = e.Digit
				}
			}
		}
	})
}

// parseMessage is a test-local caller-ID parser: it checks the framing and
// checksum and returns the MDMF parameters.
func parseMessage(t *testing.T, m []byte) map[byte]string {
	t.Helper()
	if len(m) < 3 || int(m[1]) != len(m)-3 {
		t.Fatalf("bad framing %x", m)
	}
	var s byte
	for _, b := range m {
		s += b
	}
	if s != 0 {
		t.Fatalf("checksum does not cancel: %x", m)
	}
	p := map[byte]string{}
	if m[0] != MsgMDMFCallerID {
		return p
	}
	body := m[2 : len(m)-1]
	for len(body) > 0 {
		if len(body) < 2 || int(body[1]) > len(body)-2 {
			t.Fatalf("bad parameter in %x", m)
		}
		p[body[0]] = string(body[2 : 2+body[1]])
		body = body[2+body[1]:]
	}
	return p
}

func FuzzCallerID(f *testing.F) {
	f.Add("5551234567", "ALICE", byte(0), byte(0), int64(1764000000), true)
	f.Add("", "", byte('P'), byte('O'), int64(0), false)
	f.Add("12a", "Zoë", byte('X'), byte(0), int64(-5), true)
	f.Add(strings.Repeat("9", 40), strings.Repeat("N", 40), byte(0), byte(0), int64(99999999999), false)
	f.Fuzz(func(t *testing.T, number, name string, numAbs, nameAbs byte, unix int64, withTime bool) {
		c := CallerID{Number: number, Name: name, NumberAbsent: Absence(numAbs), NameAbsent: Absence(nameAbs)}
		if withTime {
			c.Time = time.Unix(unix%(1<<40), 0).UTC()
		}
		m, err := c.MDMF()
		if err != nil {
			if !errors.Is(err, ErrCallerID) || err.Error() == "" {
				t.Fatalf("error %v does not wrap ErrCallerID", err)
			}
		} else {
			p := parseMessage(t, m)
			if number != "" && p[ParamNumber] != number {
				t.Fatalf("number %q sent as %q", number, p[ParamNumber])
			}
			if name != "" && p[ParamName] != name {
				t.Fatalf("name %q sent as %q", name, p[ParamName])
			}
			if len(number) > MaxNumberLen || len(name) > MaxNameLen {
				t.Fatalf("over-long field accepted: %x", m)
			}
			if withTime && len(p[ParamDateTime]) != 8 {
				t.Fatalf("date/time %q", p[ParamDateTime])
			}
			fx, _ := NewFSKTransmitter(8000, nil)
			if err := fx.Start(TypeII, m); err != nil {
				t.Fatalf("transmitter refused a built message: %v", err)
			}
		}
		if s, err := c.SDMF(); err == nil {
			parseMessage(t, s)
		} else if !errors.Is(err, ErrCallerID) {
			t.Fatalf("SDMF error %v does not wrap ErrCallerID", err)
		}
	})
}

func FuzzFSKStart(f *testing.F) {
	f.Add(VMWI(true))
	f.Add([]byte{0x80, 0x01})
	f.Add([]byte{0x80, 0x00, 0x80})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fx, err := NewFSKTransmitter(8000, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.Start(TypeI, msg); err != nil {
			if !errors.Is(err, ErrCallerID) {
				t.Fatalf("error %v does not wrap ErrCallerID", err)
			}
			return
		}
		frame := make([]int16, 80)
		total := 0
		for fx.Active() {
			total += fx.Fill(frame)
		}
		if want := (300 + 180 + 10*len(msg) + 8) * 8000 / 1200; abs(total-want) > 1 {
			t.Fatalf("%d samples for a %d-byte message, want %d", total, len(msg), want)
		}
	})
}

func FuzzHookClassifier(f *testing.F) {
	f.Add([]byte{10, 1, 60, 40, 60, 40, 60, 250, 200})
	f.Add([]byte{0, 0, 0, 255, 255, 255})
	f.Add([]byte{5, 3, 3, 3, 80, 45, 80, 45, 200, 200, 200})
	f.Fuzz(func(t *testing.T, steps []byte) {
		h, err := NewHookClassifier(nil)
		if err != nil {
			t.Fatal(err)
		}
		o := DefaultHookOpts()
		now := time.Duration(0)
		state := hal.OnHook
		var ev []HookEvent
		offHook := false
		for i, s := range steps {
			now += time.Duration(s) * 4 * ms
			if s%7 == 0 {
				ev, err = h.Tick(now, ev[:0])
			} else {
				state = 1 - state
				ev, err = h.Transition(state, now, ev[:0])
			}
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if d, ok := h.Deadline(); ok && d <= now {
				t.Fatalf("deadline %v not after now %v after Tick", d, now)
			}
			for _, e := range ev {
				switch e.Kind {
				case HookOffHook:
					if offHook {
						t.Fatal("off-hook twice without a hang-up")
					}
					offHook = true
				case HookHangUp:
					if !offHook {
						t.Fatal("hang-up while idle")
					}
					offHook = false
				case HookDigit:
					if e.Pulses < 1 || e.Pulses > 10 || e.Digit != byte('0'+e.Pulses%10) {
						t.Fatalf("digit %+v", e)
					}
				case HookBadDigit:
					if e.Pulses <= 10 {
						t.Fatalf("bad digit %+v", e)
					}
				case HookFlash:
					if e.Duration < o.FlashMin || e.Duration > o.FlashMax {
						t.Fatalf("flash %+v outside the window", e)
					}
				default:
					t.Fatalf("unknown event %+v", e)
				}
				if !offHook && e.Kind != HookHangUp {
					t.Fatalf("event %+v while idle", e)
				}
			}
			if h.Idle() == offHook {
				t.Fatalf("Idle()=%v but off-hook reported=%v", h.Idle(), offHook)
			}
		}
		if _, err := h.Tick(now-1, nil); len(steps) > 0 && now > 0 && !errors.Is(err, ErrTime) {
			t.Fatalf("time going back: %v", err)
		}
	})
}

func TestNoAllocsPerFrame(t *testing.T) {
	pcm := benchSignal(8000)
	d, _ := NewDTMFDetector(8000, nil)
	ev := make([]DTMFEvent, 0, 8)
	off := 0
	if a := testing.AllocsPerRun(2000, func() {
		ev = d.Process(pcm[off:off+80], ev[:0])
		off = (off + 80) % (len(pcm) - 80)
	}); a != 0 {
		t.Errorf("DTMF detector: %v allocs per frame", a)
	}
	g, _ := NewToneGenerator(USPlan(), 8000)
	frame := make([]int16, 80)
	g.Play(ToneStutterDial)
	if a := testing.AllocsPerRun(2000, func() { g.Fill(frame); _ = g.PlayDTMF('1', 50*ms); g.Fill(frame) }); a != 0 {
		t.Errorf("tone generator: %v allocs per frame", a)
	}
	fx, _ := NewFSKTransmitter(8000, nil)
	msg := VMWI(true)
	if a := testing.AllocsPerRun(2000, func() {
		if !fx.Active() {
			_ = fx.Start(TypeI, msg)
		}
		fx.Fill(frame)
	}); a != 0 {
		t.Errorf("FSK: %v allocs per frame", a)
	}
	h, _ := NewHookClassifier(nil)
	hev := make([]HookEvent, 0, 4)
	now := time.Duration(0)
	st := hal.OffHook
	if a := testing.AllocsPerRun(2000, func() {
		now += 70 * ms
		hev, _ = h.Transition(st, now, hev[:0])
		st = 1 - st
	}); a != 0 {
		t.Errorf("hook classifier: %v allocs per transition", a)
	}
}
