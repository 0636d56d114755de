package rabbitmq

import (
	"strconv"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// sinkCase publishes the records through the default exchange to a queue
// of the check's own; Read takes every message of the queue.
var sinkCase = connectortest.Sink[string]{
	Name: "rabbitmq-sink",
	Prepare: func(t testing.TB, id string) connectortest.Params {
		a := newAdmin(t)
		q := "sluice-ct-" + id
		if _, err := a.ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "classic"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteQueue(q) })
		return connectortest.Params{"url": testURL(), "queue": q}
	},
	New: func(p connectortest.Params) (connector.Sink[string], error) {
		return NewSink(StringSerializer(), URL(p["url"]), RoutingKey(p["queue"]))
	},
	Record: strconv.Itoa,
	Read: func(t testing.TB, p connectortest.Params) []string {
		return drain(t, newAdmin(t), p["queue"])
	},
}

func init() { connectortest.RegisterSink(sinkCase) }

func TestConformanceSink(t *testing.T) {
	needServer(t)
	connectortest.TestSink(t, sinkCase)
}
