package cassandra

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// tableInfo is what the sink reads of its table's schema.
type tableInfo struct {
	keyspace, table string
	// types of the columns by name (system_schema.columns type text).
	types   map[string]string
	kinds   map[string]string // partition_key, clustering, regular, static
	counter bool
}

// connect opens a session to the cluster, without a keyspace (the
// statement is qualified with it, see Statement.Qualified: the driver
// reports a session keyspace that does not exist only as "no connections
// were made"), and checks that the keyspace and the statement's table and
// columns exist. It returns the session and the table's schema.
func connect(ctx context.Context, c *config, st *Statement) (*gocql.Session, *tableInfo, error) {
	cc := c.clusterConfig()
	ks := st.Keyspace
	if ks == "" {
		ks = c.keyspace
	}
	if ks == "" {
		return nil, nil, connector.Permanent(fmt.Errorf("cassandra sink: statement %q names no keyspace: set keyspace: or write keyspace.table", st.CQL))
	}
	cc.Keyspace = ""
	s, err := cc.CreateSession()
	if err != nil {
		return nil, nil, sessionError(err, c.hosts)
	}
	info, err := readTable(ctx, s, c, ks, st.Table)
	if err == nil && c.keyspace != "" && c.keyspace != ks {
		err = keyspaceExists(ctx, s, c.keyspace)
	}
	if err == nil && c.writeAhead && c.commitKeyspace != "" {
		err = keyspaceExists(ctx, s, c.commitKeyspace)
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, info, nil
}

func keyspaceExists(ctx context.Context, s *gocql.Session, ks string) error {
	var name string
	err := s.Query("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", ks).WithContext(ctx).Consistency(gocql.One).Scan(&name)
	if err == gocql.ErrNotFound {
		return fmt.Errorf("cassandra sink: %w: keyspace %q does not exist: create it (CREATE KEYSPACE %s WITH replication = ...) or fix the keyspace option", connector.ErrRejected, ks, ks)
	}
	if err != nil {
		return classify(err, "SELECT ... FROM system_schema.keyspaces", "keyspace "+ks)
	}
	return nil
}

// readTable reads the columns of ks.table and checks the statement's
// columns against them.
func readTable(ctx context.Context, s *gocql.Session, c *config, ks, table string) (*tableInfo, error) {
	if err := keyspaceExists(ctx, s, ks); err != nil {
		return nil, err
	}
	iter := s.Query("SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?", ks, table).
		WithContext(ctx).Consistency(gocql.One).Iter()
	info := &tableInfo{keyspace: ks, table: table, types: map[string]string{}, kinds: map[string]string{}}
	var name, kind, typ string
	for iter.Scan(&name, &kind, &typ) {
		info.types[name] = typ
		info.kinds[name] = kind
		if typ == "counter" {
			info.counter = true
		}
	}
	if err := iter.Close(); err != nil {
		return nil, classify(err, "SELECT ... FROM system_schema.columns", ks+"."+table)
	}
	if len(info.types) == 0 {
		return nil, fmt.Errorf("cassandra sink: %w: table %s.%s does not exist: create it, or fix the table in the statement option", connector.ErrRejected, ks, table)
	}
	return info, nil
}

// tableColumns returns the columns of ks.table by name, with their
// types; none when the table does not exist.
func tableColumns(ctx context.Context, s *gocql.Session, ks, table string) (map[string]string, error) {
	iter := s.Query("SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?", ks, table).
		WithContext(ctx).Consistency(gocql.One).Iter()
	out := map[string]string{}
	var name, typ string
	for iter.Scan(&name, &typ) {
		out[name] = typ
	}
	if err := iter.Close(); err != nil {
		return nil, classify(err, "SELECT ... FROM system_schema.columns", ks+"."+table)
	}
	return out, nil
}

// markerTypes returns the CQL type of every marker of st.
func (t *tableInfo) markerTypes(st *Statement) ([]gocql.TypeInfo, error) {
	out := make([]gocql.TypeInfo, len(st.Markers))
	for i, m := range st.Markers {
		var typ string
		switch m.Column {
		case "[ttl]":
			typ = "int"
		case "[timestamp]":
			typ = "bigint"
		default:
			var ok bool
			if typ, ok = t.types[m.Column]; !ok {
				return nil, fmt.Errorf("cassandra sink: %w: table %s.%s has no column %q (statement %q): fix the statement or add the column",
					connector.ErrRejected, t.keyspace, t.table, m.Column, st.CQL)
			}
		}
		ti, err := parseType(typ)
		if err != nil {
			return nil, fmt.Errorf("cassandra sink: column %s.%s.%s: %w", t.keyspace, t.table, m.Column, err)
		}
		if m.Part != "" {
			ct, ok := ti.(gocql.CollectionType)
			switch {
			case !ok || ct.Type() == gocql.TypeSet:
				return nil, fmt.Errorf("cassandra sink: %w: %s[...] in %q: column %s is a %s, not a map or list", connector.ErrRejected, m.Column, st.CQL, m.Column, typ)
			case m.Part == "value":
				ti = ct.Elem
			case ct.Type() == gocql.TypeMap:
				ti = ct.Key
			default:
				ti = gocql.NewNativeType(4, gocql.TypeInt, "")
			}
		}
		out[i] = ti
	}
	return out, nil
}

// parseType turns a type as system_schema.columns writes it ("text",
// "list<bigint>", "frozen<map<text, int>>") into the driver's TypeInfo.
func parseType(s string) (gocql.TypeInfo, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if inner, ok := strings.CutPrefix(s, "frozen<"); ok && strings.HasSuffix(inner, ">") {
		return parseType(inner[:len(inner)-1])
	}
	native := func(t gocql.Type) gocql.NativeType { return gocql.NewNativeType(4, t, "") }
	for _, coll := range []struct {
		prefix string
		typ    gocql.Type
	}{{"list<", gocql.TypeList}, {"set<", gocql.TypeSet}, {"map<", gocql.TypeMap}} {
		inner, ok := strings.CutPrefix(s, coll.prefix)
		if !ok || !strings.HasSuffix(inner, ">") {
			continue
		}
		inner = inner[:len(inner)-1]
		if coll.typ != gocql.TypeMap {
			e, err := parseType(inner)
			if err != nil {
				return nil, err
			}
			return gocql.CollectionType{NativeType: native(coll.typ), Elem: e}, nil
		}
		depth := 0
		for i, r := range inner {
			switch r {
			case '<':
				depth++
			case '>':
				depth--
			case ',':
				if depth == 0 {
					k, err := parseType(inner[:i])
					if err != nil {
						return nil, err
					}
					v, err := parseType(inner[i+1:])
					if err != nil {
						return nil, err
					}
					return gocql.CollectionType{NativeType: native(gocql.TypeMap), Key: k, Elem: v}, nil
				}
			}
		}
		return nil, fmt.Errorf("type %q is not understood", s)
	}
	names := map[string]gocql.Type{"ascii": gocql.TypeAscii, "bigint": gocql.TypeBigInt, "blob": gocql.TypeBlob,
		"boolean": gocql.TypeBoolean, "counter": gocql.TypeCounter, "decimal": gocql.TypeDecimal, "double": gocql.TypeDouble,
		"float": gocql.TypeFloat, "int": gocql.TypeInt, "timestamp": gocql.TypeTimestamp, "uuid": gocql.TypeUUID,
		"text": gocql.TypeVarchar, "varchar": gocql.TypeVarchar, "varint": gocql.TypeVarint, "timeuuid": gocql.TypeTimeUUID,
		"inet": gocql.TypeInet, "date": gocql.TypeDate, "time": gocql.TypeTime, "smallint": gocql.TypeSmallInt,
		"tinyint": gocql.TypeTinyInt, "duration": gocql.TypeDuration}
	if t, ok := names[s]; ok {
		return native(t), nil
	}
	return nil, fmt.Errorf("type %q is not supported by the sink (user types and tuples are not)", s)
}

// coerce converts a value of a YAML record (nil, bool, int64, float64,
// string, []any, map[string]any) to what the driver marshals into a
// column of type t: integral floats to integers, integers to floats,
// RFC 3339 strings and epoch milliseconds to timestamps, strings to blobs,
// element by element in collections.
func coerce(v any, t gocql.TypeInfo) any {
	switch t.Type() {
	case gocql.TypeDouble:
		if n, ok := v.(int64); ok {
			return float64(n)
		}
	case gocql.TypeFloat:
		switch n := v.(type) {
		case int64:
			return float32(n)
		case float64:
			return float32(n)
		}
	case gocql.TypeInt, gocql.TypeBigInt, gocql.TypeCounter, gocql.TypeSmallInt, gocql.TypeTinyInt, gocql.TypeVarint:
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
	case gocql.TypeTimestamp:
		switch x := v.(type) {
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return ts
			}
		case float64:
			return int64(x)
		}
	case gocql.TypeBlob:
		if s, ok := v.(string); ok {
			return []byte(s)
		}
	case gocql.TypeList, gocql.TypeSet:
		if l, ok := v.([]any); ok {
			e := t.(gocql.CollectionType).Elem
			out := make([]any, len(l))
			for i, x := range l {
				out[i] = coerce(x, e)
			}
			return out
		}
	case gocql.TypeMap:
		if m, ok := v.(map[string]any); ok {
			ct := t.(gocql.CollectionType)
			out := make(map[string]any, len(m))
			for k, x := range m {
				out[k] = coerce(x, ct.Elem)
			}
			return out
		}
	}
	return v
}
