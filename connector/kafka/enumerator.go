package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// requestTimeout bounds the enumerator's metadata and offset requests.
const requestTimeout = 30 * time.Second

// enumerator discovers partitions, resolves their start (and, bounded,
// stop) offsets, and assigns each to a fixed reader. It runs on the job's
// enumerator goroutine.
type enumerator struct {
	cfg     *sourceConfig
	ctx     connector.EnumeratorContext
	log     *slog.Logger
	cl      *kgo.Client
	adm     *kadm.Client
	st      *enumState
	readers map[int]bool
	missing map[string]bool // listed topics reported missing, to log once
}

func newEnumerator(cfg *sourceConfig, ctx connector.EnumeratorContext, restored []byte) (*enumerator, error) {
	e := &enumerator{cfg: cfg, ctx: ctx, log: ctx.Logger(), readers: map[int]bool{}, missing: map[string]bool{}}
	if restored != nil {
		st, err := decodeEnumState(restored)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		e.st = st
	} else {
		e.st = &enumState{known: map[string]int32{}}
	}
	// Discovery must see fresh metadata: the admin client answers from a
	// cache younger than MetadataMinAge (5s by default).
	opts := append([]kgo.Opt{kgo.MetadataMinAge(50 * time.Millisecond)}, cfg.conn.clientOpts(e.log)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	e.cl, e.adm = cl, kadm.NewClient(cl)
	// The first discovery runs now: a fresh job resolves its start
	// offsets; a restored one picks up partitions created while it was
	// down (from their earliest offset). A bounded restored job has all
	// its splits already.
	if !e.st.initialized || !cfg.bounded {
		if err := e.discover(); err != nil {
			cl.Close()
			return nil, err
		}
	}
	if !cfg.bounded && cfg.discovery > 0 {
		ctx.Every(cfg.discovery, e.periodic)
	}
	return e, nil
}

// periodic is one round of partition discovery. Failures are logged and
// retried at the next round: a broker briefly out of reach must not fail a
// job that is otherwise reading fine.
func (e *enumerator) periodic() error {
	if err := e.discover(); err != nil {
		e.log.Warn("kafka partition discovery failed; retrying at the next round", "err", err)
	}
	return nil
}

// discover finds partitions not known yet, resolves where each starts and
// assigns it.
func (e *enumerator) discover() error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var (
		details kadm.TopicDetails
		err     error
	)
	if e.cfg.re != nil {
		details, err = e.adm.ListTopics(ctx)
	} else {
		details, err = e.adm.ListTopics(ctx, e.cfg.topics...)
	}
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	newParts := map[string][]int32{}
	for _, name := range details.Names() {
		td := details[name]
		if e.cfg.re != nil && (strings.HasPrefix(name, "__") || td.IsInternal || !e.cfg.re.MatchString(name)) {
			continue
		}
		if td.Err != nil {
			if errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				if !e.missing[name] {
					e.missing[name] = true
					e.log.Warn("kafka topic does not exist (yet); it is read once it appears", "topic", name)
				}
				continue
			}
			return fmt.Errorf("topic %s: %w", name, td.Err)
		}
		known := e.st.known[name]
		for _, p := range td.Partitions.Numbers() {
			if p >= known {
				newParts[name] = append(newParts[name], p)
			}
		}
	}
	if len(newParts) == 0 {
		e.st.initialized = true
		return nil
	}
	start := StartOffset{kind: startEarliest}
	if !e.st.initialized {
		start = e.cfg.start
	}
	splits, err := e.resolve(ctx, newParts, start)
	if err != nil {
		return err
	}
	for t, ps := range newParts {
		e.st.known[t] = max(e.st.known[t], slices.Max(ps)+1)
	}
	if e.st.initialized {
		for _, s := range splits {
			e.log.Info("kafka partition discovered", "split", s.SplitID(), "offset", s.Next)
		}
	}
	e.st.initialized = true
	e.st.unassigned = append(e.st.unassigned, splits...)
	e.assignPending()
	return nil
}

