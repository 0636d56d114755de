package kinesis

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/pipeline"
)

// TestYAMLRoundTrip: a YAML job reads JSON records from one stream
// (type: kinesis source, resharded before) and writes them to another
// (type: kinesis sink, partition_key a CEL expression); every record
// arrives, under the partition key the expression gives.
func TestYAMLRoundTrip(t *testing.T) {
	ep := emulator(t)
	cl := testClient(ep)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out := "yaml-in-"+suffix, "yaml-out-"+suffix
	createStream(t, ep, in, 2)
	createStream(t, ep, out, 3)
	const n = 200
	var ents []types.PutRecordsRequestEntry
	for i := range n {
		b, _ := json.Marshal(map[string]any{"id": i, "user": "u" + strconv.Itoa(i%5)})
		ents = append(ents, types.PutRecordsRequestEntry{Data: b, PartitionKey: aws.String(strconv.Itoa(i))})
	}
	putAll(t, cl, in, ents[:n/2])
	reshard(t, cl, in, 3)
	putAll(t, cl, in, ents[n/2:])

	y := `name: yaml-round-trip
source:
  type: kinesis
  stream: ` + in + `
  region: us-east-1
  endpoint: ` + ep + `
  access_key_id: AKIDTEST
  secret_access_key: secret
  poll_interval: 20ms
sink:
  type: kinesis
  stream: ` + out + `
  region: us-east-1
  endpoint: ` + ep + `
  access_key_id: AKIDTEST
  secret_access_key: secret
  partition_key: user + "-" + string(id % 2)
checkpoints:
  interval: 200ms
  storage: file://` + filepath.Join(t.TempDir(), "ck") + `
`
	p, err := pipeline.Parse("round-trip.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		id  int
		key string
	}
	var got []rec
	for {
		got = got[:0]
		for _, r := range readStreamRecords(t, cl, out) {
			var m map[string]any
			if err := json.Unmarshal(r.Data, &m); err != nil {
				t.Fatalf("output record %q: %v", r.Data, err)
			}
			got = append(got, rec{int(m["id"].(float64)), aws.ToString(r.PartitionKey)})
		}
		if len(got) >= n || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := job.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, r := range got {
		ids = append(ids, r.id)
		if want := "u" + strconv.Itoa(r.id%5) + "-" + strconv.Itoa(r.id%2); r.key != want {
			t.Errorf("record %d under partition key %q, want %q", r.id, r.key, want)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) != n {
		t.Fatalf("%d distinct records in the output stream, want %d", len(ids), n)
	}
}

// readStreamRecords returns every record of the stream (not
// de-aggregated), shard by shard.
func readStreamRecords(t testing.TB, cl *kinesis.Client, stream string) []types.Record {
	t.Helper()
	ctx := context.Background()
	ls, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Record
	for _, s := range ls.Shards {
		it, err := cl.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			gr, err := cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, gr.Records...)
			if len(gr.Records) == 0 {
				break
			}
			iter = gr.NextShardIterator
		}
	}
	return out
}
