package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"

	"github.com/sluicehq/sluice/connector"
)

type writerCtx struct{}

func (writerCtx) Subtask() int         { return 0 }
func (writerCtx) Parallelism() int     { return 1 }
func (writerCtx) Checkpointing() bool  { return true }
func (writerCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func fakeSink[T any](t testing.TB, f *fake, topic string, ser Serializer[T], opts ...SinkOption) connector.Writer[T] {
	t.Helper()
	snk, err := NewSink(ser, append([]SinkOption{Project(testProject), Endpoint(f.srv.Addr), Topic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(writerCtx{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

type item struct {
	N   int    `json:"n"`
	Key string `json:"key"`
}

// TestSinkFlushWaitsForConfirmation: after Flush, every message written
// before is in the topic, with its ordering key.
func TestSinkFlushWaitsForConfirmation(t *testing.T) {
	f := newFake(t)
	f.topic(t, "out")
	w := fakeSink(t, f, "out", JSONSerializer(func(v item) string { return v.Key }))
	ctx := context.Background()
	const n = 500
	for i := range n {
		if err := w.Write(ctx, item{N: i, Key: "k" + strconv.Itoa(i%7)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := f.published("out")
	if len(msgs) != n {
		t.Fatalf("%d messages in the topic after Flush, want %d", len(msgs), n)
	}
	last := map[string]int{}
	for _, m := range msgs {
		var it item
		if err := jsonUnmarshal(m.Data, &it); err != nil {
			t.Fatal(err)
		}
		if m.OrderingKey != it.Key {
			t.Errorf("message %d: ordering key %q, want %q", it.N, m.OrderingKey, it.Key)
		}
		if p, ok := last[it.Key]; ok && p > it.N {
			t.Errorf("key %s: %d published after %d", it.Key, it.N, p)
		}
		last[it.Key] = it.N
	}
}

// TestSinkRefusals: a missing topic or a refused permission fails Flush
// permanently, naming the topic and what to change.
func TestSinkRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []pstest.ServerReactorOption
		topic bool
		want  string
	}{
		{name: "missing", want: "does not exist"},
		{name: "denied", opts: []pstest.ServerReactorOption{pstest.WithErrorInjection("Publish", codes.PermissionDenied, "no")}, topic: true, want: "roles/pubsub.publisher"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, c.opts...)
			if c.topic {
				f.topic(t, "nowhere")
			}
			w := fakeSink(t, f, "nowhere", StringSerializer(), PublishTimeout(5*time.Second))
			if err := w.Write(context.Background(), "x", 0); err != nil {
				t.Fatal(err)
			}
			err := w.Flush(context.Background())
			if !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), topicName("nowhere")) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Flush: %v; want a refusal naming the topic and %q", err, c.want)
			}
		})
	}
}

// TestSinkRecords: the YAML sink's ordering key expression and
// attributes.
func TestSinkRecords(t *testing.T) {
	f := newFake(t)
	f.topic(t, "records")
	cfg := &SinkConfig{Project: testProject, Topic: "records", Endpoint: f.srv.Addr, Attributes: []string{"region", "n", "absent"},
		OrderingKey: connector.NewExpr("user", func(r connector.Record) (any, error) { return r["user"], nil })}
	if d := cfg.Declare(true); d.Guarantee != connector.AtLeastOnce {
		t.Errorf("declared %v", d)
	}
	snk, err := cfg.NewSink(jsonBuild{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(writerCtx{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(context.Background(), connector.Record{"user": "ada", "region": "eu", "n": int64(3)}, 0)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := f.published("records")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.OrderingKey != "ada" || m.Attributes["region"] != "eu" || m.Attributes["n"] != "3" || len(m.Attributes) != 2 {
		t.Errorf("ordering key %q, attributes %v", m.OrderingKey, m.Attributes)
	}
}
