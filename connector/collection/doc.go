// Package collection is the source of records from a Go slice or from a
// generator function of the record's index: exactly-once, because the
// position of the next record of every split is checkpoint state.
//
// The index range [0, n) is cut into one split per source subtask of the
// first run, as contiguous ranges or, with [Source.Interleaved], dealt out
// index by index; on restore the splits (with their positions) are spread
// over the new subtasks, whatever their number, and a subtask with several
// splits takes turns among them. An unbounded generator (n < 0) never
// ends; a rate limit spaces its records in processing time.
//
// Sources of generated data build on it: [GeneratePerReader] gives every
// reader a generator of its own, for generators that are not safe for
// concurrent use (the Nexmark source is one).
package collection
