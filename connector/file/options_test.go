package file

import (
	"strings"
	"testing"
	"time"
)

func TestSourceOptions(t *testing.T) {
	cases := []struct {
		name string
		src  *Source[string]
		want Source[string] // path and format aside
	}{
		{"defaults", NewSource("in", Lines()), Source[string]{tolerance: DefaultLateFileTolerance, name: "file-source"}},
		{"options", NewSource("in", Lines(), Recursive(), Continuous(time.Second), LateFileTolerance(-1), MaxRecordSize(10), SourceName("s")),
			Source[string]{recursive: true, interval: time.Second, maxRecord: 10, name: "s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := *c.src
			got.path, got.format = "", nil
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSinkOptions(t *testing.T) {
	enc := RowEncoder(".txt", nil, func(dst []byte, s string) ([]byte, error) { return append(dst, s...), nil })
	now := func() time.Time { return time.Unix(7, 0) }
	rolling := RollingPolicy{MaxSize: 1}
	x := BucketFunc[string](func(string, int64, time.Time) (string, error) { return "x", nil })
	check := func(t *testing.T, s *Sink[string], prefix string, rolling RollingPolicy, bucketed bool) {
		t.Helper()
		if s.prefix != prefix || s.rolling != rolling || (s.now().Unix() == 7) != bucketed {
			t.Errorf("prefix %q rolling %+v now %v", s.prefix, s.rolling, s.now())
		}
		if b, _ := s.buckets.Bucket("v", 0, time.Time{}); (b == "x") != bucketed {
			t.Errorf("bucket %q", b)
		}
	}
	t.Run("defaults", func(t *testing.T) {
		check(t, NewSink("out", enc), "part", DefaultRollingPolicy(), false)
	})
	t.Run("options", func(t *testing.T) {
		check(t, NewSink("out", enc, PartPrefix("p"), Rolling(rolling), Clock(now), Buckets(x)), "p", rolling, true)
	})
	t.Run("buckets of another type", func(t *testing.T) {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "file.Buckets") {
				t.Errorf("recovered %v", r)
			}
		}()
		NewSink("out", enc, Buckets(ByProcessingTime[int]("", nil)))
	})
}
