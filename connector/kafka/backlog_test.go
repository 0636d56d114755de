package kafka

import (
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
)

// TestReaderBacklog: the reader reports its consumer lag (records between
// its position and the end of its partitions) once a fetch told it where
// the partitions end, and a bounded split only up to its stop offset.
func TestReaderBacklog(t *testing.T) {
	_, addr := newCluster(t, 2, "lag")
	produceN(t, addr, "lag", 2, 0, 60) // 30 per partition
	src := mustSource(t, String(), Brokers(addr), Topics("lag"), MaxPollRecords(10))
	r, err := src.NewReader(fakeReaderCtx{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, ok := r.(runtime.Backlog)
	if !ok {
		t.Fatal("the reader does not report its backlog")
	}
	if err := r.AddSplits([]connector.Split{&Split{Topic: "lag", Partition: 0, Stop: -1}, &Split{Topic: "lag", Partition: 1, Stop: 20}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if _, known := b.Backlog(); known {
		t.Fatal("a backlog is known before any fetch")
	}
	out := &fakeOutput[string]{}
	rd := r.(*reader[string])
	fetched := func() bool {
		for _, s := range rd.splits {
			if s.end < 0 {
				return false
			}
		}
		return true
	}
	checked := 0
	for out.len() < 50 {
		pollUntil(t, r, out, out.len()+1)
		if !fetched() {
			continue
		}
		checked++
		// Partition 0 holds 30 records, partition 1 is read up to 20.
		if n, known := b.Backlog(); !known || n != 50-int64(out.len()) {
			t.Fatalf("backlog %d (known %v) after reading %d of 50", n, known, out.len())
		}
	}
	if checked < 2 {
		t.Fatalf("the backlog was checked %d times", checked)
	}
	if n, known := b.Backlog(); !known || n != 0 {
		t.Errorf("backlog %d (known %v) after reading everything", n, known)
	}
}
