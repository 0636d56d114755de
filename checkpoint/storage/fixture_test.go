package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/sluicehq/sluice/checkpoint/storage"
	_ "github.com/sluicehq/sluice/checkpoint/storage/s3"
)

// fixture is a Storage on one backend plus raw access to what it stored,
// by key relative to the job's directory ("chk-1/a.state"), for damaging
// checkpoints the way crashes and bit rot do.
type fixture struct {
	s    *storage.Storage
	logs *logBuffer

	read   func(t *testing.T, key string) []byte
	write  func(t *testing.T, key string, data []byte)
	remove func(t *testing.T, key string)
	exists func(t *testing.T, key string) bool
}

type backendCase struct {
	name string
	new  func(t *testing.T, opts ...storage.Option) *fixture
}

// backendCases are the backends every suite test runs against.
var backendCases = []backendCase{
	{"local", newLocalFixture},
	{"mem", newMemFixture},
	{"s3", newS3Fixture},
}

// forEachBackend runs test as a subtest per backend. (Not parallel: the s3
// fixture sets environment variables.)
func forEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) { test(t, bc.new(t)) })
	}
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func newLocalFixture(t *testing.T, opts ...storage.Option) *fixture {
	root := filepath.Join(t.TempDir(), "job-1")
	logger, logs := newLogger()
	s, err := storage.Open(context.Background(), root, append([]storage.Option{storage.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := func(key string) string { return filepath.Join(root, filepath.FromSlash(key)) }
	return &fixture{
		s: s, logs: logs,
		read: func(t *testing.T, key string) []byte {
			t.Helper()
			b, err := os.ReadFile(p(key))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		write: func(t *testing.T, key string, data []byte) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(p(key)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p(key), data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t *testing.T, key string) {
			t.Helper()
			if err := os.Remove(p(key)); err != nil {
				t.Fatal(err)
			}
		},
		exists: func(t *testing.T, key string) bool {
			_, err := os.Stat(p(key))
			return err == nil
		},
	}
}

// bucketFixture gives raw access through raw, a bucket on the same objects.
func bucketFixture(s *storage.Storage, logs *logBuffer, raw *blob.Bucket) *fixture {
	ctx := context.Background()
	return &fixture{
		s: s, logs: logs,
		read: func(t *testing.T, key string) []byte {
			t.Helper()
			b, err := raw.ReadAll(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		write: func(t *testing.T, key string, data []byte) {
			t.Helper()
			if err := raw.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t *testing.T, key string) {
			t.Helper()
			if err := raw.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		},
		exists: func(t *testing.T, key string) bool {
			t.Helper()
			ok, err := raw.Exists(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		},
	}
}

func newMemFixture(t *testing.T, opts ...storage.Option) *fixture {
	bucket := memblob.OpenBucket(nil)
	logger, logs := newLogger()
	s, err := storage.OpenBucket(bucket, "mem://", append([]storage.Option{storage.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return bucketFixture(s, logs, bucket)
}

// s3Server starts an in-process S3 server (gofakes3, in-memory backend) with
// bucket "sluice" and sets static credentials in the environment. It returns
// the query string for s3 URLs.
func s3Server(t *testing.T) string {
	t.Setenv("AWS_ACCESS_KEY_ID", "sluice-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sluice-test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	backend := s3mem.New()
	if err := backend.CreateBucket("sluice"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return fmt.Sprintf("endpoint=%s&region=us-east-1&use_path_style=true", srv.URL)
}

func newS3Fixture(t *testing.T, opts ...storage.Option) *fixture {
	ctx := context.Background()
	q := s3Server(t)
	logger, logs := newLogger()
	s, err := storage.Open(ctx, "s3://sluice/jobs/job-1?"+q, append([]storage.Option{storage.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := blob.OpenBucket(ctx, "s3://sluice?prefix=jobs/job-1/&"+q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return bucketFixture(s, logs, raw)
}

// commit writes checkpoint id of kind with the given files (name -> content)
// and payload, writing each file from its own goroutine.
func commit(t *testing.T, s *storage.Storage, id int64, kind storage.Kind, files map[string]string, payload string) *storage.Checkpoint {
	t.Helper()
	ctx := context.Background()
	p, err := s.Begin(ctx, id, kind)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p, files)
	cp, err := p.Commit(ctx, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// writeFiles writes and closes files in p concurrently, one goroutine per
// file, each content in several Writes.
func writeFiles(t *testing.T, p *storage.Pending, files map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for name, content := range files {
		w, err := p.Create(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for chunk := range strings.SplitAfterSeq(content, " ") {
				if _, err := io.WriteString(w, chunk); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readFile reads a state file of cp through the storage.
func readFile(s *storage.Storage, cp *storage.Checkpoint, name string) ([]byte, error) {
	r, err := s.OpenFile(context.Background(), cp, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
