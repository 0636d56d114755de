package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/state"
)

type inflightKV struct {
	Key   string
	Count int64
	When  time.Time
}

type collectInput[T any] struct{ got []Record[T] }

func (c *collectInput[T]) ProcessRecord(r Record[T]) error { c.got = append(c.got, r); return nil }
func (c *collectInput[T]) Open(*OperatorContext) error     { return nil }
func (c *collectInput[T]) Close() error                    { return nil }

// testGate returns the gate of receiver 0 of a one-sender edge into a
// collecting operator.
func testGate[T any](spec EdgeSpec, maxPar int) (*gate[T], *collectInput[T]) {
	l := spec.newLink(1, make([]chan struct{}, 1), maxPar, &Config{BatchSize: 8, ChannelCapacity: 1})
	target := &collectInput[T]{}
	g, err := l.gate(0, target, 0)
	if err != nil {
		panic(err)
	}
	g.setup(&NetEdge{From: &Vertex{Ops: []*OpSpec{{UID: "up"}}}, Port: "p", Input: 0, Spec: spec})
	return g.(*gate[T]), target
}

func TestInflightRoundTrip(t *testing.T) {
	const maxPar = 16
	hash := state.Hasher[string]()
	spec := NewEdge[inflightKV](Hash, func(v inflightKV) uint64 { return hash(v.Key) })
	g, _ := testGate[inflightKV](spec, maxPar)
	var recs []Record[inflightKV]
	for i := range 100 {
		recs = append(recs, Record[inflightKV]{Value: inflightKV{Key: fmt.Sprint("k", i%7), Count: int64(i), When: time.UnixMilli(int64(i)).UTC()}, Time: int64(i) - 50})
	}
	recs[3].Time = NoTimestamp
	g.captureBatch(recs[:40])
	g.captureBatch(recs[40:])
	sec, err := g.takeCapture()
	if err != nil {
		t.Fatal(err)
	}
	if sec.meta.Records != 100 || sec.meta.Part != Hash || sec.meta.From != "up" || sec.meta.Port != "p" || sec.meta.Type != "runtime.inflightKV" {
		t.Fatalf("section meta %+v", sec.meta)
	}
	if again, _ := g.takeCapture(); again.meta.Records != 0 || len(again.data) != 0 {
		t.Fatalf("takeCapture did not reset: %+v", again.meta)
	}
	empty := inflightSection{meta: inflightMeta{Part: Rebalance}}
	var buf bytes.Buffer
	if err := encodeInflightFile(&buf, []inflightSection{empty, sec}); err != nil {
		t.Fatal(err)
	}
	raws, err := parseInflightFile(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != 2 || raws[0].records != 0 || raws[1].records != 100 {
		t.Fatalf("sections %+v", raws)
	}
	codec := state.DefaultCodec[inflightKV]()
	var all []Record[inflightKV]
	if err := decodeInflight(codec, raws[1], true, false, state.KeyGroupRange{}, func(r Record[inflightKV]) error {
		all = append(all, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != 100 {
		t.Fatalf("decoded %d records", len(all))
	}
	for i := range all {
		if all[i].Time != recs[i].Time || all[i].Value.Key != recs[i].Value.Key || all[i].Value.Count != recs[i].Value.Count || !all[i].Value.When.Equal(recs[i].Value.When) {
			t.Fatalf("record %d: got %+v, want %+v", i, all[i], recs[i])
		}
	}
	// Rescaled to 3 subtasks: every record lands in exactly the subtask
	// owning its key group, in order.
	total := 0
	for s := range 3 {
		kgs := state.RangeForSubtask(maxPar, 3, s)
		if err := decodeInflight(codec, raws[1], true, true, kgs, func(r Record[inflightKV]) error {
			if kg := state.KeyGroupOf(hash(r.Value.Key), maxPar); !kgs.Contains(kg) {
				t.Fatalf("subtask %d got key group %d", s, kg)
			}
			total++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if total != 100 {
		t.Fatalf("rescaled replay kept %d of 100 records", total)
	}
}

func TestInflightReplayIntoGate(t *testing.T) {
	g, target := testGate[string](NewEdge[string](Rebalance, nil), 8)
	g.captureBatch([]Record[string]{{Value: "a", Time: 1}, {Value: "b", Time: 2}})
	sec, _ := g.takeCapture()
	var buf bytes.Buffer
	if err := encodeInflightFile(&buf, []inflightSection{sec}); err != nil {
		t.Fatal(err)
	}
	raws, _ := parseInflightFile(buf.Bytes())
	n, err := g.replay([]inflightPart{{file: "f", part: Rebalance}, {file: "f", part: Rebalance}},
		func(inflightPart) (rawSection, error) { return raws[0], nil })
	if err != nil || n != 4 {
		t.Fatalf("replayed %d: %v", n, err)
	}
	want := []Record[string]{{"a", 1}, {"b", 2}, {"a", 1}, {"b", 2}}
	if !reflect.DeepEqual(target.got, want) {
		t.Fatalf("replayed %v", target.got)
	}
}

func TestInflightCaptureEncodeError(t *testing.T) {
	g, _ := testGate[map[string]any](NewEdge[map[string]any](Rebalance, nil), 8)
	g.captureBatch([]Record[map[string]any]{{Value: map[string]any{"c": make(chan int)}}})
	if _, err := g.takeCapture(); err == nil {
		t.Fatal("a value JSON cannot encode must fail the capture")
	}
}

func TestParseInflightFileCorrupt(t *testing.T) {
	var buf bytes.Buffer
	g, _ := testGate[int64](NewEdge[int64](Rebalance, nil), 8)
	g.captureBatch([]Record[int64]{{Value: 1}, {Value: 2}})
	sec, _ := g.takeCapture()
	encodeInflightFile(&buf, []inflightSection{sec})
	good := buf.Bytes()
	for _, b := range [][]byte{nil, []byte("SLIF"), []byte("SLIF\x02\x00"), []byte("XLIF\x01\x00"), good[:len(good)-1], append(append([]byte(nil), good...), 0)} {
		if _, err := parseInflightFile(b); !errors.Is(err, ErrCorruptInflight) {
			t.Errorf("%q: got %v", b, err)
		}
	}
	raws, err := parseInflightFile(good)
	if err != nil {
		t.Fatal(err)
	}
	raws[0].records = 3 // claims more records than there are
	if err := decodeInflight(state.DefaultCodec[int64](), raws[0], false, false, state.KeyGroupRange{}, func(Record[int64]) error { return nil }); !errors.Is(err, ErrCorruptInflight) {
		t.Errorf("short section: got %v", err)
	}
}

func FuzzParseInflightFile(f *testing.F) {
	var buf bytes.Buffer
	hash := state.Hasher[string]()
	g, _ := testGate[inflightKV](NewEdge[inflightKV](Hash, func(v inflightKV) uint64 { return hash(v.Key) }), 128)
	g.captureBatch([]Record[inflightKV]{{Value: inflightKV{Key: "a", Count: 1}, Time: 5}, {Value: inflightKV{Key: "b"}, Time: NoTimestamp}})
	sec, _ := g.takeCapture()
	encodeInflightFile(&buf, []inflightSection{sec, {}})
	f.Add(buf.Bytes())
	f.Add([]byte("SLIF\x01\x01\x05\x03abc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := parseInflightFile(b)
		if err != nil {
			return
		}
		for _, r := range raws {
			decodeInflight(state.DefaultCodec[inflightKV](), r, true, true, state.RangeForSubtask(128, 3, 1), func(Record[inflightKV]) error { return nil })
			decodeInflight(state.DefaultCodec[string](), r, false, false, state.KeyGroupRange{}, func(Record[string]) error { return nil })
		}
	})
}

type okEmbedded struct{ A int }

//lint:ignore U1000 the unexported field is what the test checks
type badEmbedded struct{ b int }

type selfMarshaling struct{ hidden int }

func (s selfMarshaling) MarshalText() ([]byte, error) { return []byte(fmt.Sprint(s.hidden)), nil }
func (s *selfMarshaling) UnmarshalText(b []byte) error {
	_, err := fmt.Sscan(string(b), &s.hidden)
	return err
}

type recursive struct {
	Name     string
	Children []*recursive
}

func TestCheckInflightType(t *testing.T) {
	for _, tc := range []struct {
		v   any
		bad string // substring of the error; "" for none
	}{
		{int64(0), ""},
		{"", ""},
		{[]byte(nil), ""},
		{time.Time{}, ""},
		{inflightKV{}, ""},
		{struct {
			okEmbedded
			B map[string][]float64
		}{}, ""},
		{recursive{}, ""},
		{selfMarshaling{}, ""},
		{map[int]string{}, ""},
		{struct{ x int }{}, "field x is unexported"},
		{struct{ badEmbedded }{}, "field b is unexported"},
		{struct {
			A int `json:"-"`
		}{}, `tagged json:"-"`},
		{struct{ V any }{}, "interface"},
		{make(chan int), "chan"},
		{complex64(0), "complex64"},
		{map[[2]int]string{}, "map key"},
	} {
		err := checkInflightType(reflect.TypeOf(tc.v), map[reflect.Type]bool{})
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%T: unexpected %v", tc.v, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%T: got %v, want an error with %q", tc.v, err, tc.bad)
		}
	}
}
