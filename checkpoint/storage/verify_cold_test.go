//go:build linux && (amd64 || arm64)

package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkVerifyCold is BenchmarkVerify with the state files dropped from
// the page cache before each verification (posix_fadvise DONTNEED), so
// that they are read from the disk.
func BenchmarkVerifyCold(b *testing.B) {
	s, cp, root := bigCheckpoint(b)
	b.SetBytes(cp.Size())
	for b.Loop() {
		b.StopTimer()
		for _, f := range cp.Files {
			dropCache(b, filepath.Join(root, cp.Dir, f.Name))
		}
		b.StartTimer()
		if err := s.Verify(context.Background(), cp); err != nil {
			b.Fatal(err)
		}
	}
}

func dropCache(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const fadvDontNeed = 4
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		b.Fatalf("fadvise %s: %v", path, errno)
	}
}
