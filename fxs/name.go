package fxs

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// callerName is the name as the line can send it (GR-30: printable ASCII,
// at most MaxCallerName characters), or "" when nothing readable is left:
//
//   - letters with diacritics lose them (é→e, ü→u, ç→c, ñ→n, å→a; Unicode
//     compatibility decomposition, NFKD, then combining marks dropped, so
//     ligatures and full-width forms become their ASCII letters too);
//   - letters that do not decompose take their usual ASCII spelling
//     (asciiFold: ß→ss, æ→ae, ø→o, œ→oe, ł→l, đ/ð→d, þ→th, ı→i, …), and
//     typographic quotes and dashes their plain ASCII forms;
//   - white space becomes one space; control and format characters
//     (zero-width joiners, soft hyphens) are dropped;
//   - any other character (a Greek, Cyrillic or CJK letter, an emoji)
//     becomes '?';
//
// and only then is the result cut to MaxCallerName, so "Müller-Lüdenscheidt"
// is sent as "Muller-Ludensch". Leading and trailing spaces are trimmed. A
// name with no ASCII letter or digit left ("王伟" would be "??") is
// returned as "": the line then sends the name as unavailable.
func callerName(s string) string {
	// Fold first: some of these signs would decompose to a space and a
	// combining mark (´ is U+0020 U+0301) and lose their meaning.
	var pre strings.Builder
	for _, r := range s {
		if f, ok := asciiFold(r); ok {
			pre.WriteString(f)
		} else {
			pre.WriteRune(r)
		}
	}
	var b strings.Builder
	space := false
	for _, r := range norm.NFKD.String(pre.String()) {
		switch {
		case r == ' ' || unicode.IsSpace(r):
			space = true
			continue
		case unicode.Is(unicode.Mn, r):
			continue // a combining mark (the accent of a decomposed letter)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		t := string(r)
		if r >= 0x7F {
			// A sign the decomposition produced (ŀ is l + U+00B7), or '?'.
			f, ok := asciiFold(r)
			switch {
			case !ok:
				t = "?"
			case f == "":
				continue
			default:
				t = f
			}
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(t)
	}
	out := b.String()
	if len(out) > MaxCallerName {
		out = strings.TrimRight(out[:MaxCallerName], " ")
	}
	if strings.IndexFunc(out, func(r rune) bool {
		return r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
	}) < 0 {
		return ""
	}
	return out
}

// asciiFold spells in ASCII the letters and signs that have no Unicode
// decomposition to one (ok false: none known). "" drops the character.
func asciiFold(r rune) (string, bool) {
	switch r {
	case 'ß':
		return "ss", true
	case 'ẞ':
		return "SS", true
	case 'æ':
		return "ae", true
	case 'Æ':
		return "AE", true
	case 'œ':
		return "oe", true
	case 'Œ':
		return "OE", true
	case 'ø':
		return "o", true
	case 'Ø':
		return "O", true
	case 'ł':
		return "l", true
	case 'Ł':
		return "L", true
	case 'đ', 'ð':
		return "d", true
	case 'Đ', 'Ð':
		return "D", true
	case 'þ':
		return "th", true
	case 'Þ':
		return "Th", true
	case 'ı':
		return "i", true
	case 'ħ':
		return "h", true
	case 'Ħ':
		return "H", true
	case 'ŧ':
		return "t", true
	case 'Ŧ':
		return "T", true
	case 'ŋ':
		return "ng", true
	case 'Ŋ':
		return "NG", true
	case 'ĸ':
		return "k", true
	case 'ƒ':
		return "f", true
	case '‘', '’', '‚', '‛', '′', '´':
		return "'", true
	case '“', '”', '„', '‟', '″', '«', '»':
		return "\"", true
	case '‐', '‑', '‒', '–', '—', '―', '−':
		return "-", true
	case '¡':
		return "!", true
	case '¿':
		return "?", true
	case '×':
		return "x", true
	case '·', '•':
		return "", true // Catalan l·l; a separator dot (spaces around it stay)
	}
	return "", false
}
