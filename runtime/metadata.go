package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/state"
)

// jobMetadata is the runtime's part of a checkpoint's metadata: which state
// of which operator subtask is where. It is small and goes inside the
// storage's checksummed metadata envelope.
type jobMetadata struct {
	Version     int                    `json:"version"`
	Job         string                 `json:"job"`
	Operators   map[string]*opMetadata `json:"operators"`
	Enumerators map[string][]byte      `json:"enumerators,omitempty"`
}

// jobMetadataVersion is the version written for checkpoints without
// in-flight records or incremental keyed state; jobMetadataVersionInflight
// for those with in-flight records, jobMetadataVersionIncremental for those
// with incremental keyed state (and perhaps in-flight records): a sluice
// that does not know them refuses them instead of silently restoring
// without them.
const (
	jobMetadataVersion            = 1
	jobMetadataVersionInflight    = 2
	jobMetadataVersionIncremental = 3
)

type opMetadata struct {
	Name           string        `json:"name"`
	Parallelism    int           `json:"parallelism"`
	MaxParallelism int           `json:"maxParallelism"`
	Subtasks       []opStateMeta `json:"subtasks"`
}

// opStateMeta is one operator subtask's state.
type opStateMeta struct {
	UID       string `json:"-"`
	Subtask   int    `json:"subtask"`
	KeyedFile string `json:"keyedFile,omitempty"`
	// KeyedChain lists, for an incremental snapshot, the files of earlier
	// checkpoints it builds on, oldest (the full one) first.
	KeyedChain    []keyedRef          `json:"keyedChain,omitempty"`
	KeyGroupStart int                 `json:"kgStart,omitempty"`
	KeyGroupEnd   int                 `json:"kgEnd,omitempty"`
	Lists         map[string][][]byte `json:"lists,omitempty"`
	Unions        map[string][][]byte `json:"unions,omitempty"`
	// InflightFile holds the in-flight records of an unaligned checkpoint
	// that this subtask (the head of its chain) received before the
	// barriers of some of its channels; Inflight describes its sections,
	// in file order.
	InflightFile string         `json:"inflightFile,omitempty"`
	Inflight     []inflightMeta `json:"inflight,omitempty"`
}

// inflightMeta describes one section of an in-flight records file: the
// records of one network edge into the head operator.
type inflightMeta struct {
	// From is the uid of the sending operator, Port its output port and
	// Input the input of the receiving operator: together they name the
	// edge in the restored plan.
	From  string `json:"from"`
	Port  string `json:"port,omitempty"`
	Input int    `json:"input"`
	// Part is the edge's partitioning: Hash sections carry each record's
	// key group, for rescaling.
	Part    Partitioning `json:"partitioning"`
	Type    string       `json:"type"`
	Records int64        `json:"records"`
}

