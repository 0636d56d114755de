package kinesis

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

// Service limits of PutRecords.
const (
	maxBatchRecords = 500
	maxBatchBytes   = 5 << 20
	maxRecordBytes  = 1 << 20 // data and partition key of one record
	maxKeyBytes     = 256
)

// Serializer turns an element into a record's data and partition key. An
// error fails the job (a bad record cannot go to a dead-letter output
// from a sink).
type Serializer[T any] func(v T) (data []byte, partitionKey string, err error)

// StringSerializer writes strings as they are, with the partition key
// key(v), or a random key when key is nil.
func StringSerializer(key func(string) string) Serializer[string] {
	return func(v string) ([]byte, string, error) {
		if key == nil {
			return []byte(v), randomKey(), nil
		}
		return []byte(v), key(v), nil
	}
}

// randomKey spreads records over the shards evenly.
func randomKey() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Sink writes records to a Kinesis data stream with PutRecords,
// at-least-once with checkpoints: every barrier waits until every record
// written before was accepted. See the package documentation.
type Sink[T any] struct {
	cfg sinkConfig
	ser Serializer[T]
}

type sinkConfig struct {
	conn        connConfig
	maxInFlight int
	retries     int
	lingerSet   bool
	linger      time.Duration
}

// MaxInFlight bounds the PutRecords requests one writer has under way
// (default 8). Throttling halves the bound, each accepted request raises
// it by a fraction (additive increase, multiplicative decrease), never
// above this.
func MaxInFlight(n int) SinkOption { return sinkOpt(func(c *sinkConfig) { c.maxInFlight = n }) }

// Linger sets how long a writer waits for a batch to fill before sending
// it anyway (default 50ms); barriers send at once.
func Linger(d time.Duration) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.linger, c.lingerSet = d, true })
}

// Defaults of the sink's options.
const (
	DefaultMaxInFlight = 8
	DefaultLinger      = 50 * time.Millisecond
)

// NewSink returns a sink of stream (Stream option) that serializes
// records with ser.
func NewSink[T any](ser Serializer[T], opts ...SinkOption) (*Sink[T], error) {
	s := &Sink[T]{ser: ser, cfg: sinkConfig{maxInFlight: DefaultMaxInFlight, retries: DefaultMaxRetries, linger: DefaultLinger}}
	for _, o := range opts {
		o.applySink(&s.cfg)
	}
	c := &s.cfg
	errs := append([]error(nil), c.conn.errs...)
	if ser == nil {
		errs = append(errs, errors.New("no serializer"))
	}
	if c.conn.stream == "" {
		errs = append(errs, errors.New("no stream: use kinesis.Stream"))
	}
	if c.maxInFlight < 1 {
		errs = append(errs, fmt.Errorf("MaxInFlight %d must be positive", c.maxInFlight))
	}
	if c.retries < 0 {
		errs = append(errs, fmt.Errorf("MaxRetries %d is negative", c.retries))
	}
	if c.linger < 0 {
		errs = append(errs, fmt.Errorf("Linger %v is negative", c.linger))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kinesis sink: %w", err)
	}
	return s, nil
}

// Declare: at-least-once with checkpoints.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	return declareSink(checkpointing)
}

func declareSink(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: records still in the writer when the job fails are lost, and a restarted job does not know what was written"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce,
		Reason: "every barrier waits until PutRecords accepted every record written before (failed entries retried); records after the last checkpoint are written again after a restore"}
}

// NewWriter returns the writer of one sink subtask; restored entries
// (not accepted before the checkpoint) are sent first.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, restored [][]byte) (connector.Writer[T], error) {
	api, err := s.cfg.conn.client(context.Background())
	if err != nil {
		return nil, err
	}
	w := &writer[T]{cfg: &s.cfg, ser: s.ser, api: api, log: ctx.Logger(),
		limit: float64(s.cfg.maxInFlight), results: make(chan putResult, s.cfg.maxInFlight)}
	for _, b := range restored {
		ents, err := decodeEntries(b)
		if err != nil {
			return nil, fmt.Errorf("kinesis sink: restore writer state: %w", err)
		}
		w.queue = append(w.queue, ents...)
		for _, e := range ents {
			w.queued += e.size()
		}
	}
	return w, nil
}

