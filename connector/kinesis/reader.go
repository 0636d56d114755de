package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connector"
)

// reader reads the shards assigned to one subtask: a fetcher goroutine
// per shard calls GetRecords and hands de-aggregated batches to PollNext,
// which emits them and advances the splits' positions. Only PollNext
// moves a split's position, so a snapshot holds exactly what was emitted.
type reader[T any] struct {
	cfg *sourceConfig
	mb  *mailbox
	dec Decoder[T]
	rc  connector.ReaderContext
	log *slog.Logger
	api API

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	splits   map[string]*shardRun // being read
	finished map[string]*Split    // read to the end, until the enumerator's state holds them
	batches  chan *batch
	avail    chan struct{}
	cur      *batch
	noMore   bool
	started  bool
	gen      int

	lagMu sync.Mutex
	lag   map[string]int64 // MillisBehindLatest per shard
}

type shardRun struct {
	sp     *Split
	gen    int
	cancel context.CancelFunc
}

// batch is what one GetRecords call gave: user records, and whether the
// shard ended.
type batch struct {
	id   string
	gen  int
	recs []userRecord
	next int
	// end: the shard is read to its end; children as GetRecords named them.
	end      bool
	children []string
	err      error
}

type userRecord struct {
	Record
	last bool // the last user record of its Kinesis record
	bad  error
}

func newReader[T any](cfg *sourceConfig, mb *mailbox, dec Decoder[T], rc connector.ReaderContext) (*reader[T], error) {
	ctx, cancel := context.WithCancel(rc.Context())
	r := &reader[T]{cfg: cfg, mb: mb, dec: dec, rc: rc, log: rc.Logger(), ctx: ctx, cancel: cancel,
		splits: map[string]*shardRun{}, finished: map[string]*Split{},
		batches: make(chan *batch, 16), avail: make(chan struct{}, 1), lag: map[string]int64{}}
	mb.register(r.avail)
	return r, nil
}

func (r *reader[T]) Start() error {
	api, err := r.cfg.conn.client(r.ctx)
	if err != nil {
		return err
	}
	r.api = api
	r.started = true
	for _, run := range r.splits {
		r.startFetcher(run)
	}
	r.rc.RequestSplit()
	return nil
}

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	for _, s := range splits {
		sp, ok := s.(*Split)
		if !ok {
			return fmt.Errorf("kinesis: not a kinesis split: %T", s)
		}
		sp = new(*sp)
		if sp.Finished {
			r.finished[sp.SplitID()] = sp
			continue
		}
		if _, dup := r.splits[sp.SplitID()]; dup {
			return fmt.Errorf("kinesis: split %s assigned twice", sp.SplitID())
		}
		r.gen++
		run := &shardRun{sp: sp, gen: r.gen}
		r.splits[sp.SplitID()] = run
		if r.started {
			r.startFetcher(run)
		}
	}
	return nil
}

func (r *reader[T]) NoMoreSplits() { r.noMore = true; ring(r.avail) }

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

func ring(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// PollNext emits up to MaxRecordsPerFetch user records.
func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	r.report()
	budget := r.cfg.fetch
	for budget > 0 {
		if r.cur == nil {
			select {
			case b := <-r.batches:
				run := r.splits[b.id]
				if run == nil || run.gen != b.gen {
					continue // a split no longer read
				}
				if b.err != nil {
					return 0, b.err
				}
				r.cur = b
			default:
				if r.noMore && len(r.splits) == 0 {
					return connector.EndOfInput, nil
				}
				return connector.NothingAvailable, nil
			}
		}
		b := r.cur
		run := r.splits[b.id]
		so := out.Split(b.id)
		for b.next < len(b.recs) && budget > 0 {
			ur := &b.recs[b.next]
			b.next++
			budget--
			if ur.last {
				run.sp.Seq, run.sp.Sub = ur.Sequence, 0
			} else {
				run.sp.Seq, run.sp.Sub = ur.Sequence, ur.SubSequence+1
			}
			if ur.bad != nil {
				if err := out.Reject(connector.BadRecord{Source: r.cfg.name, Location: ur.Location(), Raw: truncate(ur.Data), Error: ur.bad.Error()}); err != nil {
					return 0, err
				}
				continue
			}
			v, err := r.dec(&ur.Record)
			if err != nil {
				if err := out.Reject(connector.BadRecord{Source: r.cfg.name, Location: ur.Location(), Raw: truncate(ur.Data), Error: err.Error()}); err != nil {
					return 0, err
				}
				continue
			}
			so.CollectAt(v, ur.Arrival.UnixMilli())
		}
		if b.next < len(b.recs) {
			break
		}
		r.cur = nil
		if b.end {
			r.finish(run, b.children, out)
		}
	}
	return connector.MoreAvailable, nil
}

