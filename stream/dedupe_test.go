package stream_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestDeduplicate: ids delivered up to three times, spread over the
// subtasks of the source, come out once each at any parallelism.
func TestDeduplicate(t *testing.T) {
	for _, p := range []int{1, 3} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			env := stream.New("dedupe", stream.WithParallelism(p))
			out := sluicetest.NewSink[string]()
			src := stream.Generate(env, 3000, func(i int64) string { return fmt.Sprint("m", i%1000) })
			stream.Deduplicate(src, func(s string) string { return s }, time.Hour).SinkTo("out", out)
			sluicetest.Run(t, env)
			got := out.Values()
			slices.Sort(got)
			if len(got) != 1000 || len(slices.Compact(slices.Clone(got))) != 1000 {
				t.Fatalf("got %d records (%d distinct), want the 1000 ids once each", len(got), len(slices.Compact(got)))
			}
		})
	}
}

// TestDeduplicateHorizon: an id seen again after the horizon is new.
func TestDeduplicateHorizon(t *testing.T) {
	// Batches of one record: the first reaches the stage before the second
	// is made.
	env := stream.New("dedupe-horizon", stream.WithParallelism(1), stream.WithBatchSize(1))
	out := sluicetest.NewSink[string]()
	src := stream.Generate(env, 2, func(i int64) string { return "same" })
	slow := stream.Map(src, func(s string) string {
		time.Sleep(100 * time.Millisecond) // the second record arrives after the 1ms horizon
		return s
	})
	stream.Deduplicate(slow, func(s string) string { return s }, time.Millisecond).SinkTo("out", out)
	sluicetest.Run(t, env)
	if got := out.Values(); len(got) != 2 {
		t.Fatalf("got %v, want the id twice (the horizon passed in between)", got)
	}
}

// TestDeduplicateNoID: a record without an id ends the job at once.
func TestDeduplicateNoID(t *testing.T) {
	env := stream.New("dedupe-noid", stream.WithParallelism(1), stream.WithRestart(restart.FixedDelay(5, time.Millisecond)))
	src := stream.Generate(env, 3, func(i int64) string { return "" })
	stream.Deduplicate(src, func(s string) string { return s }, time.Hour).SinkTo("out", sluicetest.NewSink[string]())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := env.Execute(ctx)
	if err == nil || !connector.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent failure naming the missing id", err)
	}
}
