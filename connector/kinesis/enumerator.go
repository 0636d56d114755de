package kinesis

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connector"
)

// requestTimeout bounds the enumerator's ListShards calls.
const requestTimeout = 20 * time.Second

// enumerator lists the stream's shards and assigns each to a reader once
// all its parents are finished, so that records of one partition key are
// read in order across splits and merges. It runs on the job's enumerator
// goroutine.
type enumerator struct {
	cfg     *sourceConfig
	ctx     connector.EnumeratorContext
	log     *slog.Logger
	api     API
	mb      *mailbox
	st      *enumState
	readers map[int]bool
	// rediscover is set when a finished shard named children not known
	// yet: the next tick starts a listing.
	rediscover bool
	noMore     bool

	// Listings after the first run on a goroutine of their own, so that
	// a slow or unreachable service never holds up the enumerator's
	// goroutine (which also drives checkpoints); tick applies their
	// results.
	bg       context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	listing  bool
	listed   chan listResult
	started  int // listings started
	applied  int // the number of the last listing applied
	endAfter int // a bounded source ends after a listing numbered above this finds nothing new
}

type listResult struct {
	n      int
	shards []types.Shard
	err    error
}

func newEnumerator(cfg *sourceConfig, mb *mailbox, ctx connector.EnumeratorContext, restored []byte) (*enumerator, error) {
	mb.reset()
	e := &enumerator{cfg: cfg, ctx: ctx, log: ctx.Logger(), mb: mb, readers: map[int]bool{}, listed: make(chan listResult, 1)}
	e.bg, e.stop = context.WithCancel(context.Background())
	if restored != nil {
		st, err := decodeEnumState(restored)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		e.st = st
	} else {
		e.st = &enumState{shards: map[string]*shardInfo{}}
	}
	api, err := cfg.conn.client(context.Background())
	if err != nil {
		return nil, err
	}
	e.api = api
	// The first listing runs now: a fresh job needs it to know where to
	// start.
	lctx, cancel := context.WithTimeout(e.bg, requestTimeout)
	shards, err := e.list(lctx)
	cancel()
	if err == nil {
		e.apply(shards)
	} else {
		e.stop()
		if f := cfg.conn.fatal("source", err); f != nil {
			return nil, f
		}
		if !e.st.initialized {
			// A fresh start needs the first listing to know where to start.
			return nil, fmt.Errorf("kinesis source: list shards of %s: %w", cfg.conn.where(), err)
		}
		e.log.Warn("kinesis shard discovery failed; retrying", "stream", cfg.conn.stream, "err", err)
		e.bg, e.stop = context.WithCancel(context.Background())
		e.rediscover = true
	}
	if cfg.discovery > 0 {
		ctx.Every(cfg.discovery, e.periodic)
	}
	ctx.Every(tickInterval, e.tick)
	return e, nil
}

// tickInterval is how often the enumerator takes the readers' reports of
// finished shards when no reader woke it.
const tickInterval = 100 * time.Millisecond

func (e *enumerator) AddReader(subtask int) error {
	e.readers[subtask] = true
	e.assignReady()
	return nil
}

// HandleSplitRequest: a reader finished a shard (or started); take the
// reports, assign what became ready.
func (e *enumerator) HandleSplitRequest(int) error { return e.tick() }

func (e *enumerator) tick() error {
	if err := e.takeListing(); err != nil {
		return err
	}
	e.absorb()
	if e.rediscover {
		e.startListing()
	}
	e.assignReady()
	e.maybeEnd()
	return nil
}

// periodic starts a round of shard discovery.
func (e *enumerator) periodic() error {
	e.startListing()
	return e.tick()
}

// startListing starts a listing unless one is under way.
func (e *enumerator) startListing() {
	if e.listing {
		return
	}
	e.listing = true
	e.rediscover = false
	e.started++
	n := e.started
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.bg, requestTimeout)
		defer cancel()
		shards, err := e.list(ctx)
		select {
		case e.listed <- listResult{n: n, shards: shards, err: err}:
		case <-e.bg.Done():
		}
	}()
}

// takeListing applies the result of a finished listing. A failure that a
// retry may fix is logged; the next round tries again.
func (e *enumerator) takeListing() error {
	select {
	case r := <-e.listed:
		e.listing = false
		if r.err != nil {
			if f := e.cfg.conn.fatal("source", r.err); f != nil {
				return f
			}
			e.log.Warn("kinesis shard discovery failed; retrying at the next round", "stream", e.cfg.conn.stream, "err", r.err)
			return nil
		}
		e.apply(r.shards)
		e.applied = r.n
	default:
	}
	return nil
}

