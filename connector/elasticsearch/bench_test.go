package elasticsearch

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
)

// BenchmarkWrite writes documents of about 200 bytes with ids to the
// stand-in and flushes every 10,000 (a barrier); it measures the sink and
// the stand-in together, over loopback HTTP.
func BenchmarkWrite(b *testing.B) {
	for _, conc := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("concurrency-%d", conc), func(b *testing.B) {
			srv := estest.NewServer()
			defer srv.Close()
			snk, err := NewSink(JSON[doc](), URLs(srv.URL), Index("bench"), ID(docID), Concurrency(conc))
			if err != nil {
				b.Fatal(err)
			}
			w, err := snk.NewWriter(wctx{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			ctx := context.Background()
			pad := strings.Repeat("x", 160)
			b.SetBytes(200)
			b.ResetTimer()
			for i := range b.N {
				if err := w.Write(ctx, doc{ID: fmt.Sprint(i), N: int64(i), Value: pad}, math.MinInt64); err != nil {
					b.Fatal(err)
				}
				if i%10000 == 9999 {
					if err := w.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
