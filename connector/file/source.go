package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Source reads the records of a file, or of the files of a directory, in
// the format of its Format. Build it with NewSource and its options.
type Source[T any] struct {
	path      string
	format    Format[T]
	recursive bool
	interval  time.Duration // > 0: continuous
	tolerance time.Duration // late-file tolerance of continuous discovery
	maxRecord int
	name      string
}

// DefaultLateFileTolerance is how much older than the newest file seen a
// new file may be and still be found by continuous discovery.
const DefaultLateFileTolerance = time.Hour

// SourceOption configures a Source.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	recursive bool
	interval  time.Duration
	tolerance time.Duration
	maxRecord int
	name      string
}

// Recursive also reads the files of subdirectories (whose names do not
// start with "." or "_"), at any depth (default: only the files of the
// directory itself).
func Recursive() SourceOption { return func(o *sourceOptions) { o.recursive = true } }

// Continuous makes the source unbounded (default: bounded): after the
// files present at the start, it lists the directory every interval and
// reads the files that appeared. It never ends.
//
// Files must appear complete: a program writing into the directory writes
// under a name starting with "." or "_" and renames the file when done, and
// does not change it afterwards.
func Continuous(interval time.Duration) SourceOption {
	return func(o *sourceOptions) { o.interval = interval }
}

// LateFileTolerance sets how much older (by modification time) than the
// newest file seen so far a new file may be and still be found by
// continuous discovery (default DefaultLateFileTolerance). Discovery
// remembers the files it handed out only while they are this recent, so
// the tolerance bounds that memory; a file moved into the directory with
// an older modification time (mv keeps it) is not found: touch it first,
// or raise the tolerance.
func LateFileTolerance(d time.Duration) SourceOption {
	return func(o *sourceOptions) { o.tolerance = max(d, 0) }
}

// MaxRecordSize bounds the size of one record (default
// DefaultMaxRecordSize); a longer record is a bad record.
func MaxRecordSize(n int) SourceOption { return func(o *sourceOptions) { o.maxRecord = n } }

// SourceName sets the name bad records carry as their Source (default
// "file-source").
func SourceName(name string) SourceOption { return func(o *sourceOptions) { o.name = name } }

// NewSource returns a source of the records of path: the file, or every
// file in the directory (not in its subdirectories unless Recursive)
// present when the job first starts (and, with Continuous, those that
// appear later). Names starting with "." or "_" are skipped (files being
// written by other programs, and the in-progress files of this package's
// sink). Files named *.gz are decompressed.
func NewSource[T any](path string, format Format[T], opts ...SourceOption) *Source[T] {
	o := sourceOptions{tolerance: DefaultLateFileTolerance, name: "file-source"}
	for _, opt := range opts {
		opt(&o)
	}
	return &Source[T]{path: filepath.Clean(path), format: format, recursive: o.recursive, interval: o.interval,
		tolerance: o.tolerance, maxRecord: o.maxRecord, name: o.name}
}

// Bounded reports whether the source reads only the files present at the
// start.
func (s *Source[T]) Bounded() bool { return s.interval <= 0 }

// Declare: exactly-once with checkpoints, because each file's position is
// checkpoint state; without them a restart reads every file again.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "no checkpoints: after a failure the job starts over and reads every file from its beginning again, so records are repeated (none is lost while the files are still there)"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce,
		Reason: "the file and byte offset of the next record of every file being read, the files not yet assigned and the recently discovered files are checkpoint state"}
}

// SplitCodec encodes file splits.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return splitCodec{} }

// fileEntry is a file found by discovery.
type fileEntry struct {
	path  string
	mtime int64 // unix nanoseconds
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// listFiles returns the regular files under root (root itself when it is
// a file), skipping hidden names below root, in path order.
func listFiles(root string, recursive bool) ([]fileEntry, error) {
	fi, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file source: %w (%w: the input path does not exist; check the source's path)", err, connector.ErrRejected)
	}
	if err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("file source: %s is neither a regular file nor a directory: %w", root, connector.ErrRejected)
		}
		return []fileEntry{{path: root, mtime: fi.ModTime().UnixNano()}}, nil
	}
	var out []fileEntry
	if err := listDir(root, recursive, &out); err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	slices.SortFunc(out, func(a, b fileEntry) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

func listDir(dir string, recursive bool, out *[]fileEntry) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		switch t := e.Type(); {
		case t.IsDir():
			if recursive {
				if err := listDir(p, recursive, out); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			continue
		case t.IsRegular(), t&fs.ModeSymlink != 0:
		default:
			continue
		}
		fi, err := os.Stat(p) // follows symbolic links (to files only)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		*out = append(*out, fileEntry{path: p, mtime: fi.ModTime().UnixNano()})
	}
	return nil
}
