package cassandra

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
)

func TestDirectWriterWritesAndFlushes(t *testing.T) {
	cl := standIn(t)
	s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, fast(cl)...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var in []kv
	for i := range 500 {
		in = append(in, kv{fmt.Sprintf("k%03d", i), int64(i)})
	}
	writeAll(t, w, in...)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rows(t, cl, "kv")
	if len(got) != 500 {
		t.Fatalf("%d rows after Flush, want 500", len(got))
	}
	for i, r := range got {
		if r["k"] != in[i].K || r["v"] != in[i].V {
			t.Fatalf("row %d: %v", i, r)
		}
	}
	if n := w.(*directWriter[kv]).inFlight(); n != 0 {
		t.Errorf("%d places of the semaphore held after Flush", n)
	}
}

// TestInFlightBound: with slow writes, the writer never has more than
// MaxInFlight requests outstanding, and Flush waits for all of them.
func TestInFlightBound(t *testing.T) {
	cl := standIn(t)
	cl.Inject(cqltest.Fault{Match: "INSERT INTO ks.kv", Delay: 20 * time.Millisecond, Times: -1})
	s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), MaxInFlight(4))...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 40 {
		writeAll(t, w, kv{fmt.Sprint(i), int64(i)})
		if n := w.(*directWriter[kv]).inFlight(); n > 4 {
			t.Fatalf("%d writes in flight, bound 4", n)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rows(t, cl, "kv")); got != 40 {
		t.Errorf("%d rows, want 40", got)
	}
	if m := cl.Nodes()[0].MaxInFlight(); m > 4 || m < 2 {
		t.Errorf("the node saw %d writes at once; want between 2 and the bound 4", m)
	}
}

// TestSemaphoreNeverLeaks drives the writer through every path a write
// can end on (success, retried timeouts, exhausted retries, permanent
// errors, dropped connections, a cancelled context, Close with writes
// outstanding) and checks that every place is freed and no goroutine is
// left behind.
func TestSemaphoreNeverLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	cases := []struct {
		name    string
		fault   cqltest.Fault
		wantErr bool
	}{
		{"ok", cqltest.Fault{Match: "nothing matches this"}, false},
		{"timeouts retried", cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeWriteTimeout, Times: 3}, false},
		{"unavailable retried", cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeUnavailable, Times: 3}, false},
		{"overloaded retried", cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeOverloaded, Times: 3}, false},
		{"retries exhausted", cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeWriteTimeout, Times: -1}, true},
		{"permanent", cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeUnauthorized, Times: -1}, true},
		{"connection dropped", cqltest.Fault{Match: "INSERT INTO ks.kv", Drop: true, Times: 2}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := standIn(t)
			s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), MaxInFlight(3), Retries(4))...)
			w, err := s.NewWriter(wctx{checkpointing: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			cl.Inject(c.fault)
			var werr error
			for i := range 30 {
				if werr = w.Write(context.Background(), kv{fmt.Sprint(i), 1}, 0); werr != nil {
					break
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ferr := w.Flush(ctx)
			if got := werr != nil || ferr != nil; got != c.wantErr {
				t.Errorf("write error %v, flush error %v; want an error: %v", werr, ferr, c.wantErr)
			}
			if errors.Is(ferr, context.DeadlineExceeded) {
				t.Fatal("Flush did not return: a write never ended")
			}
			if n := w.(*directWriter[kv]).inFlight(); n != 0 {
				t.Errorf("%d places held after Flush", n)
			}
			if !c.wantErr {
				if got := len(rows(t, cl, "kv")); got != 30 {
					t.Errorf("%d rows, want 30", got)
				}
			}
			w.Close()
		})
	}
	t.Run("close with writes outstanding", func(t *testing.T) {
		cl := standIn(t)
		cl.Inject(cqltest.Fault{Match: "INSERT INTO ks.kv", Delay: 200 * time.Millisecond, Times: -1})
		s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), MaxInFlight(2))...)
		w, err := s.NewWriter(wctx{checkpointing: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, kv{"a", 1}, kv{"b", 2})
		// The bound is reached: a third write waits, until its context ends.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := w.Write(ctx, kv{"c", 3}, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a write past the bound with an ended context: %v", err)
		}
		w.Close()
		if n := w.(*directWriter[kv]).inFlight(); n != 0 {
			t.Errorf("%d places held after Close", n)
		}
	})
	waitFor(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 }, "the writers' goroutines to end")
}

func TestRetriesAreBoundedAndTransient(t *testing.T) {
	cl := standIn(t)
	cl.CountStatements("INSERT INTO ks.kv")
	cl.Inject(cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeWriteTimeout, Times: -1})
	s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), Retries(3))...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeAll(t, w, kv{"a", 1})
	err = w.Flush(context.Background())
	var wt *gocql.RequestErrWriteTimeout
	if !errors.As(err, &wt) || connector.IsPermanent(err) {
		t.Fatalf("got %v; want a transient write timeout", err)
	}
	if n := cl.Count("INSERT INTO ks.kv"); n != 4 {
		t.Errorf("%d attempts, want 1 + 3 retries", n)
	}
	// The failure sticks: the job restarts from its checkpoint.
	if err := w.Write(context.Background(), kv{"b", 1}, 0); err == nil {
		t.Error("a write after a failure succeeded")
	}
}

