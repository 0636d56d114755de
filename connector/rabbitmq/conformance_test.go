package rabbitmq

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// The conformance cases: a queue read at parallelism 2 with
// acknowledgements on checkpoint completion (at-least-once); exactly-once
// by correlation id in a keyed deduplication stage at parallelism 3; and
// exactly-once by ids in the reader state, which holds only at
// parallelism 1 (the source refuses more, so the rescale check is
// skipped). Their SIGKILL torture tests of their own are in
// torture_test.go.

func prepareQueue(t testing.TB, id string, n, bad int) connectortest.Params {
	a := newAdmin(t)
	q := "sluice-ct-" + id
	if _, err := a.ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "classic"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteQueue(q) })
	a.publish(q, 0, n)
	publishN(t, a.ch, q, 0, bad, func(i int) amqp.Publishing {
		s := "bad-" + strconv.Itoa(i)
		return amqp.Publishing{Body: []byte(s), CorrelationId: s, DeliveryMode: amqp.Persistent}
	})
	return connectortest.Params{"url": testURL(), "queue": q}
}

// decodeNumbered refuses bodies that are not numbers.
func decodeNumbered(m *Message) (Message, error) {
	if bytes.HasPrefix(m.Body, []byte("bad")) {
		return Message{}, errors.New("not a number")
	}
	return *m, nil
}

func conformanceCase(name string, par int, opts ...SourceOption) connectortest.Source[Message] {
	return connectortest.Source[Message]{
		Name:        name,
		Parallelism: par,
		Prepare: func(t testing.TB, id string, n int) connectortest.Params {
			return prepareQueue(t, id, n, 0)
		},
		PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
			return prepareQueue(t, id, n, 5), 5
		},
		New: func(p connectortest.Params) (connector.Source[Message], error) {
			return NewSource(decodeNumbered, append([]SourceOption{URL(p["url"]), Queue(p["queue"]), Prefetch(200)}, opts...)...)
		},
		Number: func(m Message) (int, error) { return strconv.Atoi(string(m.Body)) },
		Unacked: func(t testing.TB, p connectortest.Params) int {
			out, err := exec.Command("rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name", "messages_unacknowledged").CombinedOutput()
			if err != nil {
				t.Errorf("rabbitmqctl list_queues: %v: %s", err, out)
				return 0
			}
			for line := range strings.SplitSeq(string(out), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == p["queue"] {
					n, _ := strconv.Atoi(f[1])
					return n
				}
			}
			t.Errorf("queue %s not listed", p["queue"])
			return 0
		},
	}
}

var (
	atLeastOnceCase = conformanceCase("rabbitmq-at-least-once", 2)
	keyedCase       = func() connectortest.Source[Message] {
		c := conformanceCase("rabbitmq-keyed-dedupe", 3, DedupeBy(CorrelationID), KeyedDedupe(DefaultHorizon))
		c.Deduplicate = func(m Message) string { return m.ID }
		c.DedupeHorizon = DefaultHorizon
		return c
	}()
	readerIDsCase = func() connectortest.Source[Message] {
		c := conformanceCase("rabbitmq-reader-ids", 1, DedupeBy(CorrelationID))
		c.FixedParallelism = "the ids of unacknowledged messages are reader state, exactly-once only at parallelism 1"
		return c
	}()
)

func init() {
	connectortest.RegisterSource(atLeastOnceCase)
	connectortest.RegisterSource(keyedCase)
	connectortest.RegisterSource(readerIDsCase)
}

func TestConformanceAtLeastOnce(t *testing.T) {
	needServer(t)
	connectortest.TestSource(t, atLeastOnceCase)
}

func TestConformanceKeyedDedupe(t *testing.T) {
	needServer(t)
	connectortest.TestSource(t, keyedCase)
}

func TestConformanceReaderIDs(t *testing.T) {
	needServer(t)
	connectortest.TestSource(t, readerIDsCase)
}
