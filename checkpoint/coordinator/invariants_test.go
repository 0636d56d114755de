package coordinator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
)

// TestInvariants drives coordinators with random events under several
// configurations and checks, after every event, the guarantees the package
// documentation makes.
func TestInvariants(t *testing.T) {
	configs := []Config{
		{Interval: time.Second, Timeout: 5 * time.Second, TolerableFailures: UnlimitedFailures},
		{Interval: time.Second, Timeout: 3 * time.Second, MinPause: 1500 * time.Millisecond, TolerableFailures: 3},
		{Interval: time.Second, Timeout: 4 * time.Second, MaxConcurrent: 3, MinPause: time.Second, TolerableFailures: UnlimitedFailures},
		{Interval: 500 * time.Millisecond, Timeout: 2 * time.Second, MaxConcurrent: 2, TolerableFailures: 5, FirstID: 100},
		{Timeout: 2 * time.Second, MinPause: 700 * time.Millisecond, TolerableFailures: UnlimitedFailures},
		{Interval: 2 * time.Second, TolerableFailures: 0},
	}
	for ci, cfg := range configs {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("config%d/seed%d", ci, seed), func(t *testing.T) {
				runRandom(t, cfg, rand.New(rand.NewPCG(seed, uint64(ci))), 600)
			})
		}
	}
}

type checker struct {
	t   *testing.T
	cfg Config
	c   *Coordinator
	now time.Time

	triggered      map[int64]checkpoint.Kind
	requested      map[int64]checkpoint.Kind
	storing        map[int64]bool
	settled        map[int64]bool
	lastTrigger    int64
	lastComplete   int64 // of kinds checkpoint and final
	finalRequested bool
	finalID        int64 // the id RequestFinal returned
	stopped        bool
	failedJob      bool
}

func runRandom(t *testing.T, cfg Config, r *rand.Rand, steps int) {
	tasks := []TaskID{{0, 0}, {0, 1}, {1, 0}}
	c, err := New(cfg, tasks, epoch)
	if err != nil {
		t.Fatal(err)
	}
	k := &checker{
		t: t, cfg: cfg.withDefaults(), c: c, now: epoch,
		triggered: map[int64]checkpoint.Kind{}, requested: map[int64]checkpoint.Kind{},
		storing: map[int64]bool{}, settled: map[int64]bool{},
	}
	pick := func(ids []int64) int64 {
		if len(ids) == 0 || r.IntN(10) == 0 {
			return r.Int64N(k.lastTrigger+3) + int64(cfg.FirstID) - 1 // often unknown or settled
		}
		return ids[r.IntN(len(ids))]
	}
	for step := range steps {
		if r.IntN(20) == 0 {
			k.now = k.now.Add(-time.Duration(r.IntN(1000)) * time.Millisecond) // a clock going back
		} else {
			k.now = k.now.Add(time.Duration(r.IntN(400)) * time.Millisecond)
		}
		var storedOK int64 = -1
		desc := ""
		switch n := r.IntN(100); {
		case n < 20:
			desc = "tick"
			c.Tick(k.now)
		case n < 50:
			id, task := pick(c.Pending()), tasks[r.IntN(len(tasks))]
			if r.IntN(30) == 0 {
				task = TaskID{9, 9}
			}
			desc = fmt.Sprintf("ack %d %v", id, task)
			c.Ack(id, task, k.now)
		case n < 60:
			id := pick(c.Pending())
			desc = fmt.Sprintf("ack-all %d", id)
			for _, task := range tasks {
				c.Ack(id, task, k.now)
				k.check(desc, -1)
			}
		case n < 66:
			id := pick(c.Pending())
			var reason error
			switch r.IntN(3) {
			case 0:
				reason = errors.New("broken")
			case 1:
				reason = fmt.Errorf("starting: %w", ErrTaskNotReady)
			}
			desc = fmt.Sprintf("decline %d", id)
			c.Decline(id, tasks[r.IntN(len(tasks))], reason, k.now)
		case n < 90:
			var storing []int64
			for id := range k.storing {
				if !k.settled[id] {
					storing = append(storing, id)
				}
			}
			slices.Sort(storing)
			id := pick(storing)
			var err error
			if r.IntN(6) == 0 {
				err = errors.New("disk full")
			} else {
				storedOK = id
			}
			desc = fmt.Sprintf("stored %d %v", id, err)
			c.Stored(id, err, k.now)
		case n < 95:
			desc = "savepoint"
			id, err := c.RequestSavepoint(k.now)
			k.request(id, err, checkpoint.KindSavepoint)
		case n < 97:
			desc = "final"
			id, err := c.RequestFinal(k.now)
			k.request(id, err, checkpoint.KindFinal)
		case n < 98 && step > steps/2:
			desc = "stop"
			c.Stop(errors.New("cancelled"))
			k.stopped = true
		default:
			desc = "probe deadline"
			if d, ok := c.NextDeadline(); ok {
				k.now = d.Add(-time.Nanosecond)
				c.Tick(k.now)
				if as := c.Ready(); len(as) != 0 {
					t.Fatalf("tick just before deadline %v did something: %v", d.Sub(epoch), as)
				}
				k.now = d
				c.Tick(k.now)
				if as := c.Ready(); len(as) == 0 {
					t.Fatalf("tick at deadline %v did nothing", d.Sub(epoch))
				} else {
					k.actions(desc, as, -1)
				}
			}
		}
		k.check(desc, storedOK)
	}
	c.Stop(nil)
	k.stopped = true
	k.check("final stop", -1)
	for id := range k.triggered {
		if !k.settled[id] {
			t.Errorf("triggered %d never settled", id)
		}
	}
	for id := range k.requested {
		if !k.settled[id] {
			t.Errorf("requested %d never settled", id)
		}
	}
}

