package fxs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrConfig is wrapped by every configuration error; the message names the
// field.
var ErrConfig = errors.New("fxs: invalid config")

// CallerIDFormat selects how caller ID is sent on the line.
type CallerIDFormat string

// Caller-ID formats (Bellcore / Telcordia GR-30 Bell 202 FSK).
const (
	CallerIDMDMF CallerIDFormat = "mdmf" // multiple data message: date/time, number, name (default)
	CallerIDSDMF CallerIDFormat = "sdmf" // single data message: date/time and number only
	CallerIDOff  CallerIDFormat = "off"  // no caller ID
)

// Cadence is a ring pattern: alternating on and off durations, starting
// with on, repeated while ringing.
type Cadence []time.Duration

// Standard cadence names.
const (
	CadenceNormal = "normal" // 2 s on, 4 s off
)

// DefaultCadences are the North American ring patterns: the standard ring
// and the Telcordia GR-506 distinctive rings (the names Alert-Info carries:
// Bellcore-dr1 … dr4; dr3/dr4 off-times are unconfirmed in the reference).
func DefaultCadences() map[string]Cadence {
	ms := time.Millisecond
	normal := Cadence{2000 * ms, 4000 * ms}
	return map[string]Cadence{
		CadenceNormal:  normal,
		"bellcore-dr1": normal,
		"bellcore-dr2": {800 * ms, 400 * ms, 800 * ms, 4000 * ms},
		"bellcore-dr3": {400 * ms, 200 * ms, 400 * ms, 200 * ms, 800 * ms, 4000 * ms},
		"bellcore-dr4": {300 * ms, 200 * ms, 1000 * ms, 200 * ms, 300 * ms, 4000 * ms},
	}
}

// Config is the behaviour of one analog port. Start from DefaultConfig.
type Config struct {
	// Region selects the tone plan: "US" or "CA" (both the North American
	// Precise Tone Plan).
	Region string
	// DialPlan is the digit map (see DialPlan for the syntax).
	DialPlan string
	// EmergencyNumbers complete the moment they are dialed, whatever the
	// dial plan says (Kari's Law: no prefix, no waiting).
	EmergencyNumbers []string
	// PoundEndsDialing: '#' ends dialing and sends what was dialed before it.
	PoundEndsDialing bool
	// InterDigitLong is how long the port waits for another digit while the
	// dial plan needs more; it then plays reorder.
	InterDigitLong time.Duration
	// InterDigitShort is how long it waits when the digits already match
	// but a longer number could match too (and for 'T' in the digit map).
	InterDigitShort time.Duration
	// OffHookTimeout: off-hook with dial tone and no digit for this long, or
	// reorder after failed dialing for this long, gives the receiver
	// off-hook howler; so does busy or reorder for this long after a failed
	// or ended call (a SIT is followed by reorder first).
	OffHookTimeout time.Duration
	// FlashMin and FlashMax bound an on-hook interval taken as a hook flash
	// during a call; shorter is ignored, longer is a hang-up.
	FlashMin, FlashMax time.Duration
	// PulseDialing accepts rotary (pulse) digits while dialing.
	PulseDialing bool
	// CallerID is the caller-ID format for ringing and call waiting.
	CallerID CallerIDFormat
	// CallWaitingCallerID sends caller ID on call waiting (Type II, CIDCW).
	CallWaitingCallerID bool
	// Name is how the port names itself in logs and to the call layer
	// (its String); "" is "fxs".
	Name string
	// Location is the time zone the caller ID's date and time are shown
	// in (the base's configured zone); nil: the call time's own zone.
	Location *time.Location
	// VMWI sends on-hook FSK message-waiting indication when message waiting
	// changes; StutterDial plays stutter dial tone while messages wait.
	VMWI, StutterDial bool
	// VMWIRefresh re-sends the VMWI message this often while the phone is
	// idle (a lamp that missed one catches up; Cisco's "VMWI Refresh
	// Intvl"); 0 sends it only when message waiting changes.
	VMWIRefresh time.Duration
	// Cadences are the ring patterns by name; "normal" must exist.
	Cadences map[string]Cadence
	// RingFrequencyHz and RingPeakVolts drive the SLIC's ring generator.
	RingFrequencyHz float64
	RingPeakVolts   float64
	// FaultRetry is how long the port stays in the safe state after a line
	// fault before it feeds the line again.
	FaultRetry time.Duration
	// Hotline, when set, is dialed automatically after going off-hook:
	// at once with HotlineDelay 0 (a hotline: lobby or elevator phone), or
	// after HotlineDelay without a digit (a warm line).
	Hotline      string
	HotlineDelay time.Duration
}

// DefaultDialPlan is a North American digit map for a business line on a
// cloud PBX: N11 service codes, star codes, 4-digit extensions 1xxx,
// 10-digit numbers (area codes are never N11, so 411 completes at once),
// 1+10 long distance and 011 international (ended by the short timer or '#').
// Emergency numbers complete regardless (Config.EmergencyNumbers).
//
// It is the port's plan only when the port is used on its own: basestationd
// always gives the port the cloud contract's default (provisioning's
// DefaultDialPlan, docs/mqtt-api.md §3.2) or the configured plan, so the
// base has one default dial plan and it is not this one.
const DefaultDialPlan = "[2-9]11|*xx|1xxx|[2-9][02-9]x[2-9]xxxxxx|[2-9]1[02-9][2-9]xxxxxx|1[2-9]xx[2-9]xxxxxx|011xx.T"