func encodeJobMetadata(plan *Plan, r *checkpointRun) ([]byte, error) {
	m := jobMetadata{Version: jobMetadataVersion, Job: plan.Name, Operators: map[string]*opMetadata{}, Enumerators: r.enums}
	ops := map[string]*OpSpec{}
	par := map[string]*Vertex{}
	for _, v := range plan.Vertices {
		for _, op := range v.Ops {
			ops[op.UID] = op
			par[op.UID] = v
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.states {
		for _, os := range st.ops {
			om := m.Operators[os.UID]
			if om == nil {
				v := par[os.UID]
				om = &opMetadata{Name: ops[os.UID].Name, Parallelism: v.Parallelism, MaxParallelism: v.MaxParallelism}
				m.Operators[os.UID] = om
			}
			om.Subtasks = append(om.Subtasks, os)
		}
	}
	for _, om := range m.Operators {
		sort.Slice(om.Subtasks, func(i, j int) bool { return om.Subtasks[i].Subtask < om.Subtasks[j].Subtask })
		for _, s := range om.Subtasks {
			if s.InflightFile != "" {
				m.Version = max(m.Version, jobMetadataVersionInflight)
			}
			if len(s.KeyedChain) > 0 {
				m.Version = jobMetadataVersionIncremental
			}
		}
	}
	return json.Marshal(m)
}

func decodeJobMetadata(b []byte) (*jobMetadata, error) {
	var m jobMetadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode job metadata: %w", err)
	}
	if m.Version < jobMetadataVersion || m.Version > jobMetadataVersionIncremental {
		return nil, fmt.Errorf("job metadata version %d is not supported (this sluice reads versions %d to %d)", m.Version, jobMetadataVersion, jobMetadataVersionIncremental)
	}
	for uid, om := range m.Operators {
		if om == nil {
			return nil, fmt.Errorf("job metadata: operator %q has no entry", uid)
		}
		if om.MaxParallelism < 1 || om.MaxParallelism > state.MaxMaxParallelism || om.Parallelism < 1 || om.Parallelism > om.MaxParallelism {
			return nil, fmt.Errorf("job metadata: operator %q has parallelism %d / max %d", uid, om.Parallelism, om.MaxParallelism)
		}
		for _, s := range om.Subtasks {
			if s.KeyedFile != "" && (s.KeyGroupStart < 0 || s.KeyGroupEnd > om.MaxParallelism || s.KeyGroupStart > s.KeyGroupEnd) {
				return nil, fmt.Errorf("job metadata: operator %q subtask %d has key groups [%d,%d)", uid, s.Subtask, s.KeyGroupStart, s.KeyGroupEnd)
			}
			if len(s.KeyedChain) > 0 && (s.KeyedFile == "" || m.Version < jobMetadataVersionIncremental) {
				return nil, fmt.Errorf("job metadata: operator %q subtask %d: an incremental chain of %d files for keyed file %q in version %d metadata", uid, s.Subtask, len(s.KeyedChain), s.KeyedFile, m.Version)
			}
			for _, ref := range s.KeyedChain {
				if err := storage.ValidateFileName(ref.File); err != nil || ref.Dir == "" {
					return nil, fmt.Errorf("job metadata: operator %q subtask %d: bad incremental chain entry %q/%q", uid, s.Subtask, ref.Dir, ref.File)
				}
			}
			if (s.InflightFile == "") != (len(s.Inflight) == 0) {
				return nil, fmt.Errorf("job metadata: operator %q subtask %d: in-flight file %q with %d sections", uid, s.Subtask, s.InflightFile, len(s.Inflight))
			}
			if s.InflightFile != "" && (m.Version < jobMetadataVersionInflight || s.Subtask < 0 || s.Subtask >= om.Parallelism) {
				return nil, fmt.Errorf("job metadata: operator %q subtask %d of %d has in-flight records in version %d metadata", uid, s.Subtask, om.Parallelism, m.Version)
			}
			for i, sec := range s.Inflight {
				if sec.Input < 0 || sec.Records < 0 || sec.Part < Forward || sec.Part > Broadcast {
					return nil, fmt.Errorf("job metadata: operator %q subtask %d: in-flight section %d has input %d, %d records, partitioning %v", uid, s.Subtask, i, sec.Input, sec.Records, sec.Part)
				}
			}
		}
	}
	return &m, nil
}

// keyedDeltas counts the keyed-state files of the checkpoint that are
// incremental deltas.
func (r *restoredJob) keyedDeltas() int {
	n := 0
	for _, om := range r.meta.Operators {
		for _, s := range om.Subtasks {
			if len(s.KeyedChain) > 0 {
				n++
			}
		}
	}
	return n
}

// ErrStateMismatch is wrapped by errors about a checkpoint that does not
// fit the job.
var ErrStateMismatch = errors.New("checkpoint does not fit the job")

// check refuses a checkpoint that does not fit the plan.
func (r *restoredJob) check(plan *Plan, allowNonRestored bool) error {
	have := map[string]*Vertex{}
	for _, v := range plan.Vertices {
		for _, op := range v.Ops {
			have[op.UID] = v
		}
	}
	var missing []string
	for uid, om := range r.meta.Operators {
		v, ok := have[uid]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q (uid %s)", om.Name, uid))
			continue
		}
		if v.MaxParallelism != om.MaxParallelism {
			return fmt.Errorf("%w: operator %q was checkpointed with max parallelism %d and now has %d; keyed state is split into max-parallelism key groups, so keep it at %d",
				ErrStateMismatch, om.Name, om.MaxParallelism, v.MaxParallelism, om.MaxParallelism)
		}
	}
	if err := r.checkInflight(plan); err != nil {
		return err
	}
	if len(missing) > 0 && !allowNonRestored {
		slices.Sort(missing)
		return fmt.Errorf("%w: checkpoint %d has state for operators the job does not have: %s; give those operators their old uids, or allow dropping their state (AllowNonRestoredState / --allow-non-restored-state)",
			ErrStateMismatch, r.id, strings.Join(missing, ", "))
	}
	return nil
}

