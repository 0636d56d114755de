package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluicehq/sluice/connector"
)

const testProject = "sluice-test"

func init() {
	// Subscriptions with short ack deadlines, so that messages a killed
	// process held come back within a second or two.
	pstest.SetMinAckDeadline(time.Second)
}

// fake is a pstest server on a loopback port (the Pub/Sub fake of Google's
// client library, speaking the real gRPC API).
type fake struct {
	srv *pstest.Server
	sub *vkit.SubscriptionAdminClient
	top *vkit.TopicAdminClient
}

func newFake(t testing.TB, opts ...pstest.ServerReactorOption) *fake {
	t.Helper()
	srv := pstest.NewServer(opts...)
	f := &fake{srv: srv}
	ctx := context.Background()
	copts := []option.ClientOption{option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	var err error
	if f.sub, err = vkit.NewSubscriptionAdminClient(ctx, copts...); err != nil {
		t.Fatal(err)
	}
	if f.top, err = vkit.NewTopicAdminClient(ctx, copts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.sub.Close()
		f.top.Close()
		srv.Close()
	})
	return f
}

func topicName(id string) string { return "projects/" + testProject + "/topics/" + id }
func subName(id string) string   { return "projects/" + testProject + "/subscriptions/" + id }

// topic creates a topic.
func (f *fake) topic(t testing.TB, id string) {
	t.Helper()
	if _, err := f.top.CreateTopic(context.Background(), &pubsubpb.Topic{Name: topicName(id)}); err != nil {
		t.Fatal(err)
	}
}

// subscription creates a topic and a subscription of it with the ack
// deadline given.
func (f *fake) subscription(t testing.TB, id string, ackDeadline time.Duration, exactlyOnce bool) {
	t.Helper()
	f.topic(t, id)
	_, err := f.sub.CreateSubscription(context.Background(), &pubsubpb.Subscription{Name: subName(id), Topic: topicName(id),
		AckDeadlineSeconds: int32(ackDeadline / time.Second), EnableExactlyOnceDelivery: exactlyOnce})
	if err != nil {
		t.Fatal(err)
	}
}

// publishN publishes "0".."n-1" to topic id and returns the message ids by
// number.
func (f *fake) publishN(t testing.TB, id string, from, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		ids = append(ids, f.srv.Publish(topicName(id), []byte(strconv.Itoa(i)), map[string]string{"n": strconv.Itoa(i)}))
	}
	return ids
}

// stats sums the deliveries and acks of the messages of a topic.
func (f *fake) stats(topic string) (msgs, delivered, acked, modacks int) {
	for _, m := range f.srv.Messages() {
		if m.Topic != topicName(topic) {
			continue
		}
		msgs++
		delivered += m.Deliveries
		acked += m.Acks
		modacks += len(m.Modacks)
	}
	return
}

// published returns the data of the messages published to a topic.
func (f *fake) published(topic string) []*pstest.Message {
	var out []*pstest.Message
	for _, m := range f.srv.Messages() {
		if m.Topic == topicName(topic) {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readerCtx is a connector.ReaderContext for driving a reader by hand.
type readerCtx struct {
	ctx context.Context
}

func (c readerCtx) Subtask() int     { return 0 }
func (c readerCtx) Parallelism() int { return 1 }
func (c readerCtx) RequestSplit()    {}
func (c readerCtx) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
func (c readerCtx) Context() context.Context { return c.ctx }

// output collects what a reader emits.
type output[T any] struct {
	mu       sync.Mutex
	got      []T
	ts       []int64
	rejected []connector.BadRecord
	dead     bool // a dead-letter output is configured
}

func (o *output[T]) Collect(v T) { o.CollectAt(v, -1) }
func (o *output[T]) CollectAt(v T, ts int64) {
	o.mu.Lock()
	o.got = append(o.got, v)
	o.ts = append(o.ts, ts)
	o.mu.Unlock()
}
func (o *output[T]) Split(string) connector.SplitOutput[T] { return o }
func (o *output[T]) ReleaseSplit(string)                   {}
func (o *output[T]) Reject(b connector.BadRecord) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected = append(o.rejected, b)
	if o.dead {
		return nil
	}
	return &connector.BadRecordError{Record: b}
}

func (o *output[T]) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.got)
}

// startReader makes and starts the reader of src, restoring state.
func startReader[T any](t testing.TB, src *Source[T], state [][]byte) *reader[T] {
	t.Helper()
	return startReaderCtx(t, t.Context(), src, state)
}

// startReaderCtx is startReader with the job attempt's context ctx.
func startReaderCtx[T any](t testing.TB, ctx context.Context, src *Source[T], state [][]byte) *reader[T] {
	t.Helper()
	rd, err := src.NewReader(readerCtx{ctx: ctx})
	if err != nil {
		t.Fatal(err)
	}
	r := rd.(*reader[T])
	if state != nil {
		if err := r.RestoreReaderState(state); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// pollUntil polls r into out until out holds n records.
func pollUntil[T any](t testing.TB, r *reader[T], out *output[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for out.len() < n {
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatalf("PollNext: %v", err)
		}
		if st == connector.EndOfInput {
			t.Fatalf("end of input after %d records, want %d", out.len(), n)
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.Available():
			case <-time.After(50 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d records, want %d", out.len(), n)
		}
	}
}

func fakeSource[T any](t testing.TB, f *fake, sub string, dec Decoder[T], opts ...SourceOption) *Source[T] {
	t.Helper()
	src, err := NewSource(dec, append([]SourceOption{Project(testProject), Endpoint(f.srv.Addr), Subscription(sub)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var _ = fmt.Sprint

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// jsonBuild is a connector.BuildContext with JSON records.
type jsonBuild struct {
	interval, timeout time.Duration
}

func (jsonBuild) Name() string                                  { return "pubsub" }
func (jsonBuild) ID() string                                    { return "source" }
func (jsonBuild) Job() string                                   { return "test" }
func (jsonBuild) Logger() *slog.Logger                          { return slog.New(slog.DiscardHandler) }
func (b jsonBuild) Checkpoints() (time.Duration, time.Duration) { return b.interval, b.timeout }
func (jsonBuild) Stdout() io.Writer                             { return io.Discard }
func (jsonBuild) DecodeRecord(b []byte) (connector.Record, error) {
	var r connector.Record
	err := json.Unmarshal(b, &r)
	return r, err
}
func (jsonBuild) EncodeRecord(r connector.Record) ([]byte, error) { return json.Marshal(r) }

// servers are the fakes of this test process by address, for the
// conformance cases' Read and Unacked.
var servers sync.Map
