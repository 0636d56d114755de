package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The YAML text is parsed with goccy/go-yaml into its AST and converted
// into a small tree of nodes that keep their line and column, with
// ${VAR} interpolated in every scalar. The schema is decoded from that
// tree by hand (decode.go), so every mistake can name its line and key.

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindScalar
	kindMap
	kindSeq
)

func (k nodeKind) String() string {
	switch k {
	case kindScalar:
		return "a scalar"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return "empty"
}

type node struct {
	kind      nodeKind
	file      string
	line, col int
	// scalar
	text   string
	quoted bool // quoted or block scalar: always a string
	// val is the value YAML resolves a plain scalar to, as goccy/go-yaml
	// typed it (nil, bool, int64, float64 or string; see resolvePlain).
	val any
	// mapping, in file order
	keys    []string
	keyNode []*node
	vals    []*node
	// sequence
	items []*node
	// size is the number of nodes of the tree, aliases expanded.
	size int
	// failed marks a scalar that has had a mistake reported (see errs).
	failed bool
}

// get returns the value of key in a mapping.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// set sets key in a mapping, appending it when missing.
func (n *node) set(key string, v *node) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.keyNode = append(n.keyNode, &node{kind: kindScalar, text: key, file: v.file, line: v.line, col: v.col})
	n.vals = append(n.vals, v)
}

// maxNodes bounds the size of a document after aliases are expanded.
const maxNodes = 1 << 20

// converter turns a goccy AST into nodes.
type converter struct {
	file    string
	env     func(string) (string, bool)
	anchors map[string]*node
	count   int
	errs    *errs
	// broken is set by a mistake that leaves the tree incomplete (as
	// opposed to an unset variable, which only leaves a value unknown).
	broken bool
}

// parseYAML parses data into a node tree, interpolating variables; path
// is the key path of the document's root ("" for a file). It returns nil
// when the text is not YAML or the tree is incomplete; a tree whose only
// mistakes are unset variables is returned (with those scalars marked),
// so that the rest of the file is still checked.
func parseYAML(file, path string, data []byte, env func(string) (string, bool), e *errs) *node {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		e.list = append(e.list, syntaxError(file, data, err))
		return nil
	}
	var body ast.Node
	switch len(f.Docs) {
	case 0:
	case 1:
		body = f.Docs[0].Body
	default:
		docs := 0
		for _, d := range f.Docs {
			if d.Body != nil {
				docs++
				body = d.Body
			}
		}
		if docs > 1 {
			e.add(file, nil, "", "the file holds %d YAML documents; a pipeline is one document", docs)
			return nil
		}
	}
	c := &converter{file: file, env: env, anchors: map[string]*node{}, errs: e}
	n := c.convert(body, path)
	if c.broken {
		return nil
	}
	if n == nil {
		n = &node{kind: kindNull, file: file, line: 1, col: 1}
	}
	return n
}

// fail reports a mistake that leaves the tree incomplete.
func (c *converter) fail(n *node, format string, args ...any) {
	c.broken = true
	c.errs.add(c.file, n, "", format, args...)
}

// syntaxError turns a goccy error into an Error with its position.
//
// A key indented deeper than the line before it is read by YAML as more
// words of the plain value that line ends with ("b: 1\n   c: 2" is b:
// "1 c" and then a stray ':'), and goccy blames the start of that value, a
// line (or more) before the mistake. Such an error is moved to the line of
// the stray ':', and says what happened.
func syntaxError(file string, data []byte, err error) *Error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return &Error{File: file, Msg: "YAML syntax: " + err.Error()}
	}
	e := &Error{File: file, Msg: "YAML syntax: " + ye.GetMessage()}
	tk := ye.GetToken()
	if tk == nil || tk.Position == nil {
		return e
	}
	e.Line, e.Column = tk.Position.Line, tk.Position.Column
	next := tk.Next
	if tk.Type == token.StringType && next != nil && next.Type == token.MappingValueType &&
		next.Position != nil && next.Position.Line > tk.Position.Line {
		e.Line, e.Column = next.Position.Line, indentOf(data, next.Position.Line)+1
		e.Msg = fmt.Sprintf("YAML syntax: this line is indented more than the one above it, so it reads as more of the value "+
			"on line %d, and its ':' is out of place; start the keys of one mapping in the same column", tk.Position.Line)
	}
	return e
}

// indentOf returns the number of spaces that start line (1-based) of data.
func indentOf(data []byte, line int) int {
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return 0
		}
		data = data[j+1:]
	}
	n := 0
	for n < len(data) && data[n] == ' ' {
		n++
	}
	return n
}

