package fxs

import (
	"errors"
	"strings"
	"testing"
)

func TestDialPlanMatch(t *testing.T) {
	p, err := ParseDialPlan(DefaultDialPlan)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		digits string
		timer  bool
		want   Match
	}{
		{"", false, Partial},
		{"4", false, Partial},
		{"411", false, Complete},
		{"611", false, Complete},
		{"*6", false, Partial},
		{"*69", false, Complete},
		{"1", false, Partial},
		{"101", false, Partial},
		{"1013", false, Complete},
		{"1613", false, Ambiguous}, // extension 1613, or 1+10 digits
		{"1613", true, Complete},
		{"1613555", false, Partial},
		{"16135550100", false, Complete},
		{"6135550100", false, Complete},
		{"2125550100", false, Complete},
		{"613555", false, Partial},
		{"5550", false, NoMatch}, // no 7-digit dialing
		{"011", false, Partial},
		{"0114420", false, Ambiguous}, // x.T: complete when the timer fires
		{"0114420", true, Complete},
		{"0", false, Partial},
		{"00", false, NoMatch},
		{"#", false, NoMatch},
		{"61355501001", false, NoMatch},
	}
	for _, c := range cases {
		if got := p.Match(c.digits, c.timer); got != c.want {
			t.Errorf("Match(%q, %v) = %v, want %v", c.digits, c.timer, got, c.want)
		}
	}
}

func TestDialPlanSyntax(t *testing.T) {
	good := []string{"x", "{911|x.T}", "(1[2-9]xx)", "[13579]", "[*#]xx", "x.#", "A|B|C|D", " 9 11 "}
	for _, s := range good {
		if _, err := ParseDialPlan(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := map[string]string{
		"":                      "empty",
		"()":                    "empty",
		"911||x":                "alternative 2",
		".1":                    "'.'",
		"x..":                   "'.'",
		"[2-":                   "not closed",
		"[]":                    "empty set",
		"[9-2]":                 "bad range",
		"[a]":                   "not a key",
		"12T3":                  "not last",
		"T":                     "alone",
		"9%1":                   "unexpected",
		strings.Repeat("x", 33): "at most 32",
	}
	for s, want := range bad {
		_, err := ParseDialPlan(s)
		if !errors.Is(err, ErrDialPlan) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want mention of %q", s, err, want)
		}
	}
}

func FuzzParseDialPlan(f *testing.F) {
	for _, s := range []string{DefaultDialPlan, "x.T", "{911|[2-9]xx}", "[*#]x.#", "(1[2-9]xx[2-9]xxxxxx)", "[", "..", "x|", "T"} {
		f.Add(s, "6135550100")
	}
	f.Fuzz(func(t *testing.T, plan, digits string) {
		p, err := ParseDialPlan(plan)
		if err != nil {
			if !errors.Is(err, ErrDialPlan) {
				t.Fatalf("error not wrapping ErrDialPlan: %v", err)
			}
			return
		}
		if len(digits) > MaxDigits {
			digits = digits[:MaxDigits]
		}
		m := p.Match(digits, false)
		mt := p.Match(digits, true)
		// The timer firing can only complete a match, never lose one.
		if (m == Complete || m == Ambiguous) && mt == NoMatch {
			t.Fatalf("%q/%q: %v then %v after the timer", plan, digits, m, mt)
		}
		// A digit string that cannot match stays unmatched with more digits.
		if m == NoMatch && len(digits) < MaxDigits && p.Match(digits+"1", false) != NoMatch {
			t.Fatalf("%q: %q no match but %q matches", plan, digits, digits+"1")
		}
	})
}

func TestConfigValidationNamesField(t *testing.T) {
	cases := []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.Region = "FR" }, "Region"},
		{func(c *Config) { c.DialPlan = "[" }, "DialPlan"},
		{func(c *Config) { c.EmergencyNumbers = []string{"9a1"} }, "EmergencyNumbers[0]"},
		{func(c *Config) { c.InterDigitLong = 0 }, "InterDigitLong"},
		{func(c *Config) { c.InterDigitShort = 20 * 1e9 }, "InterDigitShort"},
		{func(c *Config) { c.OffHookTimeout = 1e9 }, "OffHookTimeout"},
		{func(c *Config) { c.FlashMin = 10e6 }, "FlashMin"},
		{func(c *Config) { c.FlashMax = 200e6 }, "FlashMax"},
		{func(c *Config) { c.FlashMin = 150e6 }, "FlashMin"},
		{func(c *Config) { c.CallerID = "dtmf" }, "CallerID"},
		{func(c *Config) { delete(c.Cadences, "normal") }, "Cadences"},
		{func(c *Config) { c.Cadences["x"] = Cadence{1e9} }, `Cadences["x"]`},
		{func(c *Config) { c.Cadences["y"] = Cadence{1e9, 1e6} }, `Cadences["y"]`},
		{func(c *Config) { c.RingFrequencyHz = 100 }, "RingFrequencyHz"},
		{func(c *Config) { c.RingPeakVolts = 120 }, "RingPeakVolts"},
		{func(c *Config) { c.FaultRetry = 0 }, "FaultRetry"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mod(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("want error naming %s, got %v", c.field, err)
		}
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}
