package socket_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// serve accepts connections and writes lines to each; it closes each
// connection after sending.
func serve(t *testing.T, conns [][]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for _, lines := range conns {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			for _, l := range lines {
				fmt.Fprintln(c, l)
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestSourceReadsLinesAndEnds(t *testing.T) {
	addr := serve(t, [][]string{{"a", "b", "c"}})
	env := stream.New("socket")
	out := sluicetest.NewSink[string]()
	stream.FromSource(env, "socket", socket.NewSource(addr, socket.EndOnClose()), noWM()).SinkTo("out", out)
	sluicetest.Run(t, env)
	if got := out.Values(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
}

func TestSourceReconnects(t *testing.T) {
	// Two connections: the source reconnects after the first closes.
	addr := serve(t, [][]string{{"1", "2"}, {"3"}})
	env := stream.New("socket")
	out := sluicetest.NewSink[string]()
	stream.FromSource(env, "socket", socket.NewSource(addr, socket.ReconnectBackoff(5*time.Millisecond, 0)), noWM()).SinkTo("out", out)
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for out.Len() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	job.Wait()
	if got := out.Values(); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("got %v", got)
	}
}

func TestSourceLineTooLongFailsWithLocation(t *testing.T) {
	addr := serve(t, [][]string{{"ok", strings.Repeat("x", 100)}})
	env := stream.New("socket")
	stream.FromSource(env, "socket", socket.NewSource(addr, socket.EndOnClose(), socket.MaxLineBytes(10)), noWM()).
		SinkTo("out", sluicetest.NewSink[string]())
	err := sluicetest.RunErr(env, 10*time.Second)
	if !errors.Is(err, connector.ErrBadRecord) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v, want a bad record at line 2", err)
	}
}

func TestSinkWritesAndRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if first {
				// Drop the first connection at once: the sink must reconnect.
				first = false
				c.Close()
				continue
			}
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					mu.Lock()
					got = append(got, sc.Text())
					mu.Unlock()
				}
			}()
		}
	}()
	env := stream.New("socket-sink", stream.WithParallelism(2))
	stream.Generate(env, 1000, func(i int64) int64 { return i }).
		SinkTo("sock", socket.NewSink[int64](ln.Addr().String(), nil, socket.RetryBackoff(time.Millisecond)))
	sluicetest.Run(t, env)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("got %d distinct lines, want 1000 (at-least-once: none lost)", len(seen))
	}
}
