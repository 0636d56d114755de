package cqltest

import (
	"fmt"
	"strings"
	"unicode"
)

// The subset of CQL the stand-in understands: USE, CREATE KEYSPACE,
// CREATE TABLE, DROP TABLE, TRUNCATE, INSERT, UPDATE, DELETE and SELECT
// with equality (and, on the last clustering column, range) conditions.

type tokKind byte

const (
	tkEOF tokKind = iota
	tkIdent
	tkQuoted // "quoted identifier"
	tkString
	tkNumber
	tkUUID
	tkHex
	tkMarker // ?
	tkNamed  // :name
	tkPunct
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// syntaxError is a statement the stand-in cannot parse (a Cassandra
// syntax error, code 0x2000).
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, &syntaxError{fmt.Sprintf("line 1:%d unterminated string literal", i)}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{tkString, b.String(), i})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, &syntaxError{fmt.Sprintf("line 1:%d unterminated quoted identifier", i)}
			}
			out = append(out, token{tkQuoted, s[i+1 : i+1+j], i})
			i += j + 2
		case c == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X'):
			j := i + 2
			for j < len(s) && isHex(s[j]) {
				j++
			}
			out = append(out, token{tkHex, "0x" + s[i+2:j], i})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1]) && numberMayFollow(out)):
			j := i + 1
			for j < len(s) && (isHex(s[j]) || s[j] == '-') {
				j++
			}
			if w := s[i:j]; j-i == 36 && isUUID(w) {
				out = append(out, token{tkUUID, w, i})
				i = j
				continue
			}
			j = i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{tkNumber, s[i:j], i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || isDigit(s[j]) || unicode.IsLetter(rune(s[j]))) {
				j++
			}
			w := s[i:j]
			if j-i <= 36 && isHex(c) {
				// A UUID may start with letters a-f.
				k := i
				for k < len(s) && (isHex(s[k]) || s[k] == '-') {
					k++
				}
				if k-i == 36 && isUUID(s[i:k]) {
					out = append(out, token{tkUUID, s[i:k], i})
					i = k
					continue
				}
			}
			out = append(out, token{tkIdent, strings.ToLower(w), i})
			i = j
		case c == '?':
			out = append(out, token{tkMarker, "?", i})
			i++
		case c == ':' && i+1 < len(s) && (s[i+1] == '_' || unicode.IsLetter(rune(s[i+1]))):
			j := i + 1
			for j < len(s) && (s[j] == '_' || isDigit(s[j]) || unicode.IsLetter(rune(s[j]))) {
				j++
			}
			out = append(out, token{tkNamed, strings.ToLower(s[i+1 : j]), i})
			i = j
		case c == '<' || c == '>' || c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, token{tkPunct, s[i : i+2], i})
				i += 2
			} else {
				out = append(out, token{tkPunct, s[i : i+1], i})
				i++
			}
		case strings.IndexByte("(),;.=+-*[]{}:", c) >= 0:
			out = append(out, token{tkPunct, string(c), i})
			i++
		default:
			return nil, &syntaxError{fmt.Sprintf("line 1:%d no viable alternative at character '%c'", i, c)}
		}
	}
	return append(out, token{kind: tkEOF, pos: len(s)}), nil
}

