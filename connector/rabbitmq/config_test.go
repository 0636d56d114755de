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
	if _, err := env.Plan(); err != nil {
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
