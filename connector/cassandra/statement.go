package cassandra

import (
	"fmt"
	"strings"
	"unicode"
)

// The analysis of the sink's statement: which table it writes, which
// column (or record field) each bind marker takes its value from, and
// whether applying it twice has the same effect as applying it once, from
// which the sink's guarantee follows. It reads only the shapes of CQL a
// sink's statement has: INSERT, UPDATE and DELETE of one row.

// Marker is a bind marker of the statement.
type Marker struct {
	// Name is the marker's name (:name), or "" for ?.
	Name string
	// Column is the column the marker's value goes to or is compared with,
	// or "[ttl]" / "[timestamp]" for USING TTL ? / USING TIMESTAMP ?.
	Column string
	// Delta: the marker is the right side of col = col + ?, col = col - ?
	// or col = ? + col.
	Delta bool
	// Part is "key" for the marker of col[?] = ... (a map key or a list
	// index), "value" for that of col[...] = ? (a map value or a list
	// element), "" for a whole column.
	Part string
}

// Field is the record field that binds the marker: its name, or the
// column's name for ?.
func (m Marker) Field() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Column
}

// Statement is what the sink knows of its CQL statement.
type Statement struct {
	// CQL is the statement as given.
	CQL string
	// Verb is INSERT, UPDATE or DELETE.
	Verb string
	// Keyspace is the keyspace the statement names ("" when unqualified).
	Keyspace, Table string
	// Markers are the bind markers in order.
	Markers []Marker
	// Idempotent: applying the statement again with the same values
	// leaves the table as applying it once does.
	Idempotent bool
	// Why says why the statement is or is not idempotent.
	Why string
	// Conditional: a lightweight transaction (IF ...).
	Conditional bool

	tablePos int // where the table's name (or keyspace) starts in CQL
}

// Qualified returns the statement with keyspace ks before its table's
// name when it names none: the sink's session has no keyspace, so that a
// missing keyspace is reported as such and one session serves the
// statement and the commit tables.
func (st *Statement) Qualified(ks string) string {
	if st.Keyspace != "" || ks == "" {
		return st.CQL
	}
	return st.CQL[:st.tablePos] + quoteName(ks) + "." + st.CQL[st.tablePos:]
}

// quoteName returns name as a CQL identifier: as it is when it is
// lower-case letters, digits and _, else double-quoted.
func quoteName(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			plain = false
		}
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

type cqlToken struct {
	kind byte // 'i' identifier, 'q' quoted identifier, 's' string, 'n' number, '?' marker, ':' named marker, 'p' punctuation, 0 end
	text string
	pos  int // byte offset in the statement
}

func cqlLex(s string) ([]cqlToken, error) {
	var out []cqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'':
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string literal at offset %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			out = append(out, cqlToken{'s', s[i+1 : j], i})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted identifier at offset %d", i)
			}
			out = append(out, cqlToken{'q', s[i+1 : i+1+j], i})
			i += j + 2
		case c == '?':
			out = append(out, cqlToken{'?', "?", i})
			i++
		case c == ':' && i+1 < len(s) && (s[i+1] == '_' || unicode.IsLetter(rune(s[i+1]))):
			j := i + 1
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, cqlToken{':', strings.ToLower(s[i+1 : j]), i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			if isUUIDish(s[i:]) {
				j = i + 36
			}
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			kind := byte('i')
			if unicode.IsDigit(rune(c)) {
				kind = 'n'
			}
			w := s[i:j]
			if kind == 'i' {
				w = strings.ToLower(w)
			}
			out = append(out, cqlToken{kind, w, i})
			i = j
		default:
			if i+1 < len(s) && (c == '<' || c == '>' || c == '!') && s[i+1] == '=' {
				out = append(out, cqlToken{'p', s[i : i+2], i})
				i += 2
				continue
			}
			out = append(out, cqlToken{'p', string(c), i})
			i++
		}
	}
	return append(out, cqlToken{pos: len(s)}), nil
}

