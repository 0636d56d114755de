package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
)

// TestKeyedCountKafka runs examples/keyed-count-kafka.yaml against an
// in-process Kafka (kfake, a protocol-level fake; see DESIGN.md) and stops
// it once every output record is committed: one output record per input
// record, read with read_committed, the counts of every key 1, 2, 3...
func TestKeyedCountKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	const total = 300
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range total {
		recs = append(recs, &kgo.Record{Topic: "in", Value: fmt.Appendf(nil, `{"key":"k%d","i":%d}`, i%5, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	vars := exampleVars(t.TempDir())
	vars["BROKERS"], vars["IN_TOPIC"], vars["OUT_TOPIC"] = addr, "in", "out"
	got := make(chan []pipeline.Record, 1)
	sigs := make(chan os.Signal, 1)
	go func() {
		defer func() { sigs <- syscall.SIGTERM }()
		out, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics(), kgo.ConsumeTopics("out"),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			got <- nil
			return
		}
		defer out.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var rs []pipeline.Record
		for len(rs) < total && ctx.Err() == nil {
			out.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var m map[string]any
				if err := jsonUnmarshalNumbers(r.Value, &m); err == nil {
					rs = append(rs, m)
				}
			})
		}
		got <- rs
	}()
	_, errOut, code := sluice(t, vars, sigs, "run", "../../examples/keyed-count-kafka.yaml")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	rs := <-got
	if len(rs) != total {
		t.Fatalf("%d committed output records, want %d\n%s", len(rs), total, errOut)
	}
	byKey := map[string][]int64{}
	for _, r := range rs {
		byKey[r["key"].(string)] = append(byKey[r["key"].(string)], r["count"].(int64))
	}
	for k, counts := range byKey {
		slices.Sort(counts)
		for i, n := range counts {
			if n != int64(i+1) {
				t.Fatalf("key %s: counts have a gap or a duplicate at %d: %v", k, i, counts)
			}
		}
	}
}