// forSubtask returns what subtask (of parallelism par, owning kgs) of the
// operator uid restores.
func (r *restoredJob) forSubtask(uid string, subtask, par int, kgs state.KeyGroupRange) *RestoredState {
	rs := &RestoredState{CheckpointID: r.id}
	om := r.meta.Operators[uid]
	if om == nil {
		return rs
	}
	lists := map[string][][]byte{}
	for _, s := range om.Subtasks {
		if s.KeyedFile != "" && s.KeyGroupStart < kgs.End && kgs.Start < s.KeyGroupEnd {
			for _, ref := range s.KeyedChain {
				rs.KeyedFiles = append(rs.KeyedFiles, func() (io.ReadCloser, error) {
					return r.openUsed(ref)
				})
			}
			name := s.KeyedFile
			rs.KeyedFiles = append(rs.KeyedFiles, func() (io.ReadCloser, error) {
				return r.store.OpenFile(r.ctx, r.cp, name)
			})
		}
		for n, l := range s.Lists {
			lists[n] = append(lists[n], l...)
		}
		for n, l := range s.Unions {
			if rs.Unions == nil {
				rs.Unions = map[string][][]byte{}
			}
			rs.Unions[n] = append(rs.Unions[n], l...)
		}
	}
	if om.Parallelism == par {
		// At an unchanged parallelism, every subtask gets back exactly
		// what it snapshot: a writer's state and its committables stay
		// together, so its checkpoints are committed in order by one
		// subtask.
		for _, s := range om.Subtasks {
			if s.Subtask != subtask {
				continue
			}
			for n, l := range s.Lists {
				if rs.Lists == nil {
					rs.Lists = map[string][][]byte{}
				}
				rs.Lists[n] = append(rs.Lists[n], l...)
			}
		}
		return rs
	}
	for n, l := range lists {
		for i, e := range l {
			if i%par == subtask {
				if rs.Lists == nil {
					rs.Lists = map[string][][]byte{}
				}
				rs.Lists[n] = append(rs.Lists[n], e)
			}
		}
	}
	return rs
}

// firstID is the first checkpoint id of this attempt: above the restored
// checkpoint, above every checkpoint already in the storage, and above
// every id an earlier attempt of this process triggered (also aborted
// ones, whose directories are gone): ids are never reused.
func (a *attempt) firstID() (int64, error) {
	first := a.j.maxTriggered + 1
	if a.restored != nil {
		first = max(first, a.restored.id+1)
	}
	infos, err := a.j.store.List(a.ctx)
	if err != nil {
		return 0, fmt.Errorf("list checkpoints in %s: %w", a.j.store.Location(), err)
	}
	for _, in := range infos {
		if in.ID >= first {
			first = in.ID + 1
		}
	}
	return first, nil
}

// inflightRecords is the number of in-flight records in the checkpoint.
func (r *restoredJob) inflightRecords() int64 {
	var n int64
	for _, om := range r.meta.Operators {
		for _, s := range om.Subtasks {
			for _, sec := range s.Inflight {
				n += sec.Records
			}
		}
	}
	return n
}

// edgeFor returns the index in v.Inputs of the edge a section was captured
// on, or -1.
func edgeFor(v *Vertex, sec inflightMeta) int {
	for i, e := range v.Inputs {
		if e.Input == sec.Input && e.Port == sec.Port && e.FromOp >= 0 && e.FromOp < len(e.From.Ops) && e.From.Ops[e.FromOp].UID == sec.From {
			return i
		}
	}
	return -1
}

// pointwise says whether a partitioning sends a record to one receiver
// chosen without a key: such in-flight records may go to any new subtask.
func pointwise(p Partitioning) bool { return p == Forward || p == Rebalance }

