package kinesis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/connector"
)

// fakeAPI is an in-memory stand-in of the shard API (ListShards,
// GetShardIterator, GetRecords, PutRecords), for what the emulator cannot
// be made to do on cue: throttling, expired iterators, partial failures,
// a shard finishing between two snapshots.
type fakeAPI struct {
	mu     sync.Mutex
	shards []*fakeShard
	// throttleGets/expireGets make the next GetRecords calls fail so.
	throttleGets, expireGets int
	// putFail decides, per PutRecords call and entry, the entry's error
	// code ("" accepts it); putErr fails whole calls.
	putFail func(call, i int) string
	putErr  func(call int) error
	puts    int
	put     [][]byte
	calls   map[string]int
	// inFlight and maxInFlight count concurrent PutRecords.
	inFlight, maxInFlight int
	putDelay              time.Duration
	// hangList makes ListShards wait for its context.
	hangList bool
}

type fakeShard struct {
	id      string
	parents []string
	closed  bool
	recs    []types.Record
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func (f *fakeAPI) count(op string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeAPI) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

// addShard adds a shard with records of the given data (seq = shard
// index * 1000 + i).
func (f *fakeAPI) addShard(id string, closed bool, parents []string, data ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeShard{id: id, parents: parents, closed: closed}
	f.shards = append(f.shards, s)
	for _, d := range data {
		s.add([]byte(d))
	}
}

func (s *fakeShard) add(data []byte) {
	s.recs = append(s.recs, types.Record{Data: data, PartitionKey: aws.String("k"),
		SequenceNumber:              aws.String(fmt.Sprintf("%s%06d", strings.TrimPrefix(s.id, "shard-"), len(s.recs)+1)),
		ApproximateArrivalTimestamp: aws.Time(time.UnixMilli(int64(1000 + len(s.recs))))})
}

func (f *fakeAPI) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	if f.hangList {
		f.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	defer f.mu.Unlock()
	f.count("ListShards")
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards {
		sh := types.Shard{ShardId: aws.String(s.id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0")}}
		if len(s.parents) > 0 {
			sh.ParentShardId = aws.String(s.parents[0])
		}
		if len(s.parents) > 1 {
			sh.AdjacentParentShardId = aws.String(s.parents[1])
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("999999999")
		}
		out.Shards = append(out.Shards, sh)
	}
	return out, nil
}

// Iterators are "shard/index".
func (f *fakeAPI) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("GetShardIterator")
	s := f.shard(aws.ToString(in.ShardId))
	if s == nil {
		return nil, apiErr("ResourceNotFoundException")
	}
	idx := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		idx = len(s.recs)
	case types.ShardIteratorTypeAtTimestamp:
		for idx < len(s.recs) && s.recs[idx].ApproximateArrivalTimestamp.Before(*in.Timestamp) {
			idx++
		}
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		seq := aws.ToString(in.StartingSequenceNumber)
		for idx < len(s.recs) && aws.ToString(s.recs[idx].SequenceNumber) != seq {
			idx++
		}
		if idx == len(s.recs) {
			return nil, apiErr("InvalidArgumentException")
		}
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			idx++
		}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(s.id + "/" + strconv.Itoa(idx))}, nil
}

func (f *fakeAPI) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("GetRecords")
	if f.throttleGets > 0 {
		f.throttleGets--
		return nil, apiErr("ProvisionedThroughputExceededException")
	}
	if f.expireGets > 0 {
		f.expireGets--
		return nil, apiErr("ExpiredIteratorException")
	}
	id, idxs, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	s := f.shard(id)
	idx, err := strconv.Atoi(idxs)
	if s == nil || err != nil {
		return nil, apiErr("InvalidArgumentException")
	}
	end := min(len(s.recs), idx+int(aws.ToInt32(in.Limit)))
	out := &kinesis.GetRecordsOutput{Records: s.recs[idx:end], MillisBehindLatest: aws.Int64(int64(len(s.recs) - end))}
	if s.closed && end == len(s.recs) {
		for _, c := range f.shards {
			for _, p := range c.parents {
				if p == s.id {
					out.ChildShards = append(out.ChildShards, types.ChildShard{ShardId: aws.String(c.id), ParentShards: c.parents})
				}
			}
		}
		return out, nil
	}
	out.NextShardIterator = aws.String(s.id + "/" + strconv.Itoa(end))
	return out, nil
}

