package cassandra

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
)

type inc struct {
	K string
	N int64
}

func bindInc(v inc) ([]any, error) { return []any{v.N, v.K}, nil }

const counterStmt = "UPDATE counts SET n = n + ? WHERE k = ?"

// openAhead opens the write-ahead writer and committer of one subtask.
func openAhead[T any](t *testing.T, s *Sink[T], subtask int) (connector.Writer[T], connector.PreCommitter, connector.Committer) {
	t.Helper()
	ctx := wctx{subtask: subtask, parallelism: 2, checkpointing: true}
	w, err := s.NewWriter(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCommitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); c.Close() })
	return w, w.(connector.PreCommitter), c
}

func counters(t *testing.T, cl *cqltest.Cluster) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows(t, cl, "counts") {
		out[r["k"].(string)] = r["n"].(int64)
	}
	return out
}

// incs returns n increments by 1 over keys k0..k<keys-1>.
func incs(n, keys int) []inc {
	var out []inc
	for i := range n {
		out = append(out, inc{fmt.Sprintf("k%d", i%keys), 1})
	}
	return out
}

func wantCounts(t *testing.T, cl *cqltest.Cluster, n, keys int, times int64) {
	t.Helper()
	got := counters(t, cl)
	for k := range keys {
		want := int64((n-k+keys-1)/keys) * times
		if got[fmt.Sprintf("k%d", k)] != want {
			t.Fatalf("counters %v, want %d per key for %d increments over %d keys", got, want, n, keys)
		}
	}
}

func TestWriteAheadCountersOnCompletion(t *testing.T) {
	cl := standIn(t)
	s := mustSink(t, counterStmt, bindInc, append(fast(cl), WriteAhead("job/sink"), CommitChunk(10))...)
	if d := s.Declare(true); d.Guarantee != connector.ExactlyOnce {
		t.Fatalf("declared %v", d)
	}
	w, pre, c := openAhead(t, s, 0)
	writeAll(t, w, incs(95, 7)...)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := counters(t, cl); len(got) != 0 {
		t.Fatalf("rows written before the checkpoint completed: %v", got)
	}
	cm, err := pre.PreCommit(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cm) != 10 {
		t.Errorf("%d committables for 95 rows in chunks of 10", len(cm))
	}
	if err := c.Commit(context.Background(), 1, cm); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, cl, 95, 7, 1)
	// A restore commits the checkpoint's committables again: nothing
	// changes, in this committer or a new one.
	if err := c.Commit(context.Background(), 1, cm); err != nil {
		t.Fatal(err)
	}
	_, _, c2 := openAhead(t, s, 0)
	if err := c2.Commit(context.Background(), 1, cm); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, cl, 95, 7, 1)
	if got := len(rowsOf(t, cl, "sluice_commits_counts")); got != 10 {
		t.Errorf("%d markers, want 10", got)
	}
	// The next checkpoint's commit removes the markers of checkpoint 1,
	// which no restorable checkpoint holds any more.
	writeAll(t, w, incs(7, 7)...)
	cm2, err := pre.PreCommit(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(context.Background(), 2, cm2); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, cl, 102, 7, 1)
	for _, r := range rowsOf(t, cl, "sluice_commits_counts") {
		if r["checkpoint"] != int64(2) {
			t.Errorf("marker left: %v", r)
		}
	}
	// A job started afresh under the same sink id counts checkpoints from
	// 1 again: the markers of the earlier run do not make it skip rows.
	w3, pre3, c3 := openAhead(t, s, 0)
	writeAll(t, w3, incs(7, 7)...)
	for _, id := range []int64{1, 2} {
		cm, err := pre3.PreCommit(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := c3.Commit(context.Background(), id, cm); err != nil {
			t.Fatal(err)
		}
		writeAll(t, w3, incs(7, 7)...)
	}
	wantCounts(t, cl, 102+14, 7, 1)
}

