package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// maxRaw bounds the undecodable value a bad-record report carries.
const maxRaw = 64 << 10

// idleWake is how long a reader that reported NothingAvailable waits at
// most before it looks again (fetch errors arrive without records).
const idleWake = time.Second

// maxOffsetSnapshots bounds the offsets kept for checkpoints not yet
// completed; older ones are subsumed anyway.
const maxOffsetSnapshots = 64

type tp struct {
	topic     string
	partition int32
}

type readerSplit struct {
	Split
	id string
	// end is the offset a caught-up reader would read next (the last
	// stable offset under read_committed, else the high watermark), as of
	// the newest fetch of the partition; -1 before the first.
	end int64
}

// reader consumes the partitions assigned to one source subtask with a
// direct (group-less) franz-go consumer, starting each at its split's next
// offset.
type reader[T any] struct {
	cfg    *sourceConfig
	dec    Decoder[T]
	log    *slog.Logger
	cl     *kgo.Client
	avail  chan struct{}
	wake   *time.Timer
	splits map[tp]*readerSplit
	noMore bool
	rec    Record // reused for every decode

	snaps    []offsetSnapshot
	commits  *offsetCommitter
	finished kadm.Offsets // final offsets of finished bounded splits
}

type offsetSnapshot struct {
	id      int64
	offsets kadm.Offsets
}

// availHook signals the reader when the client buffered a record.
type availHook struct{ ch chan struct{} }

func (h availHook) OnFetchRecordBuffered(*kgo.Record) { notify(h.ch) }

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func newReader[T any](cfg *sourceConfig, dec Decoder[T], ctx connector.ReaderContext) (*reader[T], error) {
	r := &reader[T]{cfg: cfg, dec: dec, log: ctx.Logger(), avail: make(chan struct{}, 1), splits: map[tp]*readerSplit{}}
	iso := kgo.ReadCommitted()
	if cfg.readUncommitted {
		iso = kgo.ReadUncommitted()
	}
	opts := append([]kgo.Opt{
		// The Java consumer's default: partitions added to the reader
		// join the fetch within half a second (kgo's default is 5s).
		kgo.FetchMaxWait(500 * time.Millisecond),
		// Partitions assigned while the job runs need fresh metadata
		// (kgo's default minimum age between refreshes is 5s).
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, cfg.conn.clientOpts(r.log)...)
	opts = append(opts,
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.WithHooks(availHook{r.avail}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	r.cl = cl
	if cfg.group != "" {
		r.commits = newOffsetCommitter(ctx.Context(), kadm.NewClient(cl), cfg.group, r.log)
	}
	return r, nil
}

func (r *reader[T]) Start() error { return nil }

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	add := map[string]map[int32]kgo.Offset{}
	for _, sp := range splits {
		s, ok := sp.(*Split)
		if !ok {
			return fmt.Errorf("%w: %T", errNotKafkaSplit, sp)
		}
		if err := s.validate(); err != nil {
			return err
		}
		k := tp{s.Topic, s.Partition}
		if _, dup := r.splits[k]; dup {
			return fmt.Errorf("kafka: split %s assigned twice", s.SplitID())
		}
		if s.done() {
			continue
		}
		r.splits[k] = &readerSplit{Split: *s, id: s.SplitID(), end: -1}
		if add[s.Topic] == nil {
			add[s.Topic] = map[int32]kgo.Offset{}
		}
		add[s.Topic][s.Partition] = kgo.NewOffset().At(s.Next)
	}
	if len(add) > 0 {
		r.cl.AddConsumePartitions(add)
	}
	notify(r.avail)
	return nil
}

func (r *reader[T]) NoMoreSplits() {
	r.noMore = true
	notify(r.avail)
}

func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	//lint:ignore SA1012 a nil context is franz-go's documented way to take what is buffered without waiting
	fs := r.cl.PollRecords(nil, r.cfg.maxPoll)
	if err := r.fetchErrors(fs); err != nil {
		return 0, err
	}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if s := r.splits[tp{p.Topic, p.Partition}]; s != nil {
			if r.cfg.readUncommitted || p.LastStableOffset < 0 {
				s.end = p.HighWatermark
			} else {
				s.end = p.LastStableOffset
			}
		}
	})
	var (
		cur     *readerSplit
		curOut  connector.SplitOutput[T]
		records int
		done    []*readerSplit
	)
	for it := fs.RecordIter(); !it.Done(); {
		kr := it.Next()
		records++
		if cur == nil || cur.Partition != kr.Partition || cur.Topic != kr.Topic {
			cur = r.splits[tp{kr.Topic, kr.Partition}]
			curOut = nil
		}
		if cur == nil || kr.Offset < cur.Next || cur.done() {
			continue // not ours (any more), already emitted, or past the end
		}
		if cur.Stop >= 0 && kr.Offset >= cur.Stop {
			cur.Next = cur.Stop
			done = append(done, cur)
			continue
		}
		if kr.Attrs.IsControl() {
			// Transaction markers take an offset but carry no data.
			cur.Next = kr.Offset + 1
			if cur.done() {
				done = append(done, cur)
			}
			continue
		}
		r.rec = Record{Key: kr.Key, Value: kr.Value, Headers: kr.Headers, Topic: kr.Topic,
			Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp}
		v, err := r.dec(&r.rec)
		r.rec = Record{}
		if err != nil {
			raw := kr.Value
			if len(raw) > maxRaw {
				raw = raw[:maxRaw]
			}
			bad := connector.BadRecord{Source: r.cfg.name, Raw: raw, Error: err.Error(),
				Location: cur.id + "@" + strconv.FormatInt(kr.Offset, 10)}
			if err := out.Reject(bad); err != nil {
				return 0, err
			}
		} else {
			if curOut == nil {
				curOut = out.Split(cur.id)
			}
			curOut.CollectAt(v, kr.Timestamp.UnixMilli())
		}
		cur.Next = kr.Offset + 1
		if cur.done() {
			done = append(done, cur)
		}
	}
	for _, s := range done {
		r.finish(out, s)
	}
	if records > 0 {
		return connector.MoreAvailable, nil
	}
	if r.noMore && len(r.splits) == 0 {
		return connector.EndOfInput, nil
	}
	r.armWake()
	return connector.NothingAvailable, nil
}

