package rabbitmq

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// TestAckOnCheckpointComplete: nothing is acknowledged before the
// checkpoint holding the messages completes; completion acknowledges
// exactly the messages emitted before the checkpoint's snapshot.
func TestAckOnCheckpointComplete(t *testing.T) {
	for _, kind := range []string{"classic", "quorum"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "quorum" && testing.Short() {
				t.Skip("the broker's figures of quorum queues lag by seconds; the torture tests read quorum queues")
			}
			a := newAdmin(t)
			q := a.queue("acks", kind, nil)
			a.publish(q, 0, 30)
			src, err := NewSource(String(), URL(testURL()), Queue(q), Prefetch(100))
			if err != nil {
				t.Fatal(err)
			}
			r := startReader(t, src, 1, nil)
			out := &fakeOutput[string]{}
			pollUntil(t, r, out, 30, 10*time.Second)
			sr := r.(connector.StatefulReader)
			if _, err := sr.SnapshotReaderState(1); err != nil {
				t.Fatal(err)
			}
			a.publish(q, 30, 40)
			pollUntil(t, r, out, 40, 10*time.Second)
			// The broker's figures of quorum queues lag a little.
			waitFor(t, 10*time.Second, "40 unacknowledged before checkpoint 1 completes", func() bool {
				ready, unacked := counts(t, q)
				return ready == 0 && unacked == 40
			})
			cl := r.(connector.CheckpointListener)
			if err := cl.NotifyCheckpointAborted(1); err != nil {
				t.Fatal(err)
			}
			if _, unacked := counts(t, q); unacked != 40 {
				t.Fatalf("after checkpoint 1 was aborted: unacked %d, want 40", unacked)
			}
			if err := cl.NotifyCheckpointComplete(1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the 30 messages of checkpoint 1 acknowledged", func() bool {
				_, unacked := counts(t, q)
				return unacked == 10
			})
			if _, err := sr.SnapshotReaderState(2); err != nil {
				t.Fatal(err)
			}
			if _, err := sr.SnapshotReaderState(3); err != nil {
				t.Fatal(err)
			}
			// Completion of 3 subsumes 2.
			if err := cl.NotifyCheckpointComplete(3); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "all acknowledged", func() bool {
				ready, unacked := counts(t, q)
				return ready == 0 && unacked == 0
			})
			want := make([]string, 40)
			for i := range want {
				want[i] = strconv.Itoa(i)
			}
			if !slices.Equal(out.values, want) {
				t.Fatalf("read %v, want %v", out.values, want)
			}
		})
	}
}

// TestRedeliveryAfterClose: messages emitted but not acknowledged come
// again to the next reader (at-least-once); acknowledged ones do not.
func TestRedeliveryAfterClose(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("redeliver", "classic", nil)
	a.publish(q, 0, 20)
	src, err := NewSource(String(), URL(testURL()), Queue(q))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	out := &fakeOutput[string]{}
	pollUntil(t, r, out, 10, 10*time.Second)
	if _, err := r.(connector.StatefulReader).SnapshotReaderState(1); err != nil {
		t.Fatal(err)
	}
	acked := slices.Clone(out.values) // what checkpoint 1 holds
	if err := r.(connector.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, r, out, 20, 10*time.Second)
	r.Close()

	r2 := startReader(t, src, 1, nil)
	out2 := &fakeOutput[string]{}
	pollUntil(t, r2, out2, 20-len(acked), 10*time.Second)
	for _, v := range out2.values {
		if slices.Contains(acked, v) {
			t.Errorf("acknowledged message %s delivered again", v)
		}
	}
	if len(out2.values) != 20-len(acked) {
		t.Errorf("second reader got %v", out2.values)
	}
}

