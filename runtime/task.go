package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
)

// task is one subtask of a vertex: a goroutine running a chain of
// operators. Every field is owned by the task goroutine except mail.
type task struct {
	ctx     context.Context
	att     *attempt
	v       *Vertex
	subtask int
	logger  *slog.Logger

	ops     []Operator
	names   []string
	current int // operator under execution, for panic attribution
	inc     incrementalState

	gates     []inputGate
	chanGate  []int // channel -> gate
	chanLocal []int // channel -> index within its gate
	chanWM    []int // channel -> index within its input's watermark combiner
	chanInput []int // channel -> input of the head operator
	nchan     int
	rr        int
	inputWM   []*eventtime.Combiner // per input: over its channels
	headWM    *eventtime.Combiner   // over inputs, when there are several
	idleSent  bool
	ended     []bool
	nended    int

	writers []netWriter
	mail    *mailbox
	bell    chan struct{}
	timers  *timerService
	al      *aligner
	alignB  Barrier // the barrier of the checkpoint the aligner works on
	src     sourceDriver

	// capture receives the channel state of the unaligned checkpoint
	// captureID once all its barriers arrived (nil: given up).
	capture   chan *channelState
	captureID int64
	// replay holds, per gate, the restored in-flight records to process
	// before any new input.
	replay [][]inflightPart

	srcEnded    bool
	dataEnded   bool  // end of data forwarded downstream
	finalSeen   int64 // id of the final checkpoint whose barrier passed here
	finalDone   bool  // a final checkpoint whose barrier passed here completed
	finished    bool
	sinceFlush  int
	lastFlush   time.Time
	recordsIn   int64 // records delivered to the head from the network
	bufferLimit time.Duration
	meters      []opMeter // per operator: record counts (metrics.go)
	clock       taskClock // busy/idle/backpressured time (observe.go)
}

// sourceDriver is the task's view of a source operator at the head of its
// chain.
type sourceDriver interface {
	pollNext() (connector.InputStatus, error)
	available() <-chan struct{}
	addSplits(splits []connector.Split) error
	noMoreSplits()
	// endOfInput emits the final watermark.
	endOfInput() error
	// stop makes the next pollNext report end of input without reading more
	// (a graceful stop after a final checkpoint).
	stop()
}

func (t *task) name() string {
	return fmt.Sprintf("%s (%d/%d)", t.v.Name, t.subtask+1, t.v.Parallelism)
}

// wrap attributes err to operator idx, unless it already is attributed.
func (t *task) wrap(idx int, err error) error {
	if err == nil {
		return nil
	}
	var oe *OperatorError
	if errors.As(err, &oe) || errors.Is(err, context.Canceled) || errors.Is(err, errTaskFailed) {
		return err
	}
	if t.ctx.Err() != nil {
		return context.Cause(t.ctx)
	}
	return &OperatorError{Operator: t.names[idx], Subtask: t.subtask, Err: err}
}

// run is the task goroutine's body.
func (t *task) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &OperatorError{Operator: t.names[t.current], Subtask: t.subtask, Err: &PanicError{Value: r}, Stack: string(debug.Stack())}
		}
	}()
	defer t.timers.close()
	defer t.publishMetrics()
	t.clock.start(t.att.j.obs, t.v.ID, t.subtask)
	// Open from the tail so that successors are ready before their
	// predecessors emit anything.
	for i := len(t.ops) - 1; i >= 0; i-- {
		t.current = i
		if err := t.ops[i].Open(t.att.opContext(t, i)); err != nil {
			return t.wrap(i, fmt.Errorf("open: %w", err))
		}
	}
	if t.src != nil {
		err = t.sourceLoop()
	} else if err = t.replayInflight(); err == nil {
		err = t.inputLoop()
	}
	for i, op := range t.ops {
		t.current = i
		if cerr := op.Close(); cerr != nil && err == nil {
			err = t.wrap(i, fmt.Errorf("close: %w", cerr))
		}
	}
	return err
}