func numberMayFollow(prev []token) bool {
	if len(prev) == 0 {
		return true
	}
	p := prev[len(prev)-1]
	return p.kind == tkPunct && p.text != ")" && p.text != "]" && p.text != "}"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// Statement kinds.
const (
	stUse = iota + 1
	stCreateKeyspace
	stCreateTable
	stDropTable
	stDropKeyspace
	stTruncate
	stInsert
	stUpdate
	stDelete
	stSelect
)

// term is a value in a statement: a bind marker or a literal.
type term struct {
	marker int // index of the bind marker, or -1 for a literal
	name   string
	lit    literal
}

type assignment struct {
	col string
	op  byte // '=' set, '+' add/append, '-' subtract/remove, 'p' prepend
	val term
}

type condition struct {
	col string
	op  string // = < <= > >=
	val term
}

type colDef struct {
	name   string
	typ    Type
	static bool
}

// statement is a parsed statement.
type statement struct {
	kind        int
	keyspace    string
	table       string
	ifNotExists bool
	ifExists    bool
	columns     []string // INSERT columns, SELECT selection (nil: *), DELETE columns
	countStar   bool
	values      []term // INSERT
	sets        []assignment
	where       []condition
	ifConds     []condition
	ttl         *term
	limit       *term
	defs        []colDef
	partition   []string
	clustering  []string
	markers     []markerRef // one per bind marker, in order
}

// markerRef says what a bind marker binds: a column, or "[ttl]",
// "[limit]", "[timestamp]".
type markerRef struct {
	name   string // the marker's name (":name"), or "" for "?"
	column string
	// whole: the value has the column's type; element: a collection's
	// element for ... IN (no). For col = col + ? on a counter, bigint.
}

type parser struct {
	toks []token
	i    int
	st   *statement
	src  string
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) errf(format string, args ...any) error {
	t := p.peek()
	near := t.text
	if t.kind == tkEOF {
		near = "<EOF>"
	}
	return &syntaxError{fmt.Sprintf("line 1:%d %s (near %q)", t.pos, fmt.Sprintf(format, args...), near)}
}

func (p *parser) isKw(words ...string) bool {
	for k, w := range words {
		t := p.toks[min(p.i+k, len(p.toks)-1)]
		if t.kind != tkIdent || t.text != w {
			return false
		}
	}
	return true
}

func (p *parser) acceptKw(words ...string) bool {
	if p.isKw(words...) {
		p.i += len(words)
		return true
	}
	return false
}

func (p *parser) expectKw(w string) error {
	if !p.acceptKw(w) {
		return p.errf("missing %s", strings.ToUpper(w))
	}
	return nil
}

func (p *parser) acceptPunct(s string) bool {
	if t := p.peek(); t.kind == tkPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		return p.errf("missing '%s'", s)
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind == tkIdent || t.kind == tkQuoted {
		p.i++
		return t.text, nil
	}
	return "", p.errf("expected an identifier")
}

// qualified parses [keyspace.]name.
func (p *parser) qualified() (ks, name string, err error) {
	name, err = p.ident()
	if err != nil {
		return "", "", err
	}
	if p.acceptPunct(".") {
		ks = name
		if name, err = p.ident(); err != nil {
			return "", "", err
		}
	}
	return ks, name, nil
}

// parse parses one statement.
func parse(src string) (*statement, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, st: &statement{}, src: src}
	if err := p.statement(); err != nil {
		return nil, err
	}
	p.acceptPunct(";")
	if p.peek().kind != tkEOF {
		return nil, p.errf("extraneous input")
	}
	return p.st, nil
}

func (p *parser) statement() error {
	st := p.st
	var err error
	switch {
	case p.acceptKw("use"):
		st.kind = stUse
		st.keyspace, err = p.ident()
		return err
	case p.acceptKw("create", "keyspace"):
		st.kind = stCreateKeyspace
		st.ifNotExists = p.acceptKw("if", "not", "exists")
		if st.keyspace, err = p.ident(); err != nil {
			return err
		}
		if err := p.expectKw("with"); err != nil {
			return err
		}
		for p.peek().kind != tkEOF && !(p.peek().kind == tkPunct && p.peek().text == ";") {
			p.next()
		}
		return nil
	case p.acceptKw("create", "table"), p.acceptKw("create", "columnfamily"):
		return p.createTable()
	case p.acceptKw("drop", "table"):
		st.kind = stDropTable
		st.ifExists = p.acceptKw("if", "exists")
		st.keyspace, st.table, err = p.qualified()
		return err
	case p.acceptKw("drop", "keyspace"):
		st.kind = stDropKeyspace
		st.ifExists = p.acceptKw("if", "exists")
		st.keyspace, err = p.ident()
		return err
	case p.acceptKw("truncate"):
		st.kind = stTruncate
		p.acceptKw("table")
		st.keyspace, st.table, err = p.qualified()
		return err
	case p.acceptKw("insert", "into"):
		return p.insert()
	case p.acceptKw("update"):
		return p.update()
	case p.acceptKw("delete"):
		return p.delete()
	case p.acceptKw("select"):
		return p.selectStmt()
	}
	return p.errf("no viable alternative at input")
}

func (p *parser) typ() (Type, error) {
	name, err := p.ident()
	if err != nil {
		return Type{}, err
	}
	switch name {
	case "list", "set", "frozen":
		if err := p.expectPunct("<"); err != nil {
			return Type{}, err
		}
		e, err := p.typ()
		if err != nil {
			return Type{}, err
		}
		if err := p.expectPunct(">"); err != nil {
			return Type{}, err
		}
		switch name {
		case "list":
			return Type{ID: TypeList, Elem: []Type{e}}, nil
		case "set":
			return Type{ID: TypeSet, Elem: []Type{e}}, nil
		}
		return e, nil
	case "map":
		if err := p.expectPunct("<"); err != nil {
			return Type{}, err
		}
		k, err := p.typ()
		if err != nil {
			return Type{}, err
		}
		if err := p.expectPunct(","); err != nil {
			return Type{}, err
		}
		v, err := p.typ()
		if err != nil {
			return Type{}, err
		}
		if err := p.expectPunct(">"); err != nil {
			return Type{}, err
		}
		return Type{ID: TypeMap, Elem: []Type{k, v}}, nil
	}
	id, ok := scalarTypes[name]
	if !ok {
		return Type{}, &syntaxError{fmt.Sprintf("Unknown type %s", name)}
	}
	return Type{ID: id}, nil
}

