package cassandra

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/cassandra/cqltest"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// The conformance cases, each against a stand-in cluster started by
// Prepare in the test process (the SIGKILL check's child processes reach
// it by its addresses): an idempotent INSERT (exactly-once by flushing on
// barriers), a counter update in write-ahead mode (exactly-once), and the
// same counter update written directly (at-least-once). Output is read
// record by record: the INSERT's rows by their seq; a counter per record
// (k = i), read as i repeated by the counter's value.

func conformancePrepare(t testing.TB, id string) connectortest.Params {
	cl := standIn(t, cqltest.Nodes(2))
	return connectortest.Params{"hosts": strings.Join(cl.Addrs(), ","), "id": id}
}

func conformanceNew(stmt string, bind func(int) []any, opts ...Option) func(p connectortest.Params) (connector.Sink[int], error) {
	return func(p connectortest.Params) (connector.Sink[int], error) {
		return NewSink(stmt, func(i int) ([]any, error) { return bind(i), nil },
			append([]Option{Hosts(strings.Split(p["hosts"], ",")...), Keyspace("ks"),
				RetryBackoff(10*time.Millisecond, 200*time.Millisecond)}, opts...)...)
	}
}

// conformanceRows reads table from the stand-in at p's addresses.
func conformanceRows(t testing.TB, p connectortest.Params, table string, line func(r map[string]any) []string) []string {
	t.Helper()
	// The cluster is the one Prepare started in this process: find it by
	// its first address.
	cl := liveClusters.get(strings.Split(p["hosts"], ",")[0])
	if cl == nil {
		t.Fatalf("no stand-in cluster at %s", p["hosts"])
	}
	var out []string
	for _, r := range rows(t, cl, table) {
		out = append(out, line(r)...)
	}
	return out
}

func readSeqs(t testing.TB, p connectortest.Params) []string {
	return conformanceRows(t, p, "events", func(r map[string]any) []string {
		return []string{strconv.Itoa(int(r["seq"].(int32)))}
	})
}

func readCounts(t testing.TB, p connectortest.Params) []string {
	return conformanceRows(t, p, "counts", func(r map[string]any) []string {
		var out []string
		for range r["n"].(int64) {
			out = append(out, r["k"].(string))
		}
		return out
	})
}

var (
	insertIdempotent = connectortest.Sink[int]{Name: "cassandra-insert", Prepare: conformancePrepare,
		New: conformanceNew("INSERT INTO events (k, seq, body) VALUES (?, ?, ?)",
			func(i int) []any { return []any{"k" + strconv.Itoa(i%5), i, "r" + strconv.Itoa(i)} }),
		Record: func(i int) int { return i }, Read: readSeqs}
	counterWriteAhead = connectortest.Sink[int]{Name: "cassandra-counter-write-ahead", Prepare: conformancePrepare,
		New: conformanceNew("UPDATE counts SET n = n + 1 WHERE k = ?",
			func(i int) []any { return []any{strconv.Itoa(i)} }, WriteAhead("conformance/counter"), CommitChunk(8)),
		Record: func(i int) int { return i }, Read: readCounts}
	counterDirect = connectortest.Sink[int]{Name: "cassandra-counter-at-least-once", Prepare: conformancePrepare,
		New: conformanceNew("UPDATE counts SET n = n + 1 WHERE k = ?",
			func(i int) []any { return []any{strconv.Itoa(i)} }),
		Record: func(i int) int { return i }, Read: readCounts}
)

func init() {
	connectortest.RegisterSink(insertIdempotent)
	connectortest.RegisterSink(counterWriteAhead)
	connectortest.RegisterSink(counterDirect)
}

func TestConformanceInsert(t *testing.T)            { connectortest.TestSink(t, insertIdempotent) }
func TestConformanceCounterWriteAhead(t *testing.T) { connectortest.TestSink(t, counterWriteAhead) }

func TestConformanceCounterAtLeastOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestConformanceInsert covers the direct writer")
	}
	connectortest.TestSink(t, counterDirect)
}