// finish ends a split that was read to its end.
func (r *reader[T]) finish(run *shardRun, children []string, out connector.ReaderOutput[T]) {
	id := run.sp.SplitID()
	run.cancel()
	delete(r.splits, id)
	out.ReleaseSplit(id)
	sp := new(*run.sp)
	sp.Finished = true
	r.finished[id] = sp
	r.lagMu.Lock()
	delete(r.lag, run.sp.Shard)
	r.lagMu.Unlock()
	if r.mb.post(run.sp.Shard, children) {
		r.rc.RequestSplit()
	}
}

// report posts the finished splits that no enumerator snapshot holds yet
// (again after the enumerator of a new attempt reset the mailbox).
func (r *reader[T]) report() {
	for _, sp := range r.finished {
		if r.mb.stamp(sp.Shard) == 0 && r.mb.post(sp.Shard, nil) {
			r.rc.RequestSplit()
		}
	}
}

// SnapshotState returns the position of every shard being read, and the
// finished shards that the enumerator's state of this checkpoint does not
// hold yet (see mailbox).
func (r *reader[T]) SnapshotState(checkpointID int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits)+len(r.finished))
	for _, run := range r.splits {
		out = append(out, new(*run.sp))
	}
	for id, sp := range r.finished {
		if st := r.mb.stamp(sp.Shard); st != 0 && st <= checkpointID {
			delete(r.finished, id)
			continue
		}
		out = append(out, new(*sp))
	}
	return out, nil
}

func (r *reader[T]) Close() error {
	r.mb.unregister(r.avail)
	r.cancel()
	r.wg.Wait()
	return nil
}

// MillisBehindLatest returns, per shard being read, how far its last
// GetRecords was behind the tip of the shard.
func (r *reader[T]) MillisBehindLatest() map[string]int64 {
	r.lagMu.Lock()
	defer r.lagMu.Unlock()
	out := make(map[string]int64, len(r.lag))
	for k, v := range r.lag {
		out[k] = v
	}
	return out
}

func truncate(b []byte) []byte {
	const max = 4096
	if len(b) > max {
		return b[:max]
	}
	return b
}

func (r *reader[T]) startFetcher(run *shardRun) {
	ctx, cancel := context.WithCancel(r.ctx)
	run.cancel = cancel
	f := &fetcher{cfg: r.cfg, api: r.api, log: r.log, sp: *run.sp, gen: run.gen, out: r.batches, avail: r.avail,
		setLag: func(ms int64) {
			r.lagMu.Lock()
			r.lag[run.sp.Shard] = ms
			r.lagMu.Unlock()
		}}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f.run(ctx)
	}()
}

// fetcher reads one shard from its split's position on.
type fetcher struct {
	cfg    *sourceConfig
	api    API
	log    *slog.Logger
	sp     Split // position of the next record to fetch (the fetcher's own copy)
	gen    int
	out    chan<- *batch
	avail  chan struct{}
	setLag func(int64)
	// skipSeq/skipSub: the first fetched record Seq skips user records
	// below Sub (a restore in the middle of an aggregated record).
	skipSeq string
	skipSub int64
}