// isUUIDish reports whether s starts with a UUID literal.
func isUUIDish(s string) bool {
	if len(s) < 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

type stmtParser struct {
	toks []cqlToken
	i    int
	st   *Statement
	// nondeterministic function calls seen (now(), uuid()...)
	nondet []string
}

func (p *stmtParser) peek() cqlToken { return p.toks[p.i] }
func (p *stmtParser) next() cqlToken {
	t := p.toks[p.i]
	if t.kind != 0 {
		p.i++
	}
	return t
}
func (p *stmtParser) kw(w string) bool {
	if t := p.peek(); t.kind == 'i' && t.text == w {
		p.i++
		return true
	}
	return false
}
func (p *stmtParser) punct(s string) bool {
	if t := p.peek(); t.kind == 'p' && t.text == s {
		p.i++
		return true
	}
	return false
}
func (p *stmtParser) errf(format string, args ...any) error {
	near := p.peek().text
	if p.peek().kind == 0 {
		near = "the end"
	}
	return fmt.Errorf("%s (near %q)", fmt.Sprintf(format, args...), near)
}
func (p *stmtParser) ident() (string, error) {
	t := p.peek()
	if t.kind == 'i' || t.kind == 'q' {
		p.i++
		return t.text, nil
	}
	return "", p.errf("expected a name")
}
func (p *stmtParser) table() error {
	p.st.tablePos = p.peek().pos
	n, err := p.ident()
	if err != nil {
		return err
	}
	if p.punct(".") {
		p.st.Keyspace = n
		if n, err = p.ident(); err != nil {
			return err
		}
	}
	p.st.Table = n
	return nil
}

// value parses a term: a marker, a literal or a function call; it
// returns the kind of literal ('s', 'n', '[' list, '{' set or map, 'f'
// function, 'i' other) for the idempotence rules.
func (p *stmtParser) value(col string, delta bool) (byte, error) {
	t := p.next()
	switch t.kind {
	case '?':
		p.st.Markers = append(p.st.Markers, Marker{Column: col, Delta: delta})
		return '?', nil
	case ':':
		p.st.Markers = append(p.st.Markers, Marker{Name: t.text, Column: col, Delta: delta})
		return '?', nil
	case 's', 'n':
		return t.kind, nil
	case 'p':
		switch t.text {
		case "-":
			if n := p.next(); n.kind == 'n' {
				return 'n', nil
			}
		case "[", "{", "(":
			end := map[string]string{"[": "]", "{": "}", "(": ")"}[t.text]
			for !p.punct(end) {
				if p.peek().kind == 0 {
					return 0, p.errf("missing %q", end)
				}
				if p.punct(",") || p.punct(":") {
					continue
				}
				if _, err := p.value(col, false); err != nil {
					return 0, err
				}
			}
			return t.text[0], nil
		}
	case 'i', 'q':
		if p.punct("(") {
			switch t.text {
			case "now", "uuid", "currenttimestamp", "currenttime", "currentdate", "currenttimeuuid":
				p.nondet = append(p.nondet, t.text+"()")
			}
			for !p.punct(")") {
				if p.peek().kind == 0 {
					return 0, p.errf("missing ')'")
				}
				if p.punct(",") {
					continue
				}
				if _, err := p.value(col, false); err != nil {
					return 0, err
				}
			}
			return 'f', nil
		}
		return 'i', nil // true, false, null, NaN...
	}
	p.i--
	return 0, p.errf("expected a value")
}

func (p *stmtParser) using() error {
	for {
		switch {
		case p.kw("ttl"):
			if _, err := p.value("[ttl]", false); err != nil {
				return err
			}
		case p.kw("timestamp"):
			if _, err := p.value("[timestamp]", false); err != nil {
				return err
			}
		default:
			return p.errf("expected TTL or TIMESTAMP after USING")
		}
		if !p.kw("and") {
			return nil
		}
	}
}

func (p *stmtParser) where() error {
	if !p.kw("where") {
		return p.errf("expected WHERE")
	}
	for {
		col, err := p.ident()
		if err != nil {
			return err
		}
		if p.kw("in") {
			if _, err := p.value(col, false); err != nil {
				return err
			}
		} else {
			t := p.next()
			if t.kind != 'p' || !strings.Contains("= < <= > >= !=", t.text) {
				p.i--
				return p.errf("expected a relation on %s", col)
			}
			if _, err := p.value(col, false); err != nil {
				return err
			}
		}
		if !p.kw("and") {
			return nil
		}
	}
}

func (p *stmtParser) conditions() error {
	if !p.kw("if") {
		return nil
	}
	p.st.Conditional = true
	if p.kw("exists") {
		return nil
	}
	if p.kw("not") {
		if !p.kw("exists") {
			return p.errf("expected EXISTS")
		}
		return nil
	}
	for {
		col, err := p.ident()
		if err != nil {
			return err
		}
		t := p.next()
		if t.kind != 'p' {
			p.i--
			return p.errf("expected a relation on %s", col)
		}
		if _, err := p.value(col, false); err != nil {
			return err
		}
		if !p.kw("and") {
			return nil
		}
	}
}

// ParseStatement analyses a sink statement.
func ParseStatement(cql string) (*Statement, error) {
	toks, err := cqlLex(cql)
	if err != nil {
		return nil, err
	}
	p := &stmtParser{toks: toks, st: &Statement{CQL: cql}}
	st := p.st
	var nonIdem []string
	switch {
	case p.kw("insert"):
		st.Verb = "INSERT"
		if !p.kw("into") {
			return nil, p.errf("expected INTO")
		}
		if err := p.table(); err != nil {
			return nil, err
		}
		if p.kw("json") {
			return nil, p.errf("INSERT ... JSON is not supported: list the columns")
		}
		if !p.punct("(") {
			return nil, p.errf("expected the column list")
		}
		var cols []string
		for {
			c, err := p.ident()
			if err != nil {
				return nil, err
			}
			cols = append(cols, c)
			if !p.punct(",") {
				break
			}
		}
		if !p.punct(")") || !p.kw("values") || !p.punct("(") {
			return nil, p.errf("expected ) VALUES (")
		}
		for i := 0; ; i++ {
			col := ""
			if i < len(cols) {
				col = cols[i]
			}
			if _, err := p.value(col, false); err != nil {
				return nil, err
			}
			if !p.punct(",") {
				if i+1 < len(cols) {
					return nil, p.errf("%d columns but %d values", len(cols), i+1)
				}
				break
			}
			if i+1 >= len(cols) {
				return nil, p.errf("more values than columns")
			}
		}
		if !p.punct(")") {
			return nil, p.errf("expected ')'")
		}
		if len(st.Markers) > 0 && st.Markers[len(st.Markers)-1].Column == "" {
			return nil, fmt.Errorf("more values than columns in %q", cql)
		}
		if err := p.conditions(); err != nil {
			return nil, err
		}
		if p.kw("using") {
			if err := p.using(); err != nil {
				return nil, err
			}
		}
	case p.kw("update"):
		st.Verb = "UPDATE"
		if err := p.table(); err != nil {
			return nil, err
		}
		if p.kw("using") {
			if err := p.using(); err != nil {
				return nil, err
			}
		}
		if !p.kw("set") {
			return nil, p.errf("expected SET")
		}
		for {
			col, err := p.ident()
			if err != nil {
				return nil, err
			}
			if p.punct("[") { // col[key] = value: a map entry or list element by index
				n := len(st.Markers)
				if _, err := p.value(col, false); err != nil {
					return nil, err
				}
				if len(st.Markers) > n {
					st.Markers[n].Part = "key"
				}
				if !p.punct("]") {
					return nil, p.errf("expected ']'")
				}
				if !p.punct("=") {
					return nil, p.errf("expected = after %s[...]", col)
				}
				n = len(st.Markers)
				if _, err := p.value(col, false); err != nil {
					return nil, err
				}
				if len(st.Markers) > n {
					st.Markers[n].Part = "value"
				}
				if !p.punct(",") {
					break
				}
				continue
			}
			if !p.punct("=") {
				return nil, p.errf("expected = after %s", col)
			}
			if t := p.peek(); (t.kind == 'i' || t.kind == 'q') && t.text == col && p.toks[p.i+1].kind == 'p' && (p.toks[p.i+1].text == "+" || p.toks[p.i+1].text == "-") {
				p.next()
				op := p.next().text
				kind, err := p.value(col, true)
				if err != nil {
					return nil, err
				}
				switch {
				case kind == '{':
					// Set union/difference, map put/remove: idempotent.
				case op == "-" && kind == '[':
					// List removal by value: idempotent.
				case kind == 'n':
					nonIdem = append(nonIdem, fmt.Sprintf("%s = %s %s <n> is a counter update", col, col, op))
				case kind == '[':
					nonIdem = append(nonIdem, fmt.Sprintf("%s = %s + [...] appends to a list", col, col))
				default:
					nonIdem = append(nonIdem, fmt.Sprintf("%s = %s %s ? is a counter update or a list append", col, col, op))
				}
			} else {
				kind, err := p.value(col, false)
				if err != nil {
					return nil, err
				}
				if p.punct("+") {
					if other, err := p.ident(); err != nil || other != col {
						return nil, p.errf("expected %s after +", col)
					}
					st.Markers = markDelta(st.Markers, kind)
					nonIdem = append(nonIdem, fmt.Sprintf("%s = ... + %s prepends to a list", col, col))
				}
			}
			if !p.punct(",") {
				break
			}
		}
		if err := p.where(); err != nil {
			return nil, err
		}
		if err := p.conditions(); err != nil {
			return nil, err
		}
	case p.kw("delete"):
		st.Verb = "DELETE"
		for !p.kw("from") {
			if p.peek().kind == 0 {
				return nil, p.errf("expected FROM")
			}
			p.next()
		}
		if err := p.table(); err != nil {
			return nil, err
		}
		if p.kw("using") {
			if err := p.using(); err != nil {
				return nil, err
			}
		}
		if err := p.where(); err != nil {
			return nil, err
		}
		if err := p.conditions(); err != nil {
			return nil, err
		}
	case p.kw("begin"):
		return nil, fmt.Errorf("a batch (BEGIN BATCH) is not a sink statement: give one INSERT, UPDATE or DELETE")
	default:
		return nil, p.errf("a sink statement is an INSERT, UPDATE or DELETE")
	}
	p.punct(";")
	if p.peek().kind != 0 {
		return nil, p.errf("unexpected text after the statement")
	}
	for _, m := range st.Markers {
		if m.Column == "[ttl]" || m.Column == "[timestamp]" {
			if m.Name == "" {
				return nil, fmt.Errorf("USING TTL ? / TIMESTAMP ? binds no column: use a named marker (USING TTL :ttl) so that a record field gives its value")
			}
		}
	}
	switch {
	case len(p.nondet) > 0:
		nonIdem = append(nonIdem, "it calls "+strings.Join(p.nondet, ", ")+", which gives another value when the statement is applied again")
	}
	if len(nonIdem) > 0 {
		st.Why = strings.Join(nonIdem, "; ")
		return st, nil
	}
	st.Idempotent = true
	switch st.Verb {
	case "INSERT":
		st.Why = "an INSERT writes the same row (its primary key from the record) with the same values when applied again"
	case "UPDATE":
		st.Why = "an UPDATE ... SET col = value of one row (its key from the record) leaves the same values when applied again"
	default:
		st.Why = "a DELETE applied again removes what is already removed"
	}
	if st.Conditional {
		st.Why += "; its IF condition is checked again, and a second attempt finds it applied"
	}
	return st, nil
}

func markDelta(ms []Marker, kind byte) []Marker {
	if kind == '?' && len(ms) > 0 {
		ms[len(ms)-1].Delta = true
	}
	return ms
}