func (p *parser) identList() ([]string, error) {
	var out []string
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if !p.acceptPunct(",") {
			return out, nil
		}
	}
}

func (p *parser) createTable() error {
	st := p.st
	st.kind = stCreateTable
	st.ifNotExists = p.acceptKw("if", "not", "exists")
	var err error
	if st.keyspace, st.table, err = p.qualified(); err != nil {
		return err
	}
	if err := p.expectPunct("("); err != nil {
		return err
	}
	for {
		if p.acceptKw("primary", "key") {
			if err := p.expectPunct("("); err != nil {
				return err
			}
			if p.acceptPunct("(") {
				if st.partition, err = p.identList(); err != nil {
					return err
				}
				if err := p.expectPunct(")"); err != nil {
					return err
				}
			} else {
				n, err := p.ident()
				if err != nil {
					return err
				}
				st.partition = []string{n}
			}
			if p.acceptPunct(",") {
				if st.clustering, err = p.identList(); err != nil {
					return err
				}
			}
			if err := p.expectPunct(")"); err != nil {
				return err
			}
		} else {
			var d colDef
			if d.name, err = p.ident(); err != nil {
				return err
			}
			if d.typ, err = p.typ(); err != nil {
				return err
			}
			d.static = p.acceptKw("static")
			if p.acceptKw("primary", "key") {
				st.partition = []string{d.name}
			}
			st.defs = append(st.defs, d)
		}
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return err
	}
	if p.acceptKw("with") {
		for p.peek().kind != tkEOF && !(p.peek().kind == tkPunct && p.peek().text == ";") {
			p.next()
		}
	}
	if len(st.partition) == 0 {
		return &syntaxError{"No PRIMARY KEY specifed (exactly one required)"}
	}
	return nil
}

// term parses a bind marker or a literal bound to column col.
func (p *parser) term(col string) (term, error) {
	t := p.peek()
	switch t.kind {
	case tkMarker:
		p.next()
		p.st.markers = append(p.st.markers, markerRef{column: col})
		return term{marker: len(p.st.markers) - 1}, nil
	case tkNamed:
		p.next()
		p.st.markers = append(p.st.markers, markerRef{name: t.text, column: col})
		return term{marker: len(p.st.markers) - 1, name: t.text}, nil
	}
	l, err := p.literal()
	if err != nil {
		return term{}, err
	}
	return term{marker: -1, lit: l}, nil
}

func (p *parser) literal() (literal, error) {
	t := p.next()
	switch t.kind {
	case tkString:
		return literal{kind: 's', text: t.text}, nil
	case tkNumber:
		return literal{kind: 'n', text: t.text}, nil
	case tkUUID:
		return literal{kind: 'u', text: t.text}, nil
	case tkHex:
		return literal{kind: 'h', text: t.text}, nil
	case tkIdent:
		switch t.text {
		case "true", "false":
			return literal{kind: 'b', text: t.text}, nil
		case "null":
			return literal{kind: '0'}, nil
		}
	case tkPunct:
		if t.text == "[" || t.text == "{" {
			end := "]"
			if t.text == "{" {
				end = "}"
			}
			l := literal{kind: 'l'}
			if p.acceptPunct(end) {
				return l, nil
			}
			for {
				e, err := p.literal()
				if err != nil {
					return literal{}, err
				}
				l.list = append(l.list, e)
				if !p.acceptPunct(",") {
					break
				}
			}
			return l, p.expectPunct(end)
		}
	}
	p.i--
	return literal{}, p.errf("no viable alternative at input")
}

func (p *parser) using() error {
	for {
		switch {
		case p.acceptKw("ttl"):
			t, err := p.term("[ttl]")
			if err != nil {
				return err
			}
			p.st.ttl = &t
		case p.acceptKw("timestamp"):
			if _, err := p.term("[timestamp]"); err != nil {
				return err
			}
		default:
			return p.errf("expected TTL or TIMESTAMP")
		}
		if !p.acceptKw("and") {
			return nil
		}
	}
}

