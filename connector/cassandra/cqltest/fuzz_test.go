package cqltest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func request(op byte, body []byte) []byte {
	b := []byte{protoVersion, 0, 0, 1, op}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// FuzzFrameDecoder feeds arbitrary bytes to the frame reader and the
// request decoders, and the CQL statements of QUERY and PREPARE requests
// to the parser: none may panic or allocate past the frame limit.
func FuzzFrameDecoder(f *testing.F) {
	w := writer{}
	w.short(1)
	w.string_("CQL_VERSION")
	w.string_("3.0.0")
	f.Add(request(opStartup, w.b))
	f.Add(request(opOptions, nil))
	q := writer{}
	q.int_(int32(len("INSERT INTO ks.kv (k, v) VALUES (?, ?)")))
	q.b = append(q.b, "INSERT INTO ks.kv (k, v) VALUES (?, ?)"...)
	q.short(6)
	q.byte_(qfValues | qfPageSize | qfDefaultTimestamp)
	q.short(2)
	q.bytes([]byte("a"))
	q.bytes(binary.BigEndian.AppendUint64(nil, 7))
	q.int_(5000)
	q.b = binary.BigEndian.AppendUint64(q.b, 1)
	f.Add(request(opQuery, q.b))
	e := writer{}
	e.shortBytes([]byte("0123456789abcdef"))
	e.short(1)
	e.byte_(qfValues | qfValueNames)
	e.short(1)
	e.string_("k")
	e.bytes(nil)
	f.Add(request(opExecute, e.b))
	bt := writer{}
	bt.byte_(2)
	bt.short(2)
	bt.byte_(0)
	bt.int_(int32(len("UPDATE c SET n = n + 1 WHERE k = 'a'")))
	bt.b = append(bt.b, "UPDATE c SET n = n + 1 WHERE k = 'a'"...)
	bt.short(0)
	bt.byte_(1)
	bt.shortBytes([]byte("id"))
	bt.short(1)
	bt.bytes([]byte{1})
	bt.short(4)
	bt.byte_(0)
	f.Add(request(opBatch, bt.b))
	p := writer{}
	p.int_(int32(len("SELECT * FROM t WHERE k = :k AND c >= 3 LIMIT ?")))
	p.b = append(p.b, "SELECT * FROM t WHERE k = :k AND c >= 3 LIMIT ?"...)
	f.Add(request(opPrepare, p.b))
	f.Add([]byte{protoVersion, 0, 0, 1, opQuery, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{3, 0, 0, 1, opOptions, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := readFrame(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		req, err := decodeRequest(fr)
		if err != nil {
			return
		}
		var query string
		switch r := req.(type) {
		case queryRequest:
			query = r.query
		case string:
			query = r
		}
		if st, err := parse(query); err == nil {
			// A parsed statement is usable against an empty store.
			s := NewStore()
			s.markerTypes(st, "ks")
			s.apply(&bound{st: st, ks: "ks", values: make([][]byte, len(st.markers))})
		}
	})
}

// FuzzParse feeds arbitrary statements to the CQL parser and the store.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE IF NOT EXISTS ks.t (a int, b text, c list<text>, PRIMARY KEY ((a), b)) WITH x = 1",
		"UPDATE t USING TTL 10 SET c = c + ['x'], d = 3 WHERE a = 1 AND b = 'q' IF EXISTS",
		"DELETE FROM t WHERE a = ? AND b < 5",
		"INSERT INTO t (a, b) VALUES (-1, 0x00ff) IF NOT EXISTS USING TTL ?",
		"SELECT a, b FROM ks.t WHERE a = 123e4567-e89b-12d3-a456-426614174000 LIMIT 3 ALLOW FILTERING",
		"USE \"Ks\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := parse(q)
		if err != nil {
			return
		}
		s := NewStore()
		s.apply(&bound{st: &statement{kind: stCreateKeyspace, keyspace: "ks"}})
		s.apply(&bound{st: st, ks: "ks", values: make([][]byte, len(st.markers))})
	})
}