// DefaultConfig returns the North American defaults.
func DefaultConfig() Config {
	return Config{
		Region:              "US",
		DialPlan:            DefaultDialPlan,
		EmergencyNumbers:    []string{"911", "933"},
		PoundEndsDialing:    true,
		InterDigitLong:      10 * time.Second,
		InterDigitShort:     3 * time.Second,
		OffHookTimeout:      30 * time.Second,
		FlashMin:            300 * time.Millisecond,
		FlashMax:            1000 * time.Millisecond,
		PulseDialing:        true,
		CallerID:            CallerIDMDMF,
		CallWaitingCallerID: true,
		VMWI:                true,
		StutterDial:         true,
		Cadences:            DefaultCadences(),
		RingFrequencyHz:     20,
		RingPeakVolts:       85,
		FaultRetry:          30 * time.Second,
	}
}

func cfgErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

type compiled struct {
	plan *DialPlan
}

func (c *Config) compile() (compiled, error) {
	var out compiled
	switch strings.ToUpper(c.Region) {
	case "US", "CA":
	default:
		return out, cfgErr("Region", "%q (want US or CA)", c.Region)
	}
	p, err := ParseDialPlan(c.DialPlan)
	if err != nil {
		return out, cfgErr("DialPlan", "%v", err)
	}
	out.plan = p
	for i, n := range c.EmergencyNumbers {
		if n == "" || len(n) > MaxDigits || strings.Trim(n, "0123456789*") != "" {
			return out, cfgErr(fmt.Sprintf("EmergencyNumbers[%d]", i), "%q is not a digit string", n)
		}
	}
	durs := []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"InterDigitLong", c.InterDigitLong, time.Second, time.Minute},
		{"InterDigitShort", c.InterDigitShort, 500 * time.Millisecond, time.Minute},
		{"OffHookTimeout", c.OffHookTimeout, 5 * time.Second, 10 * time.Minute},
		{"FlashMin", c.FlashMin, 40 * time.Millisecond, 2 * time.Second},
		{"FlashMax", c.FlashMax, 100 * time.Millisecond, 2 * time.Second},
		{"FaultRetry", c.FaultRetry, time.Second, time.Hour},
	}
	for _, d := range durs {
		if d.v < d.min || d.v > d.max {
			return out, cfgErr(d.name, "%v outside %v..%v", d.v, d.min, d.max)
		}
	}
	if c.InterDigitShort > c.InterDigitLong {
		return out, cfgErr("InterDigitShort", "%v longer than InterDigitLong %v", c.InterDigitShort, c.InterDigitLong)
	}
	if c.FlashMax <= c.FlashMin {
		return out, cfgErr("FlashMax", "%v not above FlashMin %v", c.FlashMax, c.FlashMin)
	}
	if c.PulseDialing && c.FlashMin <= 200*time.Millisecond {
		return out, cfgErr("FlashMin", "%v overlaps pulse-dial breaks (≤200 ms) while PulseDialing is on", c.FlashMin)
	}
	switch c.CallerID {
	case CallerIDMDMF, CallerIDSDMF, CallerIDOff:
	default:
		return out, cfgErr("CallerID", "%q (want mdmf, sdmf or off)", c.CallerID)
	}
	if _, ok := c.Cadences[CadenceNormal]; !ok {
		return out, cfgErr("Cadences", "no %q cadence", CadenceNormal)
	}
	names := make([]string, 0, len(c.Cadences))
	for n := range c.Cadences {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cd := c.Cadences[n]
		f := fmt.Sprintf("Cadences[%q]", n)
		if len(cd) < 2 || len(cd)%2 != 0 || len(cd) > 16 {
			return out, cfgErr(f, "%d durations (want an even number, 2..16)", len(cd))
		}
		var total time.Duration
		for i, d := range cd {
			if d < 100*time.Millisecond || d > 10*time.Second {
				return out, cfgErr(f, "step %d: %v outside 100ms..10s", i, d)
			}
			total += d
		}
		if total > 30*time.Second {
			return out, cfgErr(f, "cycle %v longer than 30s", total)
		}
	}
	if c.VMWIRefresh != 0 && (c.VMWIRefresh < time.Minute || c.VMWIRefresh > 24*time.Hour) {
		return out, cfgErr("VMWIRefresh", "%v outside 1m..24h (or 0 for off)", c.VMWIRefresh)
	}
	if c.Hotline != "" && (len(c.Hotline) > MaxDigits || strings.Trim(c.Hotline, "0123456789*#") != "") {
		return out, cfgErr("Hotline", "%q is not a digit string of at most %d keys", c.Hotline, MaxDigits)
	}
	if c.HotlineDelay < 0 || c.HotlineDelay > time.Minute {
		return out, cfgErr("HotlineDelay", "%v outside 0..1m", c.HotlineDelay)
	}
	if c.RingFrequencyHz < 15 || c.RingFrequencyHz > 68 {
		return out, cfgErr("RingFrequencyHz", "%.1f outside 15..68", c.RingFrequencyHz)
	}
	if c.RingPeakVolts < 30 || c.RingPeakVolts > 94 {
		return out, cfgErr("RingPeakVolts", "%.1f outside 30..94", c.RingPeakVolts)
	}
	return out, nil
}

// WithSystem is c with the base's system settings in force: the tone
// region, the dial plan, the long inter-digit timer and the time zone of
// caller-ID times. A zero setting keeps c's own.
func (c Config) WithSystem(region, dialPlan string, interDigit time.Duration, loc *time.Location) Config {
	if region != "" {
		c.Region = region
	}
	if dialPlan != "" {
		c.DialPlan = dialPlan
	}
	if interDigit > 0 {
		c.InterDigitLong = interDigit
	}
	if loc != nil {
		c.Location = loc
	}
	return c
}
