package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

func TestOpenLocation(t *testing.T) {
	tmp := t.TempDir()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		location string
		opts     []storage.Option
		want     string // Location(), or "" for an error
		wantErr  string
	}{
		{location: filepath.Join(tmp, "a"), want: filepath.Join(tmp, "a")},
		{location: filepath.Join(tmp, "a") + "/", want: filepath.Join(tmp, "a")},
		{location: "rel/job", want: filepath.Join(cwd, "rel/job")},
		{location: "file://" + filepath.ToSlash(tmp) + "/b", want: filepath.Join(tmp, "b")},
		{location: "file://localhost" + filepath.ToSlash(tmp) + "/b", want: filepath.Join(tmp, "b")},
		{location: "mem://", want: "mem://"},
		{location: "mem://jobs/job-1", want: "mem://jobs/job-1"},
		{location: "mem://?prefix=jobs/job-1/", want: "mem:///jobs/job-1"},
		{location: "mem://?nomd5=true", want: "mem://?nomd5=true"},
		{location: "", wantErr: "empty location"},
		{location: "file://host/x", wantErr: "file:///absolute/path"},
		{location: "file://" + filepath.ToSlash(tmp) + "?x=1", wantErr: "no query"},
		{location: file, wantErr: "not a directory"},
		{location: "mem://b/a?prefix=c", wantErr: "not both"},
		{location: "mem://b/a//c", wantErr: "clean form"},
		{location: "mem://?key=x", wantErr: "key parameter"},
		{location: "nosuchscheme://bucket/x", wantErr: "nosuchscheme"},
		// This test links the s3 driver only.
		{location: "gs://bucket/jobs/job-1", wantErr: `import _ "github.com/sluicehq/sluice/checkpoint/storage/gcs"`},
		{location: "azblob://container/job-1", wantErr: `import _ "github.com/sluicehq/sluice/checkpoint/storage/azure"`},
		{location: "mem://", opts: []storage.Option{storage.WithFS(storage.OSFS())}, wantErr: "only to local"},
	}
	for _, c := range cases {
		t.Run(c.location, func(t *testing.T) {
			s, err := storage.Open(context.Background(), c.location, c.opts...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Open = %v, want error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Location(); got != c.want {
				t.Errorf("Location = %q, want %q", got, c.want)
			}
		})
	}
}

// TestOpenMemURL runs a checkpoint through a storage opened from a mem://
// URL with a directory, and loads it by its full path.
func TestOpenMemURL(t *testing.T) {
	ctx := context.Background()
	s, err := storage.Open(ctx, "mem://jobs/job-1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp := commit(t, s, 1, storage.KindCheckpoint, twoFiles, "p")
	if cp.Path != "mem://jobs/job-1/chk-1" {
		t.Errorf("Path = %q", cp.Path)
	}
	got, err := s.Load(ctx, cp.Path)
	if err != nil || got.ID != 1 {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if _, err := s.Load(ctx, "mem://jobs/job-2/chk-1"); err == nil {
		t.Error("Load from another directory of the bucket succeeded")
	}
}

func TestOpenBucketErrors(t *testing.T) {
	if _, err := storage.OpenBucket(nil, "x"); err == nil {
		t.Error("OpenBucket(nil) succeeded")
	}
}

func TestS3Location(t *testing.T) {
	ctx := context.Background()
	q := s3Server(t)
	s, err := storage.Open(ctx, "s3://sluice?prefix=jobs/job-1/&"+q)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.Location(), "s3://sluice/jobs/job-1?") {
		t.Errorf("Location = %q", s.Location())
	}
	cp := commit(t, s, 1, storage.KindCheckpoint, twoFiles, "")
	if cp.Path != "s3://sluice/jobs/job-1/chk-1" {
		t.Errorf("Path = %q", cp.Path)
	}
	// The same directory opened by path sees the checkpoint.
	s2, err := storage.Open(ctx, "s3://sluice/jobs/job-1?"+q)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, _, err := s2.Latest(ctx)
	if err != nil || got == nil || got.ID != 1 {
		t.Fatalf("Latest = %v, %v", got, err)
	}
	if b, err := readFile(s2, got, "op-1-0.state"); err != nil || string(b) != twoFiles["op-1-0.state"] {
		t.Fatalf("read = %q, %v", b, err)
	}
}
