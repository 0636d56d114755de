package file

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// BucketAssigner chooses the bucket of a record: the subdirectory of the
// sink's directory its part file is in, as a relative slash-separated path
// ("" for the sink's directory itself). No element of a bucket may start
// with "." or "_" (readers skip those), nor be "..".
type BucketAssigner[T any] interface {
	// Bucket returns the bucket of v, whose event timestamp is ts
	// (math.MinInt64 when it has none); now is the processing time.
	Bucket(v T, ts int64, now time.Time) (string, error)
}

// BucketFunc adapts a function to a BucketAssigner.
type BucketFunc[T any] func(v T, ts int64, now time.Time) (string, error)

// Bucket calls f.
func (f BucketFunc[T]) Bucket(v T, ts int64, now time.Time) (string, error) { return f(v, ts, now) }

// DateTimeBucketLayout is the default time layout of time buckets: one
// directory per hour, like "2024-05-01--13".
const DateTimeBucketLayout = "2006-01-02--15"

// NoBuckets puts every part file in the sink's directory.
func NoBuckets[T any]() BucketAssigner[T] {
	return BucketFunc[T](func(T, int64, time.Time) (string, error) { return "", nil })
}

// ByProcessingTime buckets records by the processing time at which they
// are written, formatted with layout (DateTimeBucketLayout when "") in
// loc (UTC when nil). A layout may contain "/" for nested directories.
func ByProcessingTime[T any](layout string, loc *time.Location) BucketAssigner[T] {
	layout, loc = timeDefaults(layout, loc)
	return BucketFunc[T](func(_ T, _ int64, now time.Time) (string, error) {
		return now.In(loc).Format(layout), nil
	})
}

// ErrNoTimestamp is returned by ByEventTime for a record without an event
// timestamp.
var ErrNoTimestamp = errors.New("record has no event timestamp")

// ByEventTime buckets records by their event timestamp (unix
// milliseconds), formatted with layout (DateTimeBucketLayout when "") in
// loc (UTC when nil). A record without a timestamp fails the job with
// ErrNoTimestamp.
func ByEventTime[T any](layout string, loc *time.Location) BucketAssigner[T] {
	layout, loc = timeDefaults(layout, loc)
	return BucketFunc[T](func(_ T, ts int64, _ time.Time) (string, error) {
		if ts == math.MinInt64 {
			return "", fmt.Errorf("%w: give the stream a timestamp assigner, or bucket by processing time", ErrNoTimestamp)
		}
		return time.UnixMilli(ts).In(loc).Format(layout), nil
	})
}

func timeDefaults(layout string, loc *time.Location) (string, *time.Location) {
	if layout == "" {
		layout = DateTimeBucketLayout
	}
	if loc == nil {
		loc = time.UTC
	}
	return layout, loc
}

// ByField buckets records by field(v), such as a country or a tenant. The
// value must be a valid bucket (see BucketAssigner); an invalid one fails
// the job.
func ByField[T any](field func(v T) string) BucketAssigner[T] {
	return BucketFunc[T](func(v T, _ int64, _ time.Time) (string, error) { return field(v), nil })
}

// checkBucket refuses buckets that would escape the sink's directory or
// hide their files from readers.
func checkBucket(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > 4096 {
		return fmt.Errorf("file sink: bucket %.64q... is longer than 4096 bytes", id)
	}
	for _, el := range strings.Split(id, "/") {
		switch {
		case el == "":
			return fmt.Errorf("file sink: bucket %q has an empty element (leading, trailing or double \"/\")", id)
		case el == "." || el == "..":
			return fmt.Errorf("file sink: bucket %q has a %q element", id, el)
		case hidden(el):
			return fmt.Errorf("file sink: bucket %q has an element starting with %q: readers skip such directories", id, el[:1])
		case strings.ContainsAny(el, "\x00\\"):
			return fmt.Errorf("file sink: bucket %q has a NUL or backslash", id)
		}
	}
	return nil
}
