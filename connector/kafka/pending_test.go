package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/runtime"
)

// TestWriterPending: records written but not acknowledged by the brokers
// are pending until a flush, for both writers.
func TestWriterPending(t *testing.T) {
	_, addr := newCluster(t, 1, "pending")
	for _, tc := range []struct {
		name string
		snk  *Sink[string]
	}{
		{"at-least-once", mustSink(t, StringSerializer("pending"), Brokers(addr), ProducerOptions(kgo.ProducerLinger(time.Minute)))},
		{"exactly-once", txSink(t, addr, "pending", "pending-test", ProducerOptions(kgo.ProducerLinger(time.Minute)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tc.snk.NewWriter(fakeWriterCtx{0, 1, true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			p, ok := w.(runtime.Pending)
			if !ok {
				t.Fatal("the writer does not report what it holds")
			}
			for i := range 10 {
				writeAll(t, w, fmt.Sprint(i))
			}
			// The linger holds the records in the client.
			if n, known := p.Pending(); !known || n != 10 {
				t.Fatalf("pending %d (known %v) after 10 writes, want 10", n, known)
			}
			if err := w.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, known := p.Pending(); !known || n != 0 {
				t.Errorf("pending %d (known %v) after a flush, want 0", n, known)
			}
		})
	}
}
