package file

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

// NewEnumerator discovers the files and hands them out one at a time to
// readers that ask for work (pull-based assignment: a slow reader never
// holds more than the file it reads).
//
// A bounded source lists its path once, on the first start; a restore
// continues with the files of that listing. A continuous source lists it
// at the start (and restore) and then every interval.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	e := &enumerator{
		ctx: ctx, root: s.path, recursive: s.recursive, continuous: s.interval > 0,
		tolerance:  s.tolerance.Nanoseconds(),
		pendingSet: map[string]struct{}{},
		processed:  map[string]int64{},
		watermark:  math.MinInt64,
		maxSeen:    math.MinInt64,
	}
	if restored != nil {
		st, err := decodeEnumState(restored)
		if err != nil {
			return nil, fmt.Errorf("file source %s: restore enumerator: %w", s.path, err)
		}
		e.restore(st)
	}
	if e.continuous || !e.discovered {
		if err := e.discover(); err != nil {
			return nil, err
		}
	}
	if e.continuous {
		ctx.Every(s.interval, e.discover)
	}
	return e, nil
}

// enumerator holds the files not assigned yet and, for continuous
// discovery, the record of files already handed out.
//
// The record of processed files stays bounded on a job that runs forever:
// a path is remembered only while it is still in the latest listing and
// its modification time is at least the watermark, which trails the newest
// modification time seen by the late-file tolerance. Files older than the
// watermark are not new by definition; deleted files are forgotten (a new
// file under the same name is read). This rests on two assumptions,
// documented on the source: files do not change after they appear, and a
// new file's modification time is at most the tolerance older than the
// newest file seen before it.
type enumerator struct {
	ctx        connector.EnumeratorContext
	root       string
	recursive  bool
	continuous bool
	tolerance  int64

	discovered bool // the first listing is done
	pending    []*Split
	head       int // pending[:head] are assigned
	pendingSet map[string]struct{}
	processed  map[string]int64 // path -> mtime, continuous only
	watermark  int64            // files older than this are not new
	maxSeen    int64            // newest mtime listed
	waiting    []int            // readers asking for work, in order
}

func (e *enumerator) AddReader(int) error { return nil }

func (e *enumerator) HandleSplitRequest(subtask int) error {
	if e.head < len(e.pending) {
		e.assign(subtask)
		return nil
	}
	if !e.continuous {
		e.ctx.NoMoreSplits(subtask)
		return nil
	}
	if !slices.Contains(e.waiting, subtask) {
		e.waiting = append(e.waiting, subtask)
	}
	return nil
}

func (e *enumerator) assign(subtask int) {
	sp := e.pending[e.head]
	e.pending[e.head] = nil
	e.head++
	if e.head > 64 && e.head*2 > len(e.pending) {
		e.pending = slices.Delete(e.pending, 0, e.head)
		e.head = 0
	}
	delete(e.pendingSet, sp.Path)
	if e.continuous && sp.ModTime >= e.watermark {
		e.processed[sp.Path] = sp.ModTime
	}
	e.ctx.Assign(subtask, sp)
}

func (e *enumerator) serveWaiting() {
	for len(e.waiting) > 0 && e.head < len(e.pending) {
		s := e.waiting[0]
		e.waiting = e.waiting[1:]
		e.assign(s)
	}
}

// discover lists the path and queues the new files, oldest first.
func (e *enumerator) discover() error {
	files, err := listFiles(e.root, e.recursive)
	if err != nil {
		return err
	}
	var fresh []fileEntry
	present := make(map[string]struct{}, len(files))
	for _, f := range files {
		present[f.path] = struct{}{}
		e.maxSeen = max(e.maxSeen, f.mtime)
		if f.mtime < e.watermark {
			continue
		}
		if _, ok := e.processed[f.path]; ok {
			continue
		}
		if _, ok := e.pendingSet[f.path]; ok {
			continue
		}
		fresh = append(fresh, f)
	}
	slices.SortFunc(fresh, func(a, b fileEntry) int {
		return cmp.Or(cmp.Compare(a.mtime, b.mtime), strings.Compare(a.path, b.path))
	})
	for _, f := range fresh {
		e.pending = append(e.pending, &Split{Path: f.path, Line: 1, ModTime: f.mtime})
		e.pendingSet[f.path] = struct{}{}
	}
	e.discovered = true
	if e.continuous {
		e.forget(present)
	}
	if len(fresh) > 0 {
		e.ctx.Logger().Debug("files discovered", "path", e.root, "new", len(fresh), "pending", len(e.pending)-e.head, "remembered", len(e.processed))
	}
	e.serveWaiting()
	return nil
}

