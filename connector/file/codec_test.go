package file

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/connector/collection"
)

func TestSplitCodecRoundTrip(t *testing.T) {
	c := splitCodec{}
	for _, s := range []*Split{
		{Path: "/data/in/a.jsonl", Offset: 0, Line: 1, ModTime: 1714564800000000000},
		{Path: "rel/b.csv.gz", Offset: 1 << 40, Line: 1 << 33, ModTime: -5},
		{Path: "/ü/名前", Offset: 7, Line: 2, ModTime: math.MinInt64},
	} {
		b, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) || got.SplitID() != s.Path {
			t.Fatalf("got %+v, want %+v", got, s)
		}
	}
	if _, err := c.Encode(&collection.Split{}); err == nil {
		t.Fatal("encoding a foreign split must fail")
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 0, 2, 0}, {1, 1, 'a', 1, 0, 0}, {1, 1, 'a', 0, 2, 0, 9}} {
		if s, err := c.Decode(bad); err == nil {
			t.Fatalf("decode %v: got %+v, want an error", bad, s)
		}
	}
}

func FuzzSplitCodec(f *testing.F) {
	c := splitCodec{}
	for _, s := range []*Split{{Path: "/a", Line: 1}, {Path: "/x/y.gz", Offset: 99, Line: 4, ModTime: 12}} {
		b, _ := c.Encode(s)
		f.Add(b)
	}
	f.Add([]byte{1, 200, 200, 200, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := c.Decode(b)
		if err != nil {
			return
		}
		b2, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := c.Decode(b2)
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("re-decode: %+v, %v; want %+v", s2, err, s)
		}
	})
}

func TestEnumStateRoundTrip(t *testing.T) {
	st := &enumState{discovered: true, watermark: 100, maxSeen: 200,
		pending:   []*Split{{Path: "/d/a", Line: 1, ModTime: 150}, {Path: "/d/b", Offset: 9, Line: 3, ModTime: 160}},
		processed: map[string]int64{"/d/x": 120, "/d/y": 199}}
	got, err := decodeEnumState(st.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("got %+v, want %+v", got, st)
	}
	if !bytes.Equal(got.encode(), st.encode()) {
		t.Fatal("encoding is not deterministic")
	}
	empty := &enumState{processed: map[string]int64{}}
	if got, err := decodeEnumState(empty.encode()); err != nil || !reflect.DeepEqual(got, empty) {
		t.Fatalf("empty: %+v, %v", got, err)
	}
}

func FuzzEnumState(f *testing.F) {
	f.Add((&enumState{discovered: true, watermark: 1, maxSeen: 2, pending: []*Split{{Path: "/a", Line: 1}}, processed: map[string]int64{"/b": 3}}).encode())
	f.Add((&enumState{processed: map[string]int64{}}).encode())
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeEnumState(b)
		if err != nil {
			return
		}
		st2, err := decodeEnumState(st.encode())
		if err != nil || !reflect.DeepEqual(st, st2) {
			t.Fatalf("re-decode: %+v, %v; want %+v", st2, err, st)
		}
	})
}

func TestCommittableRoundTrip(t *testing.T) {
	p := pendingFile{bucket: "2024-05-01--12/eu", final: "part-0-3.jsonl", temp: ".part-0-3.inprogress.0123", size: 4096}
	got, err := decodeCommittable(encodeCommittable(&p))
	if err != nil || got != p {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []pendingFile{
		{bucket: "../x", final: "part-0-1", temp: ".t"},
		{final: "_part", temp: ".t"},
		{final: "a/b", temp: ".t"},
		{final: "part", temp: "visible"},
	} {
		if _, err := decodeCommittable(encodeCommittable(&bad)); err == nil {
			t.Fatalf("%+v: want an error", bad)
		}
	}
}

func FuzzCommittable(f *testing.F) {
	f.Add(encodeCommittable(&pendingFile{bucket: "b", final: "part-1-2.csv", temp: ".part-1-2.inprogress.ab", size: 10}))
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeCommittable(b)
		if err != nil {
			return
		}
		if p2, err := decodeCommittable(encodeCommittable(&p)); err != nil || p2 != p {
			t.Fatalf("re-decode: %+v, %v; want %+v", p2, err, p)
		}
	})
}

func TestWriterStateRoundTrip(t *testing.T) {
	st := &writerState{subtask: 1, parallelism: 3, next: 17, parts: []inProgressFile{
		{pendingFile: pendingFile{bucket: "", final: "part-1-16.txt", temp: ".part-1-16.inprogress.ff", size: 10}, opened: 99},
		{pendingFile: pendingFile{bucket: "k/v", final: "part-0-2.txt", temp: ".part-0-2.inprogress.00", size: 0}, opened: -1},
	}}
	got, err := decodeWriterState(st.encode())
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("got %+v, %v", got, err)
	}
	bad := &writerState{subtask: 3, parallelism: 3}
	if _, err := decodeWriterState(bad.encode()); err == nil {
		t.Fatal("subtask beyond parallelism must fail")
	}
}

func FuzzWriterState(f *testing.F) {
	f.Add((&writerState{subtask: 0, parallelism: 1, next: 3, parts: []inProgressFile{{pendingFile: pendingFile{final: "part-0-2", temp: ".p", size: 3}, opened: 5}}}).encode())
	f.Add([]byte{1, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeWriterState(b)
		if err != nil {
			return
		}
		st2, err := decodeWriterState(st.encode())
		if err != nil || !reflect.DeepEqual(st, st2) {
			t.Fatalf("re-decode: %+v, %v; want %+v", st2, err, st)
		}
	})
}
