package runtime

import (
	"strconv"
	"strings"
)

// alignMode is how a task treats the barriers of a checkpoint that arrive
// on its input channels.
type alignMode uint8

const (
	// alignAtLeastOnce blocks nothing: the snapshot is taken when the last
	// barrier arrives, after records that followed the first barrier.
	alignAtLeastOnce alignMode = iota
	// alignAligned blocks every channel that delivered the barrier until the
	// barrier arrived on all channels, then takes the snapshot.
	alignAligned
	// alignUnaligned takes the snapshot at the first barrier and blocks
	// nothing; the records that arrive on the other channels before their
	// barrier are captured as the checkpoint's channel state.
	alignUnaligned
	// alignTimeout starts aligned and switches to unaligned when the task
	// feeds the aligned timeout of the checkpoint (onTimeout).
	alignTimeout
)

func (m alignMode) String() string {
	switch m {
	case alignAtLeastOnce:
		return "at-least-once"
	case alignAligned:
		return "aligned"
	case alignUnaligned:
		return "unaligned"
	case alignTimeout:
		return "aligned-timeout"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

type alignPhase uint8

const (
	phaseIdle      alignPhase = iota
	phaseAligning             // barriers of cur are arriving, no snapshot yet
	phaseCapturing            // cur was snapshotted unaligned; capturing channel state
)

// aligner decides, from the barriers arriving on a task's input channels,
// when the task takes its snapshot, which channels it stops reading
// meanwhile and which channels' records are captured as channel state. It
// does no I/O and knows no time: events in (a barrier on a channel, the
// aligned timeout of a checkpoint, an abort by the coordinator), decisions
// out. The task executes the decisions and reads blocked and capturing
// before every poll of a channel.
//
// At most one checkpoint is aligned or captured at a time: a barrier of a
// newer checkpoint arriving while an older one is aligned or captured
// declines the older one (its barrier was never forwarded, or its channel
// state is dropped) and starts the newer one.
//
// A checkpoint with aligned set (savepoints and final checkpoints) is
// always aligned, whatever the mode: a savepoint holds no channel state.
type aligner struct {
	mode      alignMode
	n         int
	cur       int64 // checkpoint being aligned or captured, 0 when none
	last      int64 // newest checkpoint started, triggered or aborted here
	forced    bool  // cur is aligned whatever the mode
	phase     alignPhase
	seen      []bool
	count     int
	blocked   []bool
	capturing []bool
}

// alignDecision is what the task does after one event, in field order:
// discard, decline, snapshot, arm the timeout, complete.
type alignDecision struct {
	// discard drops the channel state captured so far for this checkpoint.
	discard int64
	// decline declines this checkpoint (0: none).
	decline int64
	// snapshot takes the snapshot of this checkpoint now and forwards its
	// barrier (0: none).
	snapshot int64
	// unaligned says the snapshot is unaligned: capture starts on the
	// channels in aligner.capturing and channel state follows.
	unaligned bool
	// armTimeout asks for the aligned timeout of this checkpoint.
	armTimeout int64
	// stopCapture is the channel whose capture ended (its barrier arrived),
	// -1 for none.
	stopCapture int
	// complete says the channel state of this checkpoint is complete: write
	// it and acknowledge the checkpoint.
	complete int64
	// gaveUp says an abort ended the alignment or capture in progress.
	gaveUp bool
}

func (d alignDecision) String() string {
	var parts []string
	if d.gaveUp {
		parts = append(parts, "given up")
	}
	if d.discard != 0 {
		parts = append(parts, "discard "+strconv.FormatInt(d.discard, 10))
	}
	if d.decline != 0 {
		parts = append(parts, "decline "+strconv.FormatInt(d.decline, 10))
	}
	if d.snapshot != 0 {
		s := "snapshot " + strconv.FormatInt(d.snapshot, 10)
		if d.unaligned {
			s += " unaligned"
		}
		parts = append(parts, s)
	}
	if d.armTimeout != 0 {
		parts = append(parts, "arm timeout "+strconv.FormatInt(d.armTimeout, 10))
	}
	if d.stopCapture >= 0 {
		parts = append(parts, "stop capture "+strconv.Itoa(d.stopCapture))
	}
	if d.complete != 0 {
		parts = append(parts, "complete "+strconv.FormatInt(d.complete, 10))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func newAligner(n int, mode alignMode) *aligner {
	return &aligner{mode: mode, n: n, seen: make([]bool, n), blocked: make([]bool, n), capturing: make([]bool, n)}
}

// onBarrier handles the barrier of checkpoint id on channel ch. aligned
// forces alignment for this checkpoint (a savepoint or final checkpoint).
func (a *aligner) onBarrier(ch int, id int64, aligned bool) alignDecision {
	d := alignDecision{stopCapture: -1}
	if id <= a.last && id != a.cur {
		return d // stale barrier of a checkpoint aborted or done here
	}
	if id > a.cur {
		if a.cur != 0 {
			d.decline = a.cur
			if a.phase == phaseCapturing {
				d.discard = a.cur
			}
		}
		a.reset()
		a.cur, a.last = id, id
		a.forced = aligned
		a.phase = phaseAligning
	}
	if a.seen[ch] {
		return d // a duplicate cannot happen (FIFO channels), but is harmless
	}
	a.seen[ch] = true
	a.count++
	if a.phase == phaseCapturing {
		if a.capturing[ch] {
			a.capturing[ch] = false
			d.stopCapture = ch
		}
		if a.count == a.n {
			d.complete = id
			a.reset()
		}
		return d
	}
	if a.count == a.n {
		d.snapshot = id
		a.reset()
		return d
	}
	mode := a.mode
	if a.forced && mode != alignAtLeastOnce {
		mode = alignAligned
	}
	switch mode {
	case alignAligned:
		a.blocked[ch] = true
	case alignTimeout:
		a.blocked[ch] = true
		if a.count == 1 {
			d.armTimeout = id
		}
	case alignUnaligned:
		a.goUnaligned(&d)
	}
	return d
}

// onTimeout handles the aligned timeout of checkpoint id: if id is still
// being aligned (in alignTimeout mode), the snapshot is taken now, unaligned.
func (a *aligner) onTimeout(id int64) alignDecision {
	d := alignDecision{stopCapture: -1}
	if a.mode == alignTimeout && a.cur == id && id != 0 && a.phase == phaseAligning && !a.forced {
		a.goUnaligned(&d)
	}
	return d
}

// goUnaligned snapshots cur now: blocked channels are released and every
// channel whose barrier has not arrived is captured.
func (a *aligner) goUnaligned(d *alignDecision) {
	d.snapshot = a.cur
	d.unaligned = true
	a.phase = phaseCapturing
	clear(a.blocked)
	for c := range a.capturing {
		a.capturing[c] = !a.seen[c]
	}
}

// abort handles the coordinator's abort of checkpoint id: the alignment or
// capture of id, if in progress, is given up (its channel state dropped),
// and barriers of id that arrive later are stale.
func (a *aligner) abort(id int64) alignDecision {
	d := alignDecision{stopCapture: -1}
	if id != 0 && a.cur == id {
		if a.phase == phaseCapturing {
			d.discard = id
		}
		d.gaveUp = true
		a.reset()
		return d
	}
	if id > a.last {
		a.last = id
	}
	return d
}

func (a *aligner) reset() {
	a.cur = 0
	a.count = 0
	a.forced = false
	a.phase = phaseIdle
	clear(a.seen)
	clear(a.blocked)
	clear(a.capturing)
}