// forget bounds the record of processed files: it drops the paths missing
// from the listing and, after raising the watermark, those older than it.
func (e *enumerator) forget(present map[string]struct{}) {
	if e.maxSeen != math.MinInt64 && e.maxSeen-e.tolerance > e.watermark {
		e.watermark = e.maxSeen - e.tolerance
	}
	for p, mt := range e.processed {
		if _, ok := present[p]; !ok || mt < e.watermark {
			delete(e.processed, p)
		}
	}
}

// Snapshot encodes the files not assigned yet and the discovery record.
func (e *enumerator) Snapshot(int64) ([]byte, error) {
	st := enumState{
		discovered: e.discovered, watermark: e.watermark, maxSeen: e.maxSeen,
		pending: e.pending[e.head:], processed: e.processed,
	}
	return st.encode(), nil
}

func (e *enumerator) restore(st *enumState) {
	e.discovered = st.discovered
	e.watermark, e.maxSeen = st.watermark, st.maxSeen
	for _, sp := range st.pending {
		if _, dup := e.pendingSet[sp.Path]; dup {
			continue
		}
		e.pending = append(e.pending, sp)
		e.pendingSet[sp.Path] = struct{}{}
	}
	for p, mt := range st.processed {
		e.processed[p] = mt
	}
}

func (e *enumerator) Close() error { return nil }

// enumState is the enumerator's checkpoint state.
type enumState struct {
	discovered bool
	watermark  int64
	maxSeen    int64
	pending    []*Split
	processed  map[string]int64
}

const enumStateVersion = 1

// encode writes: version, flags (bit 0: discovered), watermark, newest
// mtime, the pending splits, and the processed files (path, mtime) in path
// order.
func (s *enumState) encode() []byte {
	b := binary.AppendUvarint(nil, enumStateVersion)
	var flags uint64
	if s.discovered {
		flags |= 1
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, s.watermark)
	b = binary.AppendVarint(b, s.maxSeen)
	b = binary.AppendUvarint(b, uint64(len(s.pending)))
	for _, sp := range s.pending {
		b = appendSplit(b, sp)
	}
	paths := make([]string, 0, len(s.processed))
	for p := range s.processed {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	b = binary.AppendUvarint(b, uint64(len(paths)))
	for _, p := range paths {
		b = appendString(b, p)
		b = binary.AppendVarint(b, s.processed[p])
	}
	return b
}

func decodeEnumState(b []byte) (*enumState, error) {
	d := decoder{wire.NewDecoder(b)}
	if v := d.Uvarint(""); d.Err() == nil && v != enumStateVersion {
		return nil, fmt.Errorf("enumerator state version %d is not supported (this sluice reads version %d)", v, enumStateVersion)
	}
	flags := d.Uvarint("")
	if d.Err() == nil && flags > 1 {
		d.fail("unknown flags")
	}
	st := &enumState{discovered: flags&1 != 0, watermark: d.Varint(""), maxSeen: d.Varint(""), processed: map[string]int64{}}
	n := d.Count("", 5, 1<<30)
	for range n {
		st.pending = append(st.pending, d.split())
	}
	n = d.Count("", 3, 1<<30)
	for range n {
		p := d.path()
		st.processed[p] = d.Varint("")
	}
	d.Done()
	if d.Err() != nil {
		return nil, fmt.Errorf("decode enumerator state: %w", d.Err())
	}
	return st, nil
}