// Backlog is the consumer lag of the reader's partitions: the records
// between the next offset to read and the end of each partition, as of the
// newest fetch (the runtime shows it: runtime.Backlog). A bounded split
// counts up to its stop offset. It is not known before a fetch returned.
func (r *reader[T]) Backlog() (int64, bool) {
	var n int64
	known := false
	for _, s := range r.splits {
		if s.end < 0 {
			continue
		}
		end := s.end
		if s.Stop >= 0 {
			end = min(end, s.Stop)
		}
		n += max(end-s.Next, 0)
		known = true
	}
	return n, known
}

// finish drops a bounded split that reached its stop offset.
func (r *reader[T]) finish(out connector.ReaderOutput[T], s *readerSplit) {
	k := tp{s.Topic, s.Partition}
	if r.splits[k] != s {
		return // already finished
	}
	delete(r.splits, k)
	out.ReleaseSplit(s.id)
	if r.commits != nil {
		if r.finished == nil {
			r.finished = kadm.Offsets{}
		}
		r.finished.Add(kadm.Offset{Topic: s.Topic, Partition: s.Partition, At: s.Next, LeaderEpoch: -1})
	}
	r.cl.RemoveConsumePartitions(map[string][]int32{s.Topic: {s.Partition}})
}

func (r *reader[T]) armWake() {
	if r.wake == nil {
		r.wake = time.AfterFunc(idleWake, func() { notify(r.avail) })
		return
	}
	r.wake.Reset(idleWake)
}