func (k *checker) request(id int64, err error, kind checkpoint.Kind) {
	switch {
	case k.stopped && !errors.Is(err, ErrStopped):
		k.t.Fatalf("request %v after stop: %d, %v", kind, id, err)
	case !k.stopped && k.finalRequested && !errors.Is(err, ErrFinalRequested):
		k.t.Fatalf("request %v after final: %d, %v", kind, id, err)
	case err == nil:
		if _, dup := k.requested[id]; dup || id <= k.lastTrigger {
			k.t.Fatalf("request returned used id %d", id)
		}
		k.requested[id] = kind
		if kind == checkpoint.KindFinal {
			k.finalRequested, k.finalID = true, id
		}
	}
}

// check checks the actions of one event and the state after it. storedOK is
// the id for which the event was a successful Stored, or -1.
func (k *checker) check(desc string, storedOK int64) {
	k.t.Helper()
	k.actions(desc, k.c.Ready(), storedOK)
	var want []int64
	for id := range k.triggered {
		if !k.settled[id] {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	if got := k.c.Pending(); !slices.Equal(got, want) {
		k.t.Fatalf("%s: Pending() = %v, want %v", desc, got, want)
	}
	if len(want) > k.cfg.MaxConcurrent {
		k.t.Fatalf("%s: %d pending, MaxConcurrent %d", desc, len(want), k.cfg.MaxConcurrent)
	}
	if d, ok := k.c.NextDeadline(); ok {
		if k.stopped {
			k.t.Fatalf("%s: deadline after stop", desc)
		}
		if !d.After(k.c.now) {
			k.t.Fatalf("%s: deadline %v not after now %v", desc, d.Sub(epoch), k.c.now.Sub(epoch))
		}
	}
	if k.c.LatestCompleted() != k.lastComplete {
		k.t.Fatalf("%s: LatestCompleted() = %d, want %d", desc, k.c.LatestCompleted(), k.lastComplete)
	}
}

func (k *checker) actions(desc string, as []Action, storedOK int64) {
	k.t.Helper()
	fail := func(format string, args ...any) {
		k.t.Helper()
		k.t.Fatalf("%s: %v: "+format, append([]any{desc, as}, args...)...)
	}
	for _, a := range as {
		if k.failedJob {
			fail("action after FailJob")
		}
		switch a := a.(type) {
		case Trigger:
			if k.stopped {
				fail("trigger after stop")
			}
			if a.ID <= k.lastTrigger || k.settled[a.ID] {
				fail("trigger id %d not increasing (last %d)", a.ID, k.lastTrigger)
			}
			if !a.Timestamp.Equal(k.c.now) {
				fail("trigger timestamp %v, now %v", a.Timestamp, k.c.now)
			}
			switch kind, ok := k.requested[a.ID]; {
			case a.Kind == checkpoint.KindCheckpoint && (ok || k.finalRequested && a.ID > k.finalID):
				fail("periodic checkpoint %d requested or after final", a.ID)
			case a.Kind == checkpoint.KindSavepoint && kind != checkpoint.KindSavepoint:
				fail("savepoint %d not requested", a.ID)
			case a.Kind == checkpoint.KindFinal && !k.finalRequested:
				fail("final %d not requested", a.ID)
			}
			k.lastTrigger = a.ID
			k.triggered[a.ID] = a.Kind
		case Store:
			if kind, ok := k.triggered[a.ID]; !ok || kind != a.Kind || k.settled[a.ID] || k.storing[a.ID] {
				fail("store %d not pending", a.ID)
			}
			k.storing[a.ID] = true
		case Complete:
			if !k.storing[a.ID] || k.settled[a.ID] || a.ID != storedOK || k.triggered[a.ID] != a.Kind {
				fail("complete %d without store", a.ID)
			}
			if a.Kind != checkpoint.KindSavepoint {
				if a.ID <= k.lastComplete {
					fail("complete %d not increasing (last %d)", a.ID, k.lastComplete)
				}
				k.lastComplete = a.ID
			}
			k.settled[a.ID] = true
		case Abort:
			kind, triggered := k.triggered[a.ID]
			if !triggered {
				kind = k.requested[a.ID]
			}
			if k.settled[a.ID] || kind != a.Kind || a.Reason == nil {
				fail("abort %d not pending", a.ID)
			}
			if errors.Is(a.Reason, ErrSubsumed) && (a.Kind == checkpoint.KindSavepoint || a.ID >= k.lastComplete) {
				fail("bad subsumption of %d", a.ID)
			}
			k.settled[a.ID] = true
		case FailJob:
			if k.cfg.TolerableFailures == UnlimitedFailures || !errors.Is(a.Err, ErrTooManyFailures) {
				fail("unexpected FailJob")
			}
			k.failedJob, k.stopped = true, true
			for id := range k.triggered {
				if !k.settled[id] {
					fail("FailJob with %d still pending", id)
				}
			}
			for id := range k.requested {
				if !k.settled[id] {
					fail("FailJob with %d still queued", id)
				}
			}
		default:
			fail("unknown action %T", a)
		}
	}
}
