package fxs

import (
	"errors"
	"fmt"
	"strings"
)

// ErrDialPlan is wrapped by every dial-plan syntax error.
var ErrDialPlan = errors.New("fxs: invalid dial plan")

// DialPlan is a compiled digit map in the MGCP style (RFC 3435 §2.1.5, as
// used by Cisco SPA and Grandstream ATAs): alternatives separated by '|',
// optionally enclosed in parentheses or braces. Each alternative is a
// sequence of elements:
//
//	0-9 * # A-D   that key
//	x             any digit 0-9
//	[2-9] [13*#]  one key of the set (ranges of digits and single keys)
//	.             the previous element repeated zero or more times
//	T             the number is complete when the inter-digit timer expires
//
// Examples (North America): "911|[2-9]11|*xx|1[2-9]xx[2-9]xxxxxx|[2-9]xx[2-9]xxxxxx|011xx.T".
// Whitespace is ignored.
type DialPlan struct {
	src  string
	alts [][]elem
}

type elem struct {
	set    uint32 // bit per key, see keyBit
	repeat bool   // '.' after the element
}

// timer is the set bit that stands for 'T'.
const timerBit = 1 << 16

const keys = "0123456789*#ABCD"

func keyBit(k byte) uint32 {
	if i := strings.IndexByte(keys, k); i >= 0 {
		return 1 << uint(i)
	}
	return 0
}

// maxDialPlanLen bounds what ParseDialPlan accepts (a configuration value).
const maxDialPlanLen = 4096

// MaxDigits is the longest number the port collects.
const MaxDigits = 32

// ParseDialPlan compiles a digit map. Errors name the alternative and the
// position of what was wrong.
func ParseDialPlan(s string) (*DialPlan, error) {
	if len(s) > maxDialPlanLen {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrDialPlan, len(s), maxDialPlanLen)
	}
	body := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if n := len(body); n >= 2 && ((body[0] == '(' && body[n-1] == ')') || (body[0] == '{' && body[n-1] == '}')) {
		body = body[1 : n-1]
	}
	if body == "" {
		return nil, fmt.Errorf("%w: empty", ErrDialPlan)
	}
	p := &DialPlan{src: s}
	for i, alt := range strings.Split(body, "|") {
		els, err := parseAlt(alt)
		if err != nil {
			return nil, fmt.Errorf("%w: alternative %d %q: %v", ErrDialPlan, i+1, alt, err)
		}
		p.alts = append(p.alts, els)
	}
	return p, nil
}

func parseAlt(a string) ([]elem, error) {
	if a == "" {
		return nil, errors.New("empty alternative")
	}
	var els []elem
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c == 'x' || c == 'X':
			els = append(els, elem{set: 0x3FF})
		case c == 'T' || c == 't':
			if i != len(a)-1 {
				return nil, fmt.Errorf("'T' at position %d is not last", i+1)
			}
			els = append(els, elem{set: timerBit})
		case c == '.':
			if len(els) == 0 || els[len(els)-1].repeat || els[len(els)-1].set == timerBit {
				return nil, fmt.Errorf("'.' at position %d does not follow a key", i+1)
			}
			els[len(els)-1].repeat = true
		case c == '[':
			end := strings.IndexByte(a[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("'[' at position %d is not closed", i+1)
			}
			set, err := parseSet(a[i+1 : i+end])
			if err != nil {
				return nil, fmt.Errorf("set at position %d: %v", i+1, err)
			}
			els = append(els, elem{set: set})
			i += end
		case keyBit(c) != 0:
			els = append(els, elem{set: keyBit(c)})
		default:
			return nil, fmt.Errorf("unexpected %q at position %d", c, i+1)
		}
	}
	if len(els) == 1 && els[0].set == timerBit {
		return nil, errors.New("'T' alone")
	}
	min := 0
	for _, e := range els {
		if !e.repeat && e.set != timerBit {
			min++
		}
	}
	if min > MaxDigits {
		return nil, fmt.Errorf("needs %d digits (at most %d)", min, MaxDigits)
	}
	return els, nil
}

