// Package state holds the keyed state of sluice's operators: key groups and
// the fixed key hash, value codecs, the in-memory (heap) keyed state
// backend with value, list and map state, keyed timers, and the snapshot
// format with which keyed state is checkpointed, restored and rescaled.
//
// In the layers of sluice it sits below runtime (which owns a backend per
// keyed operator subtask, calls Snapshot on a checkpoint barrier and
// Restore on recovery) and stream (whose typed API hands operators the
// state handles), and above nothing but the standard library and xxhash.
// It knows nothing of checkpoint storage: a snapshot is written to an
// io.Writer and restored from io.Readers.
//
// # Key groups
//
// A key belongs to key group KeyGroupOf(Hasher[K]()(key), maxParallelism),
// and a subtask owns the contiguous range RangeForSubtask(maxParallelism,
// parallelism, i). The hash, xxHash64 of a canonical encoding of the key
// (see Hasher), is fixed forever: checkpoints depend on it, and golden
// test vectors pin it. Records must reach the subtask that owns their
// key's group; SetCurrentKey reports ErrKeyGroupOutOfRange otherwise.
//
// # Using a backend
//
// A KeyedBackend is used from the subtask's goroutine: SetCurrentKey, then
// read and write state through handles registered by name (Value, List,
// Map) and register timers (NewTimers) for that key. Registering a name
// twice with the same kind and types returns the same handle. Values are
// kept as Go values, not serialised: a running count of int64 costs a hash,
// a lookup and a store, without allocation. Values are not copied either,
// so a value that refers to memory must not be modified after it is
// stored, and a returned value must be treated as read-only: a snapshot
// being written may still read it.
//
// # Snapshots: copy-on-write by page
//
// A checkpoint has a synchronous part, Snapshot, which must be short, and
// an asynchronous part, Snapshot.WriteTo, which runs on another goroutine
// while processing goes on. The snapshot must see the state exactly as it
// was at Snapshot. Three designs were weighed:
//
//   - Cloning a shard (a key group, say) on its first write after a
//     snapshot. Simple, but with updates spread over all keys every shard is
//     written within a checkpoint interval, so all state is copied at
//     every checkpoint, and the first writes after a barrier stall.
//   - Flink's CopyOnWriteStateMap: a version per entry, copying only the
//     entries written while a snapshot is alive. Copies are as small as can
//     be, but in Go each entry becomes a heap object reached by pointers,
//     which the garbage collector must trace across the whole state, and
//     Flink still copies the bucket array in the synchronous part.
//   - Versioned copy-on-write by page, chosen here. The state of each key
//     group is an extendible hash table (table.go): a directory of pages of
//     64 slots, probed like a Swiss table. Pages hold keys and values
//     inline, so for value types such as int64 the state holds no pointers
//     for the collector to trace. Every node (a state's root, a key group's
//     table, a page) carries the epoch in which it was made. Snapshot pins
//     the current epoch and keeps each state's root: O(number of states),
//     independent of their size (about 2 µs). Writing a node pinned by a
//     live snapshot copies it first (a page is about 1 KiB for int64 keys
//     and values; the first write to a key group after a snapshot also
//     copies its directory, 16 bytes per page); nodes made since are
//     written in place. WriteTo releases each key group as soon as it has
//     encoded it (epoch.go), so a page is copied only if it is written
//     after Snapshot and before the writer reaches its key group.
//
// The cost of a checkpoint is thus at most one page copy per page, for the
// pages written while their key group waits to be written out, amortised
// over all the writes to that page in that time. Small and medium state is
// written out quickly and few pages are copied. For state that is both
// large and updated everywhere between two checkpoints, a large share of
// the pages is copied once per checkpoint: that is the price of any
// snapshot that does not block processing, and here it is a plain memory
// copy of pointer-free memory. The benchmarks in bench_test.go measure it,
// with the pages and bytes copied per snapshot; BENCHMARKS.md has results.
// For gigabytes of state updated uniformly, copying whole pages for full
// snapshots costs too much (incremental snapshots copy no pages, below);
// the next steps would be copying single groups of 8 slots (136
// bytes for int64) into a per-snapshot save area instead of whole pages,
// and a two-level directory so that the first write to a key group does
// not copy all of its directory. Beyond that lies the on-disk backend the
// layers foresee, whose snapshots are immutable files.
//
// List state needs no copy of its own: a list is only ever appended to in
// place, and a snapshot sharing its backing array sees a prefix that is
// never written again. A map state's per-key map and a key's timers carry
// their own epoch and are copied like pages.
//
// Several snapshots may be alive at once. Every Snapshot must be Released;
// as a safety net one dropped without Release unpins its epoch when it is
// garbage collected. A snapshot that is kept but never released costs one
// copy of each page written after it, and the memory of the old pages.
//
// # Incremental snapshots
//
// IncrementalSnapshot writes only what changed since the backend's
// previous incremental snapshot: the first write to a node after a
// snapshot always stamps it (or copies it) with the current epoch, so a
// node's epoch tells whether it changed since a given snapshot, and each
// page records which of its slots were written and whether an entry was
// deleted. A delta holds, per key group, the changed entries and the hash
// ranges of pages to replace whole (delta.go). Finding the changes walks
// the directories of the changed key groups, never the entries; a delta's
// size follows the keys changed. A delta copies its entries (key and
// value, not what the value refers to) out of the pages when it is taken,
// a synchronous cost in proportion to the keys changed since its base, so
// that it pins no page: processing writes pages in place while the delta
// is written, and only the values entries refer to (a map state's map, a
// key's timers) stay pinned, by a pin of values only (epoch.go). Restore takes the chain's files in order,
// from its full snapshot; a file is refused unless it builds on the one
// restored before it (each version 2 file names its id and its base's).
// Which files form the chain, and keeping them stored, is the caller's
// part (the runtime lists them in the checkpoint's metadata).
//
// # Restore and rescaling
//
// A snapshot file (format in format.go) holds, for each key group of the
// subtask's range, a length-prefixed block with the entries of every state
// and timer service in that key group, and ends with a CRC-32C. Restore
// reads one file of an old subtask, verifies it, keeps the blocks of the
// key groups the backend owns and skips the others without decoding them.
// Restoring from every file whose range overlaps, in any parallelism up to
// maxParallelism, rescales.
//
// The runtime restores before the operator registers its state, and only
// registration knows the codecs, so restored sections stay encoded until
// the state is registered, and are decoded then; decoding errors name the
// state and key group. A state the operator never registers is written
// into later snapshots as it was restored, so upgrading an operator never
// silently drops state.
//
// # Concurrency
//
// A backend and its handles and timers are used by one goroutine. Only
// Snapshot.WriteTo and Snapshot.Release run elsewhere. Codecs are used by
// the writing goroutine as well, so they must be safe for concurrent use.
// The only locks are Snapshot.mu (held while writing, taken by Release)
// and, under it, the mutex of the pinned epochs (liveEpochs.mu); the
// processing goroutine reads the pins with atomic loads and takes that
// mutex only in Snapshot and Keys.
package state