// entry is one record to put.
type entry struct {
	data     []byte
	key      string
	attempts int
}

func (e *entry) size() int { return len(e.data) + len(e.key) }

// writer batches records into PutRecords requests, sent by goroutines;
// its methods run on the subtask's goroutine.
type writer[T any] struct {
	cfg *sinkConfig
	ser Serializer[T]
	api API
	log *slog.Logger

	queue    []*entry // not sent yet (or to be sent again), in order
	queued   int      // bytes in queue
	inFlight map[int][]*entry
	nextReq  int
	results  chan putResult
	// limit is the AIMD bound of requests in flight.
	limit   float64
	pauseTo time.Time // no request before this (throttled)
	first   time.Time // when the oldest queued entry came
	bo      backoff
	err     error
}

type putResult struct {
	req       int
	failed    []*entry // entries to send again
	throttled bool
	err       error
}

func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	if w.err != nil {
		return w.err
	}
	data, key, err := w.ser(v)
	if err != nil {
		return connector.Permanent(fmt.Errorf("kinesis sink: %s: serialize record: %w", w.cfg.conn.where(), err))
	}
	if key == "" {
		key = randomKey()
	}
	if len(key) > maxKeyBytes {
		return connector.Permanent(fmt.Errorf("kinesis sink: %s: %w: partition key of %d bytes is longer than Kinesis allows (256): shorten partition_key", w.cfg.conn.where(), connector.ErrBadRecord, len(key)))
	}
	e := &entry{data: data, key: key}
	if e.size() > maxRecordBytes {
		return connector.Permanent(fmt.Errorf("kinesis sink: %s: %w: record of %d bytes (data and partition key) is larger than Kinesis allows (1 MiB)", w.cfg.conn.where(), connector.ErrBadRecord, e.size()))
	}
	if len(w.queue) == 0 {
		w.first = time.Now()
	}
	w.queue = append(w.queue, e)
	w.queued += e.size()
	return w.pump(ctx, false)
}

// pump sends full batches (all batches when force, or when the oldest
// entry waited Linger) while the in-flight bound allows, and takes the
// results that are in. It blocks only while a full batch waits for room.
func (w *writer[T]) pump(ctx context.Context, force bool) error {
	for {
		if err := w.collect(ctx, false); err != nil {
			return err
		}
		if len(w.queue) == 0 {
			return nil
		}
		full := len(w.queue) >= maxBatchRecords || w.queued >= maxBatchBytes
		due := force || full || time.Since(w.first) >= w.cfg.linger
		if !due {
			return nil
		}
		if len(w.inFlight) >= int(w.limit) || time.Now().Before(w.pauseTo) {
			if !full && !force {
				return nil
			}
			if err := w.collect(ctx, true); err != nil {
				return err
			}
			continue
		}
		w.send(ctx)
	}
}

// send starts one PutRecords request with the head of the queue.
func (w *writer[T]) send(ctx context.Context) {
	n, size := 0, 0
	for n < len(w.queue) && n < maxBatchRecords && size+w.queue[n].size() <= maxBatchBytes {
		size += w.queue[n].size()
		n++
	}
	ents := w.queue[:n:n]
	w.queue = w.queue[n:]
	w.queued -= size
	w.first = time.Now()
	if w.inFlight == nil {
		w.inFlight = map[int][]*entry{}
	}
	w.nextReq++
	id := w.nextReq
	w.inFlight[id] = ents
	in := &kinesis.PutRecordsInput{StreamName: aws.String(w.cfg.conn.stream), Records: make([]types.PutRecordsRequestEntry, len(ents))}
	for i, e := range ents {
		in.Records[i] = types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.key)}
	}
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		out, err := w.api.PutRecords(rctx, in)
		res := putResult{req: id}
		switch {
		case err != nil:
			res.failed, res.err = ents, err
			res.throttled = classify(err) == errThrottled
		case aws.ToInt32(out.FailedRecordCount) > 0:
			for i, r := range out.Records {
				if i >= len(ents) {
					break
				}
				if r.ErrorCode != nil {
					res.failed = append(res.failed, ents[i])
					if aws.ToString(r.ErrorCode) == "ProvisionedThroughputExceededException" {
						res.throttled = true
					}
				}
			}
			if len(res.failed) == 0 {
				res.failed = ents // inconsistent answer: send all again
			}
		}
		w.results <- res
	}()
}

