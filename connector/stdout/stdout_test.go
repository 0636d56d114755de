package stdout_test

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connector/stdout"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestLinesFromAllSubtasks(t *testing.T) {
	var buf lockedBuf
	env := stream.New("stdout", stream.WithParallelism(3))
	stream.Generate(env, 5000, func(i int64) int64 { return i }).
		SinkTo("print", stdout.To[int64](&buf, nil))
	sluicetest.Run(t, env)
	lines := strings.Split(strings.TrimSuffix(buf.b.String(), "\n"), "\n")
	if len(lines) != 5000 {
		t.Fatalf("got %d lines", len(lines))
	}
	slices.Sort(lines)
	if len(slices.Compact(lines)) != 5000 {
		t.Fatal("duplicate or interleaved lines")
	}
}
