package stream_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func ints(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func sorted[T any](vs []T, less func(a, b T) int) []T {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, less)
	return vs
}

func TestMapFilterChain(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		env := stream.New("chain", stream.WithParallelism(p))
		out := sluicetest.NewSink[int]()
		s := stream.FromSlice(env, ints(1000))
		s = stream.Map(s, func(v int) int { return v * 2 })
		s = stream.Filter(s, func(v int) bool { return v%3 == 0 })
		s.SinkTo("out", out)
		sluicetest.Run(t, env)
		var want []int
		for i := range 1000 {
			if v := i * 2; v%3 == 0 {
				want = append(want, v)
			}
		}
		if got := sorted(out.Values(), func(a, b int) int { return a - b }); !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d values, want %d", p, len(got), len(want))
		}
	}
}

func TestFlatMapUnionRebalance(t *testing.T) {
	env := stream.New("flat", stream.WithParallelism(2))
	out := sluicetest.NewSink[string]()
	a := stream.FromSlice(env, []string{"a b", "c"})
	b := stream.FromSlice(env, []string{"d e f"}).Parallelism(1)
	words := stream.FlatMap(a.Union(b), func(line string, out stream.Collector[string]) error {
		for _, w := range strings.Fields(line) {
			out.Collect(w)
		}
		return nil
	})
	words.Rebalance().SinkTo("out", out).Parallelism(3)
	sluicetest.Run(t, env)
	got := sorted(out.Values(), strings.Compare)
	if want := []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestUserErrorNamesOperator(t *testing.T) {
	env := stream.New("fail", stream.WithParallelism(2))
	s := stream.TryMap(stream.FromSlice(env, ints(100)), func(v int) (int, error) {
		if v == 42 {
			return 0, errors.New("boom at 42")
		}
		return v, nil
	}).Name("parse")
	s.SinkTo("out", sluicetest.NewSink[int]())
	err := sluicetest.RunErr(env, 30e9)
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) || oe.Operator != "parse" || !strings.Contains(err.Error(), "boom at 42") {
		t.Fatalf("got %v, want an OperatorError of parse", err)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	env := stream.New("panic")
	s := stream.Map(stream.FromSlice(env, ints(10)), func(v int) int { return v }).Name("first")
	s = stream.Map(s, func(v int) int {
		if v == 5 {
			panic("bad five")
		}
		return v
	}).Name("second")
	s = stream.Map(s, func(v int) int { return v }).Name("third")
	s.SinkTo("out", sluicetest.NewSink[int]())
	err := sluicetest.RunErr(env, 30e9)
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) || oe.Operator != "second" || oe.Stack == "" {
		t.Fatalf("got %v, want a recovered panic of second", err)
	}
}