func (t *task) inputLoop() error {
	for !t.finished {
		if t.mail.pending() {
			if err := t.mail.run(); err != nil {
				return err
			}
			continue
		}
		progressed := false
		for i := 0; i < t.nchan; i++ {
			c := t.rr + i
			if c >= t.nchan {
				c -= t.nchan
			}
			if t.al.blocked[c] {
				continue
			}
			t.current = 0
			ok, n, ev, err := t.gates[t.chanGate[c]].poll(t.chanLocal[c], t.al.capturing[c])
			t.recordsIn += int64(n)
			if err != nil {
				return t.wrap(0, err)
			}
			if ev.Kind != EventNone {
				if err := t.onEvent(t.chanInput[c], c, ev); err != nil {
					return err
				}
			}
			if ok {
				progressed = true
				t.rr = c + 1
				if t.rr == t.nchan {
					t.rr = 0
				}
				break
			}
		}
		if progressed {
			if err := t.maybeFlush(); err != nil {
				return err
			}
			continue
		}
		if err := t.flush(); err != nil {
			return err
		}
		select {
		case <-t.bell:
		case <-t.ctx.Done():
			return context.Cause(t.ctx)
		}
		t.woke()
	}
	return t.flush()
}

func (t *task) sourceLoop() error {
	for !t.finished {
		if t.mail.pending() {
			if err := t.mail.run(); err != nil {
				return err
			}
			continue
		}
		if t.srcEnded {
			if err := t.flush(); err != nil {
				return err
			}
			select {
			case <-t.bell:
			case <-t.ctx.Done():
				return context.Cause(t.ctx)
			}
			t.woke()
			continue
		}
		t.current = 0
		st, err := t.src.pollNext()
		if err != nil {
			return t.wrap(0, err)
		}
		switch st {
		case connector.MoreAvailable:
			// A source that always has more, chained to operators that
			// never block, would otherwise not notice a cancel.
			if t.ctx.Err() != nil {
				return context.Cause(t.ctx)
			}
			if err := t.maybeFlush(); err != nil {
				return err
			}
		case connector.EndOfInput:
			if err := t.endOfSource(); err != nil {
				return err
			}
		default:
			if err := t.flush(); err != nil {
				return err
			}
			select {
			case <-t.bell:
			case <-t.src.available():
			case <-t.ctx.Done():
				return context.Cause(t.ctx)
			}
			t.woke()
		}
	}
	return t.flush()
}

// maybeFlush sends pending output batches when the buffer timeout passed,
// checking the clock only every few batches.
func (t *task) maybeFlush() error {
	t.sinceFlush++
	if t.sinceFlush < 16 {
		return nil
	}
	t.sinceFlush = 0
	now := time.Now()
	if now.Sub(t.lastFlush) < t.bufferLimit {
		return nil
	}
	return t.flush()
}