// TestDedupeDropsRedelivered: with ids in the reader state, a reader
// restored from a checkpoint drops the messages that checkpoint holds
// when the broker delivers them again, and emits the others.
func TestDedupeDropsRedelivered(t *testing.T) {
	for _, field := range []IDField{CorrelationID, MessageID} {
		t.Run(field.String(), func(t *testing.T) {
			a := newAdmin(t)
			q := a.queue("dedupe", "classic", nil)
			a.publish(q, 0, 20)
			src, err := NewSource(String(), URL(testURL()), Queue(q), DedupeBy(field))
			if err != nil {
				t.Fatal(err)
			}
			r := startReader(t, src, 1, nil)
			out := &fakeOutput[string]{}
			pollUntil(t, r, out, 12, 10*time.Second)
			// Checkpoint 1 holds what was emitted so far; the reader fails
			// before it learns that 1 completed.
			st, err := r.(connector.StatefulReader).SnapshotReaderState(1)
			if err != nil {
				t.Fatal(err)
			}
			held := len(out.values)
			r.Close()

			r2 := startReader(t, src, 1, st)
			out2 := &fakeOutput[string]{}
			pollUntil(t, r2, out2, 20-held, 10*time.Second)
			got := append(slices.Clone(out.values[:held]), out2.values...)
			slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
			for i, v := range got {
				if v != strconv.Itoa(i) {
					t.Fatalf("checkpointed %v then restored %v: not each of 0..19 once", out.values[:held], out2.values)
				}
			}
			// The copies were dropped (the broker may deliver them after
			// the rest: the first connection's close is asynchronous) but
			// are acknowledged with the next checkpoint.
			waitFor(t, 5*time.Second, "every copy dropped", func() bool {
				pollFor(t, r2, out2, 20*time.Millisecond)
				return r2.(*reader[string]).dups == int64(held)
			})
			if _, err := r2.(connector.StatefulReader).SnapshotReaderState(2); err != nil {
				t.Fatal(err)
			}
			if err := r2.(connector.CheckpointListener).NotifyCheckpointComplete(2); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "all acknowledged", func() bool {
				ready, unacked := counts(t, q)
				return ready == 0 && unacked == 0
			})
			if n := r2.(*reader[string]).acks.pendingIDs(); n != 0 {
				t.Errorf("%d ids kept after every message was acknowledged", n)
			}
		})
	}
}

// TestMissingID: a message without the id fails the job naming the queue
// and what to set, or goes to the dead-letter output (and is
// acknowledged with the checkpoint).
func TestMissingID(t *testing.T) {
	a := newAdmin(t)
	for _, dead := range []bool{false, true} {
		q := a.queue("noid", "classic", nil)
		a.publish(q, 0, 2)
		publishN(t, a.ch, q, 0, 1, noID)
		src, err := NewSource(String(), URL(testURL()), Queue(q), DedupeBy(CorrelationID))
		if err != nil {
			t.Fatal(err)
		}
		r := startReader(t, src, 1, nil)
		out := &fakeOutput[string]{dead: dead}
		if !dead {
			err := pollErr(t, r, out, 10*time.Second)
			if !connector.IsPermanent(err) || !strings.Contains(err.Error(), q) || !strings.Contains(err.Error(), "correlation_id") {
				t.Fatalf("error %v: want a permanent bad record naming queue %s and correlation_id", err, q)
			}
			var bre *connector.BadRecordError
			if !errors.As(err, &bre) {
				t.Fatalf("error %T, want a *connector.BadRecordError", err)
			}
			continue
		}
		pollUntil(t, r, out, 2, 10*time.Second)
		waitFor(t, 5*time.Second, "the bad record", func() bool {
			if _, err := r.PollNext(out); err != nil {
				t.Fatal(err)
			}
			return len(out.bad) == 1
		})
		if _, err := r.(connector.StatefulReader).SnapshotReaderState(1); err != nil {
			t.Fatal(err)
		}
		if err := r.(connector.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "all acknowledged", func() bool {
			ready, unacked := counts(t, q)
			return ready == 0 && unacked == 0
		})
	}
}

// TestPrefetchBoundsUnacked: the broker delivers at most prefetch
// messages that are not acknowledged; completing a checkpoint lets the
// next ones come.
func TestPrefetchBoundsUnacked(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("prefetch", "classic", nil)
	a.publish(q, 0, 100)
	src, err := NewSource(String(), URL(testURL()), Queue(q), Prefetch(25))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	out := &fakeOutput[string]{}
	pollUntil(t, r, out, 25, 10*time.Second)
	// Give the broker time to send more than it may; it must not.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := r.PollNext(out); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := out.len(); n != 25 {
		t.Fatalf("read %d messages with prefetch 25 and no acknowledgement", n)
	}
	if ready, unacked := counts(t, q); ready != 75 || unacked != 25 {
		t.Fatalf("ready %d, unacked %d; want 75 and 25", ready, unacked)
	}
	if _, err := r.(connector.StatefulReader).SnapshotReaderState(1); err != nil {
		t.Fatal(err)
	}
	if err := r.(connector.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, r, out, 50, 10*time.Second)
}

