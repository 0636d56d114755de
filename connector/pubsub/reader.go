package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluicehq/sluice/connector"
)

// Limits of requests and retries.
const (
	// ackBatch bounds the ack ids of one Acknowledge or ModifyAckDeadline
	// request (Pub/Sub's requests are limited to 512 KB).
	ackBatch = 2500
	// pullRetries is how many pulls in a row may fail transiently (after
	// the client library's own retries, within pullTimeout each) before
	// the reader fails, which restarts the job.
	pullRetries = 3
	pullTimeout = 30 * time.Second
	// ackRetries is how often a batch of acknowledgements is tried before
	// it is given up (its messages are then redelivered).
	ackRetries = 6
	// closeAckWait is how long Close lets queued acknowledgements go out.
	closeAckWait = 5 * time.Second
	// nackWait bounds the request that hands unsnapshotted messages back
	// to Pub/Sub on Close.
	nackWait = 2 * time.Second
	// maxRaw bounds the undecodable data a bad-record report carries.
	maxRaw = 64 << 10
)

// Per-ack-id failures Pub/Sub reports in the error's metadata on
// subscriptions with exactly-once delivery.
const (
	transientAckPrefix = "TRANSIENT_"
	invalidAckID       = "PERMANENT_FAILURE_INVALID_ACK_ID"
)

// reader pulls from the subscription on a goroutine of its own into
// leases, from which PollNext emits; two more goroutines extend the
// deadlines of held messages and acknowledge what completed checkpoints
// cover.
type reader[T any] struct {
	cfg   *sourceConfig
	dec   Decoder[T]
	log   *slog.Logger
	sub   *vkit.SubscriptionAdminClient
	l     *leases
	avail chan struct{}
	wake  *time.Timer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// ackCtx ends the acknowledging goroutine; Close lets it drain first.
	ackCtx    context.Context
	ackCancel context.CancelFunc
	ackDone   chan struct{}

	errMu sync.Mutex
	err   error

	hold        bool
	restored    []string
	started     bool
	snapshotted atomic.Bool
	// idleSince is when the current run of empty pulls began (unix
	// nanos), 0 while pulls find messages, flow control holds them back,
	// or none completed yet.
	idleSince    atomic.Int64
	noCheckpoint atomic.Bool // the "no checkpoint yet" warning was logged
	startedAt    time.Time

	// Counters, for tests and logs.
	expiredAcks atomic.Int64 // acknowledgements refused: ack id expired (redelivery follows)
	lostLeases  atomic.Int64 // messages given up at MaxExtension or refused extension
	acked       atomic.Int64
}

// checkpointingContext is implemented by reader contexts that say whether
// the job takes checkpoints.
type checkpointingContext interface{ Checkpointing() bool }

func newReader[T any](cfg *sourceConfig, dec Decoder[T], rc connector.ReaderContext) (*reader[T], error) {
	log := rc.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hold := !cfg.ackOnReceipt
	if cc, ok := rc.(checkpointingContext); ok && hold && !cc.Checkpointing() {
		log.Info("pubsub source: the job takes no checkpoints, so messages are acknowledged on receipt (at-most-once)",
			"subscription", cfg.subName)
		hold = false
	}
	parent := rc.Context()
	if parent == nil {
		parent = context.Background()
	}
	sub, err := vkit.NewSubscriptionAdminClient(parent, cfg.conn.clientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("pubsub source: client for %s: %w (%w: give credentials_file, set GOOGLE_APPLICATION_CREDENTIALS, or an endpoint for an emulator)",
			cfg.conn.where(), err, connector.ErrConfig)
	}
	ctx, cancel := context.WithCancel(parent)
	ackCtx, ackCancel := context.WithCancel(parent)
	r := &reader[T]{cfg: cfg, dec: dec, log: log, sub: sub, hold: hold,
		l:     newLeases(hold, cfg.maxMsgs, cfg.maxBytes),
		avail: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		ackCtx: ackCtx, ackCancel: ackCancel, ackDone: make(chan struct{})}
	return r, nil
}