func (t *task) flush() error {
	t.lastFlush = time.Now()
	t.publishMetrics()
	for _, w := range t.writers {
		if w.hasPending() {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	t.clock.active(time.Now())
	t.sampleConnectors()
	return nil
}

func (t *task) broadcast(ev Event) error {
	for _, w := range t.writers {
		if err := w.emitEvent(ev); err != nil {
			return err
		}
	}
	return nil
}

// onEvent handles a control event from channel ch of input.
func (t *task) onEvent(input, ch int, ev Event) error {
	switch ev.Kind {
	case EventWatermark:
		if wm, adv := t.inputWM[input].Update(t.chanWM[ch], ev.Watermark); adv {
			return t.inputWatermark(input, wm)
		}
	case EventIdle, EventActive:
		idle := ev.Kind == EventIdle
		wm, adv := t.inputWM[input].SetIdle(t.chanWM[ch], idle)
		if adv {
			if err := t.inputWatermark(input, wm); err != nil {
				return err
			}
		}
		return t.updateStatus()
	case EventBarrier:
		return t.onBarrier(ch, ev.Barrier)
	case EventEndOfInput:
		if t.ended[ch] {
			return nil
		}
		t.ended[ch] = true
		t.nended++
		if t.nended == t.nchan {
			return t.endOfData()
		}
	}
	return nil
}

// inputWatermark passes the combined watermark of one input on to the head.
func (t *task) inputWatermark(input int, wm int64) error {
	if t.headWM != nil {
		var adv bool
		if wm, adv = t.headWM.Update(input, wm); !adv {
			return nil
		}
	}
	t.current = 0
	t.clock.watermark(wm)
	return t.wrap(0, t.ops[0].(WatermarkProcessor).ProcessWatermark(wm))
}

// updateStatus tells the head whether all inputs are idle.
func (t *task) updateStatus() error {
	idle := true
	for _, c := range t.inputWM {
		if !c.AllIdle() {
			idle = false
		}
	}
	if idle == t.idleSent {
		return nil
	}
	t.idleSent = idle
	return t.wrap(0, t.ops[0].(WatermarkProcessor).ProcessStatus(idle))
}

// endOfData runs when every input channel ended: operators learn of it in
// chain order, then the end is forwarded downstream.
func (t *task) endOfData() error {
	for i, op := range t.ops {
		if h, ok := op.(EndInputHandler); ok {
			t.current = i
			if err := h.EndInput(); err != nil {
				return t.wrap(i, fmt.Errorf("end of input: %w", err))
			}
		}
	}
	if err := t.broadcast(Event{Kind: EventEndOfInput}); err != nil {
		return err
	}
	t.dataEnded = true
	t.maybeFinish()
	return nil
}

// endOfSource runs when the source reader has no more input.
func (t *task) endOfSource() error {
	t.srcEnded = true
	t.current = 0
	if err := t.src.endOfInput(); err != nil {
		return t.wrap(0, err)
	}
	if err := t.endOfData(); err != nil {
		return err
	}
	t.att.send(taskEvent{kind: evSourceEnded, vertex: t.v.ID, subtask: t.subtask})
	return nil
}

// maybeFinish ends the task once its data ended and, with checkpointing,
// the final checkpoint completed. Either may come first: a stopped source
// task can learn that the final checkpoint completed before it polled its
// reader again and found the end of its input.
func (t *task) maybeFinish() {
	if t.dataEnded && (!t.att.checkpointing || t.finalDone) {
		t.finished = true
	}
}

func (t *task) onBarrier(ch int, b Barrier) error {
	d := t.al.onBarrier(ch, b.ID, b.Kind != KindCheckpoint)
	if t.al.cur == b.ID || d.snapshot == b.ID {
		t.alignB = b
	}
	return t.applyAlign(d, b.ID)
}

// applyAlign executes the aligner's decision; newer is the id of the
// barrier that caused it (for decline reasons).
func (t *task) applyAlign(d alignDecision, newer int64) error {
	if d.discard != 0 {
		t.dropCapture(d.discard)
	}
	if d.decline != 0 {
		what := "aligning"
		if d.discard != 0 {
			what = "capturing the in-flight records of"
		}
		t.att.send(taskEvent{kind: evDecline, vertex: t.v.ID, subtask: t.subtask, id: d.decline,
			err: fmt.Errorf("barrier of checkpoint %d arrived while %s %d", newer, what, d.decline)})
	}
	if d.snapshot != 0 {
		if t.alignB.ID != d.snapshot {
			return fmt.Errorf("internal: aligner snapshots checkpoint %d, task holds the barrier of %d", d.snapshot, t.alignB.ID)
		}
		if err := t.checkpoint(t.alignB, d.unaligned); err != nil {
			return err
		}
	}
	if id := d.armTimeout; id != 0 {
		ms := int64((t.att.cfg.Checkpoint.AlignedTimeout + time.Millisecond - 1) / time.Millisecond)
		t.timers.Schedule(t.timers.Now()+ms, func(int64) error {
			d := t.al.onTimeout(id)
			if d.snapshot != 0 {
				t.logger.Debug("alignment timed out, checkpoint switches to unaligned", "checkpoint", id,
					"timeout", t.att.cfg.Checkpoint.AlignedTimeout)
			}
			return t.applyAlign(d, id)
		})
	}
	if d.complete != 0 {
		t.completeCapture(d.complete)
	}
	return nil
}

// completeCapture hands the channel state of checkpoint id to its snapshot
// writer, which writes it and acks.
func (t *task) completeCapture(id int64) {
	if t.capture == nil || t.captureID != id {
		return
	}
	cs := &channelState{}
	var err error
	for _, g := range t.gates {
		s, gerr := g.takeCapture()
		if gerr != nil && err == nil {
			err = gerr
		}
		cs.sections = append(cs.sections, s)
	}
	ch := t.capture
	t.capture, t.captureID = nil, 0
	if err != nil {
		ch <- nil
		t.att.send(taskEvent{kind: evDecline, vertex: t.v.ID, subtask: t.subtask, id: id,
			err: t.wrap(0, fmt.Errorf("checkpoint %d: %w", id, err))})
		return
	}
	ch <- cs
}

// dropCapture gives up the channel state of checkpoint id.
func (t *task) dropCapture(id int64) {
	if t.capture == nil || t.captureID != id {
		return
	}
	t.capture <- nil
	t.capture, t.captureID = nil, 0
	for _, g := range t.gates {
		g.resetCapture()
	}
}

// replayInflight processes the restored in-flight records, gate by gate and
// in their stored order, before the task reads any new input.
func (t *task) replayInflight() error {
	parts := t.replay
	t.replay = nil
	if parts == nil {
		return nil
	}
	id := t.att.restored.id
	files := map[string][]rawSection{}
	load := func(p inflightPart) (rawSection, error) {
		secs, ok := files[p.file]
		if !ok {
			f, err := p.open()
			if err != nil {
				return rawSection{}, err
			}
			b, err := io.ReadAll(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return rawSection{}, fmt.Errorf("read %s: %w", p.file, err)
			}
			if secs, err = parseInflightFile(b); err != nil {
				return rawSection{}, fmt.Errorf("%s: %w", p.file, err)
			}
			files[p.file] = secs
		}
		if p.section >= len(secs) {
			return rawSection{}, fmt.Errorf("%s: %w: section %d of %d", p.file, ErrCorruptInflight, p.section, len(secs))
		}
		return secs[p.section], nil
	}
	var total int64
	for gi, ps := range parts {
		if len(ps) == 0 {
			continue
		}
		t.current = 0
		n, err := t.gates[gi].replay(ps, load)
		t.recordsIn += n
		if err != nil {
			return t.wrap(0, fmt.Errorf("restore in-flight records of checkpoint %d: %w", id, err))
		}
		if h := t.att.cfg.Hooks.InflightReplayed; h != nil {
			h(id, t.v.Ops[0].UID, t.subtask, ps[0].part, n)
		}
		total += n
	}
	t.logger.Info("replayed in-flight records", "checkpoint", id, "records", total)
	t.att.j.emit(JobEvent{Kind: "inflight-replayed", CheckpointID: id, InflightRecords: total})
	return nil
}

// checkpoint forwards the barrier downstream, snapshots the chain's
// operators synchronously and hands the asynchronous part to a goroutine.
// An unaligned snapshot starts the capture of channel state: the aligner
// says which channels are captured.
func (t *task) checkpoint(b Barrier, unaligned bool) error {
	if err := t.broadcast(Event{Kind: EventBarrier, Barrier: b}); err != nil {
		return err
	}
	if b.Kind == KindFinal {
		t.finalSeen = b.ID
	}
	info := CheckpointInfo{ID: b.ID, Timestamp: b.Timestamp, Kind: b.Kind}
	if t.att.incremental(b) {
		info.Incremental = true
		info.NewChain = t.inc.next(b.ID, t.att.completed.has)
	}
	snaps := make([]OperatorSnapshot, len(t.ops))
	for i, op := range t.ops {
		if s, ok := op.(Snapshotter); ok {
			t.current = i
			if err := s.SnapshotState(info, &snaps[i]); err != nil {
				for j := range i {
					if snaps[j].Keyed != nil {
						snaps[j].Keyed.Release()
					}
				}
				err = t.wrap(i, fmt.Errorf("snapshot for checkpoint %d: %w", b.ID, err))
				if unaligned {
					t.al.abort(b.ID) // stop capturing
				}
				t.att.send(taskEvent{kind: evDecline, vertex: t.v.ID, subtask: t.subtask, id: b.ID, err: err})
				return nil
			}
		}
	}
	var cs chan *channelState
	if unaligned {
		cs = make(chan *channelState, 1)
		t.capture, t.captureID = cs, b.ID
		for _, g := range t.gates {
			g.resetCapture()
		}
	}
	t.att.writeSnapshot(t, b, snaps, cs)
	return nil
}

// notifyComplete runs in the task goroutine (posted by the driver).
func (t *task) notifyComplete(id int64) error {
	for i, op := range t.ops {
		if l, ok := op.(CheckpointListener); ok {
			t.current = i
			start := time.Now()
			err := l.NotifyCheckpointComplete(id)
			t.clock.committed(i, time.Since(start))
			if err != nil {
				return t.wrap(i, fmt.Errorf("checkpoint %d complete: %w", id, err))
			}
		}
	}
	if t.finalSeen != 0 && id >= t.finalSeen {
		t.finalDone = true
		t.maybeFinish()
	}
	return nil
}

func (t *task) notifyAborted(id int64) error {
	if err := t.applyAlign(t.al.abort(id), id); err != nil {
		return err
	}
	for i, op := range t.ops {
		if l, ok := op.(CheckpointListener); ok {
			t.current = i
			if err := l.NotifyCheckpointAborted(id); err != nil {
				return t.wrap(i, fmt.Errorf("checkpoint %d aborted: %w", id, err))
			}
		}
	}
	return nil
}

// triggerSource starts a checkpoint at a source task (posted by the driver).
func (t *task) triggerSource(b Barrier) error {
	if b.Kind == KindFinal && !t.srcEnded {
		// A graceful stop: the source stops reading after this barrier.
		t.src.stop()
	}
	return t.checkpoint(b, false)
}
