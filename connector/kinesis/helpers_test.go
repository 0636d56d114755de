package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// putAll puts entries in PutRecords batches of up to 500, retrying failed
// entries.
func putAll(t testing.TB, cl *kinesis.Client, stream string, ents []types.PutRecordsRequestEntry) {
	t.Helper()
	ctx := context.Background()
	for len(ents) > 0 {
		n := min(len(ents), 500)
		batch := ents[:n]
		for attempt := 0; len(batch) > 0; attempt++ {
			if attempt > 20 {
				t.Fatalf("put records into %s: entries still refused after 20 attempts", stream)
			}
			out, err := cl.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: batch})
			if err != nil {
				if classify(err) == errThrottled || classify(err) == errTransient {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				t.Fatalf("put records into %s: %v", stream, err)
			}
			var again []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					again = append(again, batch[i])
				}
			}
			batch = again
		}
		ents = ents[n:]
	}
}

// numberEntries returns records for the numbers from..to-1, each data
// strconv.Itoa(i) with partition key "k<i%keys>". With agg > 1, runs of
// up to agg consecutive numbers of one key are aggregated (KPL format)
// into one Kinesis record.
func numberEntries(from, to, keys, agg int) []types.PutRecordsRequestEntry {
	var ents []types.PutRecordsRequestEntry
	pending := map[int][]subRecord{}
	flush := func(k int) {
		subs := pending[k]
		if len(subs) == 0 {
			return
		}
		delete(pending, k)
		if len(subs) == 1 && agg <= 1 {
			ents = append(ents, types.PutRecordsRequestEntry{Data: subs[0].Data, PartitionKey: aws.String(subs[0].PartitionKey)})
			return
		}
		ents = append(ents, types.PutRecordsRequestEntry{Data: aggregate(subs), PartitionKey: aws.String(subs[0].PartitionKey)})
	}
	for i := from; i < to; i++ {
		k := i % keys
		pending[k] = append(pending[k], subRecord{PartitionKey: "k" + strconv.Itoa(k), Data: []byte(strconv.Itoa(i))})
		if len(pending[k]) >= max(agg, 1) {
			flush(k)
		}
	}
	for k := range keys {
		flush(k)
	}
	return ents
}

// reshard sets the stream's open shard count (uniform scaling: splits and
// merges) and waits until the stream is active again.
func reshard(t testing.TB, cl *kinesis.Client, stream string, count int32) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		_, err := cl.UpdateShardCount(context.Background(), &kinesis.UpdateShardCountInput{StreamName: aws.String(stream),
			TargetShardCount: aws.Int32(count), ScalingType: types.ScalingTypeUniformScaling})
		if err == nil {
			break
		}
		var inUse *types.ResourceInUseException
		if attempt > 100 || !errors.As(err, &inUse) && classify(err) != errThrottled {
			t.Fatalf("update shard count of %s to %d: %v", stream, count, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitActive(t, cl, stream)
}

// readStream returns the data of every user record in the stream, shard
// by shard from the oldest record.
func readStream(t testing.TB, cl *kinesis.Client, stream string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var token *string
	for {
		in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
		if token != nil {
			in = &kinesis.ListShardsInput{NextToken: token}
		}
		ls, err := cl.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("list shards of %s: %v", stream, err)
		}
		for _, s := range ls.Shards {
			it, err := cl.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId,
				ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				t.Fatalf("shard iterator of %s/%s: %v", stream, aws.ToString(s.ShardId), err)
			}
			iter := it.ShardIterator
			for iter != nil {
				gr, err := cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					if classify(err) == errThrottled {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					t.Fatalf("get records of %s/%s: %v", stream, aws.ToString(s.ShardId), err)
				}
				for _, r := range gr.Records {
					subs, err := deaggregate(r.Data)
					if err != nil {
						out = append(out, string(r.Data))
						continue
					}
					for _, s := range subs {
						out = append(out, string(s.Data))
					}
				}
				if len(gr.Records) == 0 && aws.ToInt64(gr.MillisBehindLatest) == 0 {
					break
				}
				iter = gr.NextShardIterator
			}
		}
		if token = ls.NextToken; aws.ToString(token) == "" {
			return out
		}
	}
}

// streamName makes a stream name of an id (letters, digits, _ . -).
func streamName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 120 {
		b = b[len(b)-120:]
	}
	return fmt.Sprintf("s-%s", b)
}
