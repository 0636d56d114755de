package pipeline

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// TestCheckpointConfig: every key of checkpoints: reaches the runtime's
// configuration.
func TestCheckpointConfig(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want runtime.CheckpointConfig
	}{
		{"{interval: 10s, unaligned: true, aligned_timeout: 30s, storage: /tmp/ck, retain: 5, timeout: 1m, min_pause: 1s, max_concurrent: 2, tolerable_failures: -1}",
			runtime.CheckpointConfig{Interval: 10 * time.Second, Mode: runtime.ExactlyOnce, Unaligned: true, AlignedTimeout: 30 * time.Second,
				Storage: "/tmp/ck", Retain: 5, Timeout: time.Minute, MinPause: time.Second, MaxConcurrent: 2, TolerableFailures: -1}},
		{"{interval: 1s, unaligned: true}", runtime.CheckpointConfig{Interval: time.Second, Unaligned: true}},
		{"{interval: 1s, mode: exactly-once, unaligned: false}", runtime.CheckpointConfig{Interval: time.Second}},
		{"{interval: 1s, mode: at-least-once}", runtime.CheckpointConfig{Interval: time.Second, Mode: runtime.AtLeastOnce}},
		{"{interval: 1s, incremental: true, max_deltas: 20}", runtime.CheckpointConfig{Interval: time.Second, Incremental: true, MaxDeltas: 20}},
	} {
		p, err := Parse("t.yaml", []byte(minimal+"checkpoints: "+c.yaml+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := Build(p, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Config().Checkpoint; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.yaml, got, c.want)
		}
	}
}

// TestUnalignedCheckpoints runs a job with unaligned checkpoints whose
// network edges carry records between operators of different parallelism
// and keyed records, stops it abruptly after a checkpoint that stored
// records in flight, and restores it, with unaligned checkpoints or
// without: every running count is written once. (The runtime refuses a
// job whose in-flight records would not survive their encoding, and
// replays them on restore.)
func TestUnalignedCheckpoints(t *testing.T) {
	const n, users = 30000, 7
	src := `
parallelism: 2
source:
  type: generator
  count: ` + fmt.Sprint(n) + `
  parallelism: 1
  fields: {user: "'u' + string(i % ` + fmt.Sprint(users) + `)", i: i}
steps:
  - filter: i >= 0
    parallelism: 3
  - key_by: user
  - aggregate: {n: count(), total: sum(i)}
    uid: counts
sink: {type: file, path: "${OUT}", parallelism: 1}
checkpoints: {interval: 10ms, unaligned: "${UNALIGNED}", storage: "${CK}"}
restart: {strategy: none}
`
	wantN, wantTotal := map[string]int64{}, map[string]int64{}
	for i := range int64(n) {
		u := fmt.Sprintf("u%d", i%users)
		wantN[u]++
		wantTotal[u] += i
	}
	for _, restored := range []string{"true", "false"} {
		t.Run("restored with unaligned "+restored, func(t *testing.T) {
			for try := 1; ; try++ {
				dir := t.TempDir()
				out := filepath.Join(dir, "out")
				vars := map[string]string{"OUT": out, "CK": filepath.Join(dir, "ck"), "UNALIGNED": "true"}
				var inflight int64
				runUntil(t, src, vars, func(ev runtime.JobEvent, _ *runtime.Job) bool {
					if ev.Kind == "checkpoint-completed" && ev.InflightRecords > 0 {
						inflight = ev.InflightRecords
						return true
					}
					return false
				})
				if inflight == 0 {
					if try == 5 {
						t.Fatalf("no checkpoint stored records in flight in %d tries", try)
					}
					t.Logf("try %d: no checkpoint with records in flight; again", try)
					continue
				}
				vars["UNALIGNED"] = restored
				if _, err := runRestored(t, src, vars); err != nil {
					t.Fatal(err)
				}
				t.Logf("try %d: restored a checkpoint with %d records in flight", try, inflight)
				checkRunningCounts(t, out, wantN, wantTotal)
				return
			}
		})
	}
}

// checkRunningCounts checks the output of a running count and sum per
// user: counts 1 to wantN[user], each once, the last with the total.
func checkRunningCounts(t *testing.T, out string, wantN, wantTotal map[string]int64) {
	t.Helper()
	seen := map[string]map[int64]bool{}
	final := map[string]Record{}
	for _, l := range readParts(t, out) {
		r, err := decodeJSONRecord([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		u, c := r["user"].(string), r["n"].(int64)
		if seen[u] == nil {
			seen[u] = map[int64]bool{}
		}
		if seen[u][c] {
			t.Fatalf("%s: count %d written twice", u, c)
		}
		seen[u][c] = true
		if c == wantN[u] {
			final[u] = r
		}
	}
	for u, c := range wantN {
		if int64(len(seen[u])) != c {
			t.Errorf("%s: %d counts written, want %d (1 to %d, each once)", u, len(seen[u]), c, c)
		}
		if final[u]["total"] != wantTotal[u] {
			t.Errorf("%s: final %v, want n %d total %d", u, final[u], c, wantTotal[u])
		}
	}
}

// TestInflightEncoding: keyed and wire records survive the JSON encoding
// of in-flight records with their types (integers stay integers).
func TestInflightEncoding(t *testing.T) {
	rec := Record{"i": int64(1 << 60), "f": 1.0, "s": "x", "b": true, "null": nil, "u": uint64(1 << 63),
		"l": []any{int64(1), 2.5, "y", nil}, "m": map[string]any{"k": int64(-3)}}
	codec := state.DefaultCodec[keyed]()
	for _, k := range []keyed{
		{key: `["a",1]`, vals: []any{"a", int64(1)}, rec: rec, args: []any{int64(7), nil, 1.5}},
		{key: `"a"`, vals: []any{"a"}, rec: Record{}},
	} {
		got, _, err := codec.Decode(codec.Append(nil, k))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Errorf("keyed:\n got %#v\nwant %#v", got, k)
		}
	}
	wc := state.DefaultCodec[wireRecord]()
	got, _, err := wc.Decode(wc.Append(nil, wireRecord{r: rec}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.r, rec) {
		t.Errorf("wire record:\n got %#v\nwant %#v", got.r, rec)
	}
	if _, _, err := wc.Decode(wc.Append(nil, wireRecord{})); err != nil {
		t.Errorf("nil record: %v", err)
	}
}
