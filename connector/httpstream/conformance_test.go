package httpstream

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

func TestMain(m *testing.M) { connectortest.Main(m) }

// withBad returns the messages 0..n-1 with a message that is not a
// number after every 97th, and the number of those.
func withBad(n int) ([]string, int) {
	var msgs []string
	bad := 0
	for i, m := range numbered(n) {
		msgs = append(msgs, m)
		if i%97 == 0 {
			msgs = append(msgs, fmt.Sprintf("not-a-number-%d", i))
			bad++
		}
	}
	return msgs, bad
}

// sseCase: server-sent events from a server that replays the events after
// the Last-Event-ID it is sent; the source resumes from the last event ID
// in its checkpoint: at-least-once. The server lives in the test process;
// the SIGKILL check's job processes connect to it.
var sseCase = connectortest.Source[int]{
	Name: "httpstream-sse-last-event-id",
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		return connectortest.Params{"url": newStreamServer(t, SSE, numbered(n), nil).URL}
	},
	PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
		msgs, bad := withBad(n)
		return connectortest.Params{"url": newStreamServer(t, SSE, msgs, nil).URL}, bad
	},
	New: func(p connectortest.Params) (connector.Source[int], error) {
		return NewSource(p["url"], number, WithFraming(SSE), ResumeFromLastEventID(), EndOnClose(), fast)
	},
	Number: func(v int) (int, error) { return v, nil },
}

// sseLiveCase is sseCase with a server that keeps the response open
// with keep-alive comments after the last event (a live stream): the
// source is unbounded, and the suite stops its jobs once the output holds
// every record.
var sseLiveCase = connectortest.Source[int]{
	Name: "httpstream-sse-live",
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		srv := newStreamServer(t, SSE, numbered(n), func(s *streamServer) { s.keepAlive = 20 * time.Millisecond })
		return connectortest.Params{"url": srv.URL}
	},
	New: func(p connectortest.Params) (connector.Source[int], error) {
		return NewSource(p["url"], number, WithFraming(SSE), ResumeFromLastEventID(), KeepAlive(20*time.Millisecond), fast)
	},
	Number: func(v int) (int, error) { return v, nil },
}

// ndjsonCase: a live NDJSON stream that sends each message once in all
// (a reconnect continues where the stream is): at-most-once.
var ndjsonCase = connectortest.Source[int]{
	Name: "httpstream-ndjson",
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		return connectortest.Params{"url": newStreamServer(t, NDJSON, numbered(n), nil).URL}
	},
	PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
		msgs, bad := withBad(n)
		return connectortest.Params{"url": newStreamServer(t, NDJSON, msgs, nil).URL}, bad
	},
	New: func(p connectortest.Params) (connector.Source[int], error) {
		return NewSource(p["url"], number, EndOnClose(), fast)
	},
	Number: func(v int) (int, error) { return v, nil },
}

func init() {
	connectortest.RegisterSource(sseCase)
	connectortest.RegisterSource(ndjsonCase)
	connectortest.RegisterSource(sseLiveCase)
}

func TestConformanceSSELive(t *testing.T) { connectortest.TestSource(t, sseLiveCase) }

func TestConformanceSSELastEventID(t *testing.T) { connectortest.TestSource(t, sseCase) }

func TestConformanceNDJSON(t *testing.T) { connectortest.TestSource(t, ndjsonCase) }
