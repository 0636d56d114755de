package kinesis

import "sync"

// mailbox carries "shard finished" reports from the readers to the
// enumerator of the same job (they run in one process), and back the
// checkpoint id of the first enumerator snapshot that holds each report.
//
// A reader that finished a shard keeps it as a finished split in its own
// state and reports it here on every poll until it is stamped with the
// id of an enumerator snapshot no later than the reader's snapshot:
// since the enumerator's snapshot of checkpoint n is taken before any
// reader's, a finished shard is then in the enumerator's state of n, and
// the reader may drop it. So in every checkpoint a finished shard is in
// the enumerator's state or in a reader's, never in neither (the loss of
// FLINK-37627), and a restore never reads it again (FLINK-8484).
//
// The enumerator resets the mailbox when it is created: reports and
// stamps of an earlier attempt mean nothing for a restored one, whose
// readers report their restored finished splits again.
type mailbox struct {
	mu      sync.Mutex
	entries map[string]*report
	// readers are the Available channels of the open readers, rung on
	// reset so that they report again.
	readers map[chan struct{}]bool
}

type report struct {
	id       string // shard id
	children []string
	taken    bool  // the enumerator has it
	stamp    int64 // checkpoint id of the first enumerator snapshot holding it; 0: none yet
}

// post reports shard id finished with its children (as the last
// GetRecords of a closed shard named them); it returns true when the
// report is new, and the enumerator should be woken.
func (m *mailbox) post(id string, children []string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]*report{}
	}
	if _, ok := m.entries[id]; ok {
		return false
	}
	m.entries[id] = &report{id: id, children: children}
	return true
}

// stamp returns the checkpoint id that stamped the report of shard id,
// 0 when none did (or there is no report).
func (m *mailbox) stamp(id string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.entries[id]; r != nil {
		return r.stamp
	}
	return 0
}

// take returns the reports the enumerator has not taken yet.
func (m *mailbox) take() []report {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []report
	for _, r := range m.entries {
		if !r.taken {
			r.taken = true
			out = append(out, *r)
		}
	}
	return out
}

// stampTaken stamps every taken report that has no stamp with
// checkpoint id: the enumerator's snapshot of id holds them.
func (m *mailbox) stampTaken(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.entries {
		if r.taken && r.stamp == 0 {
			r.stamp = id
		}
	}
}

// reset forgets every report and stamp (a new job attempt), and wakes
// the readers, which report their finished shards again.
func (m *mailbox) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = nil
	for c := range m.readers {
		ring(c)
	}
}

// register adds a reader's Available channel; unregister removes it.
func (m *mailbox) register(c chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readers == nil {
		m.readers = map[chan struct{}]bool{}
	}
	m.readers[c] = true
}

func (m *mailbox) unregister(c chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.readers, c)
}
