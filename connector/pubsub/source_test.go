package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/connector"
)

// TestAckOnlyAfterCheckpointCompletes: nothing is acknowledged before
// the checkpoint after the records' emission completes; a message
// received but not emitted is not acknowledged by it; completion of a
// later checkpoint subsumes an earlier one's.
func TestAckOnlyAfterCheckpointCompletes(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "acks", 10*time.Second, false)
	f.publishN(t, "acks", 0, 10)
	src := fakeSource(t, f, "acks", String(), MaxPollRecords(3))
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[string]{}

	// Wait until all 10 are received, then emit 3.
	waitFor(t, 5*time.Second, func() bool { return r.l.pending() == 10 }, "10 messages received")
	pollUntil(t, r, out, 3)
	if _, _, acked, _ := f.stats("acks"); acked != 0 {
		t.Fatalf("%d acks before any checkpoint", acked)
	}
	// Checkpoint 1 covers the 3 emitted.
	state, err := r.SnapshotReaderState(1)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := decodeState(state[0]); err != nil || len(s.ackIDs) != 3 {
		t.Fatalf("state of checkpoint 1: %d ack ids, %v; want 3", len(s.ackIDs), err)
	}
	pollUntil(t, r, out, 6) // 3 more, after snapshot 1
	time.Sleep(200 * time.Millisecond)
	if _, _, acked, _ := f.stats("acks"); acked != 0 {
		t.Fatalf("%d acks before checkpoint 1 completed", acked)
	}
	if err := r.NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("acks"); return a == 3 }, "3 acks after checkpoint 1")
	time.Sleep(200 * time.Millisecond)
	if _, _, acked, _ := f.stats("acks"); acked != 3 {
		t.Fatalf("%d acks after checkpoint 1, want exactly the 3 emitted before its snapshot", acked)
	}
	for _, m := range f.published("acks") {
		n, _ := strconv.Atoi(string(m.Data))
		if m.Acks > 0 && !slices.Contains(out.got[:3], string(m.Data)) {
			t.Errorf("message %d acknowledged, but it was not emitted before snapshot 1", n)
		}
	}
	// Snapshot 2 (aborted) and 3; completing 3 covers 2.
	r.SnapshotReaderState(2)
	r.NotifyCheckpointAborted(2)
	pollUntil(t, r, out, 9)
	r.SnapshotReaderState(3)
	r.NotifyCheckpointComplete(3)
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("acks"); return a == 9 }, "9 acks after checkpoint 3")
	_, delivered, _, _ := f.stats("acks")
	if delivered != 10 {
		t.Errorf("%d deliveries of 10 messages: something was redelivered", delivered)
	}
}

// TestDeadlinesExtended: messages held past the subscription's ack
// deadline are not redelivered, because the reader extends them.
func TestDeadlinesExtended(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "extend", time.Second, false)
	f.publishN(t, "extend", 0, 5)
	src := fakeSource(t, f, "extend", String(), AckDeadline(time.Second))
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[string]{}
	pollUntil(t, r, out, 5)
	time.Sleep(3 * time.Second) // three deadlines
	_, delivered, acked, modacks := f.stats("extend")
	if delivered != 5 || acked != 0 {
		t.Fatalf("after 3s held: %d deliveries, %d acks; want 5, 0", delivered, acked)
	}
	if modacks < 5*3 {
		t.Errorf("%d deadline extensions of 5 messages in 3s with a 1s deadline, want at least 15", modacks)
	}
	r.SnapshotReaderState(1)
	r.NotifyCheckpointComplete(1)
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("extend"); return a == 5 }, "5 acks")
}

// TestMaxExtension: a message held past MaxExtension is given up and
// redelivered (a duplicate, not a loss), and counted.
func TestMaxExtension(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "maxext", time.Second, false)
	f.publishN(t, "maxext", 0, 1)
	src := fakeSource(t, f, "maxext", String(), AckDeadline(time.Second), MaxExtension(time.Second),
		ExpectCheckpoints(0, time.Second-time.Millisecond))
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[string]{}
	pollUntil(t, r, out, 1)
	pollUntil(t, r, out, 2) // the redelivery
	if out.got[0] != "0" || out.got[1] != "0" {
		t.Fatalf("got %q, want the message twice", out.got)
	}
	if r.lostLeases.Load() == 0 {
		t.Errorf("no lease counted as lost")
	}
}

