package pubsub

import (
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// conformanceDeadline is the subscriptions' and the source's ack deadline
// in the conformance checks: what a cancelled or killed job held comes
// back a second later.
const conformanceDeadline = time.Second

// prepareSubscription starts a fake, with a subscription id holding the
// messages "0".."n-1" and then bad ones (data that is no number).
func prepareSubscription(t testing.TB, id string, n, bad int) connectortest.Params {
	f := newFake(t)
	f.subscription(t, id, conformanceDeadline, false)
	f.publishN(t, id, 0, n)
	for range bad {
		f.srv.Publish(topicName(id), []byte("not a number"), nil)
	}
	servers.Store(f.srv.Addr, f)
	return connectortest.Params{"endpoint": f.srv.Addr, "subscription": id}
}

var sourceCase = connectortest.Source[int]{
	Name: "pubsub-at-least-once",
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		return prepareSubscription(t, id, n, 0)
	},
	PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
		return prepareSubscription(t, id, n, 3), 3
	},
	New: func(p connectortest.Params) (connector.Source[int], error) {
		return NewSource(DataDecoder(func(b []byte) (int, error) { return strconv.Atoi(string(b)) }),
			Project(testProject), Endpoint(p["endpoint"]), Subscription(p["subscription"]),
			AckDeadline(conformanceDeadline), ExpectCheckpoints(100*time.Millisecond, 0))
	},
	Number: func(v int) (int, error) { return v, nil },
	// Messages delivered and not acknowledged.
	Unacked: func(t testing.TB, p connectortest.Params) int {
		v, ok := servers.Load(p["endpoint"])
		if !ok {
			t.Fatalf("no fake at %s", p["endpoint"])
		}
		n := 0
		for _, m := range v.(*fake).published(p["subscription"]) {
			if m.Deliveries > 0 && m.Acks == 0 {
				n++
			}
		}
		return n
	},
}

var sinkCase = connectortest.Sink[string]{
	Name: "pubsub-sink",
	Prepare: func(t testing.TB, id string) connectortest.Params {
		f := newFake(t)
		f.topic(t, id)
		servers.Store(f.srv.Addr, f)
		return connectortest.Params{"endpoint": f.srv.Addr, "topic": id}
	},
	New: func(p connectortest.Params) (connector.Sink[string], error) {
		return NewSink(StringSerializer(), Project(testProject), Endpoint(p["endpoint"]), Topic(p["topic"]))
	},
	Record: strconv.Itoa,
	Read: func(t testing.TB, p connectortest.Params) []string {
		v, ok := servers.Load(p["endpoint"])
		if !ok {
			t.Fatalf("no fake at %s", p["endpoint"])
		}
		var out []string
		for _, m := range v.(*fake).published(p["topic"]) {
			out = append(out, string(m.Data))
		}
		return out
	},
}

func init() {
	connectortest.RegisterSource(sourceCase)
	connectortest.RegisterSink(sinkCase)
}

func TestConformanceSource(t *testing.T) { connectortest.TestSource(t, sourceCase) }

func TestConformanceSink(t *testing.T) { connectortest.TestSink(t, sinkCase) }
