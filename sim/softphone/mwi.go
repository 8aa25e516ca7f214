package softphone

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// MWI is the message-waiting state a NOTIFY reported (RFC 3842).
type MWI struct {
	Waiting  bool
	Account  string
	New, Old int // voice-message counts
	// Solicited is true for a NOTIFY inside a subscription the phone made,
	// false for an unsolicited one.
	Solicited bool
}

// parseMessageSummary is the phone's own reader of an RFC 3842 body,
// separate from the PBX's builder so that each checks the other.
func parseMessageSummary(body []byte) (MWI, error) {
	if len(body) > 8192 {
		return MWI{}, fmt.Errorf("message-summary body of %d bytes is too long", len(body))
	}
	var m MWI
	have := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if have {
				break
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return MWI{}, fmt.Errorf("message-summary line %q has no colon", line)
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "messages-waiting":
			switch strings.ToLower(v) {
			case "yes":
				m.Waiting = true
			case "no":
			default:
				return MWI{}, fmt.Errorf("Messages-Waiting %q is not yes/no", v)
			}
			have = true
		case "message-account":
			m.Account = v
		case "voice-message":
			counts, _, _ := strings.Cut(v, "(")
			n, o, ok := strings.Cut(strings.TrimSpace(counts), "/")
			if !ok {
				return MWI{}, fmt.Errorf("Voice-Message %q is not new/old", v)
			}
			var err error
			if m.New, err = strconv.Atoi(strings.TrimSpace(n)); err != nil || m.New < 0 {
				return MWI{}, fmt.Errorf("Voice-Message new count %q", n)
			}
			if m.Old, err = strconv.Atoi(strings.TrimSpace(o)); err != nil || m.Old < 0 {
				return MWI{}, fmt.Errorf("Voice-Message old count %q", o)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return MWI{}, err
	}
	if !have {
		return MWI{}, fmt.Errorf("message-summary without Messages-Waiting")
	}
	return m, nil
}