func (p *parser) insert() error {
	st := p.st
	st.kind = stInsert
	var err error
	if st.keyspace, st.table, err = p.qualified(); err != nil {
		return err
	}
	if err := p.expectPunct("("); err != nil {
		return err
	}
	if st.columns, err = p.identList(); err != nil {
		return err
	}
	if err := p.expectPunct(")"); err != nil {
		return err
	}
	if err := p.expectKw("values"); err != nil {
		return err
	}
	if err := p.expectPunct("("); err != nil {
		return err
	}
	for i := 0; ; i++ {
		col := ""
		if i < len(st.columns) {
			col = st.columns[i]
		}
		t, err := p.term(col)
		if err != nil {
			return err
		}
		st.values = append(st.values, t)
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return err
	}
	if len(st.values) != len(st.columns) {
		return &syntaxError{"Unmatched column names/values"}
	}
	st.ifNotExists = p.acceptKw("if", "not", "exists")
	if p.acceptKw("using") {
		return p.using()
	}
	return nil
}

func (p *parser) where() error {
	if err := p.expectKw("where"); err != nil {
		return err
	}
	for {
		col, err := p.ident()
		if err != nil {
			return err
		}
		t := p.next()
		if t.kind != tkPunct || !(t.text == "=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=") {
			p.i--
			return p.errf("expected a relation")
		}
		v, err := p.term(col)
		if err != nil {
			return err
		}
		p.st.where = append(p.st.where, condition{col: col, op: t.text, val: v})
		if !p.acceptKw("and") {
			return nil
		}
	}
}

func (p *parser) ifClause() error {
	if !p.acceptKw("if") {
		return nil
	}
	if p.acceptKw("exists") {
		p.st.ifExists = true
		return nil
	}
	for {
		col, err := p.ident()
		if err != nil {
			return err
		}
		if err := p.expectPunct("="); err != nil {
			return err
		}
		v, err := p.term(col)
		if err != nil {
			return err
		}
		p.st.ifConds = append(p.st.ifConds, condition{col: col, op: "=", val: v})
		if !p.acceptKw("and") {
			return nil
		}
	}
}

func (p *parser) update() error {
	st := p.st
	st.kind = stUpdate
	var err error
	if st.keyspace, st.table, err = p.qualified(); err != nil {
		return err
	}
	if p.acceptKw("using") {
		if err := p.using(); err != nil {
			return err
		}
	}
	if err := p.expectKw("set"); err != nil {
		return err
	}
	for {
		col, err := p.ident()
		if err != nil {
			return err
		}
		if err := p.expectPunct("="); err != nil {
			return err
		}
		a := assignment{col: col, op: '='}
		if t := p.peek(); (t.kind == tkIdent || t.kind == tkQuoted) && t.text == col {
			p.next()
			switch {
			case p.acceptPunct("+"):
				a.op = '+'
			case p.acceptPunct("-"):
				a.op = '-'
			default:
				return p.errf("expected + or - after %s", col)
			}
			if a.val, err = p.term(col); err != nil {
				return err
			}
		} else {
			if a.val, err = p.term(col); err != nil {
				return err
			}
			if p.acceptPunct("+") {
				if other, err := p.ident(); err != nil || other != col {
					return p.errf("only %s = <value> + %s prepends", col, col)
				}
				a.op = 'p'
			}
		}
		st.sets = append(st.sets, a)
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.where(); err != nil {
		return err
	}
	return p.ifClause()
}

func (p *parser) delete() error {
	st := p.st
	st.kind = stDelete
	if !p.isKw("from") {
		cols, err := p.identList()
		if err != nil {
			return err
		}
		st.columns = cols
	}
	if err := p.expectKw("from"); err != nil {
		return err
	}
	var err error
	if st.keyspace, st.table, err = p.qualified(); err != nil {
		return err
	}
	if p.acceptKw("using") {
		if err := p.using(); err != nil {
			return err
		}
	}
	if err := p.where(); err != nil {
		return err
	}
	return p.ifClause()
}

func (p *parser) selectStmt() error {
	st := p.st
	st.kind = stSelect
	switch {
	case p.acceptPunct("*"):
	case p.isKw("count") && p.toks[p.i+1].text == "(":
		p.next()
		p.next()
		if !p.acceptPunct("*") {
			p.acceptKw("1")
		}
		if err := p.expectPunct(")"); err != nil {
			return err
		}
		st.countStar = true
	default:
		cols, err := p.identList()
		if err != nil {
			return err
		}
		st.columns = cols
	}
	if err := p.expectKw("from"); err != nil {
		return err
	}
	var err error
	if st.keyspace, st.table, err = p.qualified(); err != nil {
		return err
	}
	if p.isKw("where") {
		if err := p.where(); err != nil {
			return err
		}
	}
	if p.acceptKw("limit") {
		t, err := p.term("[limit]")
		if err != nil {
			return err
		}
		st.limit = &t
	}
	p.acceptKw("allow", "filtering")
	return nil
}
