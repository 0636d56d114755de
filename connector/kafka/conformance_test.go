package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// The Kafka source (bounded and unbounded) and sink (exactly-once and
// at-least-once) pass the connector conformance suite, against one
// in-process kfake cluster that lives in the test process (the SIGKILL
// check's child processes connect to it).

var (
	conformanceOnce sync.Once
	conformanceAddr string
	conformanceErr  error
)

// conformanceCluster returns the address of the package's cluster for
// the conformance cases, starting it on first use.
func conformanceCluster(t testing.TB) string {
	conformanceOnce.Do(func() {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(4))
		if err != nil {
			conformanceErr = err
			return
		}
		conformanceAddr = c.ListenAddrs()[0]
	})
	if conformanceErr != nil {
		t.Fatal(conformanceErr)
	}
	return conformanceAddr
}

type numbered struct {
	N int `json:"n"`
}

// produceNumbered writes {"n":i} for i in 0..n-1 round-robin over the 4
// partitions of topic, and a bad value after every 100th when bad.
func produceNumbered(t testing.TB, addr, topic string, n int, bad bool) int {
	t.Helper()
	var recs []*kgo.Record
	nbad := 0
	for i := range n {
		p := int32(i % 4)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, `{"n":%d}`, i)})
		if bad && i%100 == 0 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("not json")})
			nbad++
		}
	}
	produce(t, addr, recs...)
	return nbad
}

func kafkaSourceCase(name string, bounded bool) connectortest.Source[numbered] {
	prepare := func(t testing.TB, id string, n int, bad bool) (connectortest.Params, int) {
		addr := conformanceCluster(t)
		createTopic(t, addr, id, 4)
		return connectortest.Params{"addr": addr, "topic": id}, produceNumbered(t, addr, id, n, bad)
	}
	return connectortest.Source[numbered]{
		Name: name,
		Prepare: func(t testing.TB, id string, n int) connectortest.Params {
			p, _ := prepare(t, id, n, false)
			return p
		},
		PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) { return prepare(t, id, n, true) },
		New: func(p connectortest.Params) (connector.Source[numbered], error) {
			// Small polls: the checks slow the job down after the source,
			// and a checkpoint barrier waits behind a whole poll.
			opts := []SourceOption{Brokers(p["addr"]), Topics(p["topic"]), Group(p["topic"]), DiscoveryInterval(100 * time.Millisecond), MaxPollRecords(20)}
			if bounded {
				opts = append(opts, Bounded())
			}
			return NewSource(JSON[numbered](), opts...)
		},
		Number: func(v numbered) (int, error) { return v.N, nil },
	}
}

func kafkaSinkCase(name string, exactlyOnce bool) connectortest.Sink[string] {
	return connectortest.Sink[string]{
		Name: name,
		Prepare: func(t testing.TB, id string) connectortest.Params {
			addr := conformanceCluster(t)
			createTopic(t, addr, id, 4)
			return connectortest.Params{"addr": addr, "topic": id}
		},
		New: func(p connectortest.Params) (connector.Sink[string], error) {
			opts := []SinkOption{Brokers(p["addr"])}
			if exactlyOnce {
				opts = append(opts, ExactlyOnce(p["topic"]), ExpectCheckpoints(100*time.Millisecond, 0))
			}
			return NewSink(StringSerializer(p["topic"]), opts...)
		},
		Record: strconv.Itoa,
		Read: func(t testing.TB, p connectortest.Params) []string {
			return values(consume(t, p["addr"], p["topic"], true))
		},
	}
}

// createTopic creates topic with the given partitions.
func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := newAdmin(t, addr).CreateTopics(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

var (
	boundedTopic   = kafkaSourceCase("kafka-source-bounded", true)
	unboundedTopic = kafkaSourceCase("kafka-source", false)
	txTopic        = kafkaSinkCase("kafka-sink-exactly-once", true)
	plainTopic     = kafkaSinkCase("kafka-sink-at-least-once", false)
)

func init() {
	connectortest.RegisterSource(boundedTopic)
	connectortest.RegisterSource(unboundedTopic)
	connectortest.RegisterSink(txTopic)
	connectortest.RegisterSink(plainTopic)
}

func TestConformanceBoundedSource(t *testing.T) { connectortest.TestSource(t, boundedTopic) }

func TestConformanceSource(t *testing.T) { connectortest.TestSource(t, unboundedTopic) }

func TestConformanceExactlyOnceSink(t *testing.T) { connectortest.TestSink(t, txTopic) }

func TestConformanceAtLeastOnceSink(t *testing.T) { connectortest.TestSink(t, plainTopic) }
