package eventtime_test

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/eventtime"
)

type click struct {
	user string
	at   int64 // milliseconds since the epoch
}

func ExampleStrategy() {
	s := eventtime.BoundedOutOfOrderness[click](2 * time.Second).
		WithTimestamps(func(c click, _ int64) int64 { return c.at }).
		WithIdleness(time.Minute)

	gen := s.NewGenerator() // one per split
	for _, c := range []click{{"a", 10_000}, {"b", 12_500}, {"a", 11_000}} {
		gen.OnEvent(s.Timestamp(c, eventtime.MinWatermark))
	}
	fmt.Println(gen.OnPeriodicEmit())
	// Output: 10499
}

func ExampleCombiner() {
	c := eventtime.NewCombiner(2) // two upstream subtasks
	c.Update(0, 100)
	fmt.Println(c.Update(1, 50))
	fmt.Println(c.SetIdle(1, true)) // an idle input no longer holds back
	fmt.Println(c.SetIdle(0, true))
	fmt.Println(c.AllIdle()) // mark the output idle downstream
	// Output:
	// 50 true
	// 100 true
	// 100 false
	// true
}

func ExampleMergingSet() {
	a := eventtime.Session(10 * time.Second)
	var sessions eventtime.MergingSet // one per key
	for _, ts := range []int64{0, 15_000, 8_000} {
		w := a.Assign(ts, nil)[0]
		result, merged := sessions.Add(w)
		fmt.Println(w, "->", result, "absorbed", merged)
	}
	fmt.Println(sessions.Windows())
	// Output:
	// [0, 10000) -> [0, 10000) absorbed []
	// [15000, 25000) -> [15000, 25000) absorbed []
	// [8000, 18000) -> [0, 25000) absorbed [[0, 10000) [15000, 25000)]
	// [[0, 25000)]
}

func ExampleSliding() {
	a := eventtime.Sliding(time.Hour, 15*time.Minute)
	for _, w := range a.Assign(int64(50*time.Minute/time.Millisecond), nil) {
		fmt.Println(time.UnixMilli(w.Start).UTC().Format("15:04"), "-", time.UnixMilli(w.End).UTC().Format("15:04"))
	}
	// Output:
	// 00:00 - 01:00
	// 00:15 - 01:15
	// 00:30 - 01:30
	// 00:45 - 01:45
}
