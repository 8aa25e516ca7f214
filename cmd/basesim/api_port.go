package main

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"

	"basestation/sim/phone"
	"basestation/sim/slic"
)

func (w *world) port(r *http.Request) (*phone.Phone, error) {
	if p := r.PathValue("port"); p != "1" {
		return nil, notFound("no port %q: the base has one phone port, 1", p)
	}
	return w.board.Phone, nil
}

type portView struct {
	Phone phone.State      `json:"phone"`
	Line  slic.Measurement `json:"line"`
	// Daemon is the daemon's view of the port, when it runs here.
	Daemon *portDaemonView `json:"daemon,omitempty"`
}

type portDaemonView struct {
	State string `json:"state"`
	Hook  string `json:"hook"`
}

func (w *world) viewPort() portView {
	v := portView{Phone: w.board.Phone.State(), Line: w.board.SLIC.Measure()}
	if d := w.daemon(); d != nil {
		v.Daemon = &portDaemonView{State: d.Port().State().String(), Hook: d.Port().Hook().String()}
	}
	return v
}

func (w *world) getPort(ctx context.Context, r *http.Request) (any, error) {
	if _, err := w.port(r); err != nil {
		return nil, err
	}
	return w.viewPort(), nil
}

func (w *world) getLine(ctx context.Context, r *http.Request) (any, error) {
	if _, err := w.port(r); err != nil {
		return nil, err
	}
	return w.board.SLIC.Measure(), nil
}

// postLine sets what is on the line besides the phone: leakages, foreign
// voltages, the ringers' REN (line faults). An empty body clears them.
func (w *world) postLine(ctx context.Context, r *http.Request) (any, error) {
	if _, err := w.port(r); err != nil {
		return nil, err
	}
	c := slic.LineConditions{REN: 1}
	if err := decode(r, &c); err != nil {
		return nil, err
	}
	if err := w.board.SLIC.SetLineConditions(c); err != nil {
		return nil, badRequest("%v", err)
	}
	w.events.add(event{Source: "line", Kind: "conditions", Subject: "port1", Detail: map[string]any{"conditions": c}})
	// The chip samples the line every frame: let it see the change.
	time.Sleep(30 * time.Millisecond)
	return w.board.SLIC.Measure(), nil
}

// dialBody is how the phone's keypad or dial sends digits.
type dialBody struct {
	Digits string `json:"digits"`
	Mode   string `json:"mode"` // dtmf (default), rotary (or pulse)
	// Keypad.
	ToneMs        int      `json:"tone_ms"`
	GapMs         int      `json:"gap_ms"`
	LevelDBm0     *float64 `json:"level_dbm0"` // low-group level (default −8)
	TwistDB       *float64 `json:"twist_db"`   // high minus low group (default +2)
	FreqOffsetPct float64  `json:"freq_offset_pct"`
	// Rotary dial.
	PPS          float64 `json:"pps"`       // pulses per second (default 10)
	BreakPct     float64 `json:"break_pct"` // % of each pulse the loop is open (default 60)
	InterDigitMs int     `json:"interdigit_ms"`
	Ms           int     `json:"ms"`
	Path         string  `json:"path"`
	Both         bool    `json:"both"`
	Hz           float64 `json:"hz"`
}

// keypad turns the body's keypad fields into a complete DTMFConfig.
func (b *dialBody) keypad() (phone.DTMFConfig, error) {
	c := phone.DTMFConfig{On: 80 * time.Millisecond, Off: 80 * time.Millisecond, LowDBm0: -8, HighDBm0: -6}
	if b.ToneMs != 0 {
		c.On = time.Duration(b.ToneMs) * time.Millisecond
	}
	if b.GapMs != 0 {
		c.Off = time.Duration(b.GapMs) * time.Millisecond
	}
	if b.LevelDBm0 != nil {
		c.LowDBm0 = *b.LevelDBm0
	}
	twist := 2.0
	if b.TwistDB != nil {
		twist = *b.TwistDB
	}
	if math.IsNaN(twist) || math.Abs(twist) > 20 {
		return c, badRequest("twist_db: %v outside ±20", twist)
	}
	c.HighDBm0 = c.LowDBm0 + twist
	c.FreqOffset = b.FreqOffsetPct / 100
	if err := c.Validate(); err != nil {
		return c, badRequest("%v (tone_ms, gap_ms, level_dbm0, twist_db, freq_offset_pct)", err)
	}
	return c, nil
}

