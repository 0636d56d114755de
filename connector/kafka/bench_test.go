package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// The benchmarks run against kfake in the same process (it shares the
// CPUs with the job): b.N is the number of records, and records/s the
// figure to compare. Run them with a fixed count, e.g.
//
//	go test -run XXX -bench . -benchtime 500000x ./connector/kafka/

const benchValue = 100 // bytes per record value

// discard is a sink that counts records.
type discard[T any] struct{ n atomic.Int64 }

func (d *discard[T]) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "benchmark sink"}
}

func (d *discard[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return discardWriter[T]{d}, nil
}

type discardWriter[T any] struct{ d *discard[T] }

func (w discardWriter[T]) Write(context.Context, T, int64) error { w.d.n.Add(1); return nil }
func (w discardWriter[T]) Flush(context.Context) error           { return nil }
func (w discardWriter[T]) Close() error                          { return nil }

func BenchmarkSource(b *testing.B) {
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprint("p=", par), func(b *testing.B) {
			_, addr := newCluster(b, 4, "bench-in")
			fill(b, addr, "bench-in", b.N)
			src := mustSource(b, Bytes(), Brokers(addr), Topics("bench-in"), Bounded())
			out := &discard[[]byte]{}
			env := stream.New("bench-source", stream.WithParallelism(par), stream.WithLogger(quietLogger()),
				stream.WithCheckpointing(time.Second, ""))
			stream.FromSource(env, "kafka", src, eventtime.NoWatermarks[[]byte]()).SinkTo("discard", out)
			b.ResetTimer()
			start := time.Now()
			sluicetest.Run(b, env)
			el := time.Since(start)
			b.StopTimer()
			if got := out.n.Load(); got != int64(b.N) {
				b.Fatalf("read %d records, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// fill writes n records of benchValue bytes to topic.
func fill(b *testing.B, addr, topic string, n int) {
	b.Helper()
	cl := newClient(b, addr, kgo.ProducerLinger(5*time.Millisecond))
	val := []byte(strings.Repeat("x", benchValue))
	ctx := context.Background()
	errs := make(chan error, 1)
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Append(nil, i), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// BenchmarkSink writes b.N generated records through the at-least-once and
// the exactly-once sink at checkpoint intervals of 1s and 10s.
func BenchmarkSink(b *testing.B) {
	for _, mode := range []string{"at-least-once", "exactly-once"} {
		for _, interval := range []time.Duration{time.Second, 10 * time.Second} {
			b.Run(fmt.Sprintf("%s/interval=%v", mode, interval), func(b *testing.B) {
				_, addr := newCluster(b, 4, "bench-out")
				opts := []SinkOption{Brokers(addr)}
				if mode == "exactly-once" {
					opts = append(opts, ExactlyOnce("bench"), ExpectCheckpoints(interval, 0))
				}
				val := strings.Repeat("x", benchValue)
				snk := mustSink(b, KeyValueSerializer("bench-out", func(i int64) ([]byte, []byte, []Header, error) {
					return fmt.Append(nil, i), []byte(val), nil, nil
				}), opts...)
				events := make(chan runtime.JobEvent, 1000)
				env := stream.New("bench-sink", stream.WithLogger(quietLogger()), stream.WithCheckpointing(interval, ""), stream.WithEvents(events))
				stream.Generate(env, int64(b.N), func(i int64) int64 { return i }).SinkTo("kafka", snk)
				b.ResetTimer()
				start := time.Now()
				sluicetest.Run(b, env)
				el := time.Since(start)
				b.StopTimer()
				close(events)
				checkpoints := 0
				for ev := range events {
					if ev.Kind == "checkpoint-completed" {
						checkpoints++
					}
				}
				hw := offsets(b, addr, "bench-out", false)
				var total int64
				for _, o := range hw {
					total += o
				}
				if total < int64(b.N) {
					b.Fatalf("%d records in Kafka, want at least %d", total, b.N)
				}
				b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
				b.ReportMetric(float64(checkpoints), "checkpoints")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
