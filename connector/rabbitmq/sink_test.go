package rabbitmq

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/pipeline"
)

// TestSinkConfirms: Flush returns once the broker confirmed every message
// published before; the messages are persistent.
func TestSinkConfirms(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("sink", "quorum", nil)
	snk, err := NewSink(StringSerializer(), URL(testURL()), RoutingKey(q), MaxInFlight(7))
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(fakeWriterCtx{par: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	for i := range 50 {
		if err := w.Write(ctx, strconv.Itoa(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		d, ok, err := a.ch.Get(q, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if d.DeliveryMode != 2 {
			t.Fatalf("message %s not persistent", d.Body)
		}
		got = append(got, string(d.Body))
	}
	if !slices.Equal(got, numbers(50)) {
		t.Fatalf("queue holds %v", got)
	}
}

// TestSinkUnroutable: a message no queue receives fails the job for good,
// naming the exchange and routing key; a missing exchange is refused at
// once.
func TestSinkUnroutable(t *testing.T) {
	needServer(t)
	key := uniqueName("nowhere")
	snk, err := NewSink(StringSerializer(), URL(testURL()), RoutingKey(key))
	if err != nil {
		t.Fatal(err)
	}
	w, err := snk.NewWriter(fakeWriterCtx{par: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(context.Background(), "x", 0); err != nil {
		t.Fatal(err)
	}
	err = w.Flush(context.Background())
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), key) {
		t.Fatalf("error %v: want permanent, naming the routing key %s", err, key)
	}
	snk, err = NewSink(StringSerializer(), URL(testURL()), Exchange(uniqueName("noexchange")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = snk.NewWriter(fakeWriterCtx{par: 1}, nil)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "noexchange") {
		t.Fatalf("error %v: want permanent, naming the exchange", err)
	}
}

// TestYAMLSink: a YAML job publishes its records as JSON with the routing
// key and message id of their expressions.
func TestYAMLSink(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("yaml-sink", "classic", nil)
	src := `name: j
source:
  type: generator
  count: 20
  fields: {n: "i", q: "'` + q + `'"}
sink:
  type: rabbitmq
  url: ` + testURL() + `
  routing_key: q
  message_id: "'id-' + string(n)"
`
	p, err := pipeline.Parse("j.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		d, ok, err := a.ch.Get(q, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		var r struct{ N int }
		if err := json.Unmarshal(d.Body, &r); err != nil {
			t.Fatalf("%s: %v", d.Body, err)
		}
		if d.MessageId != "id-"+strconv.Itoa(r.N) || d.ContentType != "application/json" {
			t.Errorf("message %s: id %q, content type %q", d.Body, d.MessageId, d.ContentType)
		}
		got = append(got, strconv.Itoa(r.N))
	}
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if !slices.Equal(got, numbers(20)) {
		t.Fatalf("queue holds %v", got)
	}
}
