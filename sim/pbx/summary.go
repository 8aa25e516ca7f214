package pbx

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// MessageSummaryType is the Content-Type of an RFC 3842 body.
const MessageSummaryType = "application/simple-message-summary"

// Counts are the message counts of one message-context-class (RFC 3842
// §5.2): "new/old (urgent-new/urgent-old)".
type Counts struct {
	New       int `json:"new"`
	Old       int `json:"old"`
	UrgentNew int `json:"urgent_new"`
	UrgentOld int `json:"urgent_old"`
}

// Summary is an RFC 3842 message-summary body.
type Summary struct {
	Waiting bool   // Messages-Waiting: yes|no
	Account string // Message-Account URI, optional
	// Classes maps a message-context-class (lower case: "voice-message",
	// "fax-message", "pager-message", "multimedia-message",
	// "text-message", "none") to its counts.
	Classes map[string]Counts
}

// Voice returns the voice-message counts.
func (s Summary) Voice() Counts { return s.Classes["voice-message"] }

// knownClasses are the message-context-class values of RFC 3458 that RFC
// 3842 allows as header names; written in this order.
var knownClasses = []string{"voice-message", "fax-message", "pager-message", "multimedia-message", "text-message", "none"}

// Marshal builds the body. Classes outside RFC 3458's list and negative
// counts are rejected, so a malformed body is never sent.
func (s Summary) Marshal() ([]byte, error) {
	var b bytes.Buffer
	if s.Waiting {
		b.WriteString("Messages-Waiting: yes\r\n")
	} else {
		b.WriteString("Messages-Waiting: no\r\n")
	}
	if s.Account != "" {
		if strings.ContainsAny(s.Account, "\r\n") {
			return nil, fmt.Errorf("message-summary: account %q contains a line break", s.Account)
		}
		fmt.Fprintf(&b, "Message-Account: %s\r\n", s.Account)
	}
	for name := range s.Classes {
		if !isKnownClass(name) {
			return nil, fmt.Errorf("message-summary: unknown message-context-class %q", name)
		}
	}
	for _, name := range knownClasses {
		c, ok := s.Classes[name]
		if !ok {
			continue
		}
		if c.New < 0 || c.Old < 0 || c.UrgentNew < 0 || c.UrgentOld < 0 {
			return nil, fmt.Errorf("message-summary: negative count in %s %+v", name, c)
		}
		fmt.Fprintf(&b, "%s: %d/%d", headerCase(name), c.New, c.Old)
		if c.UrgentNew != 0 || c.UrgentOld != 0 {
			fmt.Fprintf(&b, " (%d/%d)", c.UrgentNew, c.UrgentOld)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// headerCase writes "voice-message" as "Voice-Message".
func headerCase(name string) string {
	parts := strings.Split(name, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

func isKnownClass(name string) bool {
	for _, k := range knownClasses {
		if k == name {
			return true
		}
	}
	return false
}

// maxSummaryBody bounds what ParseSummary reads.
const maxSummaryBody = 8192

// ParseSummary parses an RFC 3842 body. Messages-Waiting is required; header
// names are case-insensitive; message headers after the first blank line
// (§5.2 "msg-summary-line" is followed by optional opt-msg-headers) are
// ignored. Unknown header lines are ignored as the RFC's extension rule
// allows; malformed count lines are errors.
func ParseSummary(body []byte) (Summary, error) {
	if len(body) > maxSummaryBody {
		return Summary{}, fmt.Errorf("message-summary: body is %d bytes, limit %d", len(body), maxSummaryBody)
	}
	s := Summary{Classes: map[string]Counts{}}
	haveWaiting := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 1024), maxSummaryBody+1)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" {
			if haveWaiting {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return Summary{}, fmt.Errorf("message-summary line %d: no colon in %q", line, l)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		switch {
		case name == "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				s.Waiting = true
			case "no":
				s.Waiting = false
			default:
				return Summary{}, fmt.Errorf("message-summary line %d: Messages-Waiting %q is not yes or no", line, value)
			}
			haveWaiting = true
		case name == "message-account":
			if value == "" {
				return Summary{}, fmt.Errorf("message-summary line %d: empty Message-Account", line)
			}
			s.Account = value
		case isKnownClass(name):
			c, err := parseCounts(value)
			if err != nil {
				return Summary{}, fmt.Errorf("message-summary line %d (%s): %w", line, name, err)
			}
			s.Classes[name] = c
		}
	}
	if err := sc.Err(); err != nil {
		return Summary{}, fmt.Errorf("message-summary: %w", err)
	}
	if !haveWaiting {
		return Summary{}, fmt.Errorf("message-summary: no Messages-Waiting line")
	}
	return s, nil
}

// parseCounts parses "new/old" with an optional " (urgent-new/urgent-old)".
func parseCounts(v string) (Counts, error) {
	main, urgent, hasUrgent := strings.Cut(v, "(")
	var c Counts
	var err error
	if c.New, c.Old, err = parsePair(strings.TrimSpace(main)); err != nil {
		return Counts{}, err
	}
	if hasUrgent {
		u, ok := strings.CutSuffix(strings.TrimSpace(urgent), ")")
		if !ok {
			return Counts{}, fmt.Errorf("urgent counts %q lack the closing parenthesis", urgent)
		}
		if c.UrgentNew, c.UrgentOld, err = parsePair(strings.TrimSpace(u)); err != nil {
			return Counts{}, fmt.Errorf("urgent counts: %w", err)
		}
	}
	return c, nil
}

func parsePair(p string) (int, int, error) {
	a, b, ok := strings.Cut(p, "/")
	if !ok {
		return 0, 0, fmt.Errorf("counts %q are not new/old", p)
	}
	x, err := parseCount(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, err
	}
	y, err := parseCount(strings.TrimSpace(b))
	if err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

func parseCount(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("count %q is not a number of at most 9 digits", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("count %q is not a number", s)
		}
	}
	return strconv.Atoi(s)
}
