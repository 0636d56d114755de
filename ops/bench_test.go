package ops_test

import (
	"io"
	"net/http"
	"testing"
)

// The cost of serving a job, per request, on the job of startJob (6
// operators in 2 chains at parallelism 2): multiplied by the request rate
// it bounds what serving takes from the data path (docs/benchmarks.md).

func benchGet(b *testing.B, path string) {
	b.Helper()
	_, srv := startJob(b)
	url := srv.URL() + path
	c := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkScrapeMetrics(b *testing.B) { benchGet(b, "/metrics") }
func BenchmarkGetJob(b *testing.B)        { benchGet(b, "/api/v1/job") }
func BenchmarkGetThroughput(b *testing.B) { benchGet(b, "/api/v1/throughput") }
