package main

import (
	"context"
	"net/http"
	"time"
)

func (w *world) getPBX(ctx context.Context, r *http.Request) (any, error) {
	return map[string]any{
		"addr":          w.pbx.Addr(),
		"registrations": w.pbx.Registrations(),
		"calls":         w.pbx.Calls(),
	}, nil
}

func (w *world) postVoicemail(ctx context.Context, r *http.Request) (any, error) {
	var b struct {
		Extension string `json:"extension"`
		New       int    `json:"new"`
		Old       int    `json:"old"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if b.New < 0 || b.Old < 0 {
		return nil, badRequest("new/old: message counts cannot be negative")
	}
	if err := w.pbx.SetVoicemail(b.Extension, b.New, b.Old); err != nil {
		return nil, notFound("extension: %v", err)
	}
	return w.pbx.Voicemail(b.Extension), nil
}

type softphoneView struct {
	Extension     string  `json:"extension"`
	State         string  `json:"state"`
	HeardHz       float64 `json:"heard_hz"`
	Digits        string  `json:"digits_received"`
	LastCallerID  string  `json:"last_caller_id,omitempty"`
	LastFrom      string  `json:"last_from,omitempty"`
	LastIdentity  string  `json:"last_identity,omitempty"`
	ReceivedAudio int     `json:"received_packets"`
}

func (w *world) viewSoftphone(ext string) (softphoneView, error) {
	p, err := w.softphone(ext)
	if err != nil {
		return softphoneView{}, notFound("%v", err)
	}
	v := softphoneView{Extension: ext, State: string(p.State()), HeardHz: p.HeardFrequency(), Digits: p.Digits(), ReceivedAudio: p.ReceivedPackets()}
	if inv, ok := p.LastInvite(); ok {
		v.LastCallerID = inv.FromName
		v.LastFrom = inv.FromUser
		v.LastIdentity = inv.PPI
		if inv.PAI != "" {
			v.LastIdentity = inv.PAI
		}
	}
	return v, nil
}

func (w *world) getSoftphones(ctx context.Context, r *http.Request) (any, error) {
	out := []softphoneView{}
	for _, ext := range w.softphoneNames() {
		v, err := w.viewSoftphone(ext)
		if err == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func (w *world) getSoftphone(ctx context.Context, r *http.Request) (any, error) {
	return w.viewSoftphone(r.PathValue("ext"))
}

func (w *world) postSoftphone(ctx context.Context, r *http.Request) (any, error) {
	ext := r.PathValue("ext")
	p, err := w.softphone(ext)
	if err != nil {
		return nil, notFound("%v", err)
	}
	var b struct {
		To     string  `json:"to"`
		Hz     float64 `json:"hz"`
		Digits string  `json:"digits"`
	}
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	switch a := r.PathValue("action"); a {
	case "call":
		if b.To == "" {
			return nil, badRequest("to: missing")
		}
		// The call rings until answered: do not hold the request.
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Call(cctx, b.To); err != nil {
				w.log.Info("softphone call ended", "ext", ext, "to", b.To, "result", err)
			}
		}()
	case "answer":
		err = p.Answer()
	case "hangup":
		err = p.Hangup(ctx)
	case "tone":
		if b.Hz < 0 || b.Hz > 3800 {
			return nil, badRequest("hz: %v is outside 0..3800", b.Hz)
		}
		p.SetTone(b.Hz)
	case "digits":
		err = p.SendDigits(b.Digits)
	default:
		return nil, notFound("no softphone action %q (call, answer, hangup, tone, digits)", a)
	}
	if err != nil {
		return nil, conflict(err)
	}
	return w.viewSoftphone(ext)
}