func (r *reader[T]) what() string { return fmt.Sprintf("subscription %q", r.cfg.subName) }

// fail records the first error of a background goroutine; PollNext
// returns it.
func (r *reader[T]) fail(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
	signal(r.avail)
}

func (r *reader[T]) failed() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// RestoreReaderState takes the ack ids of the restored checkpoint's
// records; Start acknowledges them (restoring a checkpoint means it
// completed).
func (r *reader[T]) RestoreReaderState(state [][]byte) error {
	for _, b := range state {
		s, err := decodeState(b)
		if err != nil {
			return connector.Permanent(fmt.Errorf("pubsub source: restore pending acknowledgements: %w", err))
		}
		if s.subscription != r.cfg.subName {
			r.log.Warn("pubsub source: the restored checkpoint's pending acknowledgements are for another subscription; they are dropped (that subscription redelivers their messages)",
				"restored", s.subscription, "subscription", r.cfg.subName, "ack_ids", len(s.ackIDs))
			continue
		}
		r.restored = append(r.restored, s.ackIDs...)
	}
	return nil
}

func (r *reader[T]) Start() error {
	if r.started {
		return nil
	}
	r.started = true
	r.startedAt = time.Now()
	if r.hold {
		r.l.queueAcks(r.restored)
		if len(r.restored) > 0 {
			r.log.Info("pubsub source: acknowledging the messages of the restored checkpoint", "subscription", r.cfg.subName, "messages", len(r.restored))
		}
	}
	r.restored = nil
	r.wg.Add(1)
	go r.pullLoop()
	if r.hold {
		r.wg.Add(1)
		go r.extendLoop()
	}
	go r.ackLoop()
	return nil
}

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	if len(splits) > 0 {
		return fmt.Errorf("pubsub source: got %d splits; the source has none", len(splits))
	}
	return nil
}

func (r *reader[T]) NoMoreSplits() {}

// idleWake is how often an idle reader with EndWhenIdle looks at the clock.
const idleWake = 200 * time.Millisecond

func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	if err := r.failed(); err != nil {
		return 0, err
	}
	msgs := r.l.take(r.cfg.maxPoll)
	for _, rm := range msgs {
		m := toMessage(rm)
		v, err := r.dec(&m)
		if err != nil {
			raw := m.Data
			if len(raw) > maxRaw {
				raw = raw[:maxRaw]
			}
			bad := connector.BadRecord{Source: r.cfg.name, Raw: raw, Error: err.Error(),
				Location: r.cfg.subName + " message " + m.ID}
			if err := out.Reject(bad); err != nil {
				return 0, err
			}
			continue
		}
		out.CollectAt(v, m.PublishTime.UnixMilli())
	}
	if r.l.pending() > 0 {
		return connector.MoreAvailable, nil
	}
	if d := r.cfg.endWhenIdle; d > 0 {
		if since := r.idleSince.Load(); since != 0 && time.Since(time.Unix(0, since)) >= d && !r.l.acksPending() {
			return connector.EndOfInput, nil
		}
		r.armWake(idleWake)
	}
	return connector.NothingAvailable, nil
}

func (r *reader[T]) armWake(d time.Duration) {
	if r.wake == nil {
		r.wake = time.AfterFunc(d, func() { signal(r.avail) })
		return
	}
	r.wake.Reset(d)
}

func toMessage(rm *pubsubpb.ReceivedMessage) Message {
	m := Message{DeliveryAttempt: int(rm.DeliveryAttempt)}
	if pm := rm.Message; pm != nil {
		m.ID, m.Data, m.Attributes, m.OrderingKey = pm.MessageId, pm.Data, pm.Attributes, pm.OrderingKey
		if pm.PublishTime != nil {
			m.PublishTime = pm.PublishTime.AsTime()
		}
	}
	return m
}