// TestRestoreAcknowledges: a reader restored from a checkpoint
// acknowledges the ack ids it holds (restoring means it completed), and
// the messages emitted after the snapshot come back.
func TestRestoreAcknowledges(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "restore", 2*time.Second, false)
	f.publishN(t, "restore", 0, 6)
	src := fakeSource(t, f, "restore", String(), MaxPollRecords(3), AckDeadline(2*time.Second))
	attempt, fail := context.WithCancel(t.Context())
	r := startReaderCtx(t, attempt, src, nil)
	out := &output[string]{}
	waitFor(t, 5*time.Second, func() bool { return r.l.pending() == 6 }, "6 messages received")
	pollUntil(t, r, out, 3)
	state, _ := r.SnapshotReaderState(7)
	pollUntil(t, r, out, 6)
	// The attempt fails: the checkpoint's completion is never delivered,
	// and nothing is acknowledged or handed back at Close.
	fail()
	r.Close()
	if _, _, acked, _ := f.stats("restore"); acked != 0 {
		t.Fatalf("%d acks before the restore", acked)
	}
	r2 := startReader(t, src, state)
	defer r2.Close()
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("restore"); return a == 3 }, "the restored checkpoint's 3 acks")
	out2 := &output[string]{}
	pollUntil(t, r2, out2, 3)
	slices.Sort(out2.got)
	want := slices.Clone(out.got[3:])
	slices.Sort(want)
	if !slices.Equal(out2.got, want) {
		t.Fatalf("redelivered %q, want the ones emitted after the snapshot %q", out2.got, want)
	}
}

// TestAckOnReceipt: at-most-once acknowledges before emission.
func TestAckOnReceipt(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "receipt", 10*time.Second, false)
	f.publishN(t, "receipt", 0, 4)
	src := fakeSource(t, f, "receipt", String(), AckOnReceipt())
	if d := src.Declare(true); d.Guarantee != connector.AtMostOnce {
		t.Errorf("declared %v", d)
	}
	r := startReader(t, src, nil)
	defer r.Close()
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("receipt"); return a == 4 }, "4 acks on receipt")
	out := &output[string]{}
	pollUntil(t, r, out, 4)
	if st, _ := r.SnapshotReaderState(1); st != nil {
		t.Errorf("state %v without held messages", st)
	}
}

// TestRefusals: a missing subscription and refused permissions fail the
// reader with a permanent error naming the subscription.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []pstest.ServerReactorOption
		want string
	}{
		{"missing", nil, "does not exist"},
		{"denied", []pstest.ServerReactorOption{pstest.WithErrorInjection("Pull", codes.PermissionDenied, "no")}, "roles/pubsub.subscriber"},
		{"unauthenticated", []pstest.ServerReactorOption{pstest.WithErrorInjection("Pull", codes.Unauthenticated, "no")}, "credentials were refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.opt...)
			if tc.name != "missing" {
				f.subscription(t, "refused", 10*time.Second, false)
			}
			src := fakeSource(t, f, "refused", String())
			r := startReader(t, src, nil)
			defer r.Close()
			var err error
			waitFor(t, 10*time.Second, func() bool {
				_, err = r.PollNext(&output[string]{})
				return err != nil
			}, "the reader's error")
			if !errors.Is(err, connector.ErrRejected) || !connector.IsPermanent(err) {
				t.Errorf("error %v is not a permanent refusal", err)
			}
			if !strings.Contains(err.Error(), subName("refused")) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the subscription and %q", err, tc.want)
			}
		})
	}
}

