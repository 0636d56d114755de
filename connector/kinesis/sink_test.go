package kinesis

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluicehq/sluice/connector"
)

type fakeWriterCtx struct{}

func (fakeWriterCtx) Subtask() int         { return 0 }
func (fakeWriterCtx) Parallelism() int     { return 1 }
func (fakeWriterCtx) Checkpointing() bool  { return true }
func (fakeWriterCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestWriter(t *testing.T, api API, restored [][]byte, opts ...SinkOption) *writer[string] {
	t.Helper()
	opts = append([]SinkOption{Stream("out"), Client(api)}, opts...)
	s, err := NewSink(StringSerializer(func(v string) string { return "k" + v[:min(len(v), 8)] }), opts...)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter(fakeWriterCtx{}, restored)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w.(*writer[string])
}

func writeN(t *testing.T, w *writer[string], from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Write(context.Background(), strconv.Itoa(i), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func sortedInts(bs [][]byte) []int {
	var out []int
	for _, b := range bs {
		n, _ := strconv.Atoi(string(b))
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestSinkRetriesOnlyFailedEntries: entries a PutRecords call refuses
// (throttled, internal failure) are sent again, the others not; the flush
// returns once all were accepted.
func TestSinkRetriesOnlyFailedEntries(t *testing.T) {
	api := &fakeAPI{putFail: func(call, i int) string {
		switch {
		case call <= 2 && i%3 == 0:
			return "ProvisionedThroughputExceededException"
		case call == 3 && i%5 == 1:
			return "InternalFailure"
		}
		return ""
	}}
	w := newTestWriter(t, api, nil, MaxInFlight(4))
	writeN(t, w, 0, 1234)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sortedInts(api.put); !slices.Equal(got, seq(1234)) {
		t.Fatalf("accepted %d records (duplicates or gaps), want 0..1233 once each", len(got))
	}
	if w.limit >= 4 {
		t.Errorf("in-flight bound %v after throttling, want it lowered", w.limit)
	}
}

// TestSinkBatchLimits: requests hold at most 500 records and 5 MiB; a
// record over 1 MiB is refused permanently.
func TestSinkBatchLimits(t *testing.T) {
	var sizes, counts []int
	api := &fakeAPI{}
	rec := &recordingAPI{fakeAPI: api, onPut: func(n, bytes int) { counts = append(counts, n); sizes = append(sizes, bytes) }}
	w := newTestWriter(t, rec, nil, MaxInFlight(1))
	writeN(t, w, 0, 1100)
	big := strings.Repeat("x", 900<<10)
	for range 12 {
		if err := w.Write(context.Background(), big, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range counts {
		if counts[i] > maxBatchRecords || sizes[i] > maxBatchBytes {
			t.Errorf("request %d: %d records, %d bytes", i, counts[i], sizes[i])
		}
	}
	if len(api.put) != 1112 {
		t.Errorf("%d records accepted, want 1112", len(api.put))
	}
	err := w.Write(context.Background(), strings.Repeat("x", 1<<20), 0)
	if !errors.Is(err, connector.ErrBadRecord) || !connector.IsPermanent(err) {
		t.Errorf("a record over 1 MiB: %v, want a permanent bad record error", err)
	}
}

type recordingAPI struct {
	*fakeAPI
	onPut func(n, bytes int)
}

func (r *recordingAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	b := 0
	for _, e := range in.Records {
		b += len(e.Data) + len(*e.PartitionKey)
	}
	r.fakeAPI.mu.Lock()
	r.onPut(len(in.Records), b)
	r.fakeAPI.mu.Unlock()
	return r.fakeAPI.PutRecords(ctx, in, opts...)
}

// TestSinkAIMD: throttling halves the in-flight bound (never below one
// request); accepted requests raise it again, never above MaxInFlight.
func TestSinkAIMD(t *testing.T) {
	throttle := true
	api := &fakeAPI{putDelay: 2 * time.Millisecond}
	api.putErr = func(int) error {
		if throttle {
			return apiErr("ProvisionedThroughputExceededException")
		}
		return nil
	}
	w := newTestWriter(t, api, nil, MaxInFlight(8), MaxRetries(100))
	writeN(t, w, 0, 600)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	deadline := time.Now().Add(5 * time.Second)
	for w.limit > 1 && time.Now().Before(deadline) {
		if err := w.pump(ctx, true); err != nil {
			t.Fatal(err)
		}
		_ = w.collect(ctx, true)
	}
	if w.limit != 1 {
		t.Fatalf("in-flight bound %v under steady throttling, want 1", w.limit)
	}
	api.mu.Lock()
	throttle = false
	api.mu.Unlock()
	writeN(t, w, 600, 6000)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.limit <= 1 || w.limit > 8 {
		t.Errorf("in-flight bound %v after accepted requests, want raised within (1, 8]", w.limit)
	}
	if got := sortedInts(api.put); !slices.Equal(got, seq(6000)) {
		t.Fatalf("accepted %d records, want 0..5999 once each", len(got))
	}
	if api.maxInFlight > 8 {
		t.Errorf("%d requests in flight at once, bound 8", api.maxInFlight)
	}
}

// TestSinkFatal: a missing stream and refused credentials fail the job
// permanently with what to change; a request still refused after the
// retries fails it (transiently) without looping forever.
func TestSinkFatal(t *testing.T) {
	for _, tc := range []struct {
		code      string
		permanent bool
		want      string
	}{
		{"ResourceNotFoundException", true, "does not exist"},
		{"UnrecognizedClientException", true, "credentials"},
		{"InternalFailure", false, "refused"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			api := &fakeAPI{putErr: func(int) error { return apiErr(tc.code) }}
			w := newTestWriter(t, api, nil, MaxRetries(2))
			writeN(t, w, 0, 3)
			err := w.Flush(context.Background())
			if err == nil || connector.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"out"`) {
				t.Fatalf("flush: %v; want permanent=%v, mentioning %q and the stream", err, tc.permanent, tc.want)
			}
		})
	}
}

// TestSinkState: entries not accepted yet are writer state, sent first by
// the restored writer.
func TestSinkState(t *testing.T) {
	api := &fakeAPI{}
	w := newTestWriter(t, api, nil, Linger(time.Hour))
	writeN(t, w, 0, 10) // below a batch, lingering
	st, err := w.SnapshotState(1)
	if err != nil || len(st) != 1 {
		t.Fatalf("state %v %v", st, err)
	}
	w2 := newTestWriter(t, api, st)
	if err := w2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sortedInts(api.put); !slices.Equal(got, seq(10)) {
		t.Fatalf("restored writer put %v", got)
	}
	if _, err := decodeEntries([]byte{1, 200}); err == nil {
		t.Error("truncated writer state decoded")
	}
}

func FuzzWriterState(f *testing.F) {
	f.Add(encodeEntries([]*entry{{data: []byte("a"), key: "k"}, {data: nil, key: ""}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := decodeEntries(b)
		if err != nil {
			return
		}
		again, err := decodeEntries(encodeEntries(ents))
		if err != nil || len(again) != len(ents) {
			t.Fatalf("state does not round-trip: %v", err)
		}
	})
}