// SnapshotState returns no splits: the source has none.
func (r *reader[T]) SnapshotState(int64) ([]connector.Split, error) { return nil, nil }

// SnapshotReaderState tags the messages emitted since the last snapshot
// with checkpoint id and returns every ack id still to acknowledge.
func (r *reader[T]) SnapshotReaderState(id int64) ([][]byte, error) {
	if !r.hold {
		return nil, nil
	}
	r.snapshotted.Store(true)
	ids := r.l.snapshot(id)
	return [][]byte{encodeState(readerState{subscription: r.cfg.subName, ackIDs: ids})}, nil
}

// NotifyCheckpointComplete acknowledges, in the background, the messages
// emitted before the snapshots of checkpoints up to id.
func (r *reader[T]) NotifyCheckpointComplete(id int64) error {
	if r.hold {
		r.l.complete(id)
	}
	return nil
}

// NotifyCheckpointAborted changes nothing: the messages the aborted
// checkpoint would have covered are acknowledged with the next one.
func (r *reader[T]) NotifyCheckpointAborted(int64) error { return nil }

// Close hands the messages no snapshot holds back to Pub/Sub (they are
// redelivered at once), lets queued acknowledgements go out for a few
// seconds unless the job's context ended, and stops the goroutines.
func (r *reader[T]) Close() error {
	if r.wake != nil {
		r.wake.Stop()
	}
	r.cancel()
	r.wg.Wait()
	if r.started {
		if r.hold && r.ackCtx.Err() == nil {
			if ids := r.l.unsnapshotted(); len(ids) > 0 {
				ctx, cancel := context.WithTimeout(r.ackCtx, nackWait)
				r.modify(ctx, ids, 0)
				cancel()
			}
		}
		t := time.NewTimer(closeAckWait)
		for r.l.acksPending() && r.ackCtx.Err() == nil {
			select {
			case <-t.C:
				r.ackCancel()
			case <-time.After(10 * time.Millisecond):
			}
		}
		t.Stop()
		r.ackCancel()
		<-r.ackDone
	}
	r.ackCancel()
	return r.sub.Close()
}

// pullLoop pulls while there is room, until the reader closes.
func (r *reader[T]) pullLoop() {
	defer r.wg.Done()
	failures := 0
	backoff := 100 * time.Millisecond
	for r.ctx.Err() == nil {
		n := r.l.space()
		if n == 0 {
			// Held back by flow control, not idle.
			r.idleSince.Store(0)
			if r.hold && !r.snapshotted.Load() && time.Since(r.startedAt) > r.cfg.maxExtension && r.noCheckpoint.CompareAndSwap(false, true) {
				r.log.Warn("pubsub source: no checkpoint was taken and the outstanding messages are full, so nothing is acknowledged; "+
					"a job without checkpoints needs pubsub.AckOnReceipt", "subscription", r.cfg.subName)
			}
			select {
			case <-r.ctx.Done():
				return
			case <-r.l.room:
			case <-time.After(time.Second):
			}
			continue
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(r.ctx, pullTimeout)
		resp, err := r.sub.Pull(pctx, &pubsubpb.PullRequest{Subscription: r.cfg.subName, MaxMessages: int32(min(n, r.cfg.maxPull))})
		cancel()
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			if !transient(r.ctx, err) {
				r.fail(fmt.Errorf("pubsub source: pull from %s at %s: %w", r.what(), r.cfg.conn.where(),
					classify(err, r.what(), "roles/pubsub.subscriber")))
				return
			}
			failures++
			if failures > pullRetries {
				r.fail(fmt.Errorf("pubsub source: pull from %s at %s failed %d times in a row: %w", r.what(), r.cfg.conn.where(), failures, err))
				return
			}
			r.log.Warn("pubsub source: pull failed; retrying", "subscription", r.cfg.subName, "err", err, "in", backoff)
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		failures, backoff = 0, 100*time.Millisecond
		msgs := resp.ReceivedMessages
		if len(msgs) == 0 {
			r.idleSince.CompareAndSwap(0, start.UnixNano())
			continue
		}
		now := time.Now()
		r.idleSince.Store(0)
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.AckId
		}
		if !r.hold {
			// At-most-once: acknowledged before anything is emitted, and
			// only what Pub/Sub accepted is emitted (the rest comes again).
			msgs = accepted(msgs, r.acknowledge(r.ctx, ids))
		}
		r.l.add(msgs, now)
		if r.hold {
			// The subscription's deadline may be shorter than ours.
			if lost := r.modify(r.ctx, ids, r.cfg.ackDeadline); len(lost) > 0 {
				r.l.lose(lost)
			}
		}
		signal(r.avail)
	}
}