func (f *fakeAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	f.count("PutRecords")
	f.puts++
	call := f.puts
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	delay := f.putDelay
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
	if f.putErr != nil {
		if err := f.putErr(call); err != nil {
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{}
	var failed int32
	for i, e := range in.Records {
		code := ""
		if f.putFail != nil {
			code = f.putFail(call, i)
		}
		if code != "" {
			failed++
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String(code)})
			continue
		}
		f.put = append(f.put, e.Data)
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String(strconv.Itoa(len(f.put))), ShardId: aws.String("shard-0")})
	}
	out.FailedRecordCount = aws.Int32(failed)
	return out, nil
}

// fakeEnumCtx records assignments.
type fakeEnumCtx struct {
	par      int
	assigned map[int][]*Split
	noMore   map[int]bool
}

func newEnumCtx(par int) *fakeEnumCtx {
	return &fakeEnumCtx{par: par, assigned: map[int][]*Split{}, noMore: map[int]bool{}}
}

func (c *fakeEnumCtx) Parallelism() int { return c.par }
func (c *fakeEnumCtx) Assign(subtask int, splits ...connector.Split) {
	for _, s := range splits {
		c.assigned[subtask] = append(c.assigned[subtask], s.(*Split))
	}
}
func (c *fakeEnumCtx) NoMoreSplits(subtask int)          { c.noMore[subtask] = true }
func (c *fakeEnumCtx) Every(time.Duration, func() error) {}
func (c *fakeEnumCtx) Logger() *slog.Logger              { return slog.New(slog.DiscardHandler) }
func (c *fakeEnumCtx) take() (out []*Split) {
	for s, sp := range c.assigned {
		out = append(out, sp...)
		delete(c.assigned, s)
	}
	return out
}

type fakeReaderCtx struct {
	ctx      context.Context
	requests int
}

func (c *fakeReaderCtx) Subtask() int             { return 0 }
func (c *fakeReaderCtx) Parallelism() int         { return 1 }
func (c *fakeReaderCtx) RequestSplit()            { c.requests++ }
func (c *fakeReaderCtx) Logger() *slog.Logger     { return slog.New(slog.DiscardHandler) }
func (c *fakeReaderCtx) Context() context.Context { return c.ctx }

// fakeOutput collects records (with their split and timestamp) and bad
// records.
type fakeOutput[T any] struct {
	vals     []T
	splits   []string
	ts       []int64
	bad      []connector.BadRecord
	released []string
}

func (o *fakeOutput[T]) Collect(v T) { o.CollectAt(v, 0) }
func (o *fakeOutput[T]) CollectAt(v T, ts int64) {
	o.vals = append(o.vals, v)
	o.ts = append(o.ts, ts)
	o.splits = append(o.splits, "")
}
func (o *fakeOutput[T]) Split(id string) connector.SplitOutput[T] {
	return splitOut[T]{o, id}
}
func (o *fakeOutput[T]) ReleaseSplit(id string) { o.released = append(o.released, id) }
func (o *fakeOutput[T]) Reject(b connector.BadRecord) error {
	o.bad = append(o.bad, b)
	return nil
}

type splitOut[T any] struct {
	o  *fakeOutput[T]
	id string
}

func (s splitOut[T]) Collect(v T) { s.CollectAt(v, 0) }
func (s splitOut[T]) CollectAt(v T, ts int64) {
	s.o.vals = append(s.o.vals, v)
	s.o.ts = append(s.o.ts, ts)
	s.o.splits = append(s.o.splits, s.id)
}
