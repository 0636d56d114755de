package stream_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// The types of the tour of the Go API (README.md, "A tour of the Go API").

// Click is a click of a user on a page at a time (unix milliseconds).
type Click struct {
	User, Page string
	Time       int64
}

// UserClicks is a user's running count of clicks.
type UserClicks struct {
	User   string
	Clicks int64
}

// PageViews is the number of clicks on a page in a window.
type PageViews struct {
	Page  string
	Start time.Time // the window's start
	Views int64
}

// Alert says that a user clicked at least burstClicks times in one second.
type Alert struct {
	User   string
	Second time.Time
	Clicks int
}

// tourStart is the event time of the first sample click.
var tourStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleClicks are the tour's input: 4 clicks a second for 20 seconds,
// in event-time order, some without a user, and a burst of clicks of bob.
func sampleClicks() []Click {
	users := []string{"ann", "bob", "cy", "ann", "bob", ""}
	pages := []string{"/home", "/cart", "/pay"}
	var out []Click
	for i := range 80 {
		user := users[i%len(users)]
		if i >= 40 && i < 44 {
			user = "bob"
		}
		out = append(out, Click{User: user, Page: pages[i%len(pages)], Time: tourStart.UnixMilli() + int64(i)*250})
	}
	return out
}

// clicksPerUser counts the clicks of a user.
type clicksPerUser struct{}

func (clicksPerUser) CreateAccumulator() UserClicks { return UserClicks{} }
func (clicksPerUser) Add(acc UserClicks, c Click) UserClicks {
	return UserClicks{User: c.User, Clicks: acc.Clicks + 1}
}
func (clicksPerUser) Result(acc UserClicks) UserClicks { return acc }
func (clicksPerUser) Merge(a, b UserClicks) UserClicks {
	return UserClicks{User: cmp.Or(a.User, b.User), Clicks: a.Clicks + b.Clicks}
}

// countClicks counts clicks.
type countClicks struct{}

func (countClicks) CreateAccumulator() int64   { return 0 }
func (countClicks) Add(n int64, _ Click) int64 { return n + 1 }
func (countClicks) Result(n int64) int64       { return n }
func (countClicks) Merge(a, b int64) int64     { return a + b }

func userOf(c Click) string { return c.User }

// pageViews turns the count of a page's window into its PageViews.
func pageViews(page string, w eventtime.TimeWindow, views int64, out stream.Collector[PageViews]) error {
	out.Collect(PageViews{Page: page, Start: time.UnixMilli(w.Start).UTC(), Views: views})
	return nil
}

// burstClicks is the number of clicks in one second that makes a burst.
const burstClicks = 3

// burstDetector alerts when a user clicks burstClicks times or more in one
// second of event time. It counts the clicks of every second in map state
// and decides when the watermark passes the end of the second, so the order
// in which clicks arrive does not matter.
type burstDetector struct {
	perSecond state.MapState[int64, int] // second (unix) -> clicks
}

func (d *burstDetector) Open(rt *stream.KeyedRuntime[string]) (err error) {
	d.perSecond, err = stream.MapState[int64, int](rt, "clicks-per-second")
	return err
}

func (d *burstDetector) ProcessElement(ctx *stream.KeyedContext[string], c Click, _ stream.Collector[Alert]) error {
	sec := c.Time / 1000
	n, _ := d.perSecond.Get(sec)
	d.perSecond.Put(sec, n+1)
	ctx.RegisterEventTimeTimer((sec+1)*1000 - 1) // the last millisecond of the second
	return nil
}

func (d *burstDetector) OnTimer(ctx *stream.KeyedContext[string], ts int64, out stream.Collector[Alert]) error {
	sec := (ts+1)/1000 - 1
	if n, _ := d.perSecond.Get(sec); n >= burstClicks {
		out.Collect(Alert{User: ctx.Key(), Second: time.Unix(sec, 0).UTC(), Clicks: n})
	}
	d.perSecond.Remove(sec)
	return nil
}

