package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests use the Redis server on 127.0.0.1:6379 (or SLUICE_REDIS_URL),
// each under a key prefix of its own that it deletes at the end; tests
// that change the server's configuration start a redis-server of their
// own on a free port.

const startHint = "start one with scripts/redis-up (redis-server on 127.0.0.1:6379), or set SLUICE_REDIS_URL"

func serverURL() string {
	if u := os.Getenv("SLUICE_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// needRedis returns the URL of the shared test server and a client, or
// skips (fails under CI) when none answers.
func needRedis(t testing.TB) (string, *redis.Client) {
	t.Helper()
	u := serverURL()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	cl := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cl.Ping(ctx).Err(); err != nil {
		cl.Close()
		msg := fmt.Sprintf("no Redis server at %s (%v): %s", redact(u), err, startHint)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { cl.Close() })
	return u, cl
}

// prefix returns a key prefix unique to the test, whose keys (and fence
// keys under it) are deleted when the test ends.
func prefix(t testing.TB, cl *redis.Client) string {
	var b [6]byte
	rand.Read(b[:])
	p := "sluice-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deletePrefix(cl, p) })
	return p
}

func deletePrefix(cl redis.UniversalClient, p string) {
	ctx := context.Background()
	iter := cl.Scan(ctx, 0, p+"*", 1000).Iterator()
	for iter.Next(ctx) {
		cl.Del(ctx, iter.Val())
	}
}

// startServer starts a redis-server of the test's own on a free port with
// extra arguments, and returns its URL.
func startServer(t testing.TB, args ...string) string {
	t.Helper()
	port := launch(t, append([]string{"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)...)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// launch runs redis-server with args (a configuration file first, if
// any) on a free port of 127.0.0.1 until the test ends, and returns the
// port once it answers.
func launch(t testing.TB, args ...string) int {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed (apt-get install redis-server)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var all []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		all, args = append(all, args[0]), args[1:]
	}
	all = append(all, "--port", strconv.Itoa(port), "--bind", "127.0.0.1")
	cmd := exec.Command(path, append(all, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer cl.Close()
	waitFor(t, 10*time.Second, func() bool { return cl.Ping(context.Background()).Err() == nil }, "redis-server on port "+strconv.Itoa(port))
	return port
}

func waitFor(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testCtx struct {
	subtask, par  int
	checkpointing bool
}

func (c testCtx) Subtask() int         { return c.subtask }
func (c testCtx) Parallelism() int     { return max(c.par, 1) }
func (c testCtx) Checkpointing() bool  { return c.checkpointing }
func (c testCtx) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }
