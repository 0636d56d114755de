package cassandra

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// The write-ahead mode: the rows of a checkpoint go into the checkpoint
// as committables (one per chunk of CommitChunk rows), and are written
// when the checkpoint completes, each chunk in one batch together with
// its progress marker in the commit table: a logged batch with an INSERT
// of the marker row, or, for a counter table, a counter batch with an
// increment of the marker counter. A commit first reads the markers of
// its checkpoint and skips the chunks that have one.

// aheadWriter keeps the rows of the current checkpoint.
type aheadWriter[T any] struct {
	sink        *Sink[T]
	sess        *gocql.Session
	b           *binder[T]
	info        *tableInfo
	subtask     int
	parallelism int
	log         *slog.Logger
	commitKS    string
	markers     string // the marker table's name, keyspace-qualified
	counter     bool

	chunks [][]byte // encoded rows of full chunks
	cur    []byte   // encoded rows of the chunk being filled
	curN   int
	// committed is the highest checkpoint id whose committables this
	// subtask's committer committed: the markers of checkpoints up to the
	// one committed before a barrier are no longer needed once the
	// checkpoint of that barrier completes.
	committed int64
	// epoch tells this attempt's committables from those of other runs
	// under the same sink id (a job started afresh counts checkpoints from
	// 1 again).
	epoch  int64
	closed bool
}

