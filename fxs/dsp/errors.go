package dsp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Returned errors wrap one of these with the offending
// value, so callers can branch with errors.Is.
var (
	// ErrRate: a sample rate other than 8000 or 16000 Hz.
	ErrRate = errors.New("dsp: unsupported sample rate")
	// ErrTonePlan: a tone plan or tone that cannot be played.
	ErrTonePlan = errors.New("dsp: invalid tone plan")
	// ErrUnknownTone: a tone name not in the plan.
	ErrUnknownTone = errors.New("dsp: unknown tone")
	// ErrDigit: a character that is not a DTMF digit (0-9 * # A-D).
	ErrDigit = errors.New("dsp: not a DTMF digit")
	// ErrDuration: a duration out of the allowed range.
	ErrDuration = errors.New("dsp: duration out of range")
	// ErrCallerID: caller-ID or message-waiting content that cannot be sent.
	ErrCallerID = errors.New("dsp: invalid caller ID")
	// ErrOptions: inconsistent options.
	ErrOptions = errors.New("dsp: invalid options")
	// ErrTime: a hook transition earlier than one already seen.
	ErrTime = errors.New("dsp: time went backwards")
)

func checkRate(rate int) error {
	if rate != 8000 && rate != 16000 {
		return fmtErr(ErrRate, "%d Hz (want 8000 or 16000)", rate)
	}
	return nil
}

// fmtErr wraps sentinel with a formatted description of what was wrong.
func fmtErr(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
