package cqltest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

func newSession(t *testing.T, cl *Cluster, keyspace string, tune ...func(*gocql.ClusterConfig)) *gocql.Session {
	t.Helper()
	cc := gocql.NewCluster(cl.Addrs()...)
	cc.Keyspace = keyspace
	cc.Timeout = 5 * time.Second
	cc.ConnectTimeout = 5 * time.Second
	cc.ProtoVersion = 4
	cc.NumConns = 1
	for _, f := range tune {
		f(cc)
	}
	s, err := cc.CreateSession()
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func startCluster(t *testing.T, opts ...Option) *Cluster {
	t.Helper()
	cl, err := NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := cl.Exec("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE ks.kv (k text PRIMARY KEY, v bigint, tags list<text>)",
		"CREATE TABLE ks.counts (k text, b int, n counter, PRIMARY KEY ((k), b))"); err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestDriverSession(t *testing.T) {
	cl := startCluster(t, Nodes(3), DataCenters("dc1", "dc2"))
	s := newSession(t, cl, "ks")
	for i := range 5 {
		if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", string(rune('a'+i)), int64(i)).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Query("UPDATE kv SET tags = tags + ? WHERE k = ?", []string{"x", "y"}, "a").Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("UPDATE kv SET tags = tags + ? WHERE k = ?", []string{"z"}, "a").Exec(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Query("UPDATE counts SET n = n + ? WHERE k = ? AND b = ?", int64(2), "c", 1).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	var v int64
	var tags []string
	if err := s.Query("SELECT v, tags FROM kv WHERE k = ?", "a").Scan(&v, &tags); err != nil {
		t.Fatal(err)
	}
	if v != 0 || len(tags) != 3 || tags[2] != "z" {
		t.Errorf("got v=%d tags=%v", v, tags)
	}
	var n int64
	if err := s.Query("SELECT n FROM counts WHERE k = 'c' AND b = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("counter %d, want 6", n)
	}
	var count int64
	if err := s.Query("SELECT count(*) FROM kv").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 5 {
		t.Errorf("count %d", count)
	}
	// A batch of prepared statements.
	b := s.NewBatch(gocql.LoggedBatch)
	b.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "b1", int64(10))
	b.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "b2", int64(11))
	if err := s.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	cb := s.NewBatch(gocql.CounterBatch)
	cb.Query("UPDATE counts SET n = n + ? WHERE k = ? AND b = ?", int64(1), "c", 1)
	cb.Query("UPDATE counts SET n = n + ? WHERE k = ? AND b = ?", int64(1), "c", 2)
	if err := s.ExecuteBatch(cb); err != nil {
		t.Fatal(err)
	}
	rows, err := cl.Store().Rows("ks", "counts")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["n"] != int64(7) || rows[1]["n"] != int64(1) {
		t.Errorf("counts %v", rows)
	}
	// A batch that fails is applied not at all.
	bad := s.NewBatch(gocql.LoggedBatch)
	bad.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "b3", int64(12))
	bad.Query("INSERT INTO kv (k, v) VALUES ('b4', 'text')")
	if err := s.ExecuteBatch(bad); err == nil {
		t.Fatal("a batch with an invalid statement succeeded")
	}
	if rows, _ := cl.Store().Rows("ks", "kv"); len(rows) != 7 {
		t.Errorf("after the failed batch: %d rows, want 7", len(rows))
	}
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?) USING TTL 1", "ttl", int64(1)).Exec(); err != nil {
		t.Fatal(err)
	}
	existing := map[string]any{}
	if applied, err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?) IF NOT EXISTS", "a", int64(99)).MapScanCAS(existing); err != nil || applied || existing["v"] != int64(0) {
		t.Errorf("IF NOT EXISTS on an existing row: applied %v, %v, existing %v", applied, err, existing)
	}
}

