package nexmark

import (
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
)

func init() {
	connector.Register(connector.Info{Name: "nexmark", Role: "source", System: "Nexmark auction events (generated)",
		Cases: []connector.Case{
			{Guarantee: connector.ExactlyOnce, When: "with checkpoints (the next event number of every split is state)"},
			{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
		}, Test: "in-process, SIGKILL torture test"})
}

// Source is the exactly-once source of a Config's events. Events carry
// their event time as record timestamp; use Watermarks for the watermark
// strategy.
//
// It is a collection source of Generator.Event, each reader with a
// generator of its own. On a fresh start the source makes one split per
// source subtask: split k of p emits the event numbers k, k+p, k+2p, ...
// below Config.Events (all of them when unbounded). A split's state is the
// next event number, so a restore resumes every split exactly where its
// checkpoint left it, at any parallelism (a subtask with several splits
// takes turns among them).
type Source struct {
	cfg     Config
	perPoll int
}

// Split is a share of the event numbers, named "nexmark-k/p" (split k of
// p).
type Split = collection.Split

// NewSource returns the source of cfg's events.
func NewSource(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg.withDefaults(), perPoll: 512}, nil
}

// events is the collection source that does the work.
func (s *Source) events() *collection.Source[Event] {
	cfg := s.cfg
	n := cfg.Events
	if n <= 0 {
		n = -1
	}
	return collection.GeneratePerReader(n, func() (func(int64) Event, error) {
		g, err := NewGenerator(cfg)
		if err != nil {
			return nil, err
		}
		return g.Event, nil
	}, collection.Timestamps(cfg.timestamp), collection.Interleaved(), collection.PollSize(s.perPoll), collection.SplitName("nexmark"))
}

// Config returns the source's configuration with defaults filled in.
func (s *Source) Config() Config { return s.cfg }

// Bounded reports whether the source has a fixed number of events.
func (s *Source) Bounded() bool { return s.cfg.Events > 0 }

// Declare: exactly-once with checkpoints.
func (s *Source) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "no checkpoints: a failed job starts over from nothing"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce,
		Reason: "the next event number of every split is checkpoint state, and events are a function of their number"}
}

// SplitCodec encodes splits as varints.
func (s *Source) SplitCodec() connector.SplitCodec { return s.events().SplitCodec() }

// NewEnumerator makes one split per reader on a fresh start; after a
// restore the splits are in the readers' state and nothing is left to
// assign.
func (s *Source) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return s.events().NewEnumerator(ctx, restored)
}

// NewReader creates the reader of one subtask, with its own generator. It
// emits up to 512 events of one split per poll.
func (s *Source) NewReader(ctx connector.ReaderContext) (connector.Reader[Event], error) {
	return s.events().NewReader(ctx)
}
