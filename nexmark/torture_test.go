package nexmark_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/nexmark"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("nexmark-events", tortureJob)
}

// Parameters of the torture job.
const (
	tortureRate     = 2000 // events per second, all source subtasks together
	tortureParallel = 2
)

// eventLine identifies an event: its kind, ids and time (a multiset of
// these lines is what the failure-free run writes).
func eventLine(e nexmark.Event) string {
	switch e.Type {
	case nexmark.PersonEvent:
		return fmt.Sprintf("p%d@%d", e.Person.ID, e.Person.DateTime)
	case nexmark.AuctionEvent:
		return fmt.Sprintf("a%d@%d", e.Auction.ID, e.Auction.DateTime)
	}
	return fmt.Sprintf("b%d,%d,%d@%d", e.Bid.Auction, e.Bid.Bidder, e.Bid.Price, e.Bid.DateTime)
}

// tortureJob: the Nexmark source (parameter events), paced to tortureRate
// except in a run meant to finish, -> one line per event -> TxFileSink, at
// parallelism 2 with a checkpoint every 100ms.
func tortureJob(ctx context.Context, e *crashtest.ChildEnv) error {
	src, err := nexmark.NewSource(nexmark.Config{Events: e.Int("events", 0)})
	if err != nil {
		return err
	}
	env := stream.New("crashtest-nexmark", append(e.Options(100*time.Millisecond), stream.WithParallelism(tortureParallel))...)
	events := stream.FromSource(env, "nexmark", src, eventtime.NoWatermarks[nexmark.Event]()).UID("nexmark")
	if !e.Finish {
		events = sluicetest.InjectFailures(events, sluicetest.NewFailer().Pause(20, 20*time.Second/tortureRate)).UID("pace")
	}
	stream.Map(events, eventLine).UID("line").
		SinkTo("out", crashtest.NewTxFileSink(filepath.Join(e.Dir, "out"))).UID("sink")
	return env.Execute(ctx)
}

// TestTortureSourceExactlyOnce SIGKILLs a job reading the Nexmark source
// into an exactly-once file sink again and again, also between checkpoint
// completion and commit, and checks that the committed output holds every
// event exactly once.
func TestTortureSourceExactlyOnce(t *testing.T) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "nexmark-events", Kills: 6})
	n := int64(cfg.JobDuration().Seconds() * tortureRate)
	cfg.Params = map[string]string{"events": strconv.FormatInt(n, 10)}
	res := crashtest.Run(t, cfg)
	if res.Kills != cfg.Kills {
		t.Errorf("the harness killed the job %d times, want %d", res.Kills, cfg.Kills)
	}
	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}

	g, err := nexmark.NewGenerator(nexmark.Config{Events: n})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, n)
	for i := range n {
		want[i] = eventLine(g.Event(i))
	}
	files, err := crashtest.ReadCommittedFiles(filepath.Join(res.Dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, lines := range files {
		got = append(got, lines...)
	}
	if d := crashtest.Compare(got, want); !d.OK() {
		t.Fatalf("committed output of %d events is not exactly once: %v", n, d)
	}
	t.Logf("%d events exactly once in %d committed files", len(got), len(files))
}