// fetchErrors fails on errors the client could not recover from; a reset
// after data loss (records deleted by retention before they were read) is
// logged.
func (r *reader[T]) fetchErrors(fs kgo.Fetches) error {
	var errs []error
	fs.EachError(func(t string, p int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.As(err, &loss):
			r.log.Warn("kafka records were lost before they were read (retention or truncation); reading continues at the reset offset",
				"split", splitID(t, p), "err", err)
		case errors.Is(err, kgo.ErrClientClosed):
			errs = append(errs, errors.New("kafka: client closed"))
		default:
			errs = append(errs, fmt.Errorf("kafka: fetch %s: %w", splitID(t, p), err))
		}
	})
	return errors.Join(errs...)
}

func (r *reader[T]) SnapshotState(id int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits))
	var offs kadm.Offsets
	if r.commits != nil {
		offs = kadm.Offsets{}
		// Finished splits keep their final offset in every snapshot, so
		// the group learns where they ended.
		r.finished.Each(offs.Add)
	}
	for _, s := range r.splits {
		c := s.Split
		out = append(out, &c)
		if offs != nil {
			offs.Add(kadm.Offset{Topic: s.Topic, Partition: s.Partition, At: s.Next, LeaderEpoch: -1})
		}
	}
	if offs != nil {
		r.snaps = append(r.snaps, offsetSnapshot{id: id, offsets: offs})
		if len(r.snaps) > maxOffsetSnapshots {
			r.snaps = r.snaps[1:]
		}
	}
	return out, nil
}

// NotifyCheckpointComplete commits the offsets of checkpoint id (the
// newest snapshot at or before it) to the consumer group, in the
// background: the commit is for monitoring and never holds up the job.
func (r *reader[T]) NotifyCheckpointComplete(id int64) error {
	if r.commits == nil {
		return nil
	}
	var latest kadm.Offsets
	i := 0
	for ; i < len(r.snaps) && r.snaps[i].id <= id; i++ {
		latest = r.snaps[i].offsets
	}
	r.snaps = r.snaps[i:]
	if len(latest) > 0 {
		r.commits.submit(latest)
	}
	return nil
}

func (r *reader[T]) NotifyCheckpointAborted(id int64) error {
	for i, s := range r.snaps {
		if s.id == id {
			r.snaps = append(r.snaps[:i], r.snaps[i+1:]...)
			break
		}
	}
	return nil
}

func (r *reader[T]) Close() error {
	if r.wake != nil {
		r.wake.Stop()
	}
	if r.commits != nil {
		r.commits.close()
	}
	r.cl.Close()
	return nil
}

// offsetCommitter commits the latest submitted offsets to a group on its
// own goroutine; offsets submitted while a commit runs replace each other.
type offsetCommitter struct {
	adm   *kadm.Client
	group string
	log   *slog.Logger

	mu      sync.Mutex
	next    kadm.Offsets
	closing bool
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// newOffsetCommitter starts the goroutine that commits offsets; it ends on
// Close, or when parent (the reader's context) is done.
func newOffsetCommitter(parent context.Context, adm *kadm.Client, group string, log *slog.Logger) *offsetCommitter {
	ctx, cancel := context.WithCancel(parent)
	c := &offsetCommitter{adm: adm, group: group, log: log, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go c.run()
	return c
}

func (c *offsetCommitter) submit(o kadm.Offsets) {
	c.mu.Lock()
	c.next = o
	c.mu.Unlock()
	notify(c.wake)
}

func (c *offsetCommitter) run() {
	defer close(c.done)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			o, closing := c.next, c.closing
			c.next = nil
			c.mu.Unlock()
			if len(o) == 0 {
				if closing {
					return
				}
				break
			}
			c.commit(o)
		}
	}
}

func (c *offsetCommitter) commit(o kadm.Offsets) {
	ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
	defer cancel()
	resp, err := c.adm.CommitOffsets(ctx, c.group, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil && c.ctx.Err() == nil {
		c.log.Warn("kafka offset commit to the consumer group failed (monitoring only; the checkpoint holds the offsets)",
			"group", c.group, "err", err)
	}
}

// closeWait is how long close lets a last commit finish.
const closeWait = 5 * time.Second

// close stops the committer after the commit of the offsets submitted
// last, waiting at most closeWait for it.
func (c *offsetCommitter) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	notify(c.wake)
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.cancel()
		<-c.done
	}
	c.cancel()
}
