package kinesis

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connector"
)

// harness drives one enumerator and one reader of a source by hand, on a
// fake shard API.
type harness struct {
	t    *testing.T
	src  *Source[string]
	ectx *fakeEnumCtx
	enum connector.Enumerator
	rctx *fakeReaderCtx
	rd   connector.Reader[string]
	out  *fakeOutput[string]
}

func newHarness(t *testing.T, api API, enumState []byte, splits []connector.Split, opts ...SourceOption) *harness {
	t.Helper()
	opts = append([]SourceOption{Stream("s"), Client(api), PollInterval(time.Millisecond)}, opts...)
	src, err := NewSource(String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, src: src, ectx: newEnumCtx(1), rctx: &fakeReaderCtx{ctx: t.Context()}, out: &fakeOutput[string]{}}
	if h.enum, err = src.NewEnumerator(h.ectx, enumState); err != nil {
		t.Fatal(err)
	}
	if h.rd, err = src.NewReader(h.rctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.rd.Close(); h.enum.Close() })
	if len(splits) > 0 {
		if err := h.rd.AddSplits(splits); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.enum.AddReader(0); err != nil {
		t.Fatal(err)
	}
	if err := h.rd.Start(); err != nil {
		t.Fatal(err)
	}
	return h
}

// assign hands what the enumerator assigned to the reader; it returns
// the shard ids.
func (h *harness) assign() []string {
	var ids []string
	var splits []connector.Split
	for _, s := range h.ectx.take() {
		ids = append(ids, s.Shard)
		splits = append(splits, s)
	}
	if len(splits) > 0 {
		if err := h.rd.AddSplits(splits); err != nil {
			h.t.Fatal(err)
		}
	}
	slices.Sort(ids)
	return ids
}

