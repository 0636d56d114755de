package rabbitmq

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// closeConnections makes the broker close the connections named name
// (connection_name client property), as an operator or a broker restart
// would; it returns how many it closed.
func closeConnections(t testing.TB, name string) int {
	t.Helper()
	expr := fmt.Sprintf(`length([rabbit_networking:close_connection(P, "closed by the test") || `+
		`P <- rabbit_networking:connections(), {client_properties, Props} <- rabbit_networking:connection_info(P, [client_properties]), `+
		`lists:member({<<"connection_name">>, longstr, <<"%s">>}, Props)]).`, name)
	out, err := exec.Command("rabbitmqctl", "eval", expr).CombinedOutput()
	if err != nil {
		t.Skipf("cannot close connections with rabbitmqctl eval: %v: %s", err, out)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// TestReconnect: after the broker closes the reader's connection, the
// reader reconnects; the messages of the lost channel come again, and
// with deduplication those already emitted are dropped, so every message
// is emitted once and all are acknowledged in the end.
func TestReconnect(t *testing.T) {
	a := newAdmin(t)
	q := a.queue("reconnect", "classic", nil)
	a.publish(q, 0, 30)
	src, err := NewSource(String(), URL(testURL()), Queue(q), DedupeBy(CorrelationID), Prefetch(10),
		Reconnect(20*time.Millisecond, 200*time.Millisecond, 5))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	out := &fakeOutput[string]{}
	pollUntil(t, r, out, 10, 10*time.Second)
	sr, cl := r.(connector.StatefulReader), r.(connector.CheckpointListener)
	if _, err := sr.SnapshotReaderState(1); err != nil {
		t.Fatal(err)
	}
	if n := closeConnections(t, "sluice source "+q+"/0"); n != 1 {
		t.Fatalf("closed %d connections", n)
	}
	// Checkpoint 1 completes after the channel was lost: its tags cannot
	// be acknowledged any more; the copies the broker delivers again are.
	waitFor(t, 5*time.Second, "a new channel", func() bool {
		_, gen, _ := r.(*reader[string]).channel()
		return gen == 2
	})
	if err := cl.NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	// Checkpoints go on meanwhile: the copies fill the prefetch until one
	// completes.
	deadline := time.Now().Add(20 * time.Second)
	for cp := int64(2); out.len() < 30; cp++ {
		if time.Now().After(deadline) {
			t.Fatalf("emitted %d of 30: %v", out.len(), out.values)
		}
		pollFor(t, r, out, 100*time.Millisecond)
		if _, err := sr.SnapshotReaderState(cp); err != nil {
			t.Fatal(err)
		}
		if err := cl.NotifyCheckpointComplete(cp); err != nil {
			t.Fatal(err)
		}
	}
	got := slices.Clone(out.values)
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if !slices.Equal(got, numbers(30)) {
		t.Fatalf("emitted %v", out.values)
	}
	// The last copies are acknowledged with one more checkpoint.
	if _, err := sr.SnapshotReaderState(100); err != nil {
		t.Fatal(err)
	}
	if err := cl.NotifyCheckpointComplete(100); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "all acknowledged", func() bool {
		ready, unacked := counts(t, q)
		return ready == 0 && unacked == 0
	})
	if dups := r.(*reader[string]).dups; dups == 0 {
		t.Errorf("no copy was dropped: the test did not show deduplication after a reconnect")
	}
}

// TestReconnectGivesUp: a broker that does not come back fails the reader
// (transient: the job restarts) after the attempts allowed.
func TestReconnectGivesUp(t *testing.T) {
	needServer(t)
	src, err := NewSource(String(), URL("amqp://guest:guest@127.0.0.1:1/"), Queue("q"),
		Reconnect(time.Millisecond, 5*time.Millisecond, 3))
	if err != nil {
		t.Fatal(err)
	}
	r := startReader(t, src, 1, nil)
	err = pollErr(t, r, &fakeOutput[string]{}, 10*time.Second)
	if connector.IsPermanent(err) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("error %v: want transient, after 3 attempts", err)
	}
}
