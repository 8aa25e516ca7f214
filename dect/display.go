package dect

// What a device shows and plays, as the radio protocol codes it: caller-ID
// presentation, the number on the display, ring cadences, tones and the
// display's text limit (docs/radio-protocol.md §5).

import (
	"fmt"
	"strings"

	"basestation/dect/wire"
	"basestation/endpoint"
)

func cliFields(c endpoint.CallerID) (byte, error) {
	switch c.Reason {
	case endpoint.Present:
		return wire.CLINumber, nil
	case endpoint.Private:
		return wire.CLIPrivate, nil
	case endpoint.OutOfArea, "unavailable":
		return wire.CLIOutOfArea, nil
	}
	return 0, fmt.Errorf("%w: caller-ID reason %q", ErrBadRequest, c.Reason)
}

// displayNumber is a caller's number as the device's display shows it: digits
// only, a North American number (+1 and ten digits) without its country
// code. The call layer hands the number as the network gave it.
func displayNumber(n string) string {
	n = strings.TrimPrefix(n, "+")
	if len(n) == 11 && n[0] == '1' {
		n = n[1:]
	}
	return n
}

// Cadence returns the wire code of a ring cadence name: "normal" (or "")
// and "distinctive1".."distinctive5" (also spelt "distinctive-N" or
// "bellcore-drN").
func Cadence(c endpoint.Cadence) (byte, error) {
	name := string(c)
	if name == "" || c == endpoint.Normal {
		return 0, nil
	}
	for _, p := range []string{"distinctive-", "distinctive", "bellcore-dr"} {
		if rest, ok := strings.CutPrefix(name, p); ok && len(rest) == 1 && rest[0] >= '1' && rest[0] <= '5' {
			return rest[0] - '0', nil
		}
	}
	return 0, fmt.Errorf("%w: unknown ring cadence %q", ErrBadRequest, name)
}

// ToneCode returns the wire code of a call-progress tone.
func ToneCode(t endpoint.Tone) (byte, error) {
	switch name := string(t); name {
	case "", "off":
		return wire.ToneOff, nil
	case "dial":
		return wire.ToneDial, nil
	case "stutter-dial":
		return wire.ToneStutterDial, nil
	case "ringback":
		return wire.ToneRingback, nil
	case "busy":
		return wire.ToneBusy, nil
	case "reorder":
		return wire.ToneReorder, nil
	case "call-waiting":
		return wire.ToneCallWaiting, nil
	case "sit-intercept", "out-of-service", "sit":
		return wire.ToneSIT, nil
	}
	return 0, fmt.Errorf("%w: unknown tone %q", ErrBadRequest, string(t))
}

func trunc(s string) string {
	if len(s) <= wire.MaxText {
		return s
	}
	s = s[:wire.MaxText]
	for len(s) > 0 && !validUTF8End(s) {
		s = s[:len(s)-1]
	}
	return s
}

func validUTF8End(s string) bool {
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // lead byte: complete if the sequence fits
			n := 2
			if c >= 0xE0 {
				n = 3
			}
			if c >= 0xF0 {
				n = 4
			}
			return len(s)-i == n
		}
	}
	return false
}
