package main

import (
	"basestation/sim/radio"
	"context"
	"fmt"
	"net/http"
	"time"
)

type deviceView struct {
	Name  string            `json:"name"`
	State radio.DeviceState `json:"state"`
	Heard heardView         `json:"heard"`
}

// heardView is what a device's earpiece got in the current call.
type heardView struct {
	Hz        float64 `json:"hz"` // main frequency over the last 200 ms; 0: silence
	RMS       float64 `json:"rms"`
	Peak      int16   `json:"peak"`
	Frames    int     `json:"frames"`
	Loud      int     `json:"loud_frames"`
	Rate      int     `json:"rate"`
	Spoken    int     `json:"spoken_frames"`
	Dropped   int     `json:"dropped_frames"`
	MicQueued int     `json:"mic_queued_samples"`
}

func (w *world) viewDevice(n string, d *radio.Device) deviceView {
	h := d.Heard()
	return deviceView{Name: n, State: d.State(), Heard: heardView{Hz: d.HeardHz(), RMS: round1(h.RMS), Peak: h.Peak, Frames: h.Frames,
		Loud: h.Loud, Rate: h.Rate, Spoken: h.Spoken, Dropped: h.Dropped, MicQueued: d.Speaking()}}
}

func (w *world) getDevices(ctx context.Context, r *http.Request) (any, error) {
	out := []deviceView{}
	for _, n := range w.board.DeviceNames() {
		d, _ := w.board.Device(n)
		out = append(out, w.viewDevice(n, d))
	}
	return out, nil
}

func (w *world) postDevices(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Kind  string `json:"kind"`
		Model string `json:"model"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	name, d, err := w.board.AddDevice(b.Kind, radio.DeviceOptions{Model: b.Model})
	if err != nil {
		return nil, badRequest("kind: %v", err)
	}
	return w.viewDevice(name, d), nil
}

func (w *world) device(r *http.Request) (string, *radio.Device, error) {
	n := r.PathValue("name")
	d, err := w.board.Device(n)
	if err != nil {
		return "", nil, notFound("%v", err)
	}
	return n, d, nil
}

func (w *world) getDevice(ctx context.Context, r *http.Request) (any, error) {
	n, d, err := w.device(r)
	if err != nil {
		return nil, err
	}
	return w.viewDevice(n, d), nil
}

func (w *world) postDevice(ctx context.Context, r *http.Request) (any, error) {
	n, d, err := w.device(r)
	if err != nil {
		return nil, err
	}
	var b struct {
		PIN     string `json:"pin"`
		Digits  string `json:"digits"`
		In      *bool  `json:"in"`
		RSSI    *int   `json:"rssi"`
		Quality *int   `json:"link_quality"`
		Percent *int   `json:"percent"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "power-on":
		d.PowerOn()
	case "power-off":
		d.PowerOff()
	case "pair":
		if b.PIN == "" {
			b.PIN = "0000"
		}
		if err := d.Pair(ctx, b.PIN); err != nil {
			return nil, conflict(fmt.Errorf("pairing %s: %w", n, err))
		}
	case "offhook":
		err = d.OffHook()
	case "answer":
		err = d.Answer()
	case "onhook", "hangup":
		err = d.HangUp()
	case "flash":
		err = d.Flash()
	case "dial":
		if b.Digits == "" {
			return nil, badRequest("digits: missing")
		}
		err = d.Dial(b.Digits)
	case "range":
		if b.In == nil {
			return nil, badRequest(`in: missing (true: in range, false: out of range)`)
		}
		d.SetInRange(*b.In)
	case "signal":
		if b.RSSI == nil {
			return nil, badRequest("rssi: missing (dBm at the base)")
		}
		q := 100
		if b.Quality != nil {
			q = *b.Quality
		}
		if err := d.SetSignal(*b.RSSI, q); err != nil {
			return nil, badRequest("%v", err)
		}
	case "battery":
		if b.Percent == nil {
			return nil, badRequest("percent: missing")
		}
		if err := d.SetBattery(*b.Percent); err != nil {
			return nil, badRequest("%v", err)
		}
	default:
		return nil, notFound("no device action %q (power-on, power-off, pair, offhook, answer, onhook, flash, dial, range, signal, battery, play)", a)
	}
	if err != nil {
		return nil, conflict(err)
	}
	settleDevice(ctx, d, r.PathValue("action"))
	return w.viewDevice(n, d), nil
}

// settleDevice waits (up to 2 s) until the base has answered a hook
// action, so that the answer shows the state after it.
func settleDevice(ctx context.Context, d *radio.Device, action string) {
	var cond func(radio.DeviceState) bool
	switch action {
	case "offhook", "answer":
		cond = func(s radio.DeviceState) bool { return s.Call != radio.CallSetup && s.Call != radio.CallRinging }
	case "onhook", "hangup":
		cond = func(s radio.DeviceState) bool { return s.Call == radio.CallIdle }
	default:
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = d.Wait(wctx, cond)
}

func (w *world) getRadio(ctx context.Context, r *http.Request) (any, error) {
	return map[string]any{
		"faults":            w.board.Radio.Faults(),
		"stats":             w.board.Radio.Stats(),
		"registration_open": w.board.Radio.RegistrationOpen(),
		"table":             w.board.Radio.Table(),
	}, nil
}

// postRadioFaults injects faults on the host-module serial link.
func (w *world) postRadioFaults(ctx context.Context, r *http.Request) (any, error) {
	var f struct {
		Corrupt float64 `json:"corrupt_rate"`
		Drop    float64 `json:"drop_rate"`
		Dup     float64 `json:"dup_rate"`
	}
	if err := decode(r, &f); err != nil {
		return nil, err
	}
	for name, v := range map[string]float64{"corrupt_rate": f.Corrupt, "drop_rate": f.Drop, "dup_rate": f.Dup} {
		if v < 0 || v > 0.5 {
			return nil, badRequest("%s: %v is outside 0..0.5", name, v)
		}
	}
	w.board.Radio.SetFaults(radio.Faults{CorruptRate: f.Corrupt, DropRate: f.Drop, DupRate: f.Dup})
	return w.board.Radio.Faults(), nil
}

// postRadioReset resets the DECT module as a watchdog or brown-out would.
func (w *world) postRadioReset(ctx context.Context, r *http.Request) (any, error) {
	if err := decode(r, &struct{}{}); err != nil {
		return nil, err
	}
	w.board.Radio.ResetModule()
	return nil, nil
}
