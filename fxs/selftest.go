package fxs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"basestation/fxs/dsp"
	"basestation/fxs/proslic"
)

// Self-test stages.
const (
	StageFSK     = "fsk"     // Bell 202 caller ID through the chip's digital loopback
	StageDTMFCID = "dtmf"    // DTMF caller ID (not sent by this port)
	StageCadence = "cadence" // the chip's ring cadence timers
)

// SelfTestStage is one stage of the caller-ID self-test.
type SelfTestStage struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Skipped  string `json:"skipped,omitempty"` // why it was not run
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	Detail   string `json:"detail,omitempty"` // the failure, e.g. "FSK: checksum"
}

// SelfTestResult is the outcome of CallerIDSelfTest. Failure names the first
// failing stage and why ("" when it passed).
type SelfTestResult struct {
	Pass       bool            `json:"pass"`
	Failure    string          `json:"failure,omitempty"`
	StartedAt  time.Time       `json:"started_at"`
	DurationMS int64           `json:"duration_ms"`
	Stages     []SelfTestStage `json:"stages"`
}

// fskLoopbackTail is how many frames the receiver keeps listening after the
// burst has left: the PCM playout margin and the chip's loopback delay.
const fskLoopbackTail = 10

// fskLoopback is the self-test's burst: the loop plays tx and feeds what
// comes back to rx, then closes done.
type fskLoopback struct {
	tx   *dsp.FSKTransmitter
	rx   *dsp.FSKReceiver
	done chan struct{}
}

func (f *fskLoopback) finish() {
	select {
	case <-f.done:
	default:
		close(f.done)
	}
}

// cadenceTolerance is how far a measured ring burst or silence may be from
// the programmed one: 5 %, at least 50 ms.
func cadenceTolerance(want time.Duration) time.Duration {
	return max(want/20, 50*time.Millisecond)
}

// CallerIDSelfTest checks the caller-ID path end to end through the SLIC:
// an MDMF caller-ID burst (Type I preamble) goes out on the PCM slot with
// the chip in digital loopback (reg 8) and the port's own Bell 202 receiver
// must decode from what comes back exactly the bytes that were meant; then
// the chip's ring cadence timers run the port's normal cadence (with the
// ring amplitude at zero, so no bell sounds) and the ring burst and the
// silence are timed from the chip's actual linefeed state. DTMF caller ID
// is not sent by this port: that stage is reported skipped. It is refused
// (ErrLineBusy) unless the line is idle on-hook, and the chip and the line
// are put back as they were.
func (p *Port) CallerIDSelfTest(ctx context.Context) (SelfTestResult, error) {
	res := SelfTestResult{StartedAt: time.Now()}
	lt, ok := p.slic.(LineTester)
	if !ok {
		return res, ErrTestUnsupported
	}
	p.cfgMu.RLock()
	cad := p.cfg.Cadences[CadenceNormal]
	loc := p.cfg.Location
	p.cfgMu.RUnlock()
	if loc == nil {
		loc = time.UTC
	}
	cid := dsp.CallerID{Time: time.Now().In(loc), Number: "5550100", Name: "SELF TEST"}
	msg, err := cid.MDMF()
	if err != nil {
		return res, err
	}
	err = p.withTestSession(ctx, func(s *proslic.TestSession) error {
		st, err := p.fskStage(ctx, lt, msg)
		if err != nil {
			return err
		}
		res.Stages = append(res.Stages, st,
			SelfTestStage{Name: StageDTMFCID, Skipped: "not supported: the port sends Bell 202 FSK caller ID"})
		st, err = cadenceStage(ctx, s, cad)
		if err != nil {
			return err
		}
		res.Stages = append(res.Stages, st)
		return nil
	})
	res.DurationMS = time.Since(res.StartedAt).Milliseconds()
	if err != nil {
		return SelfTestResult{}, err
	}
	res.Pass = true
	for _, st := range res.Stages {
		if st.Skipped == "" && !st.Pass {
			res.Pass = false
			if res.Failure == "" {
				res.Failure = st.Detail
			}
		}
	}
	return res, nil
}

// fskStage sends msg through the chip's digital loopback and decodes it.
func (p *Port) fskStage(ctx context.Context, lt LineTester, msg []byte) (SelfTestStage, error) {
	st := SelfTestStage{Name: StageFSK, Expected: fmt.Sprintf("% X", msg)}
	tx, err := dsp.NewFSKTransmitter(p.rate, nil)
	if err != nil {
		return st, err
	}
	rx, err := dsp.NewFSKReceiver(p.rate)
	if err != nil {
		return st, err
	}
	if err := tx.Start(dsp.TypeI, msg); err != nil {
		return st, err
	}
	if err := lt.SetLoopback(proslic.LoopbackDigital); err != nil {
		return st, fmt.Errorf("fxs: self-test: loopback on: %w", err)
	}
	f := &fskLoopback{tx: tx, rx: rx, done: make(chan struct{})}
	err = p.do(command{kind: cmdTestFSK, fsk: f})
	if err == nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			err = ctx.Err()
		case <-p.done:
			err = ErrNotRunning
		}
	}
	if e := lt.SetLoopback(proslic.LoopbackOff); e != nil && err == nil {
		err = fmt.Errorf("fxs: self-test: loopback off: %w", e)
	}
	if err != nil {
		return st, err
	}
	// f.done is closed: the loop no longer touches rx.
	got, derr := rx.Message()
	if got != nil {
		st.Got = fmt.Sprintf("% X", got)
	}
	switch {
	case derr != nil:
		st.Detail = "FSK: " + fskReason(derr)
	case !bytes.Equal(got, msg):
		st.Detail = "FSK: decoded message differs from the one sent"
	default:
		st.Pass = true
		st.Detail = fmt.Sprintf("%d-byte MDMF message decoded intact", len(msg))
	}
	return st, nil
}

// fskReason names a receiver error the way the result shows it.
func fskReason(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{{dsp.ErrFSKNoCarrier, "no carrier"}, {dsp.ErrFSKNoMessage, "no message"}, {dsp.ErrFSKFraming, "framing"},
		{dsp.ErrFSKTruncated, "truncated"}, {dsp.ErrFSKChecksum, "checksum"}} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return err.Error()
}

// cadenceStage times the first burst and silence of cad on the chip.
func cadenceStage(ctx context.Context, s *proslic.TestSession, cad Cadence) (SelfTestStage, error) {
	st := SelfTestStage{Name: StageCadence}
	if len(cad) < 2 {
		st.Skipped = "no normal cadence configured"
		return st, nil
	}
	on, off := cad[0], cad[1]
	st.Expected = fmt.Sprintf("ring on %.1f s, off %.1f s", on.Seconds(), off.Seconds())
	gotOn, gotOff, err := s.RingCadence(ctx, on, off)
	if err != nil {
		if ctx.Err() != nil {
			return st, err
		}
		st.Detail = "cadence: " + err.Error()
		return st, nil
	}
	st.Got = fmt.Sprintf("ring on %.1f s, off %.1f s", gotOn.Seconds(), gotOff.Seconds())
	switch {
	case (gotOn - on).Abs() > cadenceTolerance(on):
		st.Detail = fmt.Sprintf("cadence: ring on %.1f s want %.1f s", gotOn.Seconds(), on.Seconds())
	case (gotOff - off).Abs() > cadenceTolerance(off):
		st.Detail = fmt.Sprintf("cadence: ring off %.1f s want %.1f s", gotOff.Seconds(), off.Seconds())
	default:
		st.Pass = true
	}
	return st, nil
}