func TestPermanentErrors(t *testing.T) {
	cl := standIn(t, cqltest.Credentials("writer", "s3cret-pw"))
	cases := []struct {
		name, stmt string
		opts       []Option
		fault      *cqltest.Fault
		want       []string
	}{
		{name: "missing table", stmt: "INSERT INTO nope (k, v) VALUES (?, ?)", want: []string{"table ks.nope does not exist", "create it"}},
		{name: "missing keyspace", stmt: "INSERT INTO other.kv (k, v) VALUES (?, ?)", want: []string{`keyspace "other" does not exist`, "CREATE KEYSPACE"}},
		{name: "missing session keyspace", stmt: "INSERT INTO ks.kv (k, v) VALUES (?, ?)", opts: []Option{Keyspace("gone")}, want: []string{`keyspace "gone" does not exist`}},
		{name: "missing column", stmt: "INSERT INTO kv (k, nope) VALUES (?, ?)", want: []string{`no column "nope"`}},
		{name: "wrong password", stmt: "INSERT INTO kv (k, v) VALUES (?, ?)", opts: []Option{Credentials("writer", "wrong-pw")}, want: []string{"login refused", "password_env"}},
		{name: "unauthorized", stmt: "INSERT INTO kv (k, v) VALUES (?, ?)", fault: &cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeUnauthorized}, want: []string{"permission refused", "grant"}},
		{name: "syntax", stmt: "INSERT INTO kv (k, v) VALUES (?, ?)", fault: &cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeSyntax}, want: []string{"invalid CQL", "fix the statement option"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := append(fast(cl), Credentials("writer", "s3cret-pw"))
			s := mustSink(t, c.stmt, bindKV, append(opts, c.opts...)...)
			w, err := s.NewWriter(wctx{checkpointing: true}, nil)
			if err == nil {
				if c.fault != nil {
					cl.Inject(*c.fault)
				}
				writeAll(t, w, kv{"a", 1})
				err = w.Flush(context.Background())
				w.Close()
			}
			if !connector.IsPermanent(err) {
				t.Fatalf("got %v; want a permanent error", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			for _, pw := range []string{"s3cret-pw", "wrong-pw"} {
				if strings.Contains(err.Error(), pw) {
					t.Errorf("the error shows the password: %v", err)
				}
			}
		})
	}
}

func TestBadRecords(t *testing.T) {
	cl := standIn(t)
	bind, err := RecordBinder("INSERT INTO kv (k, v, d) VALUES (:key, :v, :d)")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSink(t, "INSERT INTO kv (k, v, d) VALUES (:key, :v, :d)", bind, fast(cl)...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Integral floats and integers fit where the column says.
	if err := w.Write(context.Background(), connector.Record{"key": "a", "v": float64(3), "d": int64(2)}, 0); err != nil {
		t.Fatal(err)
	}
	// An absent field leaves its column unset.
	if err := w.Write(context.Background(), connector.Record{"key": "b", "v": int64(4)}, 0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []connector.Record{
		{"v": int64(1)},                   // no key
		{"key": "c", "v": "not a number"}, // a string for a bigint
	} {
		err := w.Write(context.Background(), bad, 0)
		if !errors.Is(err, connector.ErrBadRecord) {
			t.Errorf("%v: %v; want a bad record", bad, err)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rows(t, cl, "kv")
	if len(got) != 2 || got[0]["v"] != int64(3) || got[0]["d"] == nil || got[1]["d"] != nil {
		t.Errorf("rows %v", got)
	}
}

// TestSeveralContactPointsAndLocalDC: the driver finds the cluster from
// any contact point, and with LocalDC writes go to that data center's
// nodes only.
func TestSeveralContactPointsAndLocalDC(t *testing.T) {
	cl := standIn(t, cqltest.Nodes(4), cqltest.DataCenters("east", "west"))
	s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), Hosts(cl.Addrs()[1]), LocalDC("east"))...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 200 {
		writeAll(t, w, kv{fmt.Sprint(i), int64(i)})
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rows(t, cl, "kv")); got != 200 {
		t.Errorf("%d rows", got)
	}
	for _, n := range cl.Nodes() {
		if served := n.MaxInFlight() > 0; served != (n.DataCenter() == "east") {
			t.Errorf("node %s in %s served writes: %v", n.Addr(), n.DataCenter(), served)
		}
	}
}

// TestRetryKeepsTheRecordsOrder: a write that timed out and is retried
// after a later write of the same row does not overwrite it: every write
// keeps the timestamp taken when its record was written.
func TestRetryKeepsTheRecordsOrder(t *testing.T) {
	cl := standIn(t)
	cl.CountStatements("INSERT INTO ks.kv")
	cl.Inject(cqltest.Fault{Match: "INSERT INTO ks.kv", Code: cqltest.CodeWriteTimeout})
	s := mustSink(t, "INSERT INTO kv (k, v) VALUES (?, ?)", bindKV, append(fast(cl), RetryBackoff(300*time.Millisecond, time.Second))...)
	w, err := s.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeAll(t, w, kv{"a", 1})
	waitFor(t, 5*time.Second, func() bool { return cl.Count("INSERT INTO ks.kv") == 1 }, "the first write to time out")
	writeAll(t, w, kv{"a", 2})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := cl.Count("INSERT INTO ks.kv"); n != 3 {
		t.Errorf("%d writes, want 3 (one retried)", n)
	}
	if got := rows(t, cl, "kv"); len(got) != 1 || got[0]["v"] != int64(2) {
		t.Errorf("rows %v; want the later record's value 2", got)
	}
}
