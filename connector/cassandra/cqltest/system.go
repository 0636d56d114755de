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

func isSystemQuery(q string) bool {
	l := strings.ToLower(q)
	return strings.Contains(l, " system.") || strings.Contains(l, " system_schema.") ||
		strings.Contains(l, " system_auth.") || strings.Contains(l, " system_traces.")
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

func (s *Server) systemQuery(q string) (*result, error) {
	st, err := parse(q)
	if err != nil {
		return nil, err
	}
	if st.kind != stSelect {
		return nil, &cqlError{code: CodeUnauthorized, msg: "system keyspaces are not modifiable"}
	}
	cl := s.cluster
	spec := func(table, name string, t Type) colSpec { return colSpec{ks: st.keyspace, table: table, name: name, typ: t} }
	switch st.keyspace + "." + st.table {
	case "system.local":
		cols := []colSpec{
			spec("local", "key", textType), spec("bootstrapped", "bootstrapped", textType),
			spec("local", "broadcast_address", inetType), spec("local", "cluster_name", textType),
			spec("local", "cql_version", textType), spec("local", "data_center", textType),
			spec("local", "host_id", uuidType), spec("local", "listen_address", inetType),
			spec("local", "native_protocol_version", textType), spec("local", "partitioner", textType),
			spec("local", "rack", textType), spec("local", "release_version", textType),
			spec("local", "rpc_address", inetType), spec("local", "schema_version", uuidType),
			spec("local", "tokens", textSetType), spec("local", "native_port", intType),
		}
		for i := range cols {
			cols[i].table = "local"
		}
		ip := ipBytes(s.ln.Addr())
		row := [][]byte{[]byte("local"), []byte("COMPLETED"), ip, []byte("stand-in"), []byte("3.4.4"),
			[]byte(s.dc), s.hostID, ip, []byte("4"), []byte("org.apache.cassandra.dht.Murmur3Partitioner"),
			[]byte("rack1"), []byte(releaseVersion), ip, cl.schema, encodeSet(s.token()), int32Bytes(s.Port())}
		return project(st, cols, [][][]byte{row})
	case "system.peers":
		cols := []colSpec{
			spec("peers", "peer", inetType), spec("peers", "data_center", textType),
			spec("peers", "host_id", uuidType), spec("peers", "preferred_ip", inetType),
			spec("peers", "rack", textType), spec("peers", "release_version", textType),
			spec("peers", "rpc_address", inetType), spec("peers", "schema_version", uuidType),
			spec("peers", "tokens", textSetType), spec("peers", "native_port", intType),
		}
		var rows [][][]byte
		for _, n := range cl.nodes {
			if n == s {
				continue
			}
			ip := ipBytes(n.ln.Addr())
			rows = append(rows, [][]byte{ip, []byte(n.dc), n.hostID, ip, []byte("rack1"), []byte(releaseVersion),
				ip, cl.schema, encodeSet(n.token()), int32Bytes(n.Port())})
		}
		return project(st, cols, rows)
	case "system_schema.keyspaces":
		mapType := Type{ID: TypeMap, Elem: []Type{textType, textType}}
		cols := []colSpec{spec("keyspaces", "keyspace_name", textType), spec("keyspaces", "durable_writes", boolType),
			spec("keyspaces", "replication", mapType)}
		var rows [][][]byte
		for ks := range cl.store.describe() {
			repl := encodeCollection([][]byte{[]byte("class"), []byte("org.apache.cassandra.locator.SimpleStrategy"),
				[]byte("replication_factor"), []byte("1")})
			repl = append(int32Bytes(2), repl[4:]...)
			rows = append(rows, [][]byte{[]byte(ks), {1}, repl})
		}
		return project(st, cols, rows)
	}
	return nil, invalid("unconfigured table %s (the stand-in serves system.local, system.peers and system_schema.keyspaces)", st.table)
}

// project applies the selection and equality conditions of a SELECT on a
// system table.
func project(st *statement, cols []colSpec, rows [][][]byte) (*result, error) {
	idx := map[string]int{}
	for i, c := range cols {
		idx[c.name] = i
	}
	var keep [][][]byte
rows:
	for _, r := range rows {
		for _, c := range st.where {
			i, ok := idx[c.col]
			if !ok {
				return nil, invalid("Undefined column name %s", c.col)
			}
			if c.val.marker >= 0 {
				return nil, invalid("bind markers on system tables are not supported by the stand-in")
			}
			v, err := encodeLiteral(c.val.lit, cols[i].typ)
			if err != nil {
				return nil, invalid("%v", err)
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