// TestBadRecords: an undecodable message goes to the dead-letter output
// with its location and is acknowledged with the checkpoint; without a
// dead-letter output it fails the reader.
func TestBadRecords(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "bad", 10*time.Second, false)
	f.srv.Publish(topicName("bad"), []byte(`{"n":1}`), nil)
	badID := f.srv.Publish(topicName("bad"), []byte(`{nope`), nil)
	src := fakeSource(t, f, "bad", JSON[map[string]any]())
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[map[string]any]{dead: true}
	waitFor(t, 5*time.Second, func() bool { r.PollNext(out); return len(out.rejected) == 1 && out.len() == 1 }, "1 record and 1 rejected")
	if loc := out.rejected[0].Location; loc != subName("bad")+" message "+badID {
		t.Errorf("location %q", loc)
	}
	r.SnapshotReaderState(1)
	r.NotifyCheckpointComplete(1)
	waitFor(t, 5*time.Second, func() bool { _, _, a, _ := f.stats("bad"); return a == 2 }, "both acknowledged")

	f.srv.Publish(topicName("bad"), []byte(`{nope`), nil)
	var err error
	waitFor(t, 5*time.Second, func() bool { _, err = r.PollNext(&output[map[string]any]{}); return err != nil }, "a bad-record error")
	if !errors.Is(err, connector.ErrBadRecord) {
		t.Errorf("error %v is not a bad record", err)
	}
}

// TestEndWhenIdle: the source ends once idle with nothing pending.
func TestEndWhenIdle(t *testing.T) {
	f := newFake(t)
	f.subscription(t, "idle", 10*time.Second, false)
	f.publishN(t, "idle", 0, 3)
	src := fakeSource(t, f, "idle", String(), EndWhenIdle(700*time.Millisecond))
	if !src.Bounded() {
		t.Error("not bounded")
	}
	r := startReader(t, src, nil)
	defer r.Close()
	out := &output[string]{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatal(err)
		}
		if st == connector.EndOfInput {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no end")
		}
		select {
		case <-r.Available():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if out.len() != 3 {
		t.Errorf("ended after %d records, want 3", out.len())
	}
}

// throttle fails the first calls of a kind with a code.
type throttle struct {
	mu    sync.Mutex
	left  int // -1: always
	code  codes.Code
	calls int
}

func (th *throttle) React(any) (bool, any, error) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.calls++
	if th.left == 0 {
		return false, nil, nil
	}
	if th.left > 0 {
		th.left--
	}
	return true, nil, status.Error(th.code, "slow down")
}

// TestTransientPullFailures: pulls that fail for a moment are retried;
// pulls that keep failing fail the reader with an error that is not
// permanent (the job restarts), naming the subscription.
func TestTransientPullFailures(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		f := newFake(t, pstest.ServerReactorOption{FuncName: "Pull", Reactor: &throttle{left: 3, code: codes.ResourceExhausted}})
		f.subscription(t, "flaky", 10*time.Second, false)
		f.publishN(t, "flaky", 0, 5)
		r := startReader(t, fakeSource(t, f, "flaky", String()), nil)
		defer r.Close()
		pollUntil(t, r, &output[string]{}, 5)
	})
	t.Run("gives up", func(t *testing.T) {
		f := newFake(t, pstest.ServerReactorOption{FuncName: "Pull", Reactor: &throttle{left: -1, code: codes.ResourceExhausted}})
		f.subscription(t, "throttled", 10*time.Second, false)
		r := startReader(t, fakeSource(t, f, "throttled", String()), nil)
		defer r.Close()
		var err error
		waitFor(t, 20*time.Second, func() bool { _, err = r.PollNext(&output[string]{}); return err != nil }, "the reader's error")
		if connector.IsPermanent(err) || !strings.Contains(err.Error(), subName("throttled")) {
			t.Fatalf("error %v: want a transient error naming the subscription", err)
		}
	})
}

// TestCloseAfterFailureWithAcksPending: when the attempt's context ends
// while acknowledgements are being retried, Close returns at once.
func TestCloseAfterFailureWithAcksPending(t *testing.T) {
	th := &throttle{left: -1, code: codes.ResourceExhausted}
	f := newFake(t, pstest.ServerReactorOption{FuncName: "Acknowledge", Reactor: th})
	f.subscription(t, "stuck", 10*time.Second, false)
	f.publishN(t, "stuck", 0, 3)
	attempt, fail := context.WithCancel(t.Context())
	r := startReaderCtx(t, attempt, fakeSource(t, f, "stuck", String()), nil)
	pollUntil(t, r, &output[string]{}, 3)
	r.SnapshotReaderState(1)
	r.NotifyCheckpointComplete(1)
	waitFor(t, 5*time.Second, func() bool { th.mu.Lock(); defer th.mu.Unlock(); return th.calls > 0 }, "an acknowledgement attempt")
	fail()
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the attempt's context ended")
	}
}