// TestAutoAck: without checkpoints, messages are acknowledged on delivery.
func TestAutoAck(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("autoack", "classic", nil)
	a.publish(q, 0, 50)
	src, err := NewSource(String(), URL(testURL()), Queue(q), AutoAck(), Prefetch(10))
	if err != nil {
		t.Fatal(err)
	}
	if d := src.Declare(false); d.Guarantee != connector.AtMostOnce {
		t.Errorf("declared %v", d)
	}
	r := startReader(t, src, 1, nil)
	out := &fakeOutput[string]{}
	pollUntil(t, r, out, 50, 10*time.Second)
	if ready, unacked := counts(t, q); ready != 0 || unacked != 0 {
		t.Fatalf("ready %d, unacked %d with auto-ack", ready, unacked)
	}
}

// TestMissingQueue: consuming a queue that does not exist fails at once,
// permanently, naming the queue.
func TestMissingQueue(t *testing.T) {
	needServer(t)
	q := uniqueName("missing")
	src, err := NewSource(String(), URL(testURL()), Queue(q))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	err = pollErr(t, r, &fakeOutput[string]{}, 10*time.Second)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), q) {
		t.Fatalf("error %v: want permanent, naming %s", err, q)
	}
}

// TestBadCredentials: refused credentials are permanent and the password
// appears nowhere.
func TestBadCredentials(t *testing.T) {
	needServer(t)
	src, err := NewSource(String(), URL("amqp://guest:s3cr3t-pw@127.0.0.1:5672/"), Queue("q"))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	err = pollErr(t, r, &fakeOutput[string]{}, 10*time.Second)
	if !connector.IsPermanent(err) || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("error %v: want permanent, without the password", err)
	}
}

// TestParallelDedupeRefused: ids in reader state at parallelism > 1 are
// refused; the keyed stage is allowed.
func TestParallelDedupeRefused(t *testing.T) {
	src, err := NewSource(String(), Queue("q"), DedupeBy(CorrelationID))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.NewReader(fakeReaderCtx{par: 3})
	if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "parallelism 3") {
		t.Fatalf("error %v", err)
	}
	src, err = NewSource(String(), Queue("q"), DedupeBy(CorrelationID), KeyedDedupe(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = src.NewReader(fakeReaderCtx{par: 3}); err != nil {
		t.Fatal(err)
	}
}

func TestDeclare(t *testing.T) {
	cases := []struct {
		opts []SourceOption
		cp   bool
		want connector.Guarantee
		has  string
	}{
		{[]SourceOption{AutoAck()}, true, connector.AtMostOnce, "auto-ack"},
		{nil, false, connector.AtMostOnce, "prefetch"},
		{nil, true, connector.AtLeastOnce, "checkpoint"},
		{[]SourceOption{DedupeBy(MessageID)}, true, connector.ExactlyOnce, "parallelism 1"},
		{[]SourceOption{DedupeBy(CorrelationID), KeyedDedupe(time.Minute)}, true, connector.ExactlyOnce, "keyed"},
	}
	for _, c := range cases {
		src, err := NewSource(String(), append(c.opts, Queue("q"))...)
		if err != nil {
			t.Fatal(err)
		}
		d := src.Declare(c.cp)
		if d.Guarantee != c.want || !strings.Contains(d.Reason, c.has) {
			t.Errorf("%v: declared %v (%s), want %v with %q", c.opts, d.Guarantee, d.Reason, c.want, c.has)
		}
	}
}

func TestNewSourceMistakes(t *testing.T) {
	cases := map[string][]SourceOption{
		"no queue":         nil,
		"prefetch":         {Queue("q"), Prefetch(70000)},
		"autoack dedupe":   {Queue("q"), AutoAck(), DedupeBy(MessageID)},
		"keyed without id": {Queue("q"), KeyedDedupe(time.Minute)},
		"not an AMQP URL":  {Queue("q"), URL("http://x:pw@host/")},
	}
	for name, opts := range cases {
		_, err := NewSource(String(), opts...)
		if !errors.Is(err, connector.ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the password shows in %v", name, err)
		}
	}
}

func TestDefaultPrefetch(t *testing.T) {
	cases := []struct {
		opts []SourceOption
		want int
	}{
		{nil, 20000},
		{[]SourceOption{ExpectCheckpoints(time.Second, 0)}, 2000},
		{[]SourceOption{ExpectCheckpoints(time.Second, 0), ExpectedRate(10)}, MinPrefetch},
		{[]SourceOption{ExpectCheckpoints(time.Minute, 0)}, MaxPrefetch},
		{[]SourceOption{Prefetch(7)}, 7},
	}
	for _, c := range cases {
		src, err := NewSource(String(), append(c.opts, Queue("q"))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Prefetch(); got != c.want {
			t.Errorf("%v: prefetch %d, want %d", c.opts, got, c.want)
		}
	}
}
