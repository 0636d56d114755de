package collection

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// fakeClock is a clock that moves only when told; AfterFunc records the
// wake-up asked for (the tests poll by themselves).
type fakeClock struct {
	now  time.Time
	wake time.Time // the latest wake-up asked for
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) AfterFunc(d time.Duration, _ func()) {
	c.wake = c.now.Add(d)
}

// pacedReader returns a reader of src paced by a fake clock, reading
// split, and its output.
func pacedReader(t *testing.T, src *Source[int64], split *Split) (*Reader[int64], *fakeClock, *output) {
	t.Helper()
	c := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	src.clock = c
	r, err := src.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddSplits([]connector.Split{split}); err != nil {
		t.Fatal(err)
	}
	r.NoMoreSplits()
	return r.(*Reader[int64]), c, &output{got: map[string][]int64{}}
}

// pollAll polls r until it has nothing available now and returns how many
// records that emitted and how many polls it took.
func pollAll(t *testing.T, r *Reader[int64], out *output) (records, polls int) {
	t.Helper()
	before := count(out)
	for {
		polls++
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatal(err)
		}
		if st != connector.MoreAvailable {
			return count(out) - before, polls
		}
		if polls > 10_000 {
			t.Fatal("the reader never runs out of records")
		}
	}
}

func count(o *output) int {
	n := 0
	for _, v := range o.got {
		n += len(v)
	}
	return n
}

// TestRateLateWakeUps: every wake-up comes 7 ms after the 10 ms the
// reader asked for; the reader still emits 100 records a second (the
// record due at 0 and one per 10 ms), not one per 17 ms.
func TestRateLateWakeUps(t *testing.T) {
	r, c, out := pacedReader(t, Generate(-1, func(i int64) int64 { return i }, Rate(100)), &Split{Of: 1, End: -1, Stride: 1})
	start := c.now
	maxPerWake := 0
	for c.now.Sub(start) < 10*time.Second {
		n, _ := pollAll(t, r, out)
		maxPerWake = max(maxPerWake, n)
		if !c.wake.After(c.now) {
			t.Fatalf("at %v the reader asks to be woken at %v", c.now.Sub(start), c.wake.Sub(start))
		}
		c.now = c.wake.Add(7 * time.Millisecond)
	}
	elapsed := c.now.Sub(start)
	n, _ := pollAll(t, r, out)
	maxPerWake = max(maxPerWake, n)
	want := int(elapsed/(10*time.Millisecond)) + 1
	if got := count(out); got != want {
		t.Errorf("%d records in %v, want %d (one at 0, then 100 a second)", got, elapsed, want)
	}
	if maxPerWake > 2 {
		t.Errorf("a wake-up emitted %d records; a 7 ms delay makes up at most 2", maxPerWake)
	}
}

// TestRateCatchUpIsCapped: after a stall of 10 s the reader makes up one
// second of records at once (the rate), not ten, then goes on at the
// rate from there.
func TestRateCatchUpIsCapped(t *testing.T) {
	r, c, out := pacedReader(t, Generate(-1, func(i int64) int64 { return i }, Rate(100), PollSize(30)),
		&Split{Of: 1, End: -1, Stride: 1})
	if n, _ := pollAll(t, r, out); n != 1 {
		t.Fatalf("first poll: %d records, want 1", n)
	}
	c.now = c.now.Add(10 * time.Second)
	n, polls := pollAll(t, r, out)
	if n != 100 || polls != 4 {
		t.Errorf("after a 10 s stall: %d records in %d polls, want 100 in 4 (30 a poll)", n, polls)
	}
	if d := c.wake.Sub(c.now); d != 10*time.Millisecond {
		t.Errorf("next wake-up in %v, want 10ms", d)
	}
	// From then on, 100 a second again.
	c.now = c.now.Add(time.Second)
	if n, _ := pollAll(t, r, out); n != 100 {
		t.Errorf("one second later: %d records, want 100", n)
	}
}

// TestRateAfterRestore: a reader of a restored split starts its schedule
// at its first poll, from the restored position, without making up the
// records of the time the job was down.
func TestRateAfterRestore(t *testing.T) {
	src := Generate(10_000, func(i int64) int64 { return i }, Rate(50))
	r, c, out := pacedReader(t, src, &Split{Of: 1, Next: 500, End: 10_000, Stride: 1})
	if n, _ := pollAll(t, r, out); n != 1 || out.got["0/1"][0] != 500 {
		t.Fatalf("first poll after the restore: %v, want record 500 alone", out.got)
	}
	c.now = c.now.Add(time.Second)
	if n, _ := pollAll(t, r, out); n != 50 {
		t.Errorf("one second later: %d records, want 50", n)
	}
	if got := out.got["0/1"]; got[len(got)-1] != 550 {
		t.Errorf("last record %d, want 550", got[len(got)-1])
	}
}

// TestRateBounded: a bounded paced source ends after its last record.
func TestRateBounded(t *testing.T) {
	r, c, out := pacedReader(t, Generate(5, func(i int64) int64 { return i }, Rate(1000)), &Split{Of: 1, End: 5, Stride: 1})
	c.now = c.now.Add(time.Hour) // the first poll starts the schedule: one record
	st, err := r.PollNext(out)
	if err != nil || st != connector.NothingAvailable {
		t.Fatalf("first poll: %v %v", st, err)
	}
	c.now = c.now.Add(time.Second)
	if st, err := r.PollNext(out); err != nil || st != connector.EndOfInput || count(out) != 5 {
		t.Errorf("got %v %v after %d records, want the end after 5", st, err, count(out))
	}
}