// pollUntil polls the reader (and lets the enumerator handle the
// reader's requests) until cond holds.
func (h *harness) pollUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; emitted %v", what, h.out.vals)
		}
		st, err := h.rd.PollNext(h.out)
		if err != nil {
			h.t.Fatalf("poll: %v", err)
		}
		if st == connector.NothingAvailable {
			select {
			case <-h.rd.Available():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

func (h *harness) released(id string) func() bool {
	return func() bool { return slices.Contains(h.out.released, "s/"+id) }
}

func (h *harness) snapshot(id int64) (enum []byte, splits []connector.Split) {
	h.t.Helper()
	b, err := h.enum.Snapshot(id)
	if err != nil {
		h.t.Fatal(err)
	}
	sp, err := h.rd.SnapshotState(id)
	if err != nil {
		h.t.Fatal(err)
	}
	// Through the codec, as a checkpoint would.
	var out []connector.Split
	for _, s := range sp {
		raw, err := h.src.SplitCodec().Encode(s)
		if err != nil {
			h.t.Fatal(err)
		}
		d, err := h.src.SplitCodec().Decode(raw)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, d)
	}
	return b, out
}

// TestFinishedBetweenSnapshots: a shard that finishes after the
// enumerator's snapshot of a checkpoint and before the reader's stays in
// the reader's state as finished, so the restored job starts its children
// and neither reads it again nor loses it (FLINK-37627, FLINK-8484).
func TestFinishedBetweenSnapshots(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", true, nil, "a", "b")
	api.addShard("shard-1", false, []string{"shard-0"}, "c")
	api.addShard("shard-2", false, []string{"shard-0"}, "d")
	h := newHarness(t, api, nil, nil)
	if got := h.assign(); !slices.Equal(got, []string{"shard-0"}) {
		t.Fatalf("assigned %v first, want only the parent shard-0", got)
	}
	enumState, _ := h.snapshot(1) // the enumerator's part of checkpoint 2, before the reader's
	h.pollUntil("shard-0 to finish", h.released("shard-0"))
	splits, err := h.rd.SnapshotState(2)
	if err != nil {
		t.Fatal(err)
	}
	enumState2, err := h.enum.Snapshot(3)
	_ = enumState2
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 1 || !splits[0].(*Split).Finished {
		t.Fatalf("reader state after finishing shard-0 outside the enumerator's state: %+v, want shard-0 as finished", splits)
	}
	// Restore: the enumerator state from before the finish, the reader's
	// from after it.
	h2 := newHarness(t, api, enumState, splits)
	if got := h2.assign(); len(got) != 0 {
		t.Fatalf("restored enumerator assigned %v before learning that shard-0 finished", got)
	}
	h2.pollUntil("the finished report", func() bool { return h2.rctx.requests > 1 })
	if err := h2.enum.HandleSplitRequest(0); err != nil {
		t.Fatal(err)
	}
	if got := h2.assign(); !slices.Equal(got, []string{"shard-1", "shard-2"}) {
		t.Fatalf("after the restored report: assigned %v, want the children", got)
	}
	h2.pollUntil("the children's records", func() bool { return len(h2.out.vals) == 2 })
	all := append(append([]string(nil), h.out.vals...), h2.out.vals...)
	slices.Sort(all)
	if !slices.Equal(all, []string{"a", "b", "c", "d"}) {
		t.Fatalf("read %v across the restore, want a b c d once each", all)
	}
	// Once an enumerator snapshot holds the report, the reader drops it.
	if _, err := h2.enum.Snapshot(10); err != nil {
		t.Fatal(err)
	}
	sp, _ := h2.rd.SnapshotState(10)
	for _, s := range sp {
		if s.(*Split).Finished {
			t.Errorf("finished shard %s still in the reader's state after the enumerator's snapshot held it", s.SplitID())
		}
	}
	// And the enumerator's state of 10 remembers shard-0 as finished: a
	// restore of it never reads shard-0 again.
	b, _ := h2.enum.Snapshot(11)
	st, err := decodeEnumState(b)
	if err != nil {
		t.Fatal(err)
	}
	if st.shards["shard-0"].status != shardFinished {
		t.Errorf("shard-0 is %v in the enumerator's state, want finished", st.shards["shard-0"].status)
	}
}

// TestMergeWaitsForBothParents: a merged shard is read only after both
// parents finished, and its records come after theirs.
func TestMergeWaitsForBothParents(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", true, nil, "p0-1", "p0-2")
	api.addShard("shard-1", true, nil, "p1-1")
	api.addShard("shard-2", false, []string{"shard-0", "shard-1"}, "m-1", "m-2")
	h := newHarness(t, api, nil, nil)
	if got := h.assign(); !slices.Equal(got, []string{"shard-0", "shard-1"}) {
		t.Fatalf("assigned %v, want the parents", got)
	}
	h.pollUntil("both parents to finish", func() bool { return h.released("shard-0")() && h.released("shard-1")() })
	if err := h.enum.HandleSplitRequest(0); err != nil {
		t.Fatal(err)
	}
	if got := h.assign(); !slices.Equal(got, []string{"shard-2"}) {
		t.Fatalf("assigned %v after the parents finished, want the merged shard", got)
	}
	h.pollUntil("the merged shard", func() bool { return len(h.out.vals) == 5 })
	if i := slices.Index(h.out.vals, "m-1"); i != 3 {
		t.Errorf("merged shard's first record at %d in %v, want after the parents'", i, h.out.vals)
	}
	// Each record goes through its shard's output (its own watermark),
	// stamped with its arrival time; finished shards are released.
	for i, v := range h.out.vals {
		want := "s/shard-" + map[byte]string{'0': "0", '1': "1", 'm': "2"}[v[len(v)-3]]
		if v[0] == 'm' {
			want = "s/shard-2"
		}
		if h.out.splits[i] != want || h.out.ts[i] < 1000 {
			t.Errorf("record %s went to split %q at %d, want %s at its arrival time", v, h.out.splits[i], h.out.ts[i], want)
		}
	}
	if !slices.Contains(h.out.released, "s/shard-0") || !slices.Contains(h.out.released, "s/shard-1") {
		t.Errorf("released %v, want both parents", h.out.released)
	}
}

// TestMergeWithOneParentOpen: while one parent is still being read the
// child waits, whatever the other parent did.
func TestMergeWithOneParentOpen(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", true, nil, "x")
	api.addShard("shard-1", true, nil)
	api.addShard("shard-2", false, []string{"shard-0", "shard-1"})
	e := &enumerator{st: &enumState{shards: map[string]*shardInfo{
		"shard-0": {status: shardFinished}, "shard-1": {status: shardAssigned},
		"shard-2": {parents: []string{"shard-0", "shard-1"}}, "shard-3": {parents: []string{"shard-9"}}}}}
	if e.ready(e.st.shards["shard-2"]) {
		t.Error("the merged shard is ready while a parent is assigned")
	}
	if !e.ready(e.st.shards["shard-3"]) {
		t.Error("a shard whose parent expired (not listed) is not ready")
	}
}

// TestFetchThrottledAndExpired: throttled GetRecords back off, expired
// iterators are fetched again at the reader's position; nothing is lost
// or repeated.
func TestFetchThrottledAndExpired(t *testing.T) {
	api := &fakeAPI{throttleGets: 3, expireGets: 2}
	api.addShard("shard-0", false, nil, "1", "2", "3", "4", "5")
	h := newHarness(t, api, nil, nil, MaxRecordsPerFetch(2))
	h.assign()
	h.pollUntil("all records", func() bool { return len(h.out.vals) == 5 })
	if !slices.Equal(h.out.vals, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("read %v", h.out.vals)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if api.calls["GetShardIterator"] < 3 {
		t.Errorf("%d GetShardIterator calls, want the first and one after each expired iterator", api.calls["GetShardIterator"])
	}
	if lag := h.rd.(*reader[string]).MillisBehindLatest(); len(lag) != 1 {
		t.Errorf("lag per shard: %v", lag)
	}
}

// TestRestoreInsideAggregate: the position of a reader stopped in the
// middle of an aggregated record is its sequence and sub-sequence number;
// the restored reader emits the rest of that record and no more.
func TestRestoreInsideAggregate(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", false, nil)
	agg := aggregate([]subRecord{{"k", []byte("u0")}, {"k", []byte("u1")}, {"k", []byte("u2")}, {"k", []byte("u3")}, {"k", []byte("u4")}})
	api.shards[0].add(agg)
	api.shards[0].add([]byte("plain"))
	h := newHarness(t, api, nil, nil, MaxRecordsPerFetch(2))
	h.assign()
	h.pollUntil("two user records", func() bool { return len(h.out.vals) >= 2 })
	enum, splits := h.snapshot(1)
	sp := splits[0].(*Split)
	if sp.Sub != int64(len(h.out.vals)) || sp.Seq == "" {
		t.Fatalf("position after %d user records of the aggregate: %+v", len(h.out.vals), sp)
	}
	first := append([]string(nil), h.out.vals...)
	h2 := newHarness(t, api, enum, splits)
	h2.pollUntil("the rest", func() bool { return len(h2.out.vals) >= 6-len(first) })
	all := append(first, h2.out.vals...)
	if want := []string{"u0", "u1", "u2", "u3", "u4", "plain"}; !slices.Equal(all, want) {
		t.Fatalf("read %v across the restore, want %v", all, want)
	}
}

// TestStartPositions: latest skips closed shards and starts open ones at
// the listing time; at-timestamp starts every shard at the time.
func TestStartPositions(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", true, nil, "old")
	api.addShard("shard-1", false, []string{"shard-0"}, "x")
	for _, tc := range []struct {
		name   string
		start  StartPosition
		assign []string
		at     bool
	}{
		{"trim-horizon", TrimHorizon(), []string{"shard-0"}, false},
		{"latest", Latest(), []string{"shard-1"}, true},
		{"at-timestamp", AtTimestamp(time.UnixMilli(5000)), []string{"shard-0"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, api, nil, nil, StartFrom(tc.start))
			var got []string
			for _, s := range h.ectx.assigned[0] {
				got = append(got, s.Shard)
				if (s.StartAt > 0) != tc.at {
					t.Errorf("shard %s starts at %d", s.Shard, s.StartAt)
				}
			}
			if !slices.Equal(got, tc.assign) {
				t.Errorf("assigned %v, want %v", got, tc.assign)
			}
		})
	}
}

// TestEndOfStream: the marker ends its shard; once every shard ended the
// enumerator tells the readers there is no more.
func TestEndOfStream(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", false, nil, "1", "end", "after")
	h := newHarness(t, api, nil, nil, EndOfStream(func(b []byte) bool { return string(b) == "end" }))
	h.assign()
	h.pollUntil("the marker", h.released("shard-0"))
	deadline := time.Now().Add(5 * time.Second)
	for !h.ectx.noMore[0] {
		if time.Now().After(deadline) {
			t.Fatal("no NoMoreSplits after every shard ended")
		}
		if err := h.enum.HandleSplitRequest(0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	h.rd.NoMoreSplits()
	st, err := h.rd.PollNext(h.out)
	if err != nil || st != connector.EndOfInput {
		t.Fatalf("poll after the end: %v %v", st, err)
	}
	if !slices.Equal(h.out.vals, []string{"1"}) {
		t.Errorf("read %v, want what came before the marker", h.out.vals)
	}
}

// TestHangingListingDoesNotBlock: shard discovery runs beside the
// enumerator's goroutine (which also drives checkpoints): a ListShards
// that hangs holds up neither discovery rounds nor snapshots.
func TestHangingListingDoesNotBlock(t *testing.T) {
	api := &fakeAPI{}
	api.addShard("shard-0", false, nil, "1")
	h := newHarness(t, api, nil, nil)
	api.mu.Lock()
	api.hangList = true
	api.mu.Unlock()
	start := time.Now()
	for range 5 {
		if err := h.enum.(*enumerator).periodic(); err != nil {
			t.Fatal(err)
		}
		if _, err := h.enum.Snapshot(1); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("discovery rounds and snapshots took %v with ListShards hanging", d)
	}
	if got := h.enum.(*enumerator).started; got != 1 {
		t.Errorf("%d listings started while one hangs, want 1", got)
	}
}

// TestMissingStream: a stream that does not exist fails the job at once,
// naming it.
func TestMissingStream(t *testing.T) {
	src, err := NewSource(String(), Stream("nope"), Client(missingAPI{&fakeAPI{}}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.NewEnumerator(newEnumCtx(1), nil)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("error %v: want a permanent one naming the stream", err)
	}
}

type missingAPI struct{ *fakeAPI }

func (missingAPI) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, apiErr("ResourceNotFoundException")
}

func FuzzSplitCodec(f *testing.F) {
	f.Add(appendSplit(nil, &Split{Stream: "s", Shard: "shardId-000000000001", Seq: "4968", Sub: 2}))
	f.Add(appendSplit(nil, &Split{Stream: "s", Shard: "x", StartAt: 1, Finished: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSplit(b)
		if err != nil {
			return
		}
		again, err := decodeSplit(appendSplit(nil, s))
		if err != nil || *again != *s {
			t.Fatalf("split %+v does not round-trip: %+v %v", s, again, err)
		}
	})
}

func FuzzEnumState(f *testing.F) {
	st := &enumState{initialized: true, shards: map[string]*shardInfo{
		"a": {status: shardFinished}, "b": {parents: []string{"a"}, status: shardAssigned},
		"c": {parents: []string{"a", "b"}, startAt: 5}}}
	f.Add(st.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeEnumState(b)
		if err != nil {
			return
		}
		if _, err := decodeEnumState(st.encode()); err != nil {
			t.Fatalf("state does not round-trip: %v", err)
		}
	})
}

// TestReportAfterReset: a reader that finished a shard before the
// enumerator of its attempt reset the mailbox is woken by the reset and
// reports again, so the children are not left waiting.
func TestReportAfterReset(t *testing.T) {
	var mb mailbox
	r, err := newReader(&sourceConfig{}, &mb, String(), &fakeReaderCtx{ctx: t.Context()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.finished["s/a"] = &Split{Stream: "s", Shard: "a", Finished: true}
	r.report()
	select {
	case <-r.avail:
	default:
	}
	mb.reset()
	select {
	case <-r.Available():
	default:
		t.Fatal("the reset did not wake the reader")
	}
	r.report()
	if got := mb.take(); len(got) != 1 || got[0].id != "a" {
		t.Fatalf("after the reset the reader reported %v, want shard a", got)
	}
}
