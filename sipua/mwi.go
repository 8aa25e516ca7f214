package sipua

import (
	"basestation/endpoint"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MessageCounts are the counts of one message class: new/old
// (urgent new/urgent old).
type MessageCounts struct {
	New, Old, UrgentNew, UrgentOld int
}

// MessageSummary is an application/simple-message-summary body (RFC 3842).
type MessageSummary struct {
	Waiting bool
	Account string // Message-Account URI, if given
	// Counts by message context class in lower case ("voice-message",
	// "fax-message", ...). Absent classes are absent.
	Counts map[string]MessageCounts
}

var msgClasses = map[string]bool{
	"voice-message": true, "fax-message": true, "pager-message": true,
	"multimedia-message": true, "text-message": true, "none": true,
}

// NewMessages is the number of new messages a phone's display shows: the
// new voice messages (urgent ones are among them, RFC 3842 §5.2), or, when
// the summary has no voice-message line, the new messages of every class.
// 0 means none or not given.
func (ms MessageSummary) NewMessages() int {
	if c, ok := ms.Counts["voice-message"]; ok {
		return c.New
	}
	n := 0
	for _, c := range ms.Counts {
		n += c.New
	}
	return n
}

// showMWI tells one endpoint the extension's message state: the count to
// a display that shows it (endpoint.MessageCounter, a DECT device), and
// again whenever it changes; the indication alone to the others.
func showMWI(ep endpoint.Endpoint, ms MessageSummary) error {
	if mc, ok := ep.(endpoint.MessageCounter); ok {
		return mc.SetMessageCount(ms.Waiting, ms.NewMessages())
	}
	return ep.SetMessageWaiting(ms.Waiting)
}

// maxSummaryBody bounds what we parse.
const maxSummaryBody = 64 << 10

// ParseMessageSummary parses an RFC 3842 message-summary body. Errors name
// the offending line. Unknown headers are ignored (RFC 3842 §5.2 allows
// extensions); everything after the first empty line (optional message
// headers) is ignored.
func ParseMessageSummary(body []byte) (MessageSummary, error) {
	var ms MessageSummary
	if len(body) > maxSummaryBody {
		return ms, fmt.Errorf("message-summary: body of %d bytes exceeds %d", len(body), maxSummaryBody)
	}
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	seenWaiting := false
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			if seenWaiting {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return MessageSummary{}, fmt.Errorf("message-summary: line %d %q: missing ':'", i+1, trunc(line))
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		switch {
		case name == "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				ms.Waiting = true
			case "no":
				ms.Waiting = false
			default:
				return MessageSummary{}, fmt.Errorf("message-summary: line %d: Messages-Waiting %q is neither yes nor no", i+1, trunc(value))
			}
			seenWaiting = true
		case name == "message-account":
			ms.Account = value
		case msgClasses[name]:
			c, err := parseCounts(value)
			if err != nil {
				return MessageSummary{}, fmt.Errorf("message-summary: line %d %s: %w", i+1, name, err)
			}
			if ms.Counts == nil {
				ms.Counts = map[string]MessageCounts{}
			}
			ms.Counts[name] = c
		default:
			// extension header: ignored
		}
	}
	if !seenWaiting {
		return MessageSummary{}, errors.New("message-summary: no Messages-Waiting line")
	}
	return ms, nil
}

// parseCounts parses "new/old" with an optional "(unew/uold)".
func parseCounts(v string) (MessageCounts, error) {
	var c MessageCounts
	main, urgent, hasUrgent := strings.Cut(v, "(")
	var err error
	if c.New, c.Old, err = parsePair(strings.TrimSpace(main)); err != nil {
		return c, err
	}
	if hasUrgent {
		u, rest, ok := strings.Cut(urgent, ")")
		if !ok || strings.TrimSpace(rest) != "" {
			return c, fmt.Errorf("bad urgent counts %q", trunc(v))
		}
		if c.UrgentNew, c.UrgentOld, err = parsePair(strings.TrimSpace(u)); err != nil {
			return c, err
		}
	}
	return c, nil
}

func parsePair(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("counts %q: want new/old", trunc(s))
	}
	n1, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 31)
	n2, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("counts %q: not two non-negative numbers", trunc(s))
	}
	return int(n1), int(n2), nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
