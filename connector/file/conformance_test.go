package file_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
	"github.com/sluicehq/sluice/connector/file"
)

// The file source (bounded and continuous) and the file sink pass the
// connector conformance suite.

type numbered struct {
	N int `json:"n"`
}

// writeNumbered writes the records 0..n-1 as JSON lines into three files
// under dir, with a bad line after every 100th record when bad.
func writeNumbered(t testing.TB, dir string, n int, bad bool) int {
	t.Helper()
	var files [3]strings.Builder
	nbad := 0
	for i := range n {
		fmt.Fprintf(&files[i%3], "{\"n\":%d}\n", i)
		if bad && i%100 == 0 {
			files[i%3].WriteString("not json\n")
			nbad++
		}
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in-%d.jsonl", i)), []byte(files[i].String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return nbad
}

func fileSourceCase(name string, opts ...file.SourceOption) connectortest.Source[numbered] {
	return connectortest.Source[numbered]{
		Name: name,
		Prepare: func(t testing.TB, id string, n int) connectortest.Params {
			dir := t.TempDir()
			writeNumbered(t, dir, n, false)
			return connectortest.Params{"dir": dir}
		},
		PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
			dir := t.TempDir()
			return connectortest.Params{"dir": dir}, writeNumbered(t, dir, n, true)
		},
		New: func(p connectortest.Params) (connector.Source[numbered], error) {
			return file.NewSource(p["dir"], file.JSONLines[numbered](), opts...), nil
		},
		Number: func(v numbered) (int, error) { return v.N, nil },
	}
}

var (
	boundedFiles    = fileSourceCase("file-source")
	continuousFiles = fileSourceCase("file-source-continuous", file.Continuous(50*time.Millisecond))
	fileSink        = connectortest.Sink[string]{
		Name:    "file-sink",
		Prepare: func(t testing.TB, id string) connectortest.Params { return connectortest.Params{"dir": t.TempDir()} },
		New: func(p connectortest.Params) (connector.Sink[string], error) {
			return file.NewSink(p["dir"], file.TextEncoder[string]()), nil
		},
		Record: strconv.Itoa,
		Read:   readFinished,
	}
)

func init() {
	connectortest.RegisterSource(boundedFiles)
	connectortest.RegisterSource(continuousFiles)
	connectortest.RegisterSink(fileSink)
}

func TestConformanceSource(t *testing.T) { connectortest.TestSource(t, boundedFiles) }

func TestConformanceContinuousSource(t *testing.T) { connectortest.TestSource(t, continuousFiles) }

func TestConformanceSink(t *testing.T) { connectortest.TestSink(t, fileSink) }

// readFinished returns the lines of the finished (visible) files under
// the sink's directory.
func readFinished(t testing.TB, p connectortest.Params) []string {
	var lines []string
	err := filepath.WalkDir(p["dir"], func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if b := d.Name(); strings.HasPrefix(b, ".") || strings.HasPrefix(b, "_") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = append(lines, strings.Fields(string(data))...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}