func newAheadWriter[T any](ctx context.Context, s *Sink[T], sess *gocql.Session, b *binder[T], info *tableInfo, wctx connector.WriterContext) (*aheadWriter[T], error) {
	ks := s.cfg.commitKeyspace
	if ks == "" {
		ks = info.keyspace
	}
	w := &aheadWriter[T]{sink: s, sess: sess, b: b, info: info, subtask: wctx.Subtask(), parallelism: wctx.Parallelism(),
		log: wctx.Logger(), commitKS: ks, counter: info.counter, epoch: rand.Int64()}
	name := s.cfg.commitTable
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (sink text, subtask int, checkpoint bigint, epoch bigint, chunk int, PRIMARY KEY ((sink, subtask), checkpoint, epoch, chunk))", ks, name)
	if w.counter {
		name += "_counts"
		ddl = fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (sink text, subtask int, checkpoint bigint, epoch bigint, chunk int, applied counter, PRIMARY KEY ((sink, subtask), checkpoint, epoch, chunk))", ks, name)
	}
	w.markers = ks + "." + name
	plain := strings.Replace(ddl, "IF NOT EXISTS ", "", 1)
	check := func() (bool, error) {
		cols, err := tableColumns(ctx, sess, ks, name)
		if err != nil || len(cols) == 0 {
			return false, err
		}
		if _, ok := cols["epoch"]; !ok || (w.counter && cols["applied"] != "counter") {
			return false, fmt.Errorf("cassandra sink: %w: commit table %s has other columns than the write-ahead mode needs: %s",
				connector.ErrRejected, w.markers, plain)
		}
		return true, nil
	}
	ok, err := check()
	switch {
	case err != nil:
		return nil, err
	case ok:
	case !s.cfg.createCommit:
		return nil, fmt.Errorf("cassandra sink: %w: commit table %s does not exist; create it (the write-ahead mode needs: %s), or set create_commit_tables: true",
			connector.ErrRejected, w.markers, plain)
	case w.subtask == 0:
		// One subtask creates the table: concurrent schema changes of one
		// table are what Cassandra handles worst.
		err := sess.Query(ddl).WithContext(ctx).Exec()
		var re gocql.RequestError
		if err != nil && !(errors.As(err, &re) && re.Code() == gocql.ErrCodeAlreadyExists) {
			return nil, classify(err, ddl, "commit table "+w.markers+" (or create it yourself and set create_commit_tables: false)")
		}
	default:
		// The others wait for subtask 0 to create it, until ctx ends.
		for !ok {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("cassandra sink: commit table %s was not created in time (subtask 0 creates it): %w", w.markers, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
			if ok, err = check(); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// Write implements connector.Writer: it keeps the row for the commit.
func (w *aheadWriter[T]) Write(_ context.Context, v T, _ int64) error {
	r, err := w.b.row(v)
	if err != nil {
		return err
	}
	w.cur = appendRow(w.cur, r)
	w.curN++
	if w.curN == w.sink.cfg.commitChunk {
		w.chunks = append(w.chunks, w.cur)
		w.cur, w.curN = nil, 0
	}
	return nil
}

// Flush implements connector.Writer: rows are written when their
// checkpoint completes, so there is nothing to wait for.
func (w *aheadWriter[T]) Flush(context.Context) error { return nil }

// PreCommit implements connector.PreCommitter: the rows written since the
// last barrier, one committable per chunk.
func (w *aheadWriter[T]) PreCommit(_ context.Context, checkpointID int64) ([][]byte, error) {
	if w.curN > 0 {
		w.chunks = append(w.chunks, w.cur)
		w.cur, w.curN = nil, 0
	}
	out := make([][]byte, 0, len(w.chunks))
	for i, rows := range w.chunks {
		out = append(out, encodeChunk(chunkHeader{subtask: w.subtask, epoch: w.epoch, chunk: i, floor: w.committed}, rows))
	}
	w.chunks = nil
	return out, nil
}

// Close implements connector.Writer.
func (w *aheadWriter[T]) Close() error {
	if !w.closed {
		w.closed = true
		w.sess.Close()
		s := w.sink
		s.mu.Lock()
		if s.writers[w.subtask] == w {
			delete(s.writers, w.subtask)
		}
		s.mu.Unlock()
	}
	return nil
}

// committer applies the committables of completed checkpoints.
type committer[T any] struct{ w *aheadWriter[T] }

func (c *committer[T]) Close() error { return nil }

// Commit implements connector.Committer.
func (c *committer[T]) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	w := c.w
	if w.closed {
		return errors.New("cassandra sink: commit after the writer closed")
	}
	type source struct {
		subtask int
		epoch   int64
	}
	bySource := map[source][]chunk{}
	var order []source
	floor := int64(-1)
	for _, b := range committables {
		h, rows, err := decodeChunk(b)
		if err != nil {
			return connector.Permanent(fmt.Errorf("cassandra sink %s: committable of checkpoint %d: %w", w.b.where, checkpointID, err))
		}
		src := source{h.subtask, h.epoch}
		if _, ok := bySource[src]; !ok {
			order = append(order, src)
		}
		bySource[src] = append(bySource[src], chunk{h, rows})
		if h.subtask == w.subtask {
			floor = max(floor, h.floor)
		}
	}
	for _, src := range order {
		ws := src.subtask
		done, err := c.applied(ctx, ws, checkpointID, src.epoch)
		if err != nil {
			return err
		}
		var todo []chunk
		for _, ch := range bySource[src] {
			if n := done[ch.h.chunk]; n > 0 {
				if n > 1 {
					w.log.Error("cassandra sink: a write-ahead batch was applied more than once (a batch reported failed that Cassandra applied later)",
						"table", w.info.table, "subtask", ws, "checkpoint", checkpointID, "chunk", ch.h.chunk, "times", n)
				}
				continue
			}
			todo = append(todo, ch)
		}
		if !w.counter {
			// Logged batches one after the other: list appends keep the
			// records' order.
			for _, ch := range todo {
				if err := c.apply(ctx, ch.h, checkpointID, ch.rows); err != nil {
					return err
				}
			}
			continue
		}
		// Counter increments commute: up to MaxInFlight batches at once.
		if err := c.applyConcurrently(ctx, todo, func(ctx context.Context, ch chunk) error {
			return c.apply(ctx, ch.h, checkpointID, ch.rows)
		}); err != nil {
			return err
		}
	}
	if checkpointID > w.committed {
		w.committed = checkpointID
	}
	if floor > 0 {
		// Markers of checkpoints up to floor are in no checkpoint that can
		// be restored any more (see aheadWriter.committed).
		q := fmt.Sprintf("DELETE FROM %s WHERE sink = ? AND subtask = ? AND checkpoint <= ?", w.markers)
		if err := w.sess.Query(q, w.sink.cfg.sinkID, w.subtask, floor).WithContext(ctx).Consistency(w.sink.cfg.consistency).Exec(); err != nil {
			w.log.Warn("cassandra sink: could not delete the commit markers of completed checkpoints; the next commit tries again",
				"table", w.markers, "upto", floor, "err", err)
		}
	}
	return nil
}

// chunk is a decoded committable.
type chunk struct {
	h    chunkHeader
	rows []row
}

// applyConcurrently runs apply for every chunk, at most MaxInFlight at
// once, and returns the first error once all have ended.
func (c *committer[T]) applyConcurrently(ctx context.Context, chunks []chunk, apply func(context.Context, chunk) error) error {
	sem := make(chan struct{}, c.w.sink.cfg.maxInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, ch := range chunks {
		sem <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			<-sem
			break // the commit fails; what is not applied is applied when it is repeated
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := apply(ctx, ch); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// applied reads the markers of the chunks of checkpoint cp already
// applied: chunk -> times applied.
func (c *committer[T]) applied(ctx context.Context, ws int, cp, epoch int64) (map[int]int64, error) {
	w := c.w
	q := fmt.Sprintf("SELECT chunk FROM %s WHERE sink = ? AND subtask = ? AND checkpoint = ? AND epoch = ?", w.markers)
	if w.counter {
		q = fmt.Sprintf("SELECT chunk, applied FROM %s WHERE sink = ? AND subtask = ? AND checkpoint = ? AND epoch = ?", w.markers)
	}
	out := map[int]int64{}
	err := w.retrier().do(ctx, func(ctx context.Context) error {
		clear(out)
		iter := w.sess.Query(q, w.sink.cfg.sinkID, ws, cp, epoch).WithContext(ctx).Consistency(w.sink.cfg.consistency).Iter()
		var chunk int
		var n int64
		dest := []any{&chunk}
		if w.counter {
			dest = append(dest, &n)
		}
		for iter.Scan(dest...) {
			if !w.counter {
				n = 1
			}
			out[chunk] = n
		}
		return iter.Close()
	})
	if err != nil {
		return nil, classify(err, q, "commit table "+w.markers)
	}
	return out, nil
}

func (w *aheadWriter[T]) retrier() retrier {
	return retrier{retries: w.sink.cfg.retries, first: w.sink.cfg.backoff, most: w.sink.cfg.maxBackoff}
}

// apply writes one chunk with its marker, in one batch. After a failure
// whose outcome is unknown (a timeout), it looks for the marker before it
// tries again; after a logged batch's write timeout of type BATCH (the
// batch log holds the batch, which Cassandra will apply), it waits for
// the marker instead of sending the batch again.
func (c *committer[T]) apply(ctx context.Context, h chunkHeader, cp int64, rows []row) error {
	w := c.w
	ws, chunk := h.subtask, h.chunk
	cfg := &w.sink.cfg
	typ := gocql.LoggedBatch
	marker := fmt.Sprintf("INSERT INTO %s (sink, subtask, checkpoint, epoch, chunk) VALUES (?, ?, ?, ?, ?) USING TTL %d", w.markers, int(cfg.markerTTL.Seconds()))
	if w.counter {
		typ = gocql.CounterBatch
		marker = fmt.Sprintf("UPDATE %s SET applied = applied + 1 WHERE sink = ? AND subtask = ? AND checkpoint = ? AND epoch = ? AND chunk = ?", w.markers)
	}
	sent := false
	waitOnly := false
	err := w.retrier().do(ctx, func(ctx context.Context) error {
		if sent {
			done, err := c.applied(ctx, ws, cp, h.epoch)
			if err != nil {
				return err
			}
			if done[chunk] > 0 {
				return nil
			}
			if waitOnly {
				return fmt.Errorf("the batch of chunk %d of checkpoint %d timed out after Cassandra logged it, and its marker is not visible yet: %w",
					chunk, cp, gocql.ErrTimeoutNoResponse)
			}
		}
		b := w.sess.NewBatch(typ).WithContext(ctx)
		b.SetConsistency(cfg.consistency)
		for _, r := range rows {
			b.Query(w.b.cql, r...)
		}
		b.Query(marker, cfg.sinkID, ws, cp, h.epoch, chunk)
		sent = true
		err := w.sess.ExecuteBatch(b)
		var wt *gocql.RequestErrWriteTimeout
		if errors.As(err, &wt) && wt.WriteType == "BATCH" {
			waitOnly = true
		}
		return err
	})
	if err != nil {
		return classify(fmt.Errorf("commit of checkpoint %d, chunk %d (%d rows): %w", cp, chunk, len(rows), err), w.b.st.CQL, w.b.where)
	}
	return nil
}

// A committable: magic 'C', version 1, then uvarints subtask, epoch (as
// uint64), chunk, floor, and the rows, each: uvarint value count, then per value a
// tag (0 null, 1 unset, 2 bytes) and, for 2, uvarint length and bytes.
const (
	chunkMagic   = 'C'
	chunkVersion = 1
)

type chunkHeader struct {
	subtask int
	epoch   int64
	chunk   int
	floor   int64
}

func appendRow(b []byte, r row) []byte {
	b = binary.AppendUvarint(b, uint64(len(r)))
	for _, v := range r {
		switch x := v.(type) {
		case rawValue:
			if x == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 2)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		default: // gocql.UnsetValue
			b = append(b, 1)
		}
	}
	return b
}

func encodeChunk(h chunkHeader, rows []byte) []byte {
	b := []byte{chunkMagic, chunkVersion}
	b = binary.AppendUvarint(b, uint64(h.subtask))
	b = binary.AppendUvarint(b, uint64(h.epoch))
	b = binary.AppendUvarint(b, uint64(h.chunk))
	b = binary.AppendUvarint(b, uint64(h.floor))
	return append(b, rows...)
}

var errChunk = errors.New("malformed write-ahead committable")

func decodeChunk(b []byte) (chunkHeader, []row, error) {
	var h chunkHeader
	if len(b) < 2 || b[0] != chunkMagic {
		return h, nil, errChunk
	}
	if b[1] != chunkVersion {
		return h, nil, fmt.Errorf("%w: version %d (this sluice reads version %d)", errChunk, b[1], chunkVersion)
	}
	b = b[2:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var vals [4]uint64
	for i := range vals {
		v, ok := next()
		if !ok || (i != 1 && v > 1<<62) {
			return h, nil, errChunk
		}
		vals[i] = v
	}
	h = chunkHeader{subtask: int(vals[0]), epoch: int64(vals[1]), chunk: int(vals[2]), floor: int64(vals[3])}
	var rows []row
	for len(b) > 0 {
		n, ok := next()
		if !ok || n > uint64(len(b)) {
			return h, nil, errChunk
		}
		r := make(row, 0, n)
		for range n {
			if len(b) == 0 {
				return h, nil, errChunk
			}
			tag := b[0]
			b = b[1:]
			switch tag {
			case 0:
				r = append(r, rawValue(nil))
			case 1:
				r = append(r, gocql.UnsetValue)
			case 2:
				l, ok := next()
				if !ok || l > uint64(len(b)) {
					return h, nil, errChunk
				}
				r = append(r, rawValue(append([]byte{}, b[:l]...)))
				b = b[l:]
			default:
				return h, nil, errChunk
			}
		}
		rows = append(rows, r)
	}
	return h, rows, nil
}