// collect takes the results that are in (waiting for one when wait):
// failed entries go back to the head of the queue, the in-flight bound
// moves (AIMD).
func (w *writer[T]) collect(ctx context.Context, wait bool) error {
	for {
		var res putResult
		if wait {
			if len(w.inFlight) == 0 {
				return sleep(ctx, time.Until(w.pauseTo))
			}
			select {
			case res = <-w.results:
			case <-ctx.Done():
				return ctx.Err()
			}
			wait = false
		} else {
			select {
			case res = <-w.results:
			default:
				return nil
			}
		}
		delete(w.inFlight, res.req)
		if res.err != nil {
			if f := w.cfg.conn.fatal("sink", res.err); f != nil {
				w.err = f
				return f
			}
		}
		if len(res.failed) == 0 {
			w.limit = math.Min(float64(w.cfg.maxInFlight), w.limit+1/w.limit)
			w.bo.reset()
			continue
		}
		if res.throttled {
			w.limit = math.Max(1, w.limit/2)
		}
		for _, e := range res.failed {
			e.attempts++
			if e.attempts > w.cfg.retries {
				cause := res.err
				if cause == nil {
					cause = errors.New("entries refused by PutRecords")
				}
				w.err = fmt.Errorf("kinesis sink: %s: a record was refused %d times: %w", w.cfg.conn.where(), e.attempts, cause)
				return w.err
			}
		}
		w.bo.base, w.bo.max = 100*time.Millisecond, 5*time.Second
		w.pauseTo = time.Now().Add(w.bo.next())
		w.log.Debug("kinesis put records: entries to send again", "failed", len(res.failed), "throttled", res.throttled, "in_flight_limit", w.limit, "err", res.err)
		w.queue = append(append([]*entry(nil), res.failed...), w.queue...)
		for _, e := range res.failed {
			w.queued += e.size()
		}
	}
}

// Flush returns when every record written before was accepted.
func (w *writer[T]) Flush(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	for len(w.queue) > 0 || len(w.inFlight) > 0 {
		if err := w.pump(ctx, true); err != nil {
			return err
		}
		if len(w.inFlight) > 0 {
			if err := w.collect(ctx, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// SnapshotState returns the entries not accepted yet (after the barrier's
// Flush: none), which NewWriter sends first after a restore.
func (w *writer[T]) SnapshotState(int64) ([][]byte, error) {
	var ents []*entry
	for _, es := range w.inFlight {
		ents = append(ents, es...)
	}
	ents = append(ents, w.queue...)
	if len(ents) == 0 {
		return nil, nil
	}
	return [][]byte{encodeEntries(ents)}, nil
}

// Close waits for the requests in flight (their outcome no longer
// matters: what was not flushed is not covered by a checkpoint).
func (w *writer[T]) Close() error {
	for len(w.inFlight) > 0 {
		res := <-w.results
		delete(w.inFlight, res.req)
	}
	return nil
}

const entriesVersion = 1

func encodeEntries(ents []*entry) []byte {
	b := binary.AppendUvarint(nil, entriesVersion)
	b = binary.AppendUvarint(b, uint64(len(ents)))
	for _, e := range ents {
		b = appendString(b, e.key)
		b = binary.AppendUvarint(b, uint64(len(e.data)))
		b = append(b, e.data...)
	}
	return b
}

func decodeEntries(b []byte) ([]*entry, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != entriesVersion {
		return nil, fmt.Errorf("unknown writer state version %d", v)
	}
	n := d.Count("", 2, maxEntries)
	out := make([]*entry, 0, n)
	for range n {
		key := d.String("", maxKeyBytes)
		data := d.Bytes("", maxRecordBytes)
		if d.Err() != nil {
			break
		}
		out = append(out, &entry{key: key, data: append([]byte(nil), data...)})
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("decode writer state: %w", err)
	}
	return out, nil
}
