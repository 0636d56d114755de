package cassandra

import (
	"strings"
	"testing"
)

func TestParseStatement(t *testing.T) {
	cases := []struct {
		cql        string
		idempotent bool
		why        string // a part of Why
		table      string
		fields     []string
	}{
		{"INSERT INTO ks.t (id, name) VALUES (?, ?)", true, "INSERT writes the same row", "t", []string{"id", "name"}},
		{"insert into T (ID, n) values (:id, :val) using ttl 60", true, "", "t", []string{"id", "val"}},
		{"INSERT INTO t (id, n) VALUES (?, ?) IF NOT EXISTS", true, "IF condition", "t", []string{"id", "n"}},
		{"INSERT INTO t (id, at) VALUES (?, now())", false, "now()", "t", []string{"id"}},
		{"INSERT INTO t (id, n) VALUES (:id, :n) USING TTL :ttl", true, "", "t", []string{"id", "n", "ttl"}},
		{"UPDATE t SET n = ?, m = 'x' WHERE id = ?", true, "UPDATE ... SET col = value", "t", []string{"n", "id"}},
		{"UPDATE ks.counts SET c = c + ? WHERE k = ?", false, "c = c + ? is a counter update or a list append", "counts", []string{"c", "k"}},
		{"UPDATE counts SET c = c - 1 WHERE k = :k", false, "counter update", "counts", []string{"k"}},
		{"UPDATE t SET l = l + ['a'] WHERE k = ?", false, "appends to a list", "t", []string{"k"}},
		{"UPDATE t SET l = ? + l WHERE k = ?", false, "prepends", "t", []string{"l", "k"}},
		{"UPDATE t SET s = s + {'a'} WHERE k = ?", true, "", "t", []string{"k"}},
		{"UPDATE t SET l = l - ['a'] WHERE k = ?", true, "", "t", []string{"k"}},
		{"UPDATE t SET m['k'] = ? WHERE id = ?", true, "", "t", []string{"m", "id"}},
		{"UPDATE t SET m[:key] = :val, n = ? WHERE id = ?", true, "", "t", []string{"key", "val", "n", "id"}},
		{"UPDATE t USING TTL :ttl SET n = :n WHERE a = :a AND b = :b IF EXISTS", true, "", "t", []string{"ttl", "n", "a", "b"}},
		{"DELETE FROM t WHERE id = ?", true, "DELETE", "t", []string{"id"}},
		{"DELETE n FROM ks.t WHERE id = ? IF n = ?", true, "", "t", []string{"id", "n"}},
		{`INSERT INTO "Quoted" ("Id") VALUES (?);`, true, "", "Quoted", []string{"Id"}},
		{"INSERT INTO t (id, u) VALUES (?, 123e4567-e89b-12d3-a456-426614174000) -- comment", true, "", "t", []string{"id"}},
	}
	for _, c := range cases {
		st, err := ParseStatement(c.cql)
		if err != nil {
			t.Errorf("%s: %v", c.cql, err)
			continue
		}
		if st.Idempotent != c.idempotent || !strings.Contains(st.Why, c.why) || st.Table != c.table {
			t.Errorf("%s: idempotent %v (%s), table %q", c.cql, st.Idempotent, st.Why, st.Table)
		}
		var fields []string
		for _, m := range st.Markers {
			fields = append(fields, m.Field())
		}
		if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
			t.Errorf("%s: fields %v, want %v", c.cql, fields, c.fields)
		}
	}
}

func TestParseStatementRefuses(t *testing.T) {
	for _, c := range []struct{ cql, want string }{
		{"SELECT * FROM t", "INSERT, UPDATE or DELETE"},
		{"BEGIN BATCH INSERT INTO t (a) VALUES (?) APPLY BATCH", "batch"},
		{"INSERT INTO t (a, b) VALUES (?)", "2 columns but 1 values"},
		{"INSERT INTO t (a) VALUES (?, ?)", "more values than columns"},
		{"INSERT INTO t JSON ?", "JSON"},
		{"UPDATE t SET a = ?", "WHERE"},
		{"INSERT INTO t (a) VALUES ('x) ", "unterminated"},
		{"INSERT INTO t (a) VALUES (?) USING TTL ?", "named marker"},
		{"INSERT INTO t (a) VALUES (?) garbage", "unexpected text"},
	} {
		_, err := ParseStatement(c.cql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.cql, err, c.want)
		}
	}
}

func FuzzParseStatement(f *testing.F) {
	f.Add("UPDATE ks.c SET n = n + :d WHERE k = :k")
	f.Add("INSERT INTO t (a, b) VALUES (?, [1, 2]) IF NOT EXISTS USING TTL 5")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStatement(s)
		if err == nil && st.Why == "" {
			t.Errorf("%q: no reason", s)
		}
	})
}

func TestQualified(t *testing.T) {
	for _, c := range []struct{ cql, ks, want string }{
		{"INSERT INTO t (a) VALUES (?)", "ks", "INSERT INTO ks.t (a) VALUES (?)"},
		{"insert into  \"T\" (a) values (?)", "My_Ks", "insert into  \"My_Ks\".\"T\" (a) values (?)"},
		{"UPDATE other.t SET a = ? WHERE k = ?", "ks", "UPDATE other.t SET a = ? WHERE k = ?"},
		{"UPDATE t USING TTL :ttl SET a = :a WHERE k = :k", "ks", "UPDATE ks.t USING TTL :ttl SET a = :a WHERE k = :k"},
		{"DELETE a FROM t WHERE k = ?", "ks", "DELETE a FROM ks.t WHERE k = ?"},
	} {
		st, err := ParseStatement(c.cql)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Qualified(c.ks); got != c.want {
			t.Errorf("%s in %s: %s, want %s", c.cql, c.ks, got, c.want)
		}
	}
}