// dial returns the rotary timing asked for.
func (b *dialBody) dial() (phone.RotaryConfig, error) {
	pps, brk := b.PPS, b.BreakPct
	if pps == 0 {
		pps = 10
	}
	if brk == 0 {
		brk = 60
	}
	bd, md, err := phone.RotaryTiming(pps, brk)
	if err != nil {
		return phone.RotaryConfig{}, badRequest("%v (pps, break_pct)", err)
	}
	r := phone.RotaryConfig{Break: bd, Make: md, InterDigit: time.Duration(b.InterDigitMs) * time.Millisecond}
	if err := r.Validate(); err != nil {
		return r, badRequest("%v (pps, break_pct, interdigit_ms)", err)
	}
	return r, nil
}

func (w *world) postPort(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	var b dialBody
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "speak":
		if b.Hz < 100 || b.Hz > 3900 {
			return nil, badRequest("hz: %v is outside 100..3900", b.Hz)
		}
		if b.Ms == 0 {
			b.Ms = 3000
		}
		if b.Ms < 20 || b.Ms > 60000 {
			return nil, badRequest("ms: %d is outside 20..60000", b.Ms)
		}
		s := make([]int16, b.Ms*8)
		for i := range s {
			s[i] = int16(8000 * math.Sin(2*math.Pi*b.Hz*float64(i)/8000))
		}
		ph.Speak(s)
	case "offhook":
		ph.OffHook()
		w.settleHook("off-hook")
	case "onhook":
		ph.OnHook()
		w.settleHook("on-hook")
	case "flash":
		if b.Ms == 0 {
			b.Ms = 600
		}
		if b.Ms < 10 || b.Ms > 5000 {
			return nil, badRequest("ms: flash of %d ms is outside 10..5000", b.Ms)
		}
		if err := ph.Flash(ctx, time.Duration(b.Ms)*time.Millisecond); err != nil {
			return nil, conflict(err)
		}
	case "dial":
		if b.Digits == "" {
			return nil, badRequest("digits: missing")
		}
		switch b.Mode {
		case "", "dtmf":
			var c phone.DTMFConfig
			if c, err = b.keypad(); err != nil {
				return nil, err
			}
			err = ph.DialDTMFWith(ctx, b.Digits, c)
		case "pulse", "rotary":
			var rc phone.RotaryConfig
			if rc, err = b.dial(); err != nil {
				return nil, err
			}
			err = ph.DialRotaryWith(ctx, b.Digits, rc)
		default:
			return nil, badRequest("mode: %q is not dtmf or rotary", b.Mode)
		}
		if err != nil {
			if errors.Is(err, phone.ErrBadDigit) {
				return nil, badRequest("digits: %v", err)
			}
			return nil, conflict(err)
		}
	case "record":
		if b.Path == "" {
			return nil, badRequest("path: missing")
		}
		if err := ph.Record(b.Path, b.Both); err != nil {
			return nil, conflict(err)
		}
	case "stop-recording":
		if err := ph.StopRecording(); err != nil {
			return nil, conflict(err)
		}
	default:
		return nil, notFound("no port action %q (offhook, onhook, flash, dial, speak, play, record, stop-recording; GET/POST line)", a)
	}
	return w.viewPort(), nil
}

// settleHook waits until the daemon, when it runs here, has taken the hook
// switch, so that the answer shows the state after it: off-hook at once;
// on-hook once it is longer than a flash and the port is idle (up to 2 s).
func (w *world) settleHook(want string) {
	d := w.daemon()
	if d == nil {
		return
	}
	if want == "on-hook" {
		waitFor(w.ctx, 2*time.Second, func() bool {
			st := d.Port().State().String()
			return d.Port().Hook().String() == want && st != "dialing" && st != "call" && st != "lockout"
		})
		return
	}
	waitFor(w.ctx, time.Second, func() bool { return d.Port().Hook().String() == want })
	time.Sleep(30 * time.Millisecond) // the line's answer (tone, feed) starts
}
