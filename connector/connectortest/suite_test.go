package connectortest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/connector/connectortest"
	"github.com/sluicehq/sluice/internal/crashtest"
)

func TestMain(m *testing.M) { connectortest.Main(m) }

// The collection source and the crash-test file sink pass the suite.
var (
	generator = connectortest.Source[int64]{
		Name: "generator",
		Prepare: func(t testing.TB, id string, n int) connectortest.Params {
			return connectortest.Params{"n": strconv.Itoa(n)}
		},
		New: func(p connectortest.Params) (connector.Source[int64], error) {
			n, err := strconv.ParseInt(p["n"], 10, 64)
			return collection.Generate(n, func(i int64) int64 { return i }), err
		},
		Number: func(v int64) (int, error) { return int(v), nil },
	}
	txFiles = connectortest.Sink[string]{
		Name:    "txfile",
		Prepare: func(t testing.TB, id string) connectortest.Params { return connectortest.Params{"dir": t.TempDir()} },
		New: func(p connectortest.Params) (connector.Sink[string], error) {
			return crashtest.NewTxFileSink(p["dir"]), nil
		},
		Record: strconv.Itoa,
		Read: func(t testing.TB, p connectortest.Params) []string {
			got, err := crashtest.ReadCommitted(p["dir"])
			if err != nil {
				t.Fatal(err)
			}
			return got
		},
	}
	// broken claims exactly-once but appends every write at once: a
	// replay after a failure duplicates.
	broken = connectortest.Sink[string]{
		Name: "broken",
		Prepare: func(t testing.TB, id string) connectortest.Params {
			return connectortest.Params{"file": filepath.Join(t.TempDir(), "out")}
		},
		New: func(p connectortest.Params) (connector.Sink[string], error) {
			return &appendSink{path: p["file"]}, nil
		},
		Record: strconv.Itoa,
		Read: func(t testing.TB, p connectortest.Params) []string {
			b, err := os.ReadFile(p["file"])
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return strings.Fields(string(b))
		},
	}
)

func init() {
	connectortest.RegisterSource(generator)
	connectortest.RegisterSink(txFiles)
	connectortest.RegisterSink(broken)
}

func TestGenerator(t *testing.T) { connectortest.TestSource(t, generator) }

func TestTxFileSink(t *testing.T) { connectortest.TestSink(t, txFiles) }

// TestBrokenSinkFails: the suite finds the duplicates of a sink that
// claims more than it does.
func TestBrokenSinkFails(t *testing.T) {
	if os.Getenv("CONNECTORTEST_BROKEN") == "1" {
		connectortest.TestSink(t, broken)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSinkFails$/^(declares|failures)$", "-test.v")
	cmd.Env = append(os.Environ(), "CONNECTORTEST_BROKEN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil || !strings.Contains(out.String(), "not exactly once") {
		t.Fatalf("the suite passed a sink that duplicates on replay (err %v):\n%s", err, out.String())
	}
}

// appendSink appends every record to a file at once and declares
// exactly-once, which it is not.
type appendSink struct{ path string }

func (s *appendSink) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "claims too much"}
}

func (s *appendSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[string], error) {
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	return &appendWriter{f: f}, err
}

type appendWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *appendWriter) Write(_ context.Context, v string, _ int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.f.WriteString(v + "\n")
	return err
}
func (w *appendWriter) Flush(context.Context) error { return nil }
func (w *appendWriter) Close() error                { return w.f.Close() }
