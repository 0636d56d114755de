package rabbitmq

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file" // the example's sink
	"github.com/sluicehq/sluice/pipeline"
)

// TestExampleBuilds: examples/rabbitmq.yaml loads and builds, and is
// exactly-once end to end.
func TestExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	vars := func(k string) (string, bool) {
		switch k {
		case "OUTPUT":
			return dir + "/out", true
		case "CHECKPOINTS":
			return dir + "/ck", true
		}
		return "", false
	}
	p, err := pipeline.Load("../../examples/rabbitmq.yaml", pipeline.WithEnv(vars))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Validate(); err != nil {
		t.Fatal(err)
	}
	g := env.Guarantee()
	if g.Guarantee != connector.ExactlyOnce {
		t.Fatalf("guarantee %s:\n%s", g.Guarantee, g)
	}
	if s := g.String(); !strings.Contains(s, "correlation_id") || strings.Contains(s, "guest:guest") {
		t.Errorf("the plan does not name the condition, or shows the credentials:\n%s", s)
	}
}

func TestSourceConfigDeclare(t *testing.T) {
	cases := []struct {
		cfg  SourceConfig
		cp   bool
		want connector.Guarantee
	}{
		{SourceConfig{Queue: "q"}, false, connector.AtMostOnce},
		{SourceConfig{Queue: "q"}, true, connector.AtLeastOnce},
		{SourceConfig{Queue: "q", IDProperty: "message_id"}, true, connector.ExactlyOnce},
		{SourceConfig{Queue: "q", IDProperty: "message_id"}, false, connector.AtMostOnce},
	}
	for _, c := range cases {
		if d := c.cfg.Declare(c.cp); d.Guarantee != c.want {
			t.Errorf("%+v, checkpointing %v: %v (%s), want %v", c.cfg, c.cp, d.Guarantee, d.Reason, c.want)
		}
	}
	snk := SinkConfig{Mandatory: true}
	if d := snk.Declare(true); d.Guarantee != connector.AtLeastOnce {
		t.Errorf("sink: %v", d)
	}
}

func parse(t *testing.T, src string) (*pipeline.Pipeline, error) {
	t.Helper()
	return pipeline.Parse("job.yaml", []byte(src), pipeline.WithEnv(func(string) (string, bool) { return "", false }))
}

const yamlTail = `
sink:
  type: stdout
`

// TestYAMLMistakes: mistakes of the source's options are reported with
// their key, and never show the URL's password.
func TestYAMLMistakes(t *testing.T) {
	cases := map[string]struct{ source, want string }{
		"no queue":             {"type: rabbitmq", "queue"},
		"queue and streams":    {"type: rabbitmq\n  queue: q\n  streams: [s]", "not both"},
		"prefetch with stream": {"type: rabbitmq\n  streams: [s]\n  prefetch: 10", "prefetch"},
		"amqp url for streams": {"type: rabbitmq\n  streams: [s]\n  url: amqp://u:hunter2@h/", "rabbitmq-stream://"},
		"bad url":              {"type: rabbitmq\n  queue: q\n  url: http://u:hunter2@h/", "amqp://"},
		"dedupe_by value":      {"type: rabbitmq\n  queue: q\n  dedupe_by: body", "correlation_id"},
		"horizon alone":        {"type: rabbitmq\n  queue: q\n  dedupe_horizon: 1m", "dedupe_by"},
		"start with a queue":   {"type: rabbitmq\n  queue: q\n  start: next", "streams"},
	}
	for name, c := range cases {
		_, err := parse(t, "name: j\nsource:\n  "+c.source+"\n"+yamlTail)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error %v, want one saying %q (and no password)", name, err, c.want)
		}
	}
}

// TestYAMLPlans: the guarantee each configuration declares, as a plan
// shows it.
func TestYAMLPlans(t *testing.T) {
	cases := []struct {
		source, checkpoints string
		want                connector.Guarantee
		has                 string
	}{
		{"queue: q\n  dedupe_by: message_id", "checkpoints: {interval: 1s, storage: CK}", connector.ExactlyOnce, "keyed deduplication"},
		{"queue: q", "checkpoints: {interval: 1s, storage: CK}", connector.AtLeastOnce, "acknowledged when the checkpoint"},
		{"queue: q", "", connector.AtMostOnce, "auto-ack"},
		{"streams: [a, b]", "checkpoints: {interval: 1s, storage: CK}", connector.ExactlyOnce, "offsets"},
	}
	for _, c := range cases {
		src := "name: j\nparallelism: 3\nsource:\n  type: rabbitmq\n  " + c.source + "\n" + yamlTail +
			strings.ReplaceAll(c.checkpoints, "CK", t.TempDir()) + "\n"
		p, err := parse(t, src)
		if err != nil {
			t.Fatalf("%s: %v", c.source, err)
		}
		env, err := pipeline.Build(p, pipeline.Overrides{})
		if err != nil {
			t.Fatalf("%s: %v", c.source, err)
		}
		var found bool
		for _, d := range env.Guarantee().Links {
			if d.Role == "source" {
				found = true
				if d.Declaration.Guarantee != c.want || !strings.Contains(d.Declaration.Reason, c.has) {
					t.Errorf("%s: %v (%s), want %v with %q", c.source, d.Declaration.Guarantee, d.Declaration.Reason, c.want, c.has)
				}
			}
		}
		if !found {
			t.Errorf("%s: no source in the guarantee report:\n%s", c.source, env.Guarantee())
		}
	}
}
