package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/connectortest"
)

// The conformance cases: INCRBY and RPUSH with delivery exactly-once,
// RPUSH at-least-once, and SET (idempotent: exactly-once without
// transactions). Their output is read record by record: INCRBY adds 1 to
// a counter per record (n:<i>), read as <i> repeated by the counter's
// value; RPUSH appends i to one list; SET writes k:<i> = i.

func conformancePrepare(t testing.TB, id string) connectortest.Params {
	u, cl := needRedis(t)
	p := "sluice-test:" + id + ":"
	t.Cleanup(func() { deletePrefix(cl, p) })
	return connectortest.Params{"url": u, "prefix": p}
}

func conformanceNew(op Op, exactly bool) func(p connectortest.Params) (connector.Sink[int], error) {
	return func(p connectortest.Params) (connector.Sink[int], error) {
		pre := p["prefix"]
		opts := []Option{URL(p["url"]), FencePrefix(pre + "fence:"), MaxTransactionCommands(50)}
		if exactly {
			opts = append(opts, ExactlyOnce())
		}
		return NewSink(op, func(i int) (Command, error) {
			s := strconv.Itoa(i)
			switch op {
			case IncrBy:
				return Command{Key: pre + "n:" + s, By: 1}, nil
			case Set:
				return Command{Key: pre + "k:" + s, Value: s}, nil
			}
			return Command{Key: pre + "list", Value: s}, nil
		}, opts...)
	}
}

func conformanceClient(t testing.TB, p connectortest.Params) *redis.Client {
	o, err := redis.ParseURL(p["url"])
	if err != nil {
		t.Fatal(err)
	}
	cl := redis.NewClient(o)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// readScan returns, for every key under prefix+sub, its suffix, repeated
// times(value) times.
func readScan(t testing.TB, p connectortest.Params, sub string, times func(v string) int) []string {
	cl := conformanceClient(t, p)
	ctx := context.Background()
	var out []string
	iter := cl.Scan(ctx, 0, p["prefix"]+sub+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		v, err := cl.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for range times(v) {
			out = append(out, strings.TrimPrefix(k, p["prefix"]+sub))
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readCounters(t testing.TB, p connectortest.Params) []string {
	return readScan(t, p, "n:", func(v string) int { n, _ := strconv.Atoi(v); return n })
}

func readSets(t testing.TB, p connectortest.Params) []string {
	return readScan(t, p, "k:", func(string) int { return 1 })
}

func readConformanceList(t testing.TB, p connectortest.Params) []string {
	got, err := conformanceClient(t, p).LRange(context.Background(), p["prefix"]+"list", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var (
	incrByExactly = connectortest.Sink[int]{Name: "redis-incrby-exactly-once", Prepare: conformancePrepare,
		New: conformanceNew(IncrBy, true), Record: func(i int) int { return i }, Read: readCounters}
	rpushExactly = connectortest.Sink[int]{Name: "redis-rpush-exactly-once", Prepare: conformancePrepare,
		New: conformanceNew(RPush, true), Record: func(i int) int { return i }, Read: readConformanceList}
	rpushAtLeast = connectortest.Sink[int]{Name: "redis-rpush-at-least-once", Prepare: conformancePrepare,
		New: conformanceNew(RPush, false), Record: func(i int) int { return i }, Read: readConformanceList}
	setIdempotent = connectortest.Sink[int]{Name: "redis-set", Prepare: conformancePrepare,
		New: conformanceNew(Set, false), Record: func(i int) int { return i }, Read: readSets}
)

func init() {
	connectortest.RegisterSink(incrByExactly)
	connectortest.RegisterSink(rpushExactly)
	connectortest.RegisterSink(rpushAtLeast)
	connectortest.RegisterSink(setIdempotent)
}

func TestConformanceIncrByExactlyOnce(t *testing.T) { connectortest.TestSink(t, incrByExactly) }
func TestConformanceRPushAtLeastOnce(t *testing.T)  { connectortest.TestSink(t, rpushAtLeast) }

// The two cases below repeat what the cases above and the torture tests
// cover: they run in the long mode (without -short) only.

func TestConformanceRPushExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestConformanceIncrByExactlyOnce covers the exactly-once writer")
	}
	connectortest.TestSink(t, rpushExactly)
}

func TestConformanceSet(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestConformanceRPushAtLeastOnce covers the pipelined writer")
	}
	connectortest.TestSink(t, setIdempotent)
}