// checkInflight refuses a checkpoint whose in-flight records cannot be
// replayed into plan: their operator no longer heads a chain, their edge
// is gone or changed its partitioning or type, or a broadcast edge with
// in-flight records changed its parallelism (every old subtask's copy would
// be replayed by some new subtasks and not others).
func (r *restoredJob) checkInflight(plan *Plan) error {
	heads := map[string]*Vertex{}
	ops := map[string]bool{}
	for _, v := range plan.Vertices {
		heads[v.Ops[0].UID] = v
		for _, op := range v.Ops {
			ops[op.UID] = true
		}
	}
	const fix = "restore from an aligned checkpoint or a savepoint (savepoints are always aligned)"
	for uid, om := range r.meta.Operators {
		if !ops[uid] {
			continue // missing operators are handled by check
		}
		for _, s := range om.Subtasks {
			for _, sec := range s.Inflight {
				if sec.Records == 0 {
					continue
				}
				v := heads[uid]
				if v == nil {
					return fmt.Errorf("%w: checkpoint %d holds in-flight records for operator %q, which no longer reads from the network (it is chained now); %s",
						ErrStateMismatch, r.id, om.Name, fix)
				}
				ei := edgeFor(v, sec)
				if ei < 0 {
					return fmt.Errorf("%w: checkpoint %d holds in-flight records for operator %q from operator uid %q (input %d), an edge the job no longer has; %s",
						ErrStateMismatch, r.id, om.Name, sec.From, sec.Input, fix)
				}
				e := v.Inputs[ei]
				if p := e.Spec.Partitioning(); p != sec.Part && !(pointwise(p) && pointwise(sec.Part)) {
					return fmt.Errorf("%w: checkpoint %d holds in-flight records for operator %q that came over a %v edge, which is %v now; %s",
						ErrStateMismatch, r.id, om.Name, sec.Part, p, fix)
				}
				if tn := e.Spec.Type().TypeName(); tn != sec.Type {
					return fmt.Errorf("%w: checkpoint %d holds in-flight records of type %s for operator %q, whose input is of type %s now; %s",
						ErrStateMismatch, r.id, sec.Type, om.Name, tn, fix)
				}
				if sec.Part == Broadcast && om.Parallelism != v.Parallelism {
					return fmt.Errorf("%w: checkpoint %d holds in-flight records of a broadcast input of operator %q, whose parallelism changed from %d to %d; broadcast in-flight records cannot be redistributed: %s",
						ErrStateMismatch, r.id, om.Name, om.Parallelism, v.Parallelism, fix)
				}
			}
		}
	}
	return nil
}

// inflightFor returns, per network input of v (in v.Inputs order), the
// in-flight sections subtask replays, in old subtask order. At the same
// parallelism subtask i replays old subtask i's records. On rescale, Hash
// sections of every old subtask are filtered by the key groups subtask
// owns; Forward and Rebalance sections of old subtask j go to new subtask
// j mod parallelism; Broadcast sections were refused by checkInflight.
func (r *restoredJob) inflightFor(v *Vertex, subtask int) [][]inflightPart {
	om := r.meta.Operators[v.Ops[0].UID]
	if om == nil {
		return nil
	}
	var out [][]inflightPart
	same := om.Parallelism == v.Parallelism
	kgs := state.RangeForSubtask(v.MaxParallelism, v.Parallelism, subtask)
	for _, s := range om.Subtasks {
		for k, sec := range s.Inflight {
			if sec.Records == 0 {
				continue
			}
			ei := edgeFor(v, sec)
			if ei < 0 {
				continue
			}
			p := inflightPart{file: s.InflightFile, section: k, part: sec.Part}
			switch {
			case same:
				if s.Subtask != subtask {
					continue
				}
			case sec.Part == Hash:
				p.filter, p.kgs = true, kgs
			case pointwise(sec.Part):
				if s.Subtask%v.Parallelism != subtask {
					continue
				}
			default:
				continue
			}
			name := s.InflightFile
			p.open = func() (io.ReadCloser, error) { return r.store.OpenFile(r.ctx, r.cp, name) }
			if out == nil {
				out = make([][]inflightPart, len(v.Inputs))
			}
			out[ei] = append(out[ei], p)
		}
	}
	return out
}
