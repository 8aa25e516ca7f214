package fxs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"basestation/endpoint"
	"basestation/fxs/dsp"
)

// Caller-ID content limits: those of the dsp message builders (GR-30
// MDMF): numbers of up to dsp.MaxNumberLen digits, names of up to
// dsp.MaxNameLen characters. Names are spelt in ASCII first (accents
// dropped, ß as ss, …; see callerName) and then cut; numbers that do not
// fit are sent as "unavailable".
const (
	MaxCallerNumber = dsp.MaxNumberLen
	MaxCallerName   = dsp.MaxNameLen
)

// ErrCallerID is wrapped by errors about caller-ID content.
var ErrCallerID = errors.New("fxs: invalid caller ID")

func absence(r endpoint.Reason) dsp.Absence {
	if r == endpoint.Private {
		return dsp.Private
	}
	return dsp.Unavailable
}

// displayNumber is a caller's number as the phone's display shows it: digits
// only, a North American number (+1 and ten digits) without its country
// code. The call layer hands the number as the network gave it.
func displayNumber(n string) string {
	n = strings.TrimPrefix(n, "+")
	if len(n) == 11 && n[0] == '1' {
		n = n[1:]
	}
	return n
}

// callerNumber keeps the digits of a number as shown ('+' and separators
// dropped). ok is false when nothing usable is left.
func callerNumber(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+', c == '-', c == ' ', c == '(', c == ')', c == '.':
		default:
			return "", false
		}
	}
	n := b.String()
	return n, n != "" && len(n) <= MaxCallerNumber
}

// DSPCallerID maps the call layer's caller ID to the message content the
// line sends: the number's digits (or the reason it is absent), the name
// spelt in ASCII and cut to MaxCallerName (or the reason), the date and
// time (now when cid.Time is zero), in loc (nil: the time's own zone). A
// number that cannot be shown is sent as unavailable; a private number
// hides the name too unless one is given.
func DSPCallerID(cid *endpoint.CallerID, now time.Time, loc *time.Location) dsp.CallerID {
	t := cid.Time
	if t.IsZero() {
		t = now
	}
	if loc != nil {
		t = t.In(loc)
	}
	out := dsp.CallerID{Time: t}
	num, numOK := callerNumber(cid.Number)
	if cid.Reason == endpoint.Present && numOK {
		out.Number = num
	} else {
		out.NumberAbsent = absence(cid.Reason)
	}
	name := callerName(cid.Name)
	if cid.NameReason == endpoint.Present && name != "" {
		out.Name = name
	} else {
		r := cid.NameReason
		if r == endpoint.Present {
			r = cid.Reason
		}
		out.NameAbsent = absence(r)
	}
	return out
}

// CallerIDMessage builds the Bell 202 caller-ID message (type, length,
// parameters, checksum) in the given format with the dsp builders; its
// date and time are shown in loc (nil: the time's own zone).
func CallerIDMessage(cid *endpoint.CallerID, format CallerIDFormat, now time.Time, loc *time.Location) ([]byte, error) {
	if cid == nil {
		return nil, fmt.Errorf("%w: nil", ErrCallerID)
	}
	c := DSPCallerID(cid, now, loc)
	var msg []byte
	var err error
	switch format {
	case CallerIDSDMF:
		c.Name, c.NameAbsent = "", dsp.NotAbsent
		msg, err = c.SDMF()
	case CallerIDMDMF:
		msg, err = c.MDMF()
	default:
		return nil, fmt.Errorf("%w: format %q", ErrCallerID, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCallerID, err)
	}
	return msg, nil
}

// cidDuration is how long the Type I burst for cid lasts.
func (l *loop) cidDuration(cid *endpoint.CallerID) time.Duration {
	msg, err := CallerIDMessage(cid, l.p.cfg.CallerID, time.Now(), l.p.cfg.Location)
	if err != nil {
		return 0
	}
	if err := l.fskProbe.Start(dsp.TypeI, msg); err != nil {
		return 0
	}
	return l.fskProbe.Duration()
}

func (l *loop) cidBurst(cid *endpoint.CallerID, now time.Time, typeII bool) (burst, error) {
	msg, err := CallerIDMessage(cid, l.p.cfg.CallerID, now, l.p.cfg.Location)
	if err != nil {
		return nil, err
	}
	mode := dsp.TypeI
	if typeII {
		mode = dsp.TypeII
	}
	if err := l.fskTx.Start(mode, msg); err != nil {
		return nil, err
	}
	return l.fskTx, nil
}

func (l *loop) vmwiBurst(on bool) (burst, error) {
	if err := l.fskTx.Start(dsp.TypeI, dsp.VMWI(on)); err != nil {
		return nil, err
	}
	return l.fskTx, nil
}
