package stream_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// An enrichment join: users (id, name) and orders (user id, amount); each
// order is emitted with its user's name once both are known.
func TestCoProcessKeyedJoin(t *testing.T) {
	type user struct {
		ID   int
		Name string
	}
	type order struct {
		User   int
		Amount int
	}
	for _, p := range []int{1, 3} {
		env := stream.New("join", stream.WithParallelism(p))
		var users []user
		var orders []order
		for i := range 50 {
			users = append(users, user{i, fmt.Sprint("u", i)})
			orders = append(orders, order{i, i * 10}, order{i, i*10 + 1})
		}
		us := stream.KeyBy(stream.FromSlice(env, users), func(u user) int { return u.ID })
		os := stream.KeyBy(stream.FromSlice(env, orders), func(o order) int { return o.User })
		out := sluicetest.NewSink[string]()
		stream.CoProcessKeyed(us, os, func() stream.KeyedCoProcessFunction[int, user, order, string] {
			var name state.ValueState[string]
			var waiting state.ListState[int]
			return stream.KeyedCoProcessFuncs[int, user, order, string]{
				OpenFn: func(rt *stream.KeyedRuntime[int]) (err error) {
					if name, err = stream.ValueState[string](rt, "name"); err != nil {
						return err
					}
					waiting, err = stream.ListState[int](rt, "waiting")
					return err
				},
				Process1Fn: func(ctx *stream.KeyedContext[int], u user, out stream.Collector[string]) error {
					name.Update(u.Name)
					for _, a := range waiting.Get() {
						out.Collect(fmt.Sprintf("%s:%d", u.Name, a))
					}
					waiting.Clear()
					return nil
				},
				Process2Fn: func(ctx *stream.KeyedContext[int], o order, out stream.Collector[string]) error {
					if n, ok := name.Value(); ok {
						out.Collect(fmt.Sprintf("%s:%d", n, o.Amount))
						return nil
					}
					waiting.Add(o.Amount)
					return nil
				},
			}
		}).SinkTo("out", out)
		sluicetest.Run(t, env)
		got := out.Values()
		slices.Sort(got)
		var want []string
		for _, o := range orders {
			want = append(want, fmt.Sprintf("u%d:%d", o.User, o.Amount))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d joined records, want %d", p, len(got), len(want))
		}
	}
}
