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

// The conformance case: a queue read at parallelism 2 with
// acknowledgements on checkpoint completion (at-least-once). The
// exactly-once modes are not a case of the suite: with ids in the reader
// state the source refuses a parallelism above 1, which the suite's
// rescale check asks for, and the keyed mode needs the deduplication
// stage after the source, which the suite's job does not have. Their
// SIGKILL torture tests are in torture_test.go.

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

var atLeastOnceCase = conformanceCase("rabbitmq-at-least-once", 2)

func init() { connectortest.RegisterSource(atLeastOnceCase) }

func TestConformanceAtLeastOnce(t *testing.T) {
	needServer(t)
	connectortest.TestSource(t, atLeastOnceCase)
}
