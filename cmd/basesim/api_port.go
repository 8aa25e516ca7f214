package main

import (
	"basestation/sim/phone"
	"context"
	"errors"
	"math"
	"net/http"
	"time"
)

func (w *world) port(r *http.Request) (*phone.Phone, error) {
	if p := r.PathValue("port"); p != "1" {
		return nil, notFound("no port %q: the base has one phone port, 1", p)
	}
	return w.board.Phone, nil
}

type portView struct {
	Phone phone.State `json:"phone"`
	Line  string      `json:"line,omitempty"`
	Hook  string      `json:"hook,omitempty"`
}

func (w *world) getPort(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	v := portView{Phone: ph.State()}
	if d := w.daemon(); d != nil { // the daemon's view of the line, when it runs here
		v.Line, v.Hook = d.Port().State().String(), d.Port().Hook().String()
	}
	return v, nil
}

func (w *world) postPort(ctx context.Context, r *http.Request) (any, error) {
	ph, err := w.port(r)
	if err != nil {
		return nil, err
	}
	var b struct {
		Digits string  `json:"digits"`
		Mode   string  `json:"mode"` // dtmf (default) or pulse
		Ms     int     `json:"ms"`
		Path   string  `json:"path"`
		Both   bool    `json:"both"`
		Hz     float64 `json:"hz"`
	}
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
	case "onhook":
		ph.OnHook()
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
			err = ph.DialDTMF(ctx, b.Digits)
		case "pulse", "rotary":
			err = ph.DialRotary(ctx, b.Digits)
		default:
			return nil, badRequest("mode: %q is not dtmf or pulse", b.Mode)
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
		return nil, notFound("no port action %q (offhook, onhook, flash, dial, speak, record, stop-recording)", a)
	}
	return ph.State(), nil
}