// accepted returns the messages whose ack id is in acked.
func accepted(msgs []*pubsubpb.ReceivedMessage, acked []string) []*pubsubpb.ReceivedMessage {
	if len(acked) == len(msgs) {
		return msgs
	}
	ok := make(map[string]bool, len(acked))
	for _, a := range acked {
		ok[a] = true
	}
	out := msgs[:0]
	for _, m := range msgs {
		if ok[m.AckId] {
			out = append(out, m)
		}
	}
	return out
}

// extendLoop renews the deadlines of held messages every third of the
// ack deadline.
func (r *reader[T]) extendLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.ackDeadline / 3)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		ids, newlyLost := r.l.extendable(time.Now(), r.cfg.maxExtension)
		if newlyLost > 0 {
			r.lostLeases.Add(int64(newlyLost))
			r.log.Warn("pubsub source: messages reached the maximum extension before a checkpoint covering them completed; Pub/Sub redelivers them",
				"subscription", r.cfg.subName, "messages", newlyLost, "max_extension", r.cfg.maxExtension)
		}
		if lost := r.modify(r.ctx, ids, r.cfg.ackDeadline); len(lost) > 0 {
			r.lostLeases.Add(int64(len(lost)))
			r.l.lose(lost)
		}
	}
}

// modify sets the deadline of ack ids (0: hand them back for
// redelivery). It returns the ack ids Pub/Sub refused as expired (on
// subscriptions with exactly-once delivery). A refusal that no retry can
// fix fails the reader; other failures are logged (the next extension
// tries again).
func (r *reader[T]) modify(ctx context.Context, ids []string, d time.Duration) (lost []string) {
	for len(ids) > 0 && ctx.Err() == nil {
		batch := ids[:min(len(ids), ackBatch)]
		ids = ids[len(batch):]
		err := r.sub.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: r.cfg.subName,
			AckIds: batch, AckDeadlineSeconds: int32(d / time.Second)})
		if err == nil || ctx.Err() != nil {
			continue
		}
		failed, _ := ackFailures(err)
		if failed != nil {
			for a, reason := range failed {
				if reason == invalidAckID {
					lost = append(lost, a)
				}
			}
			continue
		}
		if !transient(ctx, err) {
			r.fail(fmt.Errorf("pubsub source: extend ack deadlines on %s: %w", r.what(), classify(err, r.what(), "roles/pubsub.subscriber")))
			return lost
		}
		r.log.Warn("pubsub source: extending ack deadlines failed; the next extension tries again", "subscription", r.cfg.subName, "messages", len(batch), "err", err)
	}
	return lost
}