func (c *converter) pos(tk *token.Token, n *node) *node {
	n.file = c.file
	if tk != nil && tk.Position != nil {
		n.line, n.col = tk.Position.Line, tk.Position.Column
	}
	return n
}

// scalar converts a scalar whose text is text; val is the value the
// library resolved a plain one to, which a variable in it replaces by the
// value the interpolated text resolves to.
func (c *converter) scalar(tk *token.Token, path, text string, quoted bool, val any) *node {
	n := c.pos(tk, &node{kind: kindScalar, quoted: quoted})
	n.text = c.interpolate(n, path, text)
	switch {
	case quoted:
		n.val = n.text
	case n.text != text:
		n.val = resolvePlain(n.text)
	default:
		n.val = val
	}
	return n
}

// convert converts the node an found at the key path.
func (c *converter) convert(an ast.Node, path string) *node {
	n := c.convertNode(an, path)
	if n != nil && n.size == 0 {
		n.size = 1
		for _, v := range n.vals {
			n.size += v.size
		}
		for _, v := range n.items {
			n.size += v.size
		}
	}
	return n
}

func (c *converter) convertNode(an ast.Node, path string) *node {
	c.count++
	if an == nil {
		return nil
	}
	if c.count > maxNodes {
		if c.count == maxNodes+1 {
			c.fail(nil, "the document has more than %d nodes", maxNodes)
		}
		return nil
	}
	switch v := an.(type) {
	case *ast.DocumentNode:
		return c.convert(v.Body, path)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return nil
	case *ast.NullNode:
		return c.pos(v.GetToken(), &node{kind: kindNull})
	case *ast.StringNode:
		quoted := v.Token != nil && (v.Token.Type == token.SingleQuoteType || v.Token.Type == token.DoubleQuoteType)
		return c.scalar(v.Token, path, v.Value, quoted, v.Value)
	case *ast.LiteralNode:
		text := ""
		if v.Value != nil {
			text = v.Value.Value
		}
		return c.scalar(v.Start, path, text, true, text)
	case *ast.IntegerNode:
		return c.scalar(v.Token, path, v.Token.Value, false, intValue(v.Value))
	case *ast.FloatNode:
		return c.scalar(v.Token, path, v.Token.Value, false, v.Value)
	case *ast.BoolNode:
		return c.scalar(v.Token, path, v.Token.Value, false, v.Value)
	case *ast.InfinityNode:
		return c.scalar(v.Token, path, v.Token.Value, false, v.Value)
	case *ast.NanNode:
		return c.scalar(v.Token, path, v.Token.Value, false, math.NaN())
	case *ast.TagNode:
		inner := c.convert(v.Value, path)
		switch v.Start.Value {
		case "!!str", "!str":
			if inner == nil || inner.kind == kindNull {
				inner = c.pos(v.Start, &node{kind: kindScalar})
			}
			if inner.kind == kindScalar {
				inner.quoted = true
			}
		case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
		default:
			c.fail(c.pos(v.Start, &node{}), "YAML tag %s is not supported here", v.Start.Value)
		}
		return inner
	case *ast.AnchorNode:
		inner := c.convert(v.Value, path)
		if inner == nil {
			inner = c.pos(v.Start, &node{kind: kindNull})
		}
		if v.Name != nil {
			c.anchors[v.Name.GetToken().Value] = inner
		}
		return inner
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.GetToken().Value
		}
		target, ok := c.anchors[name]
		if !ok {
			c.fail(c.pos(v.Start, &node{}), "alias *%s refers to no anchor &%s before it", name, name)
			return nil
		}
		c.count += target.size
		if c.count > maxNodes {
			c.fail(c.pos(v.Start, &node{}), "the document has more than %d nodes once aliases are expanded", maxNodes)
			return nil
		}
		return target
	case *ast.SequenceNode:
		n := c.pos(v.Start, &node{kind: kindSeq})
		for i, it := range v.Values {
			x := c.convert(it, index(path, i))
			if x == nil {
				x = c.pos(it.GetToken(), &node{kind: kindNull})
			}
			n.items = append(n.items, x)
		}
		return n
	case *ast.MappingNode:
		n := c.pos(v.Start, &node{kind: kindMap})
		if len(v.Values) > 0 {
			c.pos(v.Values[0].Key.GetToken(), n)
		}
		for _, mv := range v.Values {
			c.entry(n, path, mv)
		}
		return n
	case *ast.MappingValueNode:
		n := c.pos(v.Key.GetToken(), &node{kind: kindMap})
		c.entry(n, path, v)
		return n
	}
	c.fail(c.pos(an.GetToken(), &node{}), "unsupported YAML construct %s", an.Type())
	return nil
}

