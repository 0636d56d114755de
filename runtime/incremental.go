package runtime

import (
	"fmt"
	"slices"
	"sync"
)

// Incremental checkpoints (CheckpointConfig.Incremental).
//
// A keyed operator's incremental snapshot is a delta on the operator's
// previous one (state.KeyedBackend.IncrementalSnapshot). The runtime makes
// sure the previous one is durable and listed: a task asks for a delta
// only if the checkpoint of its previous incremental snapshot completed
// (else it starts a new chain with a full snapshot), and a delta's
// metadata lists the files it builds on, from the last full one, which
// the storage then keeps (storage.Pending.Use) until no kept checkpoint
// needs them. Restore opens the chain's files in order.

// keyedRef names a keyed-state file of an earlier checkpoint.
type keyedRef struct {
	Dir  string `json:"dir"`
	File string `json:"file"`
}

// keyedChain is the last incremental snapshot a task's operator wrote.
type keyedChain struct {
	ckpt      int64      // its checkpoint
	dir, file string     // where it is
	chain     []keyedRef // the files it builds on, full first; nil if full
	written   int64      // entries in the files of the chain, this one included
}

// incrementalState is a task's side of incremental checkpoints. The task
// goroutine decides (next); writer goroutines record what they wrote.
type incrementalState struct {
	last int64 // task goroutine: checkpoint of the last incremental snapshot

	mu       sync.Mutex
	chains   map[int]keyedChain // by operator index: the newest written
	bases    map[int64]int64    // checkpoint -> the checkpoint its deltas build on
	newChain bool               // a chain grew too long: start a new one
}

// next returns whether the incremental snapshot of checkpoint id starts a
// new chain, given whether the previous one's checkpoint completed.
func (s *incrementalState) next(id int64, completed func(int64) bool) bool {
	s.mu.Lock()
	force := s.newChain
	s.newChain = false
	s.mu.Unlock()
	prev := s.last
	s.last = id
	if force || prev == 0 || !completed(prev) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bases == nil {
		s.bases = map[int64]int64{}
	}
	s.bases[id] = prev
	return false
}

// base returns the chain a delta of operator op for checkpoint id builds
// on: the file the operator wrote for the checkpoint next chose as base.
func (s *incrementalState) base(op int, id int64) ([]keyedRef, keyedChain, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.bases[id]
	prev, ok := s.chains[op]
	if !ok || want == 0 || prev.ckpt != want {
		return nil, keyedChain{}, fmt.Errorf("internal error: the incremental snapshot of checkpoint %d has no base (want checkpoint %d, have %d)", id, want, prev.ckpt)
	}
	return append(slices.Clip(prev.chain), keyedRef{Dir: prev.dir, File: prev.file}), prev, nil
}

// wrote records the incremental snapshot of operator op written for
// checkpoint id, holding written entries of the live ones; chain is nil
// for a full one. It asks for a new chain once this one has maxDeltas
// deltas, or its files hold more than twice the live entries: restoring it
// would then read more than twice what a full snapshot holds. (A state
// that only grows keeps its chain: every entry written is still live.)
func (s *incrementalState) wrote(op int, id int64, dir, file string, chain []keyedRef, prev keyedChain, written, live int64, maxDeltas int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for x := range s.bases {
		if x < id {
			delete(s.bases, x) // written: a task writes its checkpoints in order
		}
	}
	if old, ok := s.chains[op]; ok && old.ckpt > id {
		return // a later snapshot was written first (concurrent checkpoints)
	}
	c := keyedChain{ckpt: id, dir: dir, file: file, chain: chain, written: written}
	if chain != nil {
		c.written += prev.written
		if len(chain) >= maxDeltas || c.written > 2*live {
			s.newChain = true
		}
	}
	if s.chains == nil {
		s.chains = map[int]keyedChain{}
	}
	s.chains[op] = c
}

// completedSet remembers the checkpoints of an attempt that completed (not
// savepoints), for tasks deciding whether to build on them.
type completedSet struct {
	mu  sync.Mutex
	ids map[int64]bool
	max int64
}

const completedKept = 256

func (c *completedSet) add(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[int64]bool{}
	}
	c.ids[id] = true
	c.max = max(c.max, id)
	for x := range c.ids {
		if x <= c.max-completedKept {
			delete(c.ids, x)
		}
	}
}

func (c *completedSet) has(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[id]
}
