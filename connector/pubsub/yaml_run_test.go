package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipeline"
)

// TestYAMLRun runs a YAML pipeline from a subscription to a topic on the
// fake: every record arrives once, with the ordering key and attribute
// asked for, and without the id field of the deduplication stage.
func TestYAMLRun(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "yaml-in", 10*time.Second, false)
	f.topic(t, "yaml-out")
	const n = 200
	for i := range n {
		f.srv.Publish(topicName("yaml-in"), fmt.Appendf(nil, `{"n": %d, "user": "u%d"}`, i, i%5), nil)
	}
	doc := fmt.Sprintf(`name: pubsub-yaml
parallelism: 2
source:
  type: pubsub
  project: %[1]s
  subscription: yaml-in
  endpoint: %[2]s
  dedupe_by_id: true
  end_when_idle: 1s
sink:
  type: pubsub
  project: %[1]s
  topic: yaml-out
  endpoint: %[2]s
  ordering_key: user
  attributes: [n]
checkpoints:
  interval: 100ms
  storage: %[3]s
`, testProject, f.srv.Addr, t.TempDir())
	p, err := pipeline.Parse("job.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if g := env.Guarantee(); g.Guarantee.String() != "at-least-once" {
		t.Errorf("guarantee (the sink is at-least-once):\n%s", g)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	out := f.published("yaml-out")
	seen := map[int]bool{}
	for _, m := range out {
		var r map[string]any
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		if _, ok := r[DedupeField]; ok {
			t.Fatalf("record %s still holds %s", m.Data, DedupeField)
		}
		num := int(r["n"].(float64))
		if seen[num] {
			t.Errorf("record %d twice", num)
		}
		seen[num] = true
		if m.OrderingKey != r["user"] || m.Attributes["n"] != strconv.Itoa(num) {
			t.Errorf("record %s: ordering key %q, attributes %v", m.Data, m.OrderingKey, m.Attributes)
		}
	}
	if len(seen) != n {
		t.Errorf("%d of %d records published", len(seen), n)
	}
	if _, _, acked, _ := f.stats("yaml-in"); acked != n {
		t.Errorf("%d of %d input messages acknowledged", acked, n)
	}
}