// entry adds one key: value to the mapping n at path.
func (c *converter) entry(n *node, path string, mv *ast.MappingValueNode) {
	if mv.Key.IsMergeKey() {
		src := c.convert(mv.Value, path)
		if src == nil || src.kind != kindMap {
			c.fail(c.pos(mv.Key.GetToken(), &node{}), "a merge key (<<) needs a mapping (an alias of one)")
			return
		}
		for i, k := range src.keys {
			if n.get(k) == nil {
				n.keys = append(n.keys, k)
				n.keyNode = append(n.keyNode, src.keyNode[i])
				n.vals = append(n.vals, src.vals[i])
			}
		}
		return
	}
	kn := c.key(mv.Key)
	if kn == nil {
		return
	}
	val := c.convert(mv.Value, sub(path, kn.text))
	if val == nil {
		// "key:" with nothing after it.
		val = &node{kind: kindNull, file: c.file, line: kn.line, col: kn.col}
	}
	for i, k := range n.keys {
		if k == kn.text {
			// goccy refuses duplicate keys; a merge may have added it.
			n.vals[i] = val
			n.keyNode[i] = kn
			return
		}
	}
	n.keys = append(n.keys, kn.text)
	n.keyNode = append(n.keyNode, kn)
	n.vals = append(n.vals, val)
}

func (c *converter) key(k ast.MapKeyNode) *node {
	var an ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		an = mk.Value
	}
	tk := an.GetToken()
	switch v := an.(type) {
	case *ast.StringNode:
		return c.pos(tk, &node{kind: kindScalar, text: v.Value})
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		return c.pos(tk, &node{kind: kindScalar, text: tk.Value})
	}
	c.fail(c.pos(tk, &node{}), "keys must be plain names, not %s", an.Type())
	return nil
}

// interpolate replaces ${VAR} and ${VAR:-default} in s, the text of the
// scalar n at path; $$ is a literal $. A mistake is reported once per
// scalar (with the key path), and marks it.
func (c *converter) interpolate(n *node, path, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '$' || i+1 >= len(s) {
			b.WriteByte(ch)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(ch)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			c.errs.add(c.file, n, path, "unterminated ${ in %q: write ${NAME} or ${NAME:-default} (and $$ for a literal $)", s)
			return s
		}
		expr := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			c.errs.add(c.file, n, path, "${%s}: %q is not a variable name; use letters, digits and _ (e.g. ${INPUT} or ${INPUT:-./in})", expr, name)
			return s
		}
		val, ok := c.env(name)
		switch {
		case ok && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			c.errs.add(c.file, n, path, "environment variable %s is not set; set it, or give a default: ${%s:-value}", name, name)
		}
		i += 2 + end
	}
	return b.String()
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// toAny converts a node into a JSON-like value: plain scalars are what
// YAML resolves them to (see resolvePlain), quoted ones strings.
func toAny(n *node) any {
	switch n.kind {
	case kindNull:
		return nil
	case kindScalar:
		if n.quoted {
			return n.text
		}
		return n.val
	case kindSeq:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = toAny(it)
		}
		return out
	case kindMap:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			out[k] = toAny(n.vals[i])
		}
		return out
	}
	return nil
}

// resolvePlain returns the value of the plain scalar s as goccy/go-yaml
// resolves it (null, booleans, decimal, 0x, 0o and 0b integers, floats,
// infinities and NaN; anything else a string): the text of a plain
// scalar with a variable in it, or of an option, is read as its value
// would have been if written in the file. An empty scalar is null, as in
// YAML.
func resolvePlain(s string) any {
	if s == "" {
		return nil
	}
	tk := token.New(s, s, &token.Position{})
	switch tk.Type {
	case token.NullType:
		return nil
	case token.BoolType:
		return ast.Bool(tk).Value
	case token.IntegerType, token.BinaryIntegerType, token.OctetIntegerType, token.HexIntegerType:
		return intValue(ast.Integer(tk).Value)
	case token.FloatType:
		return ast.Float(tk).Value
	case token.InfinityType:
		return ast.Infinity(tk).Value
	case token.NanType:
		return math.NaN()
	}
	return s
}

// intValue is the value of an integer of the library (int64 or uint64)
// in a record: an int64, or a float64 past its range.
func intValue(v any) any {
	switch x := v.(type) {
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case int64:
		return x
	}
	return v
}

