package kinesis

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// The source and the sink pass the connector conformance suite against
// the emulator, which runs in the test process (its endpoint reaches the
// SIGKILL check's children as a parameter).

// testCreds are the static credentials of the emulator (it takes any).
func testCreds() Option { return StaticCredentials("AKIDTEST", "secret", "") }

// numbers decodes records whose data is a decimal number; anything else is
// a bad record.
func numbers() Decoder[int] {
	return func(r *Record) (int, error) {
		n, err := strconv.Atoi(string(r.Data))
		if err != nil {
			return 0, errors.New("not a number")
		}
		return n, nil
	}
}

// prepareSource creates a stream of 2 shards, writes the first half of
// the records (aggregated in threes), splits the stream to 3 shards and
// merges it back to 2 (closed parents with children), and writes the
// rest, plain.
func prepareSource(t testing.TB, id string, n int, bad int) connectortest.Params {
	ep := emulator(t)
	name := streamName(id)
	createStream(t, ep, name, 2)
	cl := testClient(ep)
	putAll(t, cl, name, numberEntries(0, n/2, 7, 3))
	reshard(t, cl, name, 3)
	reshard(t, cl, name, 2)
	ents := numberEntries(n/2, n, 7, 1)
	for i := range bad {
		if i%2 == 0 {
			ents = append(ents, types.PutRecordsRequestEntry{Data: []byte("bad-" + strconv.Itoa(i)), PartitionKey: aws.String("bad")})
		} else {
			// An aggregated record whose protobuf is malformed.
			body := []byte{0x1a, 0x05, 0x08, 0x07, 0x1a, 0x01, 'x'}
			data := append(append(append([]byte(nil), kplMagic...), body...), md5sum(body)...)
			ents = append(ents, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String("bad")})
		}
	}
	putAll(t, cl, name, ents)
	return connectortest.Params{"endpoint": ep, "stream": name}
}

var sourceCase = connectortest.Source[int]{
	Name: "kinesis-source",
	Prepare: func(t testing.TB, id string, n int) connectortest.Params {
		return prepareSource(t, id, n, 0)
	},
	PrepareBad: func(t testing.TB, id string, n int) (connectortest.Params, int) {
		return prepareSource(t, id, n, 4), 4
	},
	New: func(p connectortest.Params) (connector.Source[int], error) {
		return NewSource(numbers(), Stream(p["stream"]), Endpoint(p["endpoint"]), Region("us-east-1"), testCreds(),
			PollInterval(20*time.Millisecond), DiscoveryInterval(500*time.Millisecond))
	},
	Number: func(v int) (int, error) { return v, nil },
}

var sinkCase = connectortest.Sink[string]{
	Name: "kinesis-sink",
	Prepare: func(t testing.TB, id string) connectortest.Params {
		ep := emulator(t)
		name := streamName(id)
		createStream(t, ep, name, 3)
		return connectortest.Params{"endpoint": ep, "stream": name}
	},
	New: func(p connectortest.Params) (connector.Sink[string], error) {
		return NewSink(StringSerializer(nil), Stream(p["stream"]), Endpoint(p["endpoint"]), Region("us-east-1"), testCreds(),
			Linger(5*time.Millisecond))
	},
	Record: strconv.Itoa,
	Read: func(t testing.TB, p connectortest.Params) []string {
		return readStream(t, testClient(p["endpoint"]), p["stream"])
	},
}

func init() {
	connectortest.RegisterSource(sourceCase)
	connectortest.RegisterSink(sinkCase)
}

func TestConformanceSource(t *testing.T) { connectortest.TestSource(t, sourceCase) }

func TestConformanceSink(t *testing.T) { connectortest.TestSink(t, sinkCase) }

var _ = context.Background