// absorb takes the readers' reports of finished shards.
func (e *enumerator) absorb() {
	for _, r := range e.mb.take() {
		sh := e.st.shards[r.id]
		if sh == nil {
			sh = &shardInfo{}
			e.st.shards[r.id] = sh
		}
		sh.status = shardFinished
		for _, c := range r.children {
			if e.st.shards[c] == nil {
				e.rediscover = true
			}
		}
		e.log.Debug("kinesis shard finished", "stream", e.cfg.conn.stream, "shard", r.id, "children", r.children)
	}
}

// list returns every shard of the stream.
func (e *enumerator) list(ctx context.Context) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(e.cfg.conn.stream)}
	for {
		out, err := e.api.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// apply adds the listed shards not known yet. At the first listing of a
// fresh job, shards start at the configured position; shards that appear
// later start at their oldest record.
func (e *enumerator) apply(shards []types.Shard) {
	listed := map[string]bool{}
	now := time.Now()
	initial := !e.st.initialized
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		listed[id] = true
		if e.st.shards[id] != nil {
			continue
		}
		sh := &shardInfo{}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p := aws.ToString(p); p != "" {
				sh.parents = append(sh.parents, p)
			}
		}
		closed := s.SequenceNumberRange != nil && aws.ToString(s.SequenceNumberRange.EndingSequenceNumber) != ""
		if initial {
			switch e.cfg.start.kind {
			case startTimestamp:
				sh.startAt = max(e.cfg.start.at.UnixMilli(), 1)
			case startLatest:
				if closed {
					sh.status = shardFinished
				} else {
					sh.startAt = now.UnixMilli()
				}
			}
		}
		e.st.shards[id] = sh
		e.log.Debug("kinesis shard discovered", "stream", e.cfg.conn.stream, "shard", id, "parents", sh.parents, "closed", closed)
	}
	// Finished shards the stream no longer lists have expired: forget
	// them (their children count them as finished).
	for id, sh := range e.st.shards {
		if sh.status == shardFinished && !listed[id] {
			delete(e.st.shards, id)
		}
	}
	e.st.initialized = true
}

// ready reports whether every parent of sh is finished (or expired).
func (e *enumerator) ready(sh *shardInfo) bool {
	for _, p := range sh.parents {
		if ps := e.st.shards[p]; ps != nil && ps.status != shardFinished {
			return false
		}
	}
	return true
}

// owner is the subtask that reads shard id.
func (e *enumerator) owner(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(e.ctx.Parallelism()))
}

// assignReady assigns every waiting shard whose parents are finished.
func (e *enumerator) assignReady() {
	var ids []string
	for id, sh := range e.st.shards {
		if sh.status == shardWaiting && e.ready(sh) && e.readers[e.owner(id)] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		sh := e.st.shards[id]
		sh.status = shardAssigned
		e.ctx.Assign(e.owner(id), &Split{Stream: e.cfg.conn.stream, Shard: id, StartAt: sh.startAt})
		e.log.Debug("kinesis shard assigned", "stream", e.cfg.conn.stream, "shard", id, "subtask", e.owner(id))
	}
}

// maybeEnd ends a bounded source (EndOfStream) once every shard is
// finished and a listing started after that finds no other.
func (e *enumerator) maybeEnd() {
	if e.cfg.end == nil || e.noMore || !e.st.initialized {
		return
	}
	if !e.allFinished() {
		e.endAfter = 0
		return
	}
	if e.endAfter == 0 {
		e.endAfter = e.started
		e.startListing()
		if e.started == e.endAfter { // one was under way: the next
			e.rediscover = true
		}
		return
	}
	if e.applied <= e.endAfter {
		if !e.listing {
			e.startListing()
		}
		return
	}
	e.noMore = true
	for s := range e.ctx.Parallelism() {
		e.ctx.NoMoreSplits(s)
	}
	e.log.Info("kinesis source: every shard ended", "stream", e.cfg.conn.stream)
}

func (e *enumerator) allFinished() bool {
	for _, sh := range e.st.shards {
		if sh.status != shardFinished {
			return false
		}
	}
	return true
}

// Snapshot takes the readers' reports first, and stamps them with id: the
// readers may then drop those finished splits from their state of id.
// Nothing is assigned here.
func (e *enumerator) Snapshot(id int64) ([]byte, error) {
	e.absorb()
	e.mb.stampTaken(id)
	return e.st.encode(), nil
}

// Close stops a listing under way.
func (e *enumerator) Close() error {
	e.stop()
	e.wg.Wait()
	return nil
}