// ackLoop sends the acknowledgements queued in leases until ackCtx ends.
func (r *reader[T]) ackLoop() {
	defer close(r.ackDone)
	for r.ackCtx.Err() == nil {
		ids := r.l.nextAcks(ackBatch)
		if len(ids) == 0 {
			select {
			case <-r.ackCtx.Done():
				return
			case <-r.l.ackWake:
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		r.acknowledge(r.ackCtx, ids)
	}
}

// acknowledge acknowledges ids, retrying transient failures a few times.
// On subscriptions with exactly-once delivery Pub/Sub confirms each
// acknowledgement (what the client library's AckWithResult reports): an
// ack id refused as expired means its message will be redelivered,
// which deduplication by message id absorbs; it is counted and logged.
// An acknowledgement given up is logged the same way: never a loss, at
// worst a duplicate.
//
// It returns the ack ids Pub/Sub accepted.
func (r *reader[T]) acknowledge(ctx context.Context, ids []string) (acked []string) {
	backoff := 200 * time.Millisecond
	for attempt := 1; len(ids) > 0; attempt++ {
		if ctx.Err() != nil {
			r.l.retryAcks(ids) // still pending: in the next snapshot, if any
			return acked
		}
		err := r.sub.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: r.cfg.subName, AckIds: ids})
		if err == nil {
			r.acked.Add(int64(len(ids)))
			r.l.done(ids)
			return append(acked, ids...)
		}
		if ctx.Err() != nil {
			r.l.retryAcks(ids)
			return acked
		}
		failed, _ := ackFailures(err)
		if len(failed) == 0 && !transient(ctx, err) {
			r.l.done(ids)
			r.fail(fmt.Errorf("pubsub source: acknowledge on %s: %w", r.what(), classify(err, r.what(), "roles/pubsub.subscriber")))
			return acked
		}
		// As the client library's AckWithResult: a failure named for the
		// ack id decides; else the request's status (retried when
		// temporary, else the acknowledgement failed).
		retryAll := retryable(status.Code(err))
		var retry []string
		var expired, other int
		for _, a := range ids {
			reason, bad := failed[a]
			switch {
			case bad && strings.HasPrefix(reason, transientAckPrefix), !bad && retryAll:
				retry = append(retry, a)
			case !bad && len(failed) > 0:
				// Named failures, and not this one: accepted.
				acked = append(acked, a)
				r.acked.Add(1)
				r.l.done([]string{a})
			case bad && reason == invalidAckID:
				expired++
				r.l.done([]string{a})
			default:
				other++
				r.l.done([]string{a})
			}
		}
		if expired+other > 0 {
			r.expiredAcks.Add(int64(expired + other))
			r.log.Warn("pubsub source: Pub/Sub refused acknowledgements (ack ids that expired before the checkpoint completed, or another failure); "+
				"their messages are redelivered, and deduplication by message id drops the repeats",
				"subscription", r.cfg.subName, "expired", expired, "other", other, "err", err)
		}
		if len(retry) == 0 {
			return acked
		}
		if attempt >= ackRetries {
			r.l.done(retry)
			r.log.Warn("pubsub source: acknowledgements given up after retries; their messages are redelivered",
				"subscription", r.cfg.subName, "messages", len(retry), "err", err)
			return acked
		}
		select {
		case <-ctx.Done():
			r.l.retryAcks(retry)
			return acked
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		ids = retry
	}
	return acked
}

// retryable lists the request failures after which acknowledgements are
// tried again (those the client library retries on subscriptions with
// exactly-once delivery).
func retryable(c codes.Code) bool {
	switch c {
	case codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unavailable, codes.Unknown:
		return true
	}
	return false
}

// ackFailures returns the per-ack-id failures in err's metadata
// (ErrorInfo), which Pub/Sub sends on subscriptions with exactly-once
// delivery; ok is false when there are none.
func ackFailures(err error) (map[string]string, bool) {
	var ae *apierror.APIError
	if !errors.As(err, &ae) {
		if a, ok := apierror.FromError(err); ok {
			ae = a
		}
	}
	if ae == nil {
		return nil, false
	}
	md := ae.Metadata()
	if len(md) == 0 {
		return nil, false
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		if strings.HasPrefix(v, transientAckPrefix) || strings.HasPrefix(v, "PERMANENT_") {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}
