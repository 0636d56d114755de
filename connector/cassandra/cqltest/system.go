package cqltest

import (
	"encoding/binary"
	"math"
	"net"
	"strconv"
	"strings"
)

// The system tables the driver reads: system.local (the node itself),
// system.peers (the other nodes), and system_schema.keyspaces. The
// stand-in does not serve system.peers_v2 (it reports release 3.11, so the
// driver does not ask), nor the rest of system_schema: token-aware routing
// and the driver's schema metadata are not supported.

const releaseVersion = "3.11.16"

func isSystem(st *statement) bool {
	return strings.HasPrefix(st.keyspace, "system")
}

func (s *Server) token() string {
	n := len(s.cluster.nodes)
	step := uint64(math.MaxUint64) / uint64(n)
	return strconv.FormatInt(math.MinInt64+int64(step*uint64(s.index)), 10)
}

func encodeSet(vals ...string) []byte {
	var elems [][]byte
	for _, v := range vals {
		elems = append(elems, []byte(v))
	}
	return encodeCollection(elems)
}

func ipBytes(addr net.Addr) []byte {
	ip := addr.(*net.TCPAddr).IP
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

func int32Bytes(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// systemTable returns the columns and rows of a system table.
func (s *Server) systemTable(ks, name string) ([]colSpec, [][][]byte, error) {
	cl := s.cluster
	spec := func(name string, t Type) colSpec { return colSpec{ks: ks, table: name, name: name, typ: t} }
	var cols []colSpec
	var rows [][][]byte
	switch ks + "." + name {
	case "system.local":
		cols = []colSpec{
			spec("key", textType), spec("bootstrapped", textType), spec("broadcast_address", inetType),
			spec("cluster_name", textType), spec("cql_version", textType), spec("data_center", textType),
			spec("host_id", uuidType), spec("listen_address", inetType), spec("native_protocol_version", textType),
			spec("partitioner", textType), spec("rack", textType), spec("release_version", textType),
			spec("rpc_address", inetType), spec("schema_version", uuidType), spec("tokens", textSetType),
			spec("native_port", intType),
		}
		ip := ipBytes(s.ln.Addr())
		rows = [][][]byte{{[]byte("local"), []byte("COMPLETED"), ip, []byte("stand-in"), []byte("3.4.4"),
			[]byte(s.dc), s.hostID, ip, []byte("4"), []byte("org.apache.cassandra.dht.Murmur3Partitioner"),
			[]byte("rack1"), []byte(releaseVersion), ip, cl.schema, encodeSet(s.token()), int32Bytes(s.Port())}}
	case "system.peers":
		cols = []colSpec{
			spec("peer", inetType), spec("data_center", textType), spec("host_id", uuidType),
			spec("preferred_ip", inetType), spec("rack", textType), spec("release_version", textType),
			spec("rpc_address", inetType), spec("schema_version", uuidType), spec("tokens", textSetType),
			spec("native_port", intType),
		}
		for _, n := range cl.nodes {
			if n == s {
				continue
			}
			ip := ipBytes(n.ln.Addr())
			rows = append(rows, [][]byte{ip, []byte(n.dc), n.hostID, ip, []byte("rack1"), []byte(releaseVersion),
				ip, cl.schema, encodeSet(n.token()), int32Bytes(n.Port())})
		}
	case "system_schema.keyspaces":
		mapType := Type{ID: TypeMap, Elem: []Type{textType, textType}}
		cols = []colSpec{spec("keyspace_name", textType), spec("durable_writes", boolType), spec("replication", mapType)}
		for ks := range cl.store.describe() {
			repl := encodeCollection([][]byte{[]byte("class"), []byte("org.apache.cassandra.locator.SimpleStrategy"),
				[]byte("replication_factor"), []byte("1")})
			repl = append(int32Bytes(2), repl[4:]...)
			rows = append(rows, [][]byte{[]byte(ks), {1}, repl})
		}
	case "system_schema.columns":
		cols = []colSpec{spec("keyspace_name", textType), spec("table_name", textType), spec("column_name", textType),
			spec("clustering_order", textType), spec("kind", textType), spec("position", intType), spec("type", textType)}
		for ks, tables := range cl.store.describe() {
			for _, t := range tables {
				for i, c := range t.cols {
					kind, pos, order := "regular", -1, "none"
					switch c.kind {
					case 'p':
						kind, pos = "partition_key", i
					case 'c':
						kind, pos, order = "clustering", i-t.npk, "asc"
					case 's':
						kind = "static"
					}
					rows = append(rows, [][]byte{[]byte(ks), []byte(t.name), []byte(c.name), []byte(order),
						[]byte(kind), int32Bytes(pos), []byte(c.typ.String())})
				}
			}
		}
	default:
		return nil, nil, invalid("unconfigured table %s (the stand-in serves system.local, system.peers, system_schema.keyspaces and system_schema.columns)", name)
	}
	for i := range cols {
		cols[i].table = name
	}
	return cols, rows, nil
}

// systemQuery runs a SELECT of a system table with the values of its
// bind markers.
func (s *Server) systemQuery(st *statement, values [][]byte) (*result, error) {
	if st.kind != stSelect {
		return nil, &cqlError{code: CodeUnauthorized, msg: "system keyspaces are not modifiable"}
	}
	cols, rows, err := s.systemTable(st.keyspace, st.table)
	if err != nil {
		return nil, err
	}
	return project(st, cols, rows, values)
}

// systemSpecs returns the bind marker and result metadata of a system
// query.
func (s *Server) systemSpecs(st *statement) (vars, res []colSpec, err error) {
	if st.kind != stSelect {
		return nil, nil, &cqlError{code: CodeUnauthorized, msg: "system keyspaces are not modifiable"}
	}
	cols, _, err := s.systemTable(st.keyspace, st.table)
	if err != nil {
		return nil, nil, err
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[c.name] = i
	}
	for _, m := range st.markers {
		i, ok := idx[m.column]
		if !ok {
			return nil, nil, invalid("Undefined column name %s", m.column)
		}
		vars = append(vars, cols[i])
	}
	r, err := project(st, cols, nil, make([][]byte, len(st.markers)))
	if err != nil {
		return nil, nil, err
	}
	return vars, r.cols, nil
}

// project applies the selection and equality conditions of a SELECT on a
// system table.
func project(st *statement, cols []colSpec, rows [][][]byte, values [][]byte) (*result, error) {
	idx := map[string]int{}
	for i, c := range cols {
		idx[c.name] = i
	}
	var keep [][][]byte
	for _, c := range st.where {
		if _, ok := idx[c.col]; !ok {
			return nil, invalid("Undefined column name %s", c.col)
		}
	}
rows:
	for _, r := range rows {
		for _, c := range st.where {
			i := idx[c.col]
			if c.op != "=" {
				return nil, invalid("the stand-in filters system tables by equality only")
			}
			b := &bound{st: st, values: values}
			v, err := b.termValue(c.val, cols[i].typ)
			if err != nil {
				return nil, err
			}
			if string(v) != string(r[i]) {
				continue rows
			}
		}
		keep = append(keep, r)
	}
	res := &result{kind: 2}
	if st.columns == nil {
		res.cols, res.rows = cols, keep
		return res, nil
	}
	var sel []int
	for _, n := range st.columns {
		i, ok := idx[n]
		if !ok {
			return nil, invalid("Undefined column name %s", n)
		}
		sel = append(sel, i)
		res.cols = append(res.cols, cols[i])
	}
	for _, r := range keep {
		var out [][]byte
		for _, i := range sel {
			out = append(out, r[i])
		}
		res.rows = append(res.rows, out)
	}
	return res, nil
}
