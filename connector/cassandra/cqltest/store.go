package cqltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// Error codes of the protocol.
const (
	CodeServer        int32 = 0x0000
	CodeProtocol      int32 = 0x000A
	CodeBadCredential int32 = 0x0100
	CodeUnavailable   int32 = 0x1000
	CodeOverloaded    int32 = 0x1001
	CodeWriteTimeout  int32 = 0x1100
	CodeReadTimeout   int32 = 0x1200
	CodeSyntax        int32 = 0x2000
	CodeUnauthorized  int32 = 0x2100
	CodeInvalid       int32 = 0x2200
	CodeConfig        int32 = 0x2300
	CodeAlreadyExists int32 = 0x2400
	CodeUnprepared    int32 = 0x2500
)

// cqlError is an ERROR response.
type cqlError struct {
	code int32
	msg  string
	// extra is the code-specific part of the body.
	extra []byte
}

func (e *cqlError) Error() string { return fmt.Sprintf("error 0x%04x: %s", e.code, e.msg) }

func invalid(format string, args ...any) *cqlError {
	return &cqlError{code: CodeInvalid, msg: fmt.Sprintf(format, args...)}
}

// column of a table.
type column struct {
	name string
	typ  Type
	kind byte // 'p' partition key, 'c' clustering, 'r' regular, 's' static
}

// table is a table of the store: rows by primary key.
type table struct {
	keyspace, name string
	cols           []column // partition key, clustering columns, then the rest by name
	byName         map[string]int
	npk, nck       int
	counter        bool
	rows           map[string]*row
}

type row struct {
	key     [][]byte // primary key values
	vals    map[int][]byte
	expires map[int]time.Time // per-column expiry (TTL)
	// ts holds the write timestamp of every cell (microseconds): as in
	// Cassandra, a write older than the cell's is ignored (last write
	// wins by timestamp, not by arrival), except for counters.
	ts map[int]int64
	// marker: the row exists by an INSERT (it survives all its regular
	// columns being null).
	marker       bool
	markerExpiry time.Time
}

// Store is the stand-in's in-memory data: keyspaces and their tables. The
// servers of one cluster share one Store.
type Store struct {
	mu        sync.Mutex
	keyspaces map[string]map[string]*table
	now       func() time.Time
	undo      []undoEntry // non-nil inside a batch
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{keyspaces: map[string]map[string]*table{}, now: time.Now}
}

func (s *Store) lookup(ks, name string) (*table, error) {
	tables, ok := s.keyspaces[ks]
	if !ok {
		return nil, invalid("Keyspace %s does not exist", ks)
	}
	t, ok := tables[name]
	if !ok {
		return nil, invalid("unconfigured table %s", name)
	}
	return t, nil
}

// Rows returns the rows of keyspace.table as maps from column name to
// value (string, int64, int32, bool, float64, []byte, []any for
// collections; counters as int64), ordered by primary key. It is for
// tests that check what a job wrote.
func (s *Store) Rows(keyspace, name string) ([]map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookup(keyspace, name)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, r := range t.sorted(s.now()) {
		m := map[string]any{}
		for i, c := range t.cols {
			v := t.value(r, i, s.now())
			if v == nil {
				continue
			}
			m[c.name] = decodeValue(v, c.typ)
		}
		out = append(out, m)
	}
	return out, nil
}

// decodeValue returns v of type t as a Go value.
func decodeValue(v []byte, t Type) any {
	switch t.ID {
	case TypeAscii, TypeVarchar:
		return string(v)
	case TypeBigint, TypeCounter, TypeTimestamp:
		return int64Of(v)
	case TypeInt:
		if len(v) == 4 {
			return int32(binary.BigEndian.Uint32(v))
		}
	case TypeBoolean:
		return len(v) == 1 && v[0] != 0
	case TypeList, TypeSet, TypeMap:
		elems, err := decodeCollection(v, t.ID == TypeMap)
		if err != nil {
			return v
		}
		out := []any{}
		for i, e := range elems {
			et := t.Elem[0]
			if t.ID == TypeMap && i%2 == 1 {
				et = t.Elem[1]
			}
			out = append(out, decodeValue(e, et))
		}
		return out
	}
	return slices.Clone(v)
}

