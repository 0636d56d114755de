package cassandra

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// Binder returns the values of the statement's bind markers for one
// element, in marker order: Go values the driver marshals into the
// markers' columns (string, int64, float64, bool, []byte, time.Time,
// gocql.UUID, slices and maps for collections...), nil for null, or
// gocql.UnsetValue to leave a column as it is. An error is the
// record's: it fails the job as a bad record.
type Binder[T any] func(v T) ([]any, error)

// RecordBinder binds the markers of statement from the fields of YAML
// records: a named marker (:name) from the field name, a ? from the field
// of its column's name. An absent field leaves its column unset.
func RecordBinder(statement string) (Binder[connector.Record], error) {
	st, err := ParseStatement(statement)
	if err != nil {
		return nil, err
	}
	fields := make([]string, len(st.Markers))
	for i, m := range st.Markers {
		fields[i] = m.Field()
	}
	return func(r connector.Record) ([]any, error) {
		out := make([]any, len(fields))
		for i, f := range fields {
			v, ok := r[f]
			if !ok {
				out[i] = gocql.UnsetValue
				continue
			}
			out[i] = v
		}
		return out, nil
	}, nil
}

// Sink writes elements to Cassandra with one CQL statement (an INSERT,
// UPDATE or DELETE) whose markers bind takes from each element.
//
// By default every element is written at once, asynchronously, and every
// checkpoint barrier waits until all writes sent before it are answered:
// at-least-once, and exactly-once in effect when the statement is
// idempotent (see Declare). With WriteAhead, the elements of a checkpoint
// are kept in the checkpoint and written when it completes, with progress
// markers in a commit table: exactly-once for any statement, within the
// limits the package documentation states.
type Sink[T any] struct {
	cfg  config
	st   *Statement
	bind Binder[T]

	mu      sync.Mutex
	writers map[int]*aheadWriter[T] // the write-ahead writer of each subtask, for its committer
}

// NewSink returns a sink that applies statement with the values bind
// gives for every element. It checks the options and the statement
// (without connecting).
func NewSink[T any](statement string, bind Binder[T], opts ...Option) (*Sink[T], error) {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	var errs []string
	if err := c.check(); err != nil {
		errs = append(errs, err.Error())
	}
	st, err := ParseStatement(statement)
	if err != nil {
		errs = append(errs, fmt.Sprintf("statement %q: %v", statement, err))
	}
	if bind == nil {
		errs = append(errs, "no binder")
	}
	if st != nil && c.writeAhead && st.Conditional {
		errs = append(errs, fmt.Sprintf("statement %q is conditional (IF ...): lightweight transactions cannot be batched with the commit markers; it is idempotent, so use it without WriteAhead", statement))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cassandra sink: %w: %s", connector.ErrConfig, strings.Join(errs, "; "))
	}
	return &Sink[T]{cfg: c, st: st, bind: bind, writers: map[int]*aheadWriter[T]{}}, nil
}

// Statement returns the analysed statement.
func (s *Sink[T]) Statement() *Statement { return s.st }

// Declare implements connector.Declarer: the guarantee follows from the
// statement and the mode.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	st := s.st
	switch {
	case s.cfg.writeAhead && checkpointing:
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: fmt.Sprintf(
			"write-ahead (statement not idempotent: %s): the rows of a checkpoint are kept in the checkpoint and applied when it completes, "+
				"%d rows per batch together with the batch's progress marker (a logged batch and a row of %s; for a counter table a counter batch and a counter of %s_counts), "+
				"and a commit repeated after a failure skips the batches whose marker it finds. Not covered: a batch that Cassandra reports timed out and applies after the sink looked for its marker, "+
				"or applies in part (an unlogged counter batch whose coordinator fails)",
			st.Why, s.cfg.commitChunk, s.commitName(), s.commitName())}
	case st.Idempotent && checkpointing:
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "idempotent statement: " + st.Why +
			"; every checkpoint barrier waits for all writes sent before it, and a restore writes the rows after the checkpoint again, to the same effect"}
	case checkpointing:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "the statement is not idempotent (" + st.Why +
			"): every checkpoint barrier waits for all writes sent before it, but the rows written after the last completed checkpoint are applied again after a restore; " +
			"use delivery: exactly-once (write-ahead) for exactly-once"}
	case st.Idempotent:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "no checkpoints: writes are waited for at the end of input; a job started over writes again (idempotent statement: " + st.Why + ")"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "no checkpoints: writes are waited for at the end of input; a job started over applies them again (" + st.Why + ")"}
}

func (s *Sink[T]) commitName() string {
	ks := s.cfg.commitKeyspace
	if ks == "" {
		ks = s.cfg.keyspace
	}
	if ks == "" {
		ks = s.st.Keyspace
	}
	return ks + "." + s.cfg.commitTable
}

func (s *Sink[T]) where(subtask int) string {
	return fmt.Sprintf("%s (subtask %d)", s.st.Table, subtask)
}

// open connects and prepares the binder.
func (s *Sink[T]) open(ctx context.Context, subtask int) (*gocql.Session, *binder[T], *tableInfo, error) {
	sess, info, err := connect(ctx, &s.cfg, s.st)
	if err != nil {
		return nil, nil, nil, err
	}
	types, err := info.markerTypes(s.st)
	if err != nil {
		sess.Close()
		return nil, nil, nil, err
	}
	b := &binder[T]{st: s.st, cql: s.st.Qualified(s.cfg.keyspace), bind: s.bind, types: types, key: make([]bool, len(types)), where: s.where(subtask)}
	for i, m := range s.st.Markers {
		b.key[i] = info.kinds[m.Column] == "partition_key" || info.kinds[m.Column] == "clustering"
	}
	return sess, b, info, nil
}

// NewWriter implements connector.Sink: it connects to the cluster and
// checks the keyspace, the table and its columns.
func (s *Sink[T]) NewWriter(wctx connector.WriterContext, restored [][]byte) (connector.Writer[T], error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.connectTimeout+s.cfg.timeout)
	defer cancel()
	sess, b, info, err := s.open(ctx, wctx.Subtask())
	if err != nil {
		return nil, err
	}
	if !s.cfg.writeAhead || !wctx.Checkpointing() {
		if s.cfg.writeAhead && wctx.Subtask() == 0 {
			wctx.Logger().Warn("cassandra sink: write-ahead needs checkpoints; the job takes none, so rows are written directly (at-least-once)")
		}
		return newDirectWriter(sess, b, &s.cfg, sess.Close), nil
	}
	w, err := newAheadWriter(ctx, s, sess, b, info, wctx)
	if err != nil {
		sess.Close()
		return nil, err
	}
	s.mu.Lock()
	s.writers[wctx.Subtask()] = w
	s.mu.Unlock()
	return w, nil
}

// NewCommitter implements connector.TwoPhaseSink. The committer shares
// the session of its subtask's writer.
func (s *Sink[T]) NewCommitter(wctx connector.WriterContext) (connector.Committer, error) {
	s.mu.Lock()
	w := s.writers[wctx.Subtask()]
	s.mu.Unlock()
	if w == nil {
		return nil, fmt.Errorf("cassandra sink %s: no write-ahead writer for the committer", s.where(wctx.Subtask()))
	}
	return &committer[T]{w: w}, nil
}