func parseSet(s string) (uint32, error) {
	if s == "" {
		return 0, errors.New("empty set")
	}
	var set uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'x' || c == 'X' {
			set |= 0x3FF
			continue
		}
		b := keyBit(c)
		if b == 0 {
			return 0, fmt.Errorf("%q is not a key", c)
		}
		if i+2 < len(s) && s[i+1] == '-' {
			hi := s[i+2]
			if c < '0' || c > '9' || hi < '0' || hi > '9' || hi < c {
				return 0, fmt.Errorf("bad range %c-%c", c, hi)
			}
			for d := c; d <= hi; d++ {
				set |= keyBit(d)
			}
			i += 2
			continue
		}
		set |= b
	}
	return set, nil
}

// String returns the digit map as given.
func (p *DialPlan) String() string { return p.src }

// Match is the state of a digit string against the plan.
type Match uint8

// Match results.
const (
	// NoMatch: no alternative can match, whatever follows.
	NoMatch Match = iota
	// Partial: more digits are needed.
	Partial
	// Ambiguous: an alternative matches now, but longer numbers may also
	// match: complete after the short inter-digit timer.
	Ambiguous
	// Complete: an alternative matches and none can take more digits, or
	// the inter-digit timer expired and an alternative matches.
	Complete
)

func (m Match) String() string {
	return [...]string{"no-match", "partial", "ambiguous", "complete"}[m]
}

// Match classifies digits. timerExpired says the inter-digit timer ran
// out, which completes alternatives ending in 'T' that have matched.
func (p *DialPlan) Match(digits string, timerExpired bool) Match {
	full, more, timed := false, false, false
	for _, alt := range p.alts {
		f, m, t := matchAlt(alt, digits, timerExpired)
		full = full || f
		more = more || m
		timed = timed || t
	}
	switch {
	case full && (timerExpired || (!more && !timed)):
		return Complete
	case full || timed:
		return Ambiguous
	case more:
		return Partial
	}
	return NoMatch
}

// matchAlt reports whether digits match alt completely now (full) and
// whether alt could match a longer string (more), and whether it matches
// once the inter-digit timer expires (timed). It simulates the pattern as a
// set of positions (an NFA), no allocation.
func matchAlt(alt []elem, digits string, timerExpired bool) (full, more, timed bool) {
	if len(alt) > 63 {
		alt = alt[:63]
	}
	// bit i of st: the next element to match is alt[i]; bit len(alt): end.
	st := closure(alt, 1)
	for i := 0; i < len(digits) && st != 0; i++ {
		b := keyBit(digits[i])
		var next uint64
		for j, e := range alt {
			if st&(1<<uint(j)) == 0 || e.set&b == 0 {
				continue
			}
			if e.repeat {
				next |= 1 << uint(j)
			} else {
				next |= 1 << uint(j+1)
			}
		}
		st = closure(alt, next)
	}
	end := uint64(1) << uint(len(alt))
	for j, e := range alt {
		if st&(1<<uint(j)) == 0 {
			continue
		}
		if e.set == timerBit {
			if timerExpired {
				full = true
			} else {
				timed = true
			}
			continue
		}
		more = true
	}
	if st&end != 0 {
		full = true
	}
	return full, more, timed
}

// closure adds the positions reachable by skipping repeated elements.
func closure(alt []elem, st uint64) uint64 {
	for j, e := range alt {
		if st&(1<<uint(j)) != 0 && e.repeat {
			st |= 1 << uint(j+1)
		}
	}
	return st
}

// DialComplete reports whether number is complete under the port's dial
// plan as it stands (the plan a DECT device's analog phone dials by too).
func (p *Port) DialComplete(number string) bool {
	p.cfgMu.RLock()
	plan := p.plan
	p.cfgMu.RUnlock()
	return plan != nil && plan.Match(number, false) == Complete
}