func rowsOf(t *testing.T, cl *cqltest.Cluster, table string) []map[string]any {
	r, err := cl.Store().Rows("ks", table)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWriteAheadFailureWindows: a commit that fails between batches, or
// whose batch times out, is repeated without applying any batch twice.
func TestWriteAheadFailureWindows(t *testing.T) {
	cases := []struct {
		name  string
		fault cqltest.Fault
		fails bool // the first Commit fails
	}{
		{"timeout, batch applied", cqltest.Fault{Match: "applied = applied + 1", Skip: 3, Code: cqltest.CodeWriteTimeout, WriteType: "COUNTER", Applied: true}, false},
		{"timeout, batch lost", cqltest.Fault{Match: "applied = applied + 1", Skip: 3, Code: cqltest.CodeWriteTimeout, WriteType: "COUNTER"}, false},
		{"unavailable", cqltest.Fault{Match: "applied = applied + 1", Skip: 3, Code: cqltest.CodeUnavailable, Times: 2}, false},
		{"connection lost after the batch", cqltest.Fault{Match: "applied = applied + 1", Skip: 3, Drop: true, Applied: true}, false},
		{"crash between batches", cqltest.Fault{Match: "applied = applied + 1", Skip: 5, Code: cqltest.CodeWriteTimeout, Times: -1}, true},
		{"every batch applied and timed out", cqltest.Fault{Match: "applied = applied + 1", Skip: 5, Code: cqltest.CodeWriteTimeout, Times: -1, Applied: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := standIn(t)
			s := mustSink(t, counterStmt, bindInc, append(fast(cl), WriteAhead("job/sink"), CommitChunk(4), Retries(2))...)
			openAhead(t, s, 0) // subtask 0 creates the commit table
			w, pre, c := openAhead(t, s, 1)
			writeAll(t, w, incs(40, 5)...)
			cm, err := pre.PreCommit(context.Background(), 3)
			if err != nil {
				t.Fatal(err)
			}
			cl.Inject(tc.fault)
			err = c.Commit(context.Background(), 3, cm)
			if (err != nil) != tc.fails {
				t.Fatalf("commit: %v", err)
			}
			if err != nil {
				if connector.IsPermanent(err) {
					t.Fatalf("a timeout made the commit fail for good: %v", err)
				}
				cl.Clear()
				// The job restarts and commits the restored committables.
				_, _, c2 := openAhead(t, s, 1)
				if err := c2.Commit(context.Background(), 3, cm); err != nil {
					t.Fatal(err)
				}
			}
			wantCounts(t, cl, 40, 5, 1)
		})
	}
}

// TestWriteAheadListAppend: a list append (not idempotent) commits in
// logged batches; a logged batch that timed out after Cassandra logged it
// (write type BATCH) is not sent again.
func TestWriteAheadListAppend(t *testing.T) {
	cl := standIn(t)
	type tag struct{ K, T string }
	bind := func(v tag) ([]any, error) { return []any{[]string{v.T}, v.K}, nil }
	stmt := "UPDATE kv SET tags = tags + ? WHERE k = ?"
	s := mustSink(t, stmt, bind, append(fast(cl), WriteAhead("job/tags"), CommitChunk(3))...)
	if d := s.Declare(true); d.Guarantee != connector.ExactlyOnce {
		t.Fatalf("declared %v", d)
	}
	w, pre, c := openAhead(t, s, 0)
	for i := range 10 {
		writeAll(t, w, tag{"a", fmt.Sprint(i)})
	}
	cm, err := pre.PreCommit(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cl.CountStatements("tags = tags")
	cl.Inject(cqltest.Fault{Match: "INSERT INTO ks.sluice_commits", Skip: 1, Code: cqltest.CodeWriteTimeout, WriteType: "BATCH", Applied: true})
	if err := c.Commit(context.Background(), 1, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(context.Background(), 1, cm); err != nil {
		t.Fatal(err)
	}
	got := rows(t, cl, "kv")
	if len(got) != 1 || fmt.Sprint(got[0]["tags"]) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Fatalf("rows %v", got)
	}
	if n := cl.Count("tags = tags"); n != 4 {
		t.Errorf("%d batches sent for 4 chunks", n)
	}
	if len(rowsOf(t, cl, "sluice_commits")) != 4 {
		t.Errorf("markers %v", rowsOf(t, cl, "sluice_commits"))
	}
}

func TestWriteAheadCommitTableMissing(t *testing.T) {
	cl := standIn(t)
	s := mustSink(t, counterStmt, bindInc, append(fast(cl), WriteAhead("job/sink"), CreateCommitTables(false))...)
	_, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if !connector.IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"ks.sluice_commits_counts does not exist", "CREATE TABLE ks.sluice_commits_counts (sink text, subtask int, checkpoint bigint, epoch bigint"} {
		if !contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
}

func TestDecodeChunk(t *testing.T) {
	r := row{rawValue("abc"), rawValue(nil), rawValue{}}
	b := encodeChunk(chunkHeader{subtask: 3, epoch: -5, chunk: 7, floor: 41}, appendRow(appendRow(nil, r), r))
	h, rs, err := decodeChunk(b)
	if err != nil || h != (chunkHeader{3, -5, 7, 41}) || len(rs) != 2 || string(rs[1][0].(rawValue)) != "abc" || rs[1][1].(rawValue) != nil || rs[1][2].(rawValue) == nil {
		t.Fatalf("%v %v %v", h, rs, err)
	}
	for i := range b {
		decodeChunk(b[:i]) // must not panic
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk(chunkHeader{1, 9, 2, 3}, appendRow(nil, row{rawValue("x"), rawValue(nil)})))
	f.Add([]byte{'C', 1, 0, 0, 0, 5, 2, 200})
	f.Fuzz(func(t *testing.T, b []byte) { decodeChunk(b) })
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestWriteAheadCommitTableCreatedOnce: subtask 0 creates the commit
// table; the other subtasks wait for it instead of changing the schema
// too.
func TestWriteAheadCommitTableCreatedOnce(t *testing.T) {
	cl := standIn(t)
	cl.CountStatements("CREATE TABLE")
	s := mustSink(t, counterStmt, bindInc, append(fast(cl), WriteAhead("job/sink"))...)
	done := make(chan error, 2)
	for _, sub := range []int{1, 2} {
		go func() {
			w, err := s.NewWriter(wctx{subtask: sub, parallelism: 3, checkpointing: true}, nil)
			if err == nil {
				w.Close()
			}
			done <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // the others find no table and wait
	openAhead(t, s, 0)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := cl.Count("CREATE TABLE"); n != 1 {
		t.Errorf("%d CREATE TABLE statements, want 1", n)
	}
}
