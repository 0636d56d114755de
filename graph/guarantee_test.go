package graph_test

import (
	"github.com/sluicehq/sluice/internal/streamhook"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func TestGuaranteeComposition(t *testing.T) {
	tests := []struct {
		name    string
		cp      bool
		mode    runtime.CheckpointMode
		txSink  bool
		want    connector.Guarantee
		weakest string
	}{
		{"exactly-once end to end", true, runtime.ExactlyOnce, true, connector.ExactlyOnce, ""},
		{"at-least-once sink", true, runtime.ExactlyOnce, false, connector.AtLeastOnce, "out"},
		{"at-least-once checkpoints", true, runtime.AtLeastOnce, true, connector.AtLeastOnce, "checkpointing"},
		{"no checkpoints", false, runtime.ExactlyOnce, true, connector.AtMostOnce, "checkpointing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := stream.New("g")
			s := stream.FromSlice(env, []int{1})
			if tt.txSink {
				s.SinkTo("out", sluicetest.NewTxSink[int]())
			} else {
				s.SinkTo("out", sluicetest.NewSink[int]())
			}
			rep := streamhook.Graph(env).Guarantee(tt.cp, tt.mode)
			if rep.Guarantee != tt.want {
				t.Fatalf("got %v, want %v\n%s", rep.Guarantee, tt.want, rep)
			}
			if tt.weakest != "" && !strings.Contains(rep.String(), "weakest link: ") {
				t.Fatalf("no weakest link in\n%s", rep)
			}
			found := false
			for _, l := range rep.Weakest {
				found = found || l.Name == tt.weakest
			}
			if tt.weakest != "" && !found {
				t.Fatalf("weakest link %q not named:\n%s", tt.weakest, rep)
			}
			if !tt.cp && tt.txSink && len(rep.Downgrades) == 0 {
				t.Fatalf("an exactly-once sink without checkpoints must be reported as downgraded:\n%s", rep)
			}
		})
	}
}

// undeclared is a sink that declares no guarantee.
type undeclared[T any] struct{ connector.Sink[T] }

func TestUndeclaredGuaranteeIsAPlanError(t *testing.T) {
	cases := []struct {
		name    string
		sink    connector.Sink[int]
		wantErr string // "" for none
	}{
		{"declared", sluicetest.NewSink[int](), ""},
		{"undeclared", undeclared[int]{sluicetest.NewSink[int]()}, `sink "out" (graph_test.undeclared[int]) declares no delivery guarantee`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := stream.New("g")
			stream.FromSlice(env, []int{1}).SinkTo("out", c.sink)
			err := env.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Plan = %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}
