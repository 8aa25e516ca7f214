package sipua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// assertedIdentity reads P-Asserted-Identity header values (RFC 3325
// §9.1): each holds one or more comma-separated identities, a name-addr
// ("Name" <uri>) or an addr-spec, whose URI is sip:, sips: or tel:
// (RFC 3966). The number is the first tel: URI's telephone number
// (visual separators removed) when there is one, else the user part of
// the first sip:/sips: URI; the name is the first display name given.
// An error names what was wrong when no identity is usable.
func assertedIdentity(values []string) (name, number string, err error) {
	var sipUser string
	var errs []error
	for _, v := range values {
		for _, id := range splitIdentities(v) {
			disp, uri, err := nameAddr(id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			scheme, rest, _ := strings.Cut(uri, ":")
			switch strings.ToLower(scheme) {
			case "tel":
				n, err := telNumber(rest)
				if err != nil {
					errs = append(errs, fmt.Errorf("%q: %w", uri, err))
					continue
				}
				if number == "" {
					number = n
				}
			case "sip", "sips":
				var u sip.Uri
				if err := sip.ParseUri(uri, &u); err != nil || u.User == "" {
					errs = append(errs, fmt.Errorf("%q: not a SIP URI with a user part", uri))
					continue
				}
				if sipUser == "" {
					sipUser, _, _ = strings.Cut(u.User, ";") // user=phone parameters
				}
			default:
				errs = append(errs, fmt.Errorf("%q: scheme is not sip, sips or tel", uri))
				continue
			}
			if name == "" {
				name = disp
			}
		}
	}
	if number == "" {
		number = sipUser
	}
	if number == "" {
		if len(errs) == 0 {
			errs = append(errs, errors.New("empty"))
		}
		return "", "", fmt.Errorf("P-Asserted-Identity: %w", errors.Join(errs...))
	}
	return name, number, nil
}

// splitIdentities splits a header value at the commas that separate
// identities (not those inside quotes or angle brackets).
func splitIdentities(v string) []string {
	var out []string
	quoted, angle, esc := false, false, false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc:
			esc = false
		case quoted && c == '\\':
			esc = true
		case c == '"' && !angle:
			quoted = !quoted
		case c == '<' && !quoted:
			angle = true
		case c == '>' && !quoted:
			angle = false
		case c == ',' && !quoted && !angle:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// nameAddr splits one identity into its display name and URI.
func nameAddr(id string) (disp, uri string, err error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", "", errors.New("empty identity")
	}
	lt := strings.IndexByte(id, '<')
	if lt < 0 {
		if strings.ContainsAny(id, " \t\">") {
			return "", "", fmt.Errorf("%q: neither <URI> nor a bare URI", id)
		}
		return "", id, nil // addr-spec
	}
	gt := strings.LastIndexByte(id, '>')
	if gt < lt {
		return "", "", fmt.Errorf("%q: no closing '>'", id)
	}
	disp = strings.TrimSpace(id[:lt])
	if strings.HasPrefix(disp, `"`) {
		if len(disp) < 2 || !strings.HasSuffix(disp, `"`) {
			return "", "", fmt.Errorf("%q: unterminated display name", id)
		}
		disp = strings.ReplaceAll(disp[1:len(disp)-1], `\"`, `"`)
	}
	uri = strings.TrimSpace(id[lt+1 : gt])
	if uri == "" {
		return "", "", fmt.Errorf("%q: empty URI", id)
	}
	return disp, uri, nil
}

// telNumber is the number of a tel: URI body (RFC 3966 telephone-subscriber
// without the scheme): a global number (+ and digits) or a local one
// (digits, *, #, A-D), with the visual separators - . ( ) removed and the
// parameters (;phone-context=, ;ext=, ...) dropped.
func telNumber(s string) (string, error) {
	num, _, _ := strings.Cut(s, ";")
	var b strings.Builder
	for i, c := range num {
		switch {
		case c == '+' && i == 0:
			b.WriteRune(c)
		case c >= '0' && c <= '9', c == '*', c == '#':
			b.WriteRune(c)
		case c >= 'A' && c <= 'D', c >= 'a' && c <= 'd':
			if strings.HasPrefix(num, "+") {
				return "", fmt.Errorf("letter %q in a global number", c)
			}
			b.WriteRune(c)
		case c == '-', c == '.', c == '(', c == ')':
		default:
			return "", fmt.Errorf("character %q is not part of a telephone number", c)
		}
	}
	n := b.String()
	if strings.TrimPrefix(n, "+") == "" {
		return "", errors.New("no digits")
	}
	return n, nil
}