// Example_tour is the tour of the Go API in README.md: the README's code
// is the body of this function (TestReadmeTour checks that they agree).
func Example_tour() {
	ctx := context.Background()
	checkpoints, err := os.MkdirTemp("", "clicks-checkpoints")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(checkpoints)

	env := stream.New("clicks",
		stream.WithParallelism(2),
		stream.WithCheckpointing(time.Second, checkpoints), // checkpoints on disk
		stream.WithRestore("latest"))                       // resume from the newest one, if any

	// A source with event time: each record's timestamp, and watermarks per
	// split allowing 2 s of disorder. (A slice here; Kafka, files... in production.)
	src := collection.Slice(sampleClicks())
	clicks := stream.FromSource(env, "clicks", src, eventtime.BoundedOutOfOrderness[Click](2*time.Second).
		WithTimestamps(func(c Click, _ int64) int64 { return c.Time }))

	// Stateless steps are chained into one goroutine.
	valid := stream.Filter(clicks, func(c Click) bool { return c.User != "" })

	// Keyed state: a running count per user, emitted on every update.
	perUser := stream.Aggregate(stream.KeyBy(valid, userOf), clicksPerUser{}).UID("clicks-per-user")

	// Event-time windows per page, with late records kept for 5 s and the rest on a side output.
	late := stream.NewOutputTag[Click]("late")
	perPage := stream.AggregateWindowWith(
		stream.Window(stream.KeyBy(valid, func(c Click) string { return c.Page }), eventtime.Tumbling(10*time.Second)).
			AllowedLateness(5*time.Second).LateRecords(late),
		countClicks{}, pageViews).UID("views-per-page")
	stream.SideOutput(perPage, late).Print()

	// Keyed process functions: state and timers, one function value per subtask.
	alerts := stream.ProcessKeyed(stream.KeyBy(valid, userOf), func() stream.KeyedProcessFunction[string, Click, Alert] {
		return &burstDetector{} // registers its state in Open, uses ctx.RegisterEventTimeTimer
	}).UID("bursts")

	counts, views, alarms := sluicetest.NewTxSink[UserClicks](), sluicetest.NewTxSink[PageViews](), sluicetest.NewTxSink[Alert]()
	perUser.SinkTo("counts", counts) // any connector.Sink[T]
	perPage.SinkTo("views", views)
	alerts.SinkTo("alerts", alarms)
	fmt.Print(env.Guarantee()) // end-to-end guarantee and the weakest link
	if err := env.Execute(ctx); err != nil {
		fmt.Println(err)
		return
	}

	final := map[string]int64{} // the last count of every user
	for _, c := range counts.Values() {
		final[c.User] = max(final[c.User], c.Clicks)
	}
	fmt.Println("clicks:", final)
	byWindow := views.Values()
	slices.SortFunc(byWindow, func(a, b PageViews) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Page, b.Page))
	})
	for _, v := range byWindow {
		fmt.Println("views:", v.Start.Format(time.TimeOnly), v.Page, v.Views)
	}
	for _, a := range alarms.Values() {
		fmt.Println("burst:", a.User, a.Second.Format(time.TimeOnly), a.Clicks, "clicks")
	}
	// Output:
	// end-to-end guarantee: at-least-once
	//   weakest link: sink "Print": flushed on every barrier; lines after the last checkpoint are printed again after a restore
	//   checkpoints "checkpointing"          exactly-once  exactly-once checkpoints (aligned barriers)
	//   source      "clicks"                 exactly-once  the index of the next record of every split is checkpoint state
	//   sink        "Print"                  at-least-once flushed on every barrier; lines after the last checkpoint are printed again after a restore
	//   sink        "counts"                 exactly-once  one transaction per checkpoint, committed when the checkpoint completes
	//   sink        "views"                  exactly-once  one transaction per checkpoint, committed when the checkpoint completes
	//   sink        "alerts"                 exactly-once  one transaction per checkpoint, committed when the checkpoint completes
	// clicks: map[ann:26 bob:29 cy:13]
	// views: 12:00:00 /cart 13
	// views: 12:00:00 /home 14
	// views: 12:00:00 /pay 7
	// views: 12:00:10 /cart 14
	// views: 12:00:10 /home 13
	// views: 12:00:10 /pay 7
	// burst: bob 12:00:10 4 clicks
}
