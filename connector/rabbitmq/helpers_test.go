package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
)

// The tests use the RabbitMQ server on this machine (scripts/rabbitmq-up
// starts it); SLUICE_RABBITMQ_URL overrides its address.
func testURL() string {
	if u := os.Getenv("SLUICE_RABBITMQ_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

const startHint = "start it with scripts/rabbitmq-up (RabbitMQ on 127.0.0.1:5672, user guest/guest)"

// needServer skips the test (fails it under CI) when no broker answers.
func needServer(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", time.Second)
	if err == nil {
		c.Close()
		conn, err := amqp.Dial(testURL())
		if err == nil {
			conn.Close()
			return
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("RabbitMQ is not reachable at %s: %v; %s", redact(testURL()), err, startHint)
	}
	t.Skipf("RabbitMQ is not reachable at %s: %v; %s", redact(testURL()), err, startHint)
}

// admin is a connection for the tests' own operations on the broker.
type admin struct {
	t    testing.TB
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newAdmin(t testing.TB) *admin {
	t.Helper()
	needServer(t)
	conn, err := amqp.Dial(testURL())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	a := &admin{t: t, conn: conn, ch: ch}
	t.Cleanup(func() { conn.Close() })
	return a
}

// uniqueName returns a queue name unique to this test run.
func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("sluice-test-%s-%s", prefix, hex.EncodeToString(b[:]))
}

// queue declares a durable queue of type kind ("classic" or "quorum")
// with args, and deletes it when the test ends.
func (a *admin) queue(prefix, kind string, args amqp.Table) string {
	a.t.Helper()
	name := uniqueName(prefix)
	if args == nil {
		args = amqp.Table{}
	}
	args["x-queue-type"] = kind
	if _, err := a.ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { deleteQueue(name) })
	return name
}

func deleteQueue(name string) {
	conn, err := amqp.Dial(testURL())
	if err != nil {
		return
	}
	defer conn.Close()
	if ch, err := conn.Channel(); err == nil {
		_, _ = ch.QueueDelete(name, false, false, false)
	}
}

// publish sends messages i in [from, to) to queue, body and correlation id
// strconv.Itoa(i), persistent, confirmed.
func (a *admin) publish(queue string, from, to int) {
	a.t.Helper()
	publishN(a.t, a.ch, queue, from, to, func(i int) amqp.Publishing {
		s := strconv.Itoa(i)
		return amqp.Publishing{Body: []byte(s), CorrelationId: s, MessageId: "m" + s, DeliveryMode: amqp.Persistent}
	})
}

func publishN(t testing.TB, ch *amqp.Channel, queue string, from, to int, msg func(int) amqp.Publishing) {
	t.Helper()
	ctx := context.Background()
	var dcs []*amqp.DeferredConfirmation
	for i := from; i < to; i++ {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, msg(i))
		if err != nil {
			t.Fatal(err)
		}
		dcs = append(dcs, dc)
	}
	for _, dc := range dcs {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("publish not confirmed: %v", err)
		}
	}
}

// counts returns the queue's ready and unacknowledged messages, as the
// broker reports them (rabbitmqctl).
func counts(t testing.TB, queue string) (ready, unacked int) {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name", "messages_ready", "messages_unacknowledged").CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl list_queues: %v: %s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == queue {
			ready, _ = strconv.Atoi(f[1])
			unacked, _ = strconv.Atoi(f[2])
			return ready, unacked
		}
	}
	t.Fatalf("queue %s not listed by rabbitmqctl: %s", queue, out)
	return 0, 0
}

// waitFor polls cond until it holds or d passed.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Fakes of the runtime's side of the connector contracts.

type fakeReaderCtx struct {
	subtask, par int
	ctx          context.Context
}

func (c fakeReaderCtx) Subtask() int         { return c.subtask }
func (c fakeReaderCtx) Parallelism() int     { return c.par }
func (c fakeReaderCtx) RequestSplit()        {}
func (c fakeReaderCtx) Logger() *slog.Logger { return quietLogger() }
func (c fakeReaderCtx) Context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

type fakeWriterCtx struct{ subtask, par int }

func (c fakeWriterCtx) Subtask() int         { return c.subtask }
func (c fakeWriterCtx) Parallelism() int     { return c.par }
func (c fakeWriterCtx) Checkpointing() bool  { return true }
func (c fakeWriterCtx) Logger() *slog.Logger { return quietLogger() }

// fakeOutput collects what a reader emits.
type fakeOutput[T any] struct {
	mu     sync.Mutex
	values []T
	ts     []int64
	bad    []connector.BadRecord
	dead   bool // bad records go to a dead-letter output
}

func (o *fakeOutput[T]) Collect(v T) { o.CollectAt(v, -1) }
func (o *fakeOutput[T]) CollectAt(v T, ts int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.values = append(o.values, v)
	o.ts = append(o.ts, ts)
}
func (o *fakeOutput[T]) Split(string) connector.SplitOutput[T] { return o }
func (o *fakeOutput[T]) ReleaseSplit(string)                   {}
func (o *fakeOutput[T]) Reject(b connector.BadRecord) error {
	o.bad = append(o.bad, b)
	if o.dead {
		return nil
	}
	return &connector.BadRecordError{Record: b}
}
func (o *fakeOutput[T]) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.values)
}

// startReader builds and starts a reader of src at subtask 0 of par,
// restoring state (nil: fresh), and closes it when the test ends.
func startReader[T any](t testing.TB, src *Source[T], par int, state [][]byte) connector.Reader[T] {
	t.Helper()
	r, err := src.NewReader(fakeReaderCtx{par: par})
	if err != nil {
		t.Fatal(err)
	}
	if state != nil {
		if err := r.(connector.StatefulReader).RestoreReaderState(state); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// pollUntil polls r until out holds n values, or fails after d.
func pollUntil[T any](t testing.TB, r connector.Reader[T], out *fakeOutput[T], n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for out.len() < n {
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatalf("PollNext after %d values: %v", out.len(), err)
		}
		if st == connector.NothingAvailable && out.len() < n {
			select {
			case <-r.Available():
			case <-time.After(time.Until(deadline)):
			}
		}
		if out.len() < n && time.Now().After(deadline) {
			t.Fatalf("timed out with %d values of %d", out.len(), n)
		}
	}
}

// pollErr polls r until it fails, and returns the error (fails the test
// after d).
func pollErr[T any](t testing.TB, r connector.Reader[T], out *fakeOutput[T], d time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := r.PollNext(out)
		if err != nil {
			return err
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.Available():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	t.Fatalf("no error within %s", d)
	return nil
}

// noID is a message without correlation or message id.
func noID(i int) amqp.Publishing { return amqp.Publishing{Body: []byte("x" + strconv.Itoa(i))} }

// pollFor polls r for d.
func pollFor[T any](t testing.TB, r connector.Reader[T], out *fakeOutput[T], d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatal(err)
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.Available():
			case <-time.After(time.Until(deadline)):
			}
		}
	}
}
