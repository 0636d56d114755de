package kinesis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/internal/streamhook"
	"github.com/sluicehq/sluice/pipeline"
)

func lookup(vars map[string]string) pipeline.LoadOption {
	return pipeline.WithEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

// TestExampleBuilds: examples/kinesis.yaml loads and builds, exactly-once
// end to end, with addresses from the environment.
func TestExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	p, err := pipeline.Load("../../examples/kinesis.yaml", lookup(map[string]string{
		"KINESIS_STREAM": "events", "KINESIS_ENDPOINT": "http://127.0.0.1:1", "AWS_REGION": "eu-west-1",
		"OUTPUT": dir + "/out", "CHECKPOINTS": dir + "/ck"}))
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
	if g := env.Guarantee(); g.Guarantee != connector.ExactlyOnce {
		t.Errorf("guarantee %s:\n%s", g.Guarantee, g)
	}
}

// TestYAMLConfig: mistakes are reported with their keys, and the secret
// never appears in messages or plans.
func TestYAMLConfig(t *testing.T) {
	const secret = "s3cr3t-value"
	for _, tc := range []struct {
		name, source, sink string
		want               string // "" builds
	}{
		{name: "ok", source: "stream: in\n    access_key_id: AKID\n    secret_access_key: " + secret,
			sink: "stream: out\n    partition_key: key\n    access_key_id: AKID\n    secret_access_key: " + secret},
		{name: "no stream", source: "region: x", sink: "stream: out", want: "stream"},
		{name: "key without secret", source: "stream: in\n    access_key_id: AKID", sink: "stream: out", want: "secret_access_key"},
		{name: "timestamp without time", source: "stream: in\n    start: at-timestamp", sink: "stream: out", want: "start_time"},
		{name: "bad time", source: "stream: in\n    start: at-timestamp\n    start_time: yesterday", sink: "stream: out", want: "RFC 3339"},
		{name: "bad start", source: "stream: in\n    start: earliest", sink: "stream: out", want: "start"},
		{name: "unknown key", source: "stream: in", sink: "stream: out\n    key: x", want: "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "name: k\nsource:\n    type: kinesis\n    " + tc.source + "\nsink:\n    type: kinesis\n    " + tc.sink +
				"\ncheckpoints:\n    interval: 1s\n    storage: " + t.TempDir() + "\n"
			p, err := pipeline.Parse("job.yaml", []byte(y))
			if err == nil {
				e, berr := pipeline.Build(p, pipeline.Overrides{})
				err = berr
				if berr == nil {
					plan, perr := streamhook.Plan(e)
					if perr != nil {
						t.Fatal(perr)
					}
					if s := fmt.Sprintf("%+v %s %+v", plan, e.Guarantee(), p); strings.Contains(s, secret) {
						t.Errorf("the plan or pipeline shows the secret:\n%s", s)
					}
					if g := e.Guarantee(); g.Guarantee != connector.AtLeastOnce {
						t.Errorf("kinesis to kinesis: %s, want at-least-once (the sink's)", g.Guarantee)
					}
				}
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want one about %s", tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
