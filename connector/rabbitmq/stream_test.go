package rabbitmq

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// needStreams skips the test (fails it under CI) when the stream plugin
// does not answer on 5552.
func needStreams(t testing.TB) {
	t.Helper()
	needServer(t)
	c, err := net.DialTimeout("tcp", "127.0.0.1:5552", time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := "RabbitMQ streams are not reachable on 127.0.0.1:5552: " + err.Error() + "; scripts/rabbitmq-up enables the rabbitmq_stream plugin"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

const testStreamURL = "rabbitmq-stream://guest:guest@127.0.0.1:5552/"

// prepareStreams declares k streams (queues of type stream, over AMQP)
// named after id and publishes the records 0..n-1 round robin over
// them, then bad records "bad-i" to the first.
func prepareStreams(t testing.TB, id string, k, n, bad int) connectortest.Params {
	needStreams(t)
	a := newAdmin(t)
	var names []string
	for s := range k {
		name := "sluice-ct-" + id + "-" + strconv.Itoa(s)
		if _, err := a.ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteQueue(name) })
		names = append(names, name)
	}
	for s, name := range names {
		publishN(t, a.ch, name, 0, n, func(i int) amqp.Publishing {
			if i%k != s {
				return amqp.Publishing{Body: []byte("skip")}
			}
			return amqp.Publishing{Body: []byte(strconv.Itoa(i)), MessageId: strconv.Itoa(i)}
		})
	}
	publishN(t, a.ch, names[0], 0, bad, func(i int) amqp.Publishing {
		return amqp.Publishing{Body: []byte("bad-" + strconv.Itoa(i))}
	})
	return connectortest.Params{"url": testStreamURL, "streams": strings.Join(names, ",")}
}

// The stream case skips the "skip" bodies: publishing over AMQP one
// message at a time to every stream keeps the test's helper simple.
var streamCase = connectortest.Source[Message]{
	Name:        "rabbitmq-stream",
	Parallelism: 2,
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		return prepareStreams(t, id, 3, n, 0)
	},
	PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
		return prepareStreams(t, id, 3, n, 4), 4
	},
	New: func(p connectortest.Params) (connector.Source[Message], error) {
		src, err := NewStreamSource(decodeNumbered, StreamURL(p["url"]), Streams(strings.Split(p["streams"], ",")...))
		if err != nil {
			return nil, err
		}
		return skipping{src}, nil
	},
	Number: func(m Message) (int, error) { return strconv.Atoi(string(m.Body)) },
}

// skipping drops the "skip" messages of prepareStreams.
type skipping struct{ *StreamSource[Message] }

func (s skipping) NewReader(ctx connector.ReaderContext) (connector.Reader[Message], error) {
	r, err := s.StreamSource.NewReader(ctx)
	if err != nil {
		return nil, err
	}
	return skipReader{r}, nil
}

type skipReader struct{ connector.Reader[Message] }

func (r skipReader) PollNext(out connector.ReaderOutput[Message]) (connector.InputStatus, error) {
	return r.Reader.PollNext(skipOutput{out})
}

type skipOutput struct {
	connector.ReaderOutput[Message]
}

func (o skipOutput) Split(id string) connector.SplitOutput[Message] {
	return skipSplit{o.ReaderOutput.Split(id)}
}

type skipSplit struct{ connector.SplitOutput[Message] }

func (s skipSplit) Collect(m Message) {
	if string(m.Body) != "skip" {
		s.SplitOutput.Collect(m)
	}
}

func init() { connectortest.RegisterSource(streamCase) }

// TestConformanceStream: the stream source is exactly-once at any
// parallelism (offsets in the splits), through the whole suite.
func TestConformanceStream(t *testing.T) {
	needStreams(t)
	connectortest.TestSource(t, streamCase)
}

func TestStreamMissing(t *testing.T) {
	needStreams(t)
	src, err := NewStreamSource(String(), StreamURL(testStreamURL), Streams(uniqueName("nostream")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.NewReader(fakeReaderCtx{par: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.AddSplits([]connector.Split{&streamSplit{Stream: src.cfg.streams[0], Next: -1}}); err != nil {
		t.Fatal(err)
	}
	err = r.Start()
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), src.cfg.streams[0]) {
		t.Fatalf("error %v: want permanent, naming the stream", err)
	}
}

func FuzzStreamSplit(f *testing.F) {
	f.Add(encodeStreamSplit(&streamSplit{Stream: "s", Next: -1}))
	f.Add(encodeStreamSplit(&streamSplit{Stream: "orders", Next: 1 << 40}))
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := decodeStreamSplit(b)
		if err != nil {
			return
		}
		again, err := decodeStreamSplit(encodeStreamSplit(sp))
		if err != nil || *again != *sp {
			t.Fatalf("round trip of %+v: %+v, %v", sp, again, err)
		}
	})
}

func FuzzStreamEnumeratorState(f *testing.F) {
	e := &streamEnum{pending: []*streamSplit{{Stream: "a", Next: 3}, {Stream: "b", Next: -1}}}
	st, _ := e.Snapshot(1)
	f.Add(st)
	f.Add([]byte{1})
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		src := &StreamSource[string]{cfg: streamConfig{streams: []string{"a"}}}
		_, _ = src.NewEnumerator(nil, b) // must not panic
	})
}