// parseInt returns the integer that s (trimmed) is as a plain scalar.
func parseInt(s string) (int64, bool) {
	i, ok := resolvePlain(strings.TrimSpace(s)).(int64)
	return i, ok
}

// describe renders a node's value for messages.
func describe(n *node) string {
	switch n.kind {
	case kindNull:
		return "nothing"
	case kindScalar:
		return strconv.Quote(n.text)
	}
	return n.kind.String()
}

// parseSet parses a --set override, "path=value", into the path and the
// value node (the value is YAML: "5s", "[a, b]", "{type: stdout}").
func parseSet(arg string, env func(string) (string, bool), e *errs) (string, *node) {
	path, val, ok := strings.Cut(arg, "=")
	if !ok || strings.TrimSpace(path) == "" {
		e.add("--set", nil, "", "%q: write key=value, e.g. --set checkpoints.interval=1s", arg)
		return "", nil
	}
	file := fmt.Sprintf("--set %s", path)
	n := parseYAML(file, strings.TrimSpace(path), []byte(val), env, e)
	if n == nil {
		return "", nil
	}
	return strings.TrimSpace(path), n
}

// applySet puts v at the dotted path (keys, and [n] for list items) in
// root, creating missing mappings.
func applySet(root *node, path string, v *node) error {
	parts, err := splitPath(path)
	if err != nil {
		return err
	}
	cur := root
	for i, p := range parts {
		last := i == len(parts)-1
		if p.index >= 0 {
			if cur.kind != kindSeq {
				return fmt.Errorf("%s is %s, not a list", joinPath(parts[:i]), cur.kind)
			}
			if p.index >= len(cur.items) {
				return fmt.Errorf("%s has %d items; no item %d", joinPath(parts[:i]), len(cur.items), p.index)
			}
			if last {
				cur.items[p.index] = v
				return nil
			}
			cur = cur.items[p.index]
			continue
		}
		if cur.kind == kindNull {
			*cur = node{kind: kindMap, file: cur.file, line: cur.line, col: cur.col}
		}
		if cur.kind != kindMap {
			return fmt.Errorf("%s is %s, not a mapping", joinPath(parts[:i]), cur.kind)
		}
		if last {
			cur.set(p.key, v)
			return nil
		}
		next := cur.get(p.key)
		if next == nil && i+1 < len(parts) && parts[i+1].index >= 0 {
			return fmt.Errorf("%s is not in the file; no item %d to set", joinPath(parts[:i+1]), parts[i+1].index)
		}
		if next == nil {
			next = &node{kind: kindMap, file: v.file, line: v.line, col: v.col}
			cur.set(p.key, next)
		}
		cur = next
	}
	return nil
}

type pathPart struct {
	key   string
	index int // -1 for a key
}

func splitPath(path string) ([]pathPart, error) {
	var parts []pathPart
	for seg := range strings.SplitSeq(path, ".") {
		key := seg
		var idx []int
		if j := strings.IndexByte(seg, '['); j >= 0 {
			key = seg[:j]
			rest := seg[j:]
			for rest != "" {
				if rest[0] != '[' {
					return nil, fmt.Errorf("bad path %q: expected [n]", path)
				}
				k := strings.IndexByte(rest, ']')
				if k < 0 {
					return nil, fmt.Errorf("bad path %q: missing ]", path)
				}
				n, err := strconv.Atoi(rest[1:k])
				if err != nil || n < 0 {
					return nil, fmt.Errorf("bad path %q: %q is not a list index", path, rest[1:k])
				}
				idx = append(idx, n)
				rest = rest[k+1:]
			}
		}
		if key == "" && len(idx) == 0 {
			return nil, fmt.Errorf("bad path %q: empty key", path)
		}
		if key != "" {
			parts = append(parts, pathPart{key: key, index: -1})
		}
		for _, n := range idx {
			parts = append(parts, pathPart{index: n})
		}
	}
	return parts, nil
}

func joinPath(parts []pathPart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.index >= 0 {
			fmt.Fprintf(&b, "[%d]", p.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	if b.Len() == 0 {
		return "the document"
	}
	return b.String()
}

// clone deep-copies a tree (aliases become copies).
func clone(n *node) *node {
	if n == nil {
		return nil
	}
	c := *n
	c.keys = append([]string(nil), n.keys...)
	c.keyNode = append([]*node(nil), n.keyNode...)
	c.vals = make([]*node, len(n.vals))
	for i, v := range n.vals {
		c.vals[i] = clone(v)
	}
	c.items = make([]*node, len(n.items))
	for i, v := range n.items {
		c.items[i] = clone(v)
	}
	return &c
}