func (f *fetcher) run(ctx context.Context) {
	id := f.sp.SplitID()
	if f.sp.Sub > 0 {
		f.skipSeq, f.skipSub = f.sp.Seq, f.sp.Sub
	}
	send := func(b *batch) bool {
		b.id, b.gen = id, f.gen
		select {
		case f.out <- b:
			ring(f.avail)
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) { send(&batch{err: err}) }
	bo := backoff{base: 100 * time.Millisecond, max: 10 * time.Second}
	retries := 0
	// retry waits after a failure that a retry may fix, or reports it.
	retry := func(what string, err error) bool {
		if f := f.cfg.conn.fatal("source", err); f != nil {
			fail(f)
			return false
		}
		retries++
		if retries > f.cfg.retries {
			fail(fmt.Errorf("kinesis source: %s of shard %s of %s: giving up after %d retries: %w", what, f.sp.Shard, f.cfg.conn.where(), f.cfg.retries, err))
			return false
		}
		if classify(err) == errThrottled {
			f.log.Debug("kinesis throttled; backing off", "shard", f.sp.Shard, "call", what)
		} else {
			f.log.Warn("kinesis call failed; retrying", "shard", f.sp.Shard, "call", what, "err", err)
		}
		return sleep(ctx, bo.next()) == nil
	}
	var iter *string
	last := time.Time{}
	for ctx.Err() == nil {
		if iter == nil {
			it, err := f.iterator(ctx)
			if err != nil {
				if ctx.Err() != nil || !retry("GetShardIterator", err) {
					return
				}
				continue
			}
			iter = it
		}
		if err := sleep(ctx, time.Until(last.Add(f.cfg.poll))); err != nil {
			return
		}
		last = time.Now()
		out, err := f.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(f.cfg.fetch))})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if classify(err) == errExpired {
				// The iterator expired (5 minutes unused, e.g. while the
				// reader was backpressured): a new one from the position.
				iter = nil
				continue
			}
			if !retry("GetRecords", err) {
				return
			}
			continue
		}
		retries = 0
		bo.reset()
		if out.MillisBehindLatest != nil {
			f.setLag(*out.MillisBehindLatest)
		}
		b := &batch{}
		ended := false
		for _, kr := range out.Records {
			recs := f.userRecords(kr)
			for _, ur := range recs {
				if f.cfg.end != nil && ur.bad == nil && f.cfg.end(ur.Data) {
					ended = true
					break
				}
				b.recs = append(b.recs, ur)
			}
			if ended {
				break
			}
			// The fetcher's own position: after this Kinesis record.
			f.sp.Seq, f.sp.Sub = aws.ToString(kr.SequenceNumber), 0
		}
		if ended || out.NextShardIterator == nil {
			b.end = true
			for _, c := range out.ChildShards {
				b.children = append(b.children, aws.ToString(c.ShardId))
			}
			send(b)
			return
		}
		if len(b.recs) > 0 && !send(b) {
			return
		}
		iter = out.NextShardIterator
	}
}

// userRecords de-aggregates a Kinesis record, dropping the user records a
// restore in its middle already emitted.
func (f *fetcher) userRecords(kr types.Record) []userRecord {
	base := Record{PartitionKey: aws.ToString(kr.PartitionKey), Stream: f.sp.Stream, Shard: f.sp.Shard,
		Sequence: aws.ToString(kr.SequenceNumber), Data: kr.Data}
	if kr.ApproximateArrivalTimestamp != nil {
		base.Arrival = *kr.ApproximateArrivalTimestamp
	}
	subs, err := deaggregate(kr.Data)
	if errors.Is(err, errNotAggregated) {
		return []userRecord{{Record: base, last: true}}
	}
	if err != nil {
		return []userRecord{{Record: base, last: true, bad: err}}
	}
	skip := int64(0)
	if f.skipSeq != "" {
		if base.Sequence == f.skipSeq {
			skip = f.skipSub
		}
		f.skipSeq = ""
	}
	out := make([]userRecord, 0, len(subs))
	for i, s := range subs {
		if int64(i) < skip {
			continue
		}
		ur := userRecord{Record: base, last: i == len(subs)-1}
		ur.Data, ur.PartitionKey, ur.SubSequence = s.Data, s.PartitionKey, int64(i)
		out = append(out, ur)
	}
	if len(out) == 0 {
		// Everything was emitted before; nothing to emit, and the
		// position moves past the record with the next one.
		return nil
	}
	return out
}

// iterator gets a shard iterator at the fetcher's position.
func (f *fetcher) iterator(ctx context.Context) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(f.sp.Stream), ShardId: aws.String(f.sp.Shard)}
	switch {
	case f.sp.Seq != "" && f.sp.Sub > 0:
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(f.sp.Seq)
	case f.sp.Seq != "":
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(f.sp.Seq)
	case f.sp.StartAt > 0:
		in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(time.UnixMilli(f.sp.StartAt))
	default:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	}
	out, err := f.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.ShardIterator, nil
}
