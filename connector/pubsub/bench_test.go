package pubsub

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// BenchmarkSource reads b.N messages from the fake through one reader,
// taking a checkpoint (snapshot, completion, acknowledgements) every 1000
// records. It measures the connector and pstest together over loopback
// gRPC; pstest, built for tests, is much slower than Pub/Sub.
func BenchmarkSource(b *testing.B) {
	f := newFake(b)
	f.subscription(b, "bench", 60*time.Second, false)
	f.publishN(b, "bench", 0, b.N)
	src := fakeSource(b, f, "bench", Bytes(), MaxOutstandingMessages(5000), MaxPullMessages(1000))
	b.ResetTimer()
	r := startReader(b, src, nil)
	defer r.Close()
	out := &discard[[]byte]{}
	id := int64(0)
	for out.n < b.N {
		st, err := r.PollNext(out)
		if err != nil {
			b.Fatal(err)
		}
		if out.n/1000 > int(id) {
			id++
			r.SnapshotReaderState(id)
			r.NotifyCheckpointComplete(id)
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.Available():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

type discard[T any] struct{ n int }

func (d *discard[T]) Collect(T)                             { d.n++ }
func (d *discard[T]) CollectAt(T, int64)                    { d.n++ }
func (d *discard[T]) Split(string) connector.SplitOutput[T] { return d }
func (d *discard[T]) ReleaseSplit(string)                   {}
func (d *discard[T]) Reject(b connector.BadRecord) error    { return &connector.BadRecordError{Record: b} }