// resolve computes the start offset (and, bounded, the stop offset) of
// each partition.
func (e *enumerator) resolve(ctx context.Context, parts map[string][]int32, start StartOffset) ([]*Split, error) {
	topics := make([]string, 0, len(parts))
	for t := range parts {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	readCommitted := !e.cfg.readUncommitted
	list := func(kind startKind) (kadm.ListedOffsets, error) {
		var (
			lo  kadm.ListedOffsets
			err error
		)
		switch kind {
		case startLatest:
			if readCommitted {
				lo, err = e.adm.ListCommittedOffsets(ctx, topics...)
			} else {
				lo, err = e.adm.ListEndOffsets(ctx, topics...)
			}
		case startTimestamp:
			lo, err = e.adm.ListOffsetsAfterMilli(ctx, start.millis, topics...)
		default:
			lo, err = e.adm.ListStartOffsets(ctx, topics...)
		}
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		return lo, nil
	}
	lookup := func(lo kadm.ListedOffsets, t string, p int32) (int64, error) {
		o, ok := lo.Lookup(t, p)
		if !ok {
			return 0, fmt.Errorf("no offset listed for %s", splitID(t, p))
		}
		if o.Err != nil {
			return 0, fmt.Errorf("list offsets of %s: %w", splitID(t, p), o.Err)
		}
		return o.Offset, nil
	}

	var committed kadm.OffsetResponses
	kind := start.kind
	if kind == startCommitted {
		var err error
		committed, err = e.adm.FetchOffsetsForTopics(ctx, e.cfg.group, topics...)
		if errors.Is(err, kerr.GroupIDNotFound) {
			committed, err = kadm.OffsetResponses{}, nil // nothing committed yet
		}
		if err != nil {
			return nil, fmt.Errorf("fetch offsets of group %s: %w", e.cfg.group, err)
		}
		kind = start.fallback
	}
	base, err := list(kind)
	if err != nil {
		return nil, err
	}
	var stops kadm.ListedOffsets
	if e.cfg.bounded {
		if stops, err = list(startLatest); err != nil {
			return nil, err
		}
	}
	var out []*Split
	for _, t := range topics {
		for _, p := range parts[t] {
			s := &Split{Topic: t, Partition: p, Stop: -1}
			next := int64(-1)
			if committed != nil {
				if r, ok := committed.Lookup(t, p); ok && r.Err == nil && r.At >= 0 {
					next = r.At
				}
			}
			if next < 0 {
				if next, err = lookup(base, t, p); err != nil {
					return nil, err
				}
			}
			if next < 0 {
				// A timestamp after the last record: start at the end.
				end, err := list(startLatest)
				if err != nil {
					return nil, err
				}
				if next, err = lookup(end, t, p); err != nil {
					return nil, err
				}
			}
			s.Next = max(next, 0)
			if stops != nil {
				if s.Stop, err = lookup(stops, t, p); err != nil {
					return nil, err
				}
				s.Stop = max(s.Stop, 0)
				if s.Next > s.Stop {
					s.Next = s.Stop
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// owner is the reader subtask of a partition: the partitions of a topic go
// round-robin over the readers, starting at a reader picked by the topic's
// name, so that partitions 0 of many topics do not all land on one reader.
func owner(topic string, partition int32, readers int) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	start := int(h.Sum32()&0x7fffffff) % readers
	return (start + int(partition)) % readers
}

// assignPending hands every unassigned split to its reader if that reader
// is registered.
func (e *enumerator) assignPending() {
	n := e.ctx.Parallelism()
	if n <= 0 {
		return
	}
	byReader := map[int][]connector.Split{}
	rest := e.st.unassigned[:0]
	for _, s := range e.st.unassigned {
		o := owner(s.Topic, s.Partition, n)
		if e.readers[o] {
			byReader[o] = append(byReader[o], s)
		} else {
			rest = append(rest, s)
		}
	}
	clear(e.st.unassigned[len(rest):])
	e.st.unassigned = rest
	for r, ss := range byReader {
		e.ctx.Assign(r, ss...)
	}
}

func (e *enumerator) AddReader(subtask int) error {
	e.readers[subtask] = true
	e.assignPending()
	if e.cfg.bounded {
		e.ctx.NoMoreSplits(subtask)
	}
	return nil
}

func (e *enumerator) HandleSplitRequest(int) error { return nil }

func (e *enumerator) Snapshot(int64) ([]byte, error) { return e.st.encode(), nil }

func (e *enumerator) Close() error {
	e.cl.Close()
	return nil
}
