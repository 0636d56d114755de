package elasticsearch

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
)

// The conformance suite's cases, against the stand-in, which lives in the
// test process; the jobs of the SIGKILL check reach it by its URL.

var (
	confOnce   sync.Once
	confServer *estest.Server
)

// confPrepare returns the params of one check: the stand-in's URL and an
// index named after the check.
func confPrepare(_ testing.TB, id string) connectortest.Params {
	confOnce.Do(func() { confServer = estest.NewServer() })
	index := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, id)
	return connectortest.Params{"url": confServer.URL, "index": index}
}

// confRead returns the n of every document of the check's index.
func confRead(t testing.TB, p connectortest.Params) []string {
	var out []string
	for _, d := range confServer.Docs(p["index"]) {
		var v doc
		if err := json.Unmarshal(d.Source, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, strconv.FormatInt(v.N, 10))
	}
	return out
}

func confSink(name string, opts ...Option) connectortest.Sink[doc] {
	return connectortest.Sink[doc]{
		Name:    name,
		Prepare: confPrepare,
		New: func(p connectortest.Params) (connector.Sink[doc], error) {
			return NewSink(JSON[doc](), append([]Option{URLs(p["url"]), Index(p["index"]), BatchActions(40),
				FlushInterval(10 * time.Millisecond), Retries(10, 5*time.Millisecond, 50*time.Millisecond)}, opts...)...)
		},
		Record: func(i int) doc { return doc{ID: "d" + strconv.Itoa(i), N: int64(i)} },
		Read:   confRead,
	}
}

var (
	confIDs    = confSink("es-ids", ID(docID))
	confUpdate = confSink("es-update", ID(docID), Operation(OpUpdate))
	confNoIDs  = confSink("es-no-ids")
)

func init() {
	connectortest.RegisterSink(confIDs)
	connectortest.RegisterSink(confUpdate)
	connectortest.RegisterSink(confNoIDs)
}

// TestConformanceIDs: exactly-once with document ids.
func TestConformanceIDs(t *testing.T) { connectortest.TestSink(t, confIDs) }

// TestConformanceUpdate: exactly-once with update and ids.
func TestConformanceUpdate(t *testing.T) { connectortest.TestSink(t, confUpdate) }

// TestConformanceNoIDs: at-least-once without ids.
func TestConformanceNoIDs(t *testing.T) { connectortest.TestSink(t, confNoIDs) }
