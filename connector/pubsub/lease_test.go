package pubsub

import (
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

func received(ids ...string) []*pubsubpb.ReceivedMessage {
	out := make([]*pubsubpb.ReceivedMessage, len(ids))
	for i, id := range ids {
		out[i] = &pubsubpb.ReceivedMessage{AckId: id, Message: &pubsubpb.PubsubMessage{MessageId: id, Data: []byte("12345")}}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestLeases walks messages through the states: only emitted messages
// are acknowledged, only once a checkpoint after their emission
// completes; flow control counts them until then.
func TestLeases(t *testing.T) {
	now := time.Now()
	l := newLeases(true, 4, 1000)
	if l.space() != 4 {
		t.Fatalf("space %d", l.space())
	}
	l.add(received("a", "b", "c"), now)
	if l.space() != 1 {
		t.Fatalf("space %d after 3 of 4", l.space())
	}
	if got := l.take(2); len(got) != 2 || got[0].AckId != "a" || got[1].AckId != "b" {
		t.Fatalf("take: %v", got)
	}
	if got := sorted(l.unsnapshotted()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("unsnapshotted %v", got)
	}
	if got := sorted(l.snapshot(1)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("snapshot 1 holds %v, want the emitted a, b", got)
	}
	if got := l.unsnapshotted(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("unsnapshotted after snapshot 1: %v", got)
	}
	l.take(1) // c, after snapshot 1
	if got := sorted(l.snapshot(2)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("snapshot 2 holds %v", got)
	}
	if n := l.complete(1); n != 2 {
		t.Fatalf("complete(1) queued %d, want 2", n)
	}
	// Being acknowledged: not extended, still in the state.
	ext, _ := l.extendable(now, time.Hour)
	if !slices.Equal(ext, []string{"c"}) {
		t.Fatalf("extendable %v, want c", ext)
	}
	acks := l.nextAcks(10)
	if got := sorted(acks); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("acks %v", got)
	}
	if got := sorted(l.snapshot(3)); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("snapshot 3 (a, b in flight) holds %v", got)
	}
	l.done(acks)
	if l.acksPending() {
		t.Fatal("acks pending after done")
	}
	if l.space() != 3 {
		t.Fatalf("space %d after 2 acknowledged", l.space())
	}
	// Completion subsumes: 3 covers 2.
	l.complete(3)
	l.done(l.nextAcks(10))
	if got := l.snapshot(4); len(got) != 0 || l.space() != 4 {
		t.Fatalf("snapshot 4 %v, space %d", got, l.space())
	}
}

// TestLeasesLost: a message past the maximum extension, or refused an
// extension, while buffered is dropped (Pub/Sub redelivers it); emitted,
// it stays until its checkpoint.
func TestLeasesLost(t *testing.T) {
	now := time.Now()
	l := newLeases(true, 10, 1000)
	l.add(received("old", "refused"), now.Add(-2*time.Minute))
	l.add(received("new"), now)
	ext, lost := l.extendable(now, time.Minute)
	if lost != 2 || !slices.Equal(ext, []string{"new"}) {
		t.Fatalf("extendable %v, %d lost", ext, lost)
	}
	got := l.take(10)
	if len(got) != 1 || got[0].AckId != "new" {
		t.Fatalf("take %v, want only new", got)
	}
	if l.space() != 9 {
		t.Fatalf("space %d: dropped leases still counted", l.space())
	}
	l.lose([]string{"new"})
	if ext, _ := l.extendable(now, time.Minute); len(ext) != 0 {
		t.Fatalf("a refused lease is extended: %v", ext)
	}
	if got := l.snapshot(1); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("snapshot %v: an emitted message is acknowledged with its checkpoint even if its lease was lost", got)
	}
}

// TestLeasesFlowControl: bytes bound what is buffered; without holding
// (ack on receipt) only the buffer counts.
func TestLeasesFlowControl(t *testing.T) {
	l := newLeases(true, 100, 12)
	l.add(received("a", "b", "c"), time.Now()) // 15 bytes
	if l.space() != 0 {
		t.Fatalf("space %d over the byte limit", l.space())
	}
	l.take(1)
	if l.space() != 97 {
		t.Fatalf("space %d", l.space())
	}
	l2 := newLeases(false, 2, 1000)
	l2.add(received("a", "b"), time.Now())
	if l2.space() != 0 {
		t.Fatal("buffer limit not applied")
	}
	l2.take(2)
	if l2.space() != 2 || l2.snapshot(1) != nil {
		t.Fatal("ack on receipt holds nothing after emission")
	}
}