func TestDriverErrors(t *testing.T) {
	cl := startCluster(t)
	s := newSession(t, cl, "ks")
	var re gocql.RequestError
	for _, c := range []struct {
		q    string
		code int
	}{
		{"INSERT INTO nope (k) VALUES (?)", gocql.ErrCodeInvalid},
		{"INSERT INTO kv (k, v) VALUES (?, ?", gocql.ErrCodeSyntax},
		{"INSERT INTO kv (k, nope) VALUES (?, ?)", gocql.ErrCodeInvalid},
	} {
		err := s.Query(c.q, "a", 1).Exec()
		if !errors.As(err, &re) || re.Code() != c.code {
			t.Errorf("%s: %v, want code 0x%04x", c.q, err, c.code)
		}
	}
	cl.Inject(Fault{Match: "INSERT INTO kv", Code: CodeWriteTimeout})
	err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "w", int64(1)).Exec()
	var wt *gocql.RequestErrWriteTimeout
	if !errors.As(err, &wt) {
		t.Errorf("write timeout: %v", err)
	}
	cl.Inject(Fault{Match: "INSERT INTO kv", Code: CodeUnavailable})
	err = s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "w", int64(1)).Exec()
	var un *gocql.RequestErrUnavailable
	if !errors.As(err, &un) {
		t.Errorf("unavailable: %v", err)
	}
	if rows, _ := cl.Store().Rows("ks", "kv"); len(rows) != 0 {
		t.Errorf("failed writes were applied: %v", rows)
	}
	cl.Inject(Fault{Match: "INSERT INTO kv", Code: CodeWriteTimeout, Applied: true})
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "w", int64(1)).Exec(); err == nil {
		t.Error("no error")
	}
	if rows, _ := cl.Store().Rows("ks", "kv"); len(rows) != 1 {
		t.Errorf("a timed-out write with Applied was not applied: %v", rows)
	}
}

func TestDriverAuth(t *testing.T) {
	cl := startCluster(t, Credentials("user", "secret"))
	s := newSession(t, cl, "ks", func(c *gocql.ClusterConfig) {
		c.Authenticator = gocql.PasswordAuthenticator{Username: "user", Password: "secret"}
	})
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "a", int64(1)).Exec(); err != nil {
		t.Fatal(err)
	}
	cc := gocql.NewCluster(cl.Addrs()...)
	cc.Authenticator = gocql.PasswordAuthenticator{Username: "user", Password: "wrong"}
	cc.ConnectTimeout = 2 * time.Second
	if s, err := cc.CreateSession(); err == nil {
		s.Close()
		t.Fatal("a wrong password was accepted")
	}
}

func TestTTLExpiresAndUnprepared(t *testing.T) {
	cl := startCluster(t)
	s := newSession(t, cl, "ks")
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?) USING TTL 1", "gone", int64(1)).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "kept", int64(2)).Exec(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, _ := cl.Store().Rows("ks", "kv")
		if len(rows) == 1 && rows[0]["k"] == "kept" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the row with TTL 1 did not expire: %v", rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A node that forgot its prepared statements answers Unprepared; the
	// driver prepares again and the write goes through.
	cl.ForgetPrepared()
	cl.CountStatements("INSERT INTO kv")
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", "again", int64(3)).Exec(); err != nil {
		t.Fatal(err)
	}
	if rows, _ := cl.Store().Rows("ks", "kv"); len(rows) != 2 {
		t.Errorf("rows %v", rows)
	}
	// Named values are bound by name.
	q := s.Query("UPDATE kv SET v = :v WHERE k = :k")
	q.Bind(int64(9), "kept")
	if err := q.Exec(); err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := s.Query("SELECT v FROM kv WHERE k = ?", "kept").Scan(&v); err != nil || v != 9 {
		t.Errorf("v = %d, %v", v, err)
	}
}

func TestRangeDeleteAndClusteringOrder(t *testing.T) {
	cl := startCluster(t)
	if err := cl.Exec("CREATE TABLE ks.m (s text, c bigint, x int, PRIMARY KEY ((s), c, x))"); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, cl, "ks")
	for c := int64(-2); c < 5; c++ {
		for x := range 2 {
			if err := s.Query("INSERT INTO m (s, c, x) VALUES (?, ?, ?)", "p", c, x).Exec(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Query("DELETE FROM m WHERE s = ? AND c <= ?", "p", int64(1)).Exec(); err != nil {
		t.Fatal(err)
	}
	iter := s.Query("SELECT c, x FROM m WHERE s = ?", "p").Iter()
	var c int64
	var x int
	var got []int64
	for iter.Scan(&c, &x) {
		got = append(got, c)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[2 2 3 3 4 4]" {
		t.Errorf("after deleting c <= 1: %v", got)
	}
}
