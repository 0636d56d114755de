package elasticsearch

import (
	"fmt"
	"strings"
	"time"
)

// indexPattern is a parsed Index option: literal parts and time formats.
type indexPattern struct {
	parts []patternPart
	timed bool
}

type patternPart struct {
	lit    string
	tokens []string // time tokens and literals, when a time format
}

// timeTokens are the tokens of a time format, longest first.
var timeTokens = []string{"yyyy", "yy", "MM", "dd", "HH", "mm", "ss"}

// parseIndex parses an index pattern such as "logs-{yyyy.MM.dd}".
func parseIndex(p string) (indexPattern, error) {
	var ip indexPattern
	rest := p
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			ip.parts = append(ip.parts, patternPart{lit: rest})
			break
		}
		if open > 0 {
			ip.parts = append(ip.parts, patternPart{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return ip, fmt.Errorf("index %q: unclosed {", p)
		}
		format := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		toks, err := timeFormat(format)
		if err != nil {
			return ip, fmt.Errorf("index %q: %w", p, err)
		}
		ip.parts = append(ip.parts, patternPart{tokens: toks})
		ip.timed = true
	}
	var lit strings.Builder
	for _, pp := range ip.parts {
		if pp.tokens == nil {
			lit.WriteString(pp.lit)
		}
	}
	if strings.ContainsAny(lit.String(), "}") {
		return ip, fmt.Errorf("index %q: } without {", p)
	}
	if l := lit.String(); l != strings.ToLower(l) || strings.ContainsAny(l, `\/*?"<>| ,#:`) {
		return ip, fmt.Errorf("index %q: index names are lowercase and contain no \\ / * ? \" < > | space, comma, # or colon", p)
	}
	if len(ip.parts) == 0 {
		return ip, fmt.Errorf("index is empty")
	}
	if first := ip.parts[0]; first.tokens == nil && strings.ContainsAny(first.lit[:1], "_-+") {
		return ip, fmt.Errorf("index %q: an index name must not start with _, - or +", p)
	}
	return ip, nil
}

func timeFormat(f string) ([]string, error) {
	if f == "" {
		return nil, fmt.Errorf("empty {} (give a time format such as {yyyy.MM.dd})")
	}
	var toks []string
	for f != "" {
		matched := false
		for _, t := range timeTokens {
			if strings.HasPrefix(f, t) {
				toks, f, matched = append(toks, t), f[len(t):], true
				break
			}
		}
		if matched {
			continue
		}
		c := f[0]
		if c == '.' || c == '-' || c == '_' {
			toks, f = append(toks, f[:1]), f[1:]
			continue
		}
		return nil, fmt.Errorf("{%s}: %q is not part of a time format: use yyyy, yy, MM, dd, HH, mm, ss and the separators . - _", f, f[:1])
	}
	return toks, nil
}

// format returns the index name for time t (UTC).
func (ip *indexPattern) format(t time.Time) string {
	var b strings.Builder
	t = t.UTC()
	for _, p := range ip.parts {
		if p.tokens == nil {
			b.WriteString(p.lit)
			continue
		}
		for _, tok := range p.tokens {
			switch tok {
			case "yyyy":
				fmt.Fprintf(&b, "%04d", t.Year())
			case "yy":
				fmt.Fprintf(&b, "%02d", t.Year()%100)
			case "MM":
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			case "dd":
				fmt.Fprintf(&b, "%02d", t.Day())
			case "HH":
				fmt.Fprintf(&b, "%02d", t.Hour())
			case "mm":
				fmt.Fprintf(&b, "%02d", t.Minute())
			case "ss":
				fmt.Fprintf(&b, "%02d", t.Second())
			default:
				b.WriteString(tok)
			}
		}
	}
	return b.String()
}

// literal returns the pattern as a name when it has no time format.
func (ip *indexPattern) literal() string {
	if ip.timed {
		return ""
	}
	return ip.format(time.Time{})
}
