package httpstream

import (
	"testing"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file" // the examples' sink
	"github.com/sluicehq/sluice/pipeline"
)

// TestExamplesLoadAndBuild loads and builds examples/httpstream.yaml and
// examples/twitter.yaml (building reads no token and makes no request).
func TestExamplesLoadAndBuild(t *testing.T) {
	dir := t.TempDir()
	vars := lookup(map[string]string{"STREAM_URL": "http://127.0.0.1:1/events", "X_API_BASE_URL": "http://127.0.0.1:1",
		"OUTPUT": dir + "/out", "CHECKPOINTS": dir + "/ck"})
	for _, c := range []struct {
		file string
		want connector.Guarantee
	}{
		{"../../examples/httpstream.yaml", connector.AtLeastOnce},
		{"../../examples/twitter.yaml", connector.AtMostOnce},
	} {
		t.Run(c.file, func(t *testing.T) {
			p, err := pipeline.Load(c.file, pipeline.WithEnv(vars))
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
			if g := env.Guarantee(); g.Guarantee != c.want {
				t.Fatalf("guarantee %v, want %v:\n%s", g.Guarantee, c.want, g)
			}
		})
	}
}