func (t *table) value(r *row, i int, now time.Time) []byte {
	if i < t.npk+t.nck {
		return r.key[i]
	}
	if exp, ok := r.expires[i]; ok && !now.Before(exp) {
		return nil
	}
	return r.vals[i]
}

// live reports whether r is visible at now: it has a live row marker or
// a live regular value.
func (t *table) live(r *row, now time.Time) bool {
	if r.marker && (r.markerExpiry.IsZero() || now.Before(r.markerExpiry)) {
		return true
	}
	for i := range r.vals {
		if t.value(r, i, now) != nil {
			return true
		}
	}
	return false
}

func (t *table) sorted(now time.Time) []*row {
	var rs []*row
	for _, r := range t.rows {
		if t.live(r, now) {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return compareKeys(rs[i].key, rs[j].key) < 0 })
	return rs
}

func compareKeys(a, b [][]byte) int {
	for i := range min(len(a), len(b)) {
		if c := compareValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// compareValue orders values: signed integers of equal length
// numerically, the rest bytewise.
func compareValue(a, b []byte) int {
	if len(a) == len(b) && (len(a) == 8 || len(a) == 4) {
		x, y := int64(0), int64(0)
		if len(a) == 8 {
			x, y = int64(binary.BigEndian.Uint64(a)), int64(binary.BigEndian.Uint64(b))
		} else {
			x, y = int64(int32(binary.BigEndian.Uint32(a))), int64(int32(binary.BigEndian.Uint32(b)))
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return bytes.Compare(a, b)
}

func rowKey(key [][]byte) string {
	var b []byte
	for _, k := range key {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
	}
	return string(b)
}

// result is the outcome of a statement.
type result struct {
	kind      int32 // 1 void, 2 rows, 3 set keyspace, 5 schema change
	keyspace  string
	cols      []colSpec
	rows      [][][]byte
	change    [3]string // change type, target, keyspace; name in change[3]
	changeObj string
}

type colSpec struct {
	ks, table, name string
	typ             Type
}

// bound is a statement with the values of its bind markers.
type bound struct {
	st     *statement
	values [][]byte
	ks     string // the session's keyspace
	ts     int64  // the write timestamp (microseconds); 0: now
}

func (b *bound) timestamp() int64 {
	if b.ts != 0 {
		return b.ts
	}
	return time.Now().UnixMicro()
}

func (b *bound) keyspace() (string, error) {
	if b.st.keyspace != "" {
		return b.st.keyspace, nil
	}
	if b.ks == "" {
		return "", invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	return b.ks, nil
}

// termValue returns the value of tm for a column of type typ.
func (b *bound) termValue(tm term, typ Type) ([]byte, error) {
	if tm.marker >= 0 {
		if tm.marker >= len(b.values) {
			return nil, invalid("There were %d markers(?) in CQL but %d bound variables", len(b.st.markers), len(b.values))
		}
		v := b.values[tm.marker]
		if err := checkValue(v, typ); err != nil {
			return nil, invalid("%v", err)
		}
		return v, nil
	}
	v, err := encodeLiteral(tm.lit, typ)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return v, nil
}

// resolve returns the table of a data statement.
func (s *Store) resolve(b *bound) (*table, error) {
	ks, err := b.keyspace()
	if err != nil {
		return nil, err
	}
	return s.lookup(ks, b.st.table)
}

// markerTypes returns the types and names of the bind markers of st
// against the store's schema (for PREPARE), and the indexes of the markers
// that bind the partition key, in key order.
func (s *Store) markerTypes(st *statement, ks string) ([]colSpec, []uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.kind < stInsert {
		if len(st.markers) > 0 {
			return nil, nil, &syntaxError{"bind markers are not allowed here"}
		}
		return nil, nil, nil
	}
	b := &bound{st: st, ks: ks}
	t, err := s.resolve(b)
	if err != nil {
		return nil, nil, err
	}
	specs := make([]colSpec, len(st.markers))
	pk := make([]int, t.npk)
	for i := range pk {
		pk[i] = -1
	}
	for i, m := range st.markers {
		name := m.column
		if m.name != "" {
			name = m.name
		}
		spec := colSpec{ks: t.keyspace, table: t.name, name: name}
		switch m.column {
		case "[ttl]", "[limit]":
			spec.typ = intType
		case "[timestamp]":
			spec.typ = bigintType
		default:
			ci, ok := t.byName[m.column]
			if !ok {
				return nil, nil, invalid("Undefined column name %s in table %s.%s", m.column, t.keyspace, t.name)
			}
			spec.typ = t.cols[ci].typ
			if ci < t.npk && pk[ci] < 0 {
				pk[ci] = i
			}
		}
		specs[i] = spec
	}
	var pkIdx []uint16
	for _, i := range pk {
		if i < 0 {
			return specs, nil, nil
		}
		pkIdx = append(pkIdx, uint16(i))
	}
	return specs, pkIdx, nil
}

// resultColumns returns the result metadata of a SELECT (nil for other
// statements).
func (s *Store) resultColumns(st *statement, ks string) ([]colSpec, error) {
	if st.kind != stSelect {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.resolve(&bound{st: st, ks: ks})
	if err != nil {
		return nil, err
	}
	if st.countStar {
		return []colSpec{{ks: t.keyspace, table: t.name, name: "count", typ: bigintType}}, nil
	}
	names := st.columns
	if names == nil {
		for _, c := range t.cols {
			names = append(names, c.name)
		}
	}
	var out []colSpec
	for _, n := range names {
		ci, ok := t.byName[n]
		if !ok {
			return nil, invalid("Undefined column name %s in table %s.%s", n, t.keyspace, t.name)
		}
		out = append(out, colSpec{ks: t.keyspace, table: t.name, name: n, typ: t.cols[ci].typ})
	}
	return out, nil
}

// apply runs a schema or data statement.
func (s *Store) apply(b *bound) (*result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applyLocked(b)
}

// applyBatch runs the statements of a batch atomically: all or none.
func (s *Store) applyBatch(bs []*bound) (*result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undo = []undoEntry{}
	defer func() { s.undo = nil }()
	for _, b := range bs {
		if _, err := s.applyLocked(b); err != nil {
			for i := len(s.undo) - 1; i >= 0; i-- {
				u := s.undo[i]
				if u.old == nil {
					delete(u.t.rows, u.key)
				} else {
					u.t.rows[u.key] = u.old
				}
			}
			return nil, err
		}
	}
	return &result{kind: 1}, nil
}

// undoEntry is the state of a row before a statement of a batch changed
// it.
type undoEntry struct {
	t   *table
	key string
	old *row
}

// touch records the state of the row at key before a change, inside a
// batch.
func (s *Store) touch(t *table, key string) {
	if s.undo == nil {
		return
	}
	var old *row
	if r := t.rows[key]; r != nil {
		old = &row{key: r.key, vals: maps.Clone(r.vals), expires: maps.Clone(r.expires), ts: maps.Clone(r.ts), marker: r.marker, markerExpiry: r.markerExpiry}
	}
	s.undo = append(s.undo, undoEntry{t, key, old})
}

func (s *Store) applyLocked(b *bound) (*result, error) {
	st := b.st
	switch st.kind {
	case stUse:
		if _, ok := s.keyspaces[st.keyspace]; !ok {
			return nil, invalid("Keyspace '%s' does not exist", st.keyspace)
		}
		return &result{kind: 3, keyspace: st.keyspace}, nil
	case stCreateKeyspace:
		if _, ok := s.keyspaces[st.keyspace]; ok {
			if st.ifNotExists {
				return &result{kind: 1}, nil
			}
			w := writer{}
			w.string_(st.keyspace)
			w.string_("")
			return nil, &cqlError{code: CodeAlreadyExists, msg: fmt.Sprintf("Keyspace %s already exists", st.keyspace), extra: w.b}
		}
		s.keyspaces[st.keyspace] = map[string]*table{}
		return &result{kind: 5, change: [3]string{"CREATED", "KEYSPACE", st.keyspace}}, nil
	case stDropKeyspace:
		if _, ok := s.keyspaces[st.keyspace]; !ok {
			if st.ifExists {
				return &result{kind: 1}, nil
			}
			return nil, &cqlError{code: CodeConfig, msg: fmt.Sprintf("Cannot drop non existing keyspace '%s'.", st.keyspace)}
		}
		delete(s.keyspaces, st.keyspace)
		return &result{kind: 5, change: [3]string{"DROPPED", "KEYSPACE", st.keyspace}}, nil
	case stCreateTable:
		return s.createTable(b)
	case stDropTable:
		ks, err := b.keyspace()
		if err != nil {
			return nil, err
		}
		if _, err := s.lookup(ks, st.table); err != nil {
			if st.ifExists {
				return &result{kind: 1}, nil
			}
			return nil, err
		}
		delete(s.keyspaces[ks], st.table)
		return &result{kind: 5, change: [3]string{"DROPPED", "TABLE", ks}, changeObj: st.table}, nil
	case stTruncate:
		t, err := s.resolve(b)
		if err != nil {
			return nil, err
		}
		t.rows = map[string]*row{}
		return &result{kind: 1}, nil
	case stInsert:
		return s.insert(b)
	case stUpdate:
		return s.update(b)
	case stDelete:
		return s.delete(b)
	case stSelect:
		return s.selectRows(b)
	}
	return nil, invalid("unsupported statement")
}

func (s *Store) createTable(b *bound) (*result, error) {
	st := b.st
	ks, err := b.keyspace()
	if err != nil {
		return nil, err
	}
	tables, ok := s.keyspaces[ks]
	if !ok {
		return nil, invalid("Keyspace %s doesn't exist", ks)
	}
	if _, ok := tables[st.table]; ok {
		if st.ifNotExists {
			return &result{kind: 1}, nil
		}
		w := writer{}
		w.string_(ks)
		w.string_(st.table)
		return nil, &cqlError{code: CodeAlreadyExists, msg: fmt.Sprintf("Table %s.%s already exists", ks, st.table), extra: w.b}
	}
	t := &table{keyspace: ks, name: st.table, byName: map[string]int{}, rows: map[string]*row{}}
	defs := map[string]colDef{}
	for _, d := range st.defs {
		if _, dup := defs[d.name]; dup {
			return nil, invalid("Multiple definition of identifier %s", d.name)
		}
		defs[d.name] = d
	}
	add := func(name string, kind byte) error {
		d, ok := defs[name]
		if !ok {
			return invalid("Unknown definition %s referenced in PRIMARY KEY", name)
		}
		if d.typ.ID == TypeCounter || (d.typ.collection()) {
			return invalid("Invalid %s type for PRIMARY KEY component %s", d.typ, name)
		}
		t.byName[name] = len(t.cols)
		t.cols = append(t.cols, column{name: name, typ: d.typ, kind: kind})
		delete(defs, name)
		return nil
	}
	for _, n := range st.partition {
		if err := add(n, 'p'); err != nil {
			return nil, err
		}
	}
	for _, n := range st.clustering {
		if err := add(n, 'c'); err != nil {
			return nil, err
		}
	}
	t.npk, t.nck = len(st.partition), len(st.clustering)
	var rest []string
	for n := range defs {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	counters := 0
	for _, n := range rest {
		d := defs[n]
		kind := byte('r')
		if d.static {
			if t.nck == 0 {
				return nil, invalid("Static columns are only useful (and thus allowed) if the table has at least one clustering column")
			}
			kind = 's'
		}
		if d.typ.ID == TypeCounter {
			counters++
		}
		t.byName[n] = len(t.cols)
		t.cols = append(t.cols, column{name: n, typ: d.typ, kind: kind})
	}
	if counters > 0 && counters != len(rest) {
		return nil, invalid("Cannot mix counter and non counter columns in the same table")
	}
	t.counter = counters > 0
	tables[st.table] = t
	return &result{kind: 5, change: [3]string{"CREATED", "TABLE", ks}, changeObj: st.table}, nil
}

// key returns the full primary key of a row from equality conditions (or
// INSERT values).
func (t *table) key(eq map[string][]byte, what string) ([][]byte, error) {
	key := make([][]byte, t.npk+t.nck)
	for i := range key {
		v, ok := eq[t.cols[i].name]
		if !ok {
			kind := "partition key"
			if i >= t.npk {
				kind = "clustering"
			}
			return nil, invalid("Some %s parts are missing: %s", kind, t.cols[i].name)
		}
		if v == nil {
			return nil, invalid("Invalid null value in condition for column %s", t.cols[i].name)
		}
		key[i] = v
	}
	return key, nil
}

func (s *Store) ttl(b *bound) (time.Time, error) {
	if b.st.ttl == nil {
		return time.Time{}, nil
	}
	v, err := b.termValue(*b.st.ttl, intType)
	if err != nil || v == nil {
		return time.Time{}, err
	}
	n := int32(binary.BigEndian.Uint32(v))
	if n < 0 {
		return time.Time{}, invalid("A TTL must be greater or equal to 0, but was %d", n)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return s.now().Add(time.Duration(n) * time.Second), nil
}

func (s *Store) insert(b *bound) (*result, error) {
	st := b.st
	t, err := s.resolve(b)
	if err != nil {
		return nil, err
	}
	if t.counter {
		return nil, invalid("INSERT statements are not allowed on counter tables, use UPDATE instead")
	}
	vals := map[string][]byte{}
	for i, c := range st.columns {
		ci, ok := t.byName[c]
		if !ok {
			return nil, invalid("Undefined column name %s in table %s.%s", c, t.keyspace, t.name)
		}
		if _, dup := vals[c]; dup {
			return nil, invalid("Multiple definitions found for column %s", c)
		}
		v, err := b.termValue(st.values[i], t.cols[ci].typ)
		if err != nil {
			return nil, err
		}
		vals[c] = v
	}
	key, err := t.key(vals, "INSERT")
	if err != nil {
		return nil, err
	}
	exp, err := s.ttl(b)
	if err != nil {
		return nil, err
	}
	ts := b.timestamp()
	k := rowKey(key)
	r := t.rows[k]
	if st.ifNotExists {
		if r != nil && t.live(r, s.now()) {
			return s.casResult(t, false, r), nil
		}
	}
	s.touch(t, k)
	if r == nil {
		r = &row{key: key, vals: map[int][]byte{}, expires: map[int]time.Time{}}
		t.rows[k] = r
	}
	r.marker, r.markerExpiry = true, exp
	for c, v := range vals {
		ci := t.byName[c]
		if ci < t.npk+t.nck {
			continue
		}
		setCell(r, ci, v, exp, ts)
	}
	if st.ifNotExists {
		return s.casResult(t, true, nil), nil
	}
	return &result{kind: 1}, nil
}

func setCell(r *row, ci int, v []byte, exp time.Time, ts int64) {
	if ts != 0 {
		if r.ts == nil {
			r.ts = map[int]int64{}
		}
		if old, ok := r.ts[ci]; ok && old > ts {
			return // a newer write holds the cell
		}
		r.ts[ci] = ts
	}
	if v == nil {
		delete(r.vals, ci)
		delete(r.expires, ci)
		return
	}
	r.vals[ci] = v
	if exp.IsZero() {
		delete(r.expires, ci)
	} else {
		r.expires[ci] = exp
	}
}

// casResult is the result of a conditional statement: [applied], and
// the existing row when it was not applied.
func (s *Store) casResult(t *table, applied bool, existing *row) *result {
	res := &result{kind: 2, cols: []colSpec{{ks: t.keyspace, table: t.name, name: "[applied]", typ: boolType}}}
	rowVals := [][]byte{{0}}
	if applied {
		rowVals[0] = []byte{1}
	}
	if !applied && existing != nil {
		for i, c := range t.cols {
			res.cols = append(res.cols, colSpec{ks: t.keyspace, table: t.name, name: c.name, typ: c.typ})
			rowVals = append(rowVals, t.value(existing, i, s.now()))
		}
	}
	res.rows = [][][]byte{rowVals}
	return res
}

// equalities returns the values of the equality conditions of WHERE, and
// the range conditions apart.
func (b *bound) equalities(t *table) (map[string][]byte, []condition, error) {
	eq := map[string][]byte{}
	var ranges []condition
	for _, c := range b.st.where {
		ci, ok := t.byName[c.col]
		if !ok {
			return nil, nil, invalid("Undefined column name %s in table %s.%s", c.col, t.keyspace, t.name)
		}
		if ci >= t.npk+t.nck {
			return nil, nil, invalid("Cannot restrict column %s: it is not part of the primary key (the stand-in does not filter)", c.col)
		}
		if c.op != "=" {
			if ci < t.npk {
				return nil, nil, invalid("Only EQ and IN relation are supported on the partition key (unless you use the token() function)")
			}
			ranges = append(ranges, c)
			continue
		}
		v, err := b.termValue(c.val, t.cols[ci].typ)
		if err != nil {
			return nil, nil, err
		}
		eq[c.col] = v
	}
	return eq, ranges, nil
}

func (s *Store) update(b *bound) (*result, error) {
	st := b.st
	t, err := s.resolve(b)
	if err != nil {
		return nil, err
	}
	eq, ranges, err := b.equalities(t)
	if err != nil {
		return nil, err
	}
	if len(ranges) > 0 {
		return nil, invalid("Slice restrictions are not supported on the clustering columns in UPDATE statements")
	}
	key, err := t.key(eq, "UPDATE")
	if err != nil {
		return nil, err
	}
	exp, err := s.ttl(b)
	if err != nil {
		return nil, err
	}
	if t.counter && st.ttl != nil {
		return nil, invalid("Cannot set the TTL on a counter update")
	}
	ts := b.timestamp()
	k := rowKey(key)
	r := t.rows[k]
	if st.ifExists || len(st.ifConds) > 0 {
		ok := r != nil && t.live(r, s.now())
		for _, c := range st.ifConds {
			ci, found := t.byName[c.col]
			if !found {
				return nil, invalid("Undefined column name %s", c.col)
			}
			v, err := b.termValue(c.val, t.cols[ci].typ)
			if err != nil {
				return nil, err
			}
			var cur []byte
			if r != nil {
				cur = t.value(r, ci, s.now())
			}
			if !bytes.Equal(cur, v) {
				ok = false
			}
		}
		if !ok {
			return s.casResult(t, false, r), nil
		}
	}
	// Check every assignment before changing anything.
	type change struct {
		ci    int
		v     []byte
		merge bool // the new value merges the old one (collection + or -)
	}
	var changes []change
	for _, a := range st.sets {
		ci, ok := t.byName[a.col]
		if !ok {
			return nil, invalid("Undefined column name %s in table %s.%s", a.col, t.keyspace, t.name)
		}
		if ci < t.npk+t.nck {
			return nil, invalid("PRIMARY KEY part %s found in SET part", a.col)
		}
		c := t.cols[ci]
		var cur []byte
		if r != nil {
			cur = t.value(r, ci, s.now())
		}
		switch {
		case c.typ.ID == TypeCounter:
			if a.op != '+' && a.op != '-' {
				return nil, invalid("Cannot set the value of counter column %s (counters can only be incremented/decremented, not set)", a.col)
			}
			v, err := b.termValue(a.val, bigintType)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, invalid("Invalid null value for counter increment")
			}
			d := int64Of(v)
			if a.op == '-' {
				d = -d
			}
			changes = append(changes, change{ci, binary.BigEndian.AppendUint64(nil, uint64(int64Of(cur)+d)), true})
		case a.op == '=':
			v, err := b.termValue(a.val, c.typ)
			if err != nil {
				return nil, err
			}
			changes = append(changes, change{ci, v, false})
		case c.typ.ID == TypeList || c.typ.ID == TypeSet:
			v, err := b.termValue(a.val, c.typ)
			if err != nil {
				return nil, err
			}
			var old, add [][]byte
			if cur != nil {
				old, _ = decodeCollection(cur, false)
			}
			if v != nil {
				add, _ = decodeCollection(v, false)
			}
			var out [][]byte
			switch a.op {
			case '+':
				out = append(old, add...)
				if c.typ.ID == TypeSet {
					out = dedupe(out)
				}
			case 'p':
				out = append(add, old...)
			case '-':
				for _, o := range old {
					if !slices.ContainsFunc(add, func(x []byte) bool { return bytes.Equal(x, o) }) {
						out = append(out, o)
					}
				}
			}
			var nv []byte
			if len(out) > 0 {
				nv = encodeCollection(out)
			}
			changes = append(changes, change{ci, nv, true})
		default:
			return nil, invalid("Invalid operation (%s = %s %c ?) for non list/set/counter column %s", a.col, a.col, a.op, a.col)
		}
	}
	s.touch(t, k)
	if r == nil {
		r = &row{key: key, vals: map[int][]byte{}, expires: map[int]time.Time{}}
		t.rows[k] = r
	}
	for _, c := range changes {
		cts := ts
		if t.cols[c.ci].typ.ID == TypeCounter || c.merge {
			cts = 0 // increments and collection merges apply whatever their timestamp
		}
		setCell(r, c.ci, c.v, exp, cts)
	}
	if st.ifExists || len(st.ifConds) > 0 {
		return s.casResult(t, true, nil), nil
	}
	return &result{kind: 1}, nil
}

func dedupe(in [][]byte) [][]byte {
	slices.SortFunc(in, bytes.Compare)
	return slices.CompactFunc(in, bytes.Equal)
}

// matching returns the live rows that the WHERE clause selects: a
// partition (and a clustering prefix) by equality, an optional range on
// the next clustering column, or the whole table.
func (s *Store) matching(b *bound, t *table) ([]*row, error) {
	eq, ranges, err := b.equalities(t)
	if err != nil {
		return nil, err
	}
	for i := 0; i < t.npk && len(eq) > 0; i++ {
		if _, ok := eq[t.cols[i].name]; !ok {
			return nil, invalid("Cannot execute this query as it might involve data filtering: restrict the whole partition key (missing %s)", t.cols[i].name)
		}
	}
	type bound_ struct {
		op string
		v  []byte
		ci int
	}
	var rb []bound_
	for _, c := range ranges {
		ci := t.byName[c.col]
		v, err := b.termValue(c.val, t.cols[ci].typ)
		if err != nil {
			return nil, err
		}
		rb = append(rb, bound_{c.op, v, ci})
	}
	var out []*row
	for _, r := range t.sorted(s.now()) {
		ok := true
		for n, v := range eq {
			if !bytes.Equal(r.key[t.byName[n]], v) {
				ok = false
			}
		}
		for _, x := range rb {
			c := compareValue(r.key[x.ci], x.v)
			switch x.op {
			case "<":
				ok = ok && c < 0
			case "<=":
				ok = ok && c <= 0
			case ">":
				ok = ok && c > 0
			case ">=":
				ok = ok && c >= 0
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) delete(b *bound) (*result, error) {
	st := b.st
	t, err := s.resolve(b)
	if err != nil {
		return nil, err
	}
	rows, err := s.matching(b, t)
	if err != nil {
		return nil, err
	}
	eq, _, _ := b.equalities(t)
	if len(eq) < t.npk {
		return nil, invalid("Some partition key parts are missing")
	}
	if st.ifExists {
		if len(rows) == 0 {
			return s.casResult(t, false, nil), nil
		}
	}
	for _, r := range rows {
		s.touch(t, rowKey(r.key))
		if len(st.columns) == 0 {
			delete(t.rows, rowKey(r.key))
			continue
		}
		for _, c := range st.columns {
			ci, ok := t.byName[c]
			if !ok || ci < t.npk+t.nck {
				return nil, invalid("Invalid column %s in DELETE", c)
			}
			setCell(r, ci, nil, time.Time{}, 0)
		}
	}
	if st.ifExists {
		return s.casResult(t, true, nil), nil
	}
	return &result{kind: 1}, nil
}

func (s *Store) selectRows(b *bound) (*result, error) {
	st := b.st
	t, err := s.resolve(b)
	if err != nil {
		return nil, err
	}
	rows, err := s.matching(b, t)
	if err != nil {
		return nil, err
	}
	if st.limit != nil {
		v, err := b.termValue(*st.limit, intType)
		if err != nil {
			return nil, err
		}
		if n := int(int32(binary.BigEndian.Uint32(v))); n >= 0 && n < len(rows) {
			rows = rows[:n]
		}
	}
	res := &result{kind: 2}
	if st.countStar {
		res.cols = []colSpec{{ks: t.keyspace, table: t.name, name: "count", typ: bigintType}}
		res.rows = [][][]byte{{binary.BigEndian.AppendUint64(nil, uint64(len(rows)))}}
		return res, nil
	}
	names := st.columns
	if names == nil {
		for _, c := range t.cols {
			names = append(names, c.name)
		}
	}
	var idx []int
	for _, n := range names {
		ci, ok := t.byName[n]
		if !ok {
			return nil, invalid("Undefined column name %s in table %s.%s", n, t.keyspace, t.name)
		}
		idx = append(idx, ci)
		res.cols = append(res.cols, colSpec{ks: t.keyspace, table: t.name, name: n, typ: t.cols[ci].typ})
	}
	for _, r := range rows {
		vals := make([][]byte, len(idx))
		for i, ci := range idx {
			vals[i] = t.value(r, ci, s.now())
		}
		res.rows = append(res.rows, vals)
	}
	return res, nil
}

// describe returns the tables of the store for the system_schema views.
func (s *Store) describe() map[string][]*table {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]*table{}
	for ks, tables := range s.keyspaces {
		out[ks] = nil
		for _, t := range tables {
			out[ks] = append(out[ks], t)
		}
	}
	return out
}
