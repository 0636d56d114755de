package eventtime

import "fmt"

// Combiner combines the watermarks of several inputs into one: the input
// channels of a subtask (one per upstream subtask), or the splits of a source
// subtask. Inputs are indexed from 0.
//
// The combined watermark is the minimum over the active inputs: those that
// are neither idle nor removed. It never goes backwards: an input that
// becomes active again, or is added, with a watermark below the combined one
// holds it where it is until the input catches up, but does not lower it.
// These are the semantics of Flink's source-side watermark combining
// (CombinedWatermarkStatus). Unlike Flink's network-side StatusWatermarkValve,
// when the last active input goes idle the combined watermark stays where it
// is rather than jumping to the highest watermark of the idle inputs.
//
// When every remaining input is idle, [Combiner.AllIdle] is true and the
// caller should mark its output idle downstream. When every input has been
// removed, the combined watermark also stays where it is and AllIdle is true:
// the caller decides what a subtask without inputs emits (for a source whose
// splits have all finished and which gets no more, the final MaxWatermark).
//
// Update, SetIdle, Remove and Add take O(log n) time for n inputs, and Update
// of an input that does not hold the minimum usually less; Current and
// AllIdle take O(1). A Combiner is not safe for concurrent use. Methods
// panic when given an index that [NewCombiner] or [Combiner.Add] never
// returned.
type Combiner struct {
	inputs   []combinerInput
	heap     []heapEntry // min-heap of the active inputs by watermark
	free     []int32     // indices of removed inputs, reused by Add
	combined int64
}

type inputStatus uint8

const (
	statusActive inputStatus = iota
	statusIdle
	statusRemoved
)

type combinerInput struct {
	wm     int64
	pos    int32 // index in heap while active, else -1
	status inputStatus
}

type heapEntry struct {
	wm    int64
	input int32
}

// NewCombiner returns a combiner of n inputs, indexed 0..n-1, all active and
// at MinWatermark. n may be 0, e.g. for a source subtask waiting for splits.
// It panics if n is negative.
func NewCombiner(n int) *Combiner {
	if n < 0 {
		panic(fmt.Sprintf("eventtime: NewCombiner: negative number of inputs %d", n))
	}
	c := &Combiner{
		inputs:   make([]combinerInput, n),
		heap:     make([]heapEntry, n),
		combined: MinWatermark,
	}
	for i := range n {
		c.inputs[i] = combinerInput{wm: MinWatermark, pos: int32(i)}
		c.heap[i] = heapEntry{wm: MinWatermark, input: int32(i)}
	}
	return c
}

// Add adds an input, e.g. a split assigned after the start, active and at
// MinWatermark, and returns its index. The index of a removed input may be
// reused, so a caller that maps its inputs to indices must drop the mapping
// when it removes an input.
func (c *Combiner) Add() int {
	var i int32
	if n := len(c.free); n > 0 {
		i = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		i = int32(len(c.inputs))
		c.inputs = append(c.inputs, combinerInput{})
	}
	c.inputs[i] = combinerInput{wm: MinWatermark, pos: -1, status: statusActive}
	c.push(i)
	return int(i)
}

// Remove removes input i, e.g. a split that finished: it no longer holds back
// the combined watermark. It returns the combined watermark and whether it
// advanced. Removing a removed input does nothing.
func (c *Combiner) Remove(i int) (combined int64, advanced bool) {
	in := c.input(i)
	switch in.status {
	case statusRemoved:
		return c.combined, false
	case statusActive:
		c.removeAt(int(in.pos))
	}
	in.status = statusRemoved
	c.free = append(c.free, int32(i))
	return c.advance()
}

// Update records watermark wm of input i and marks the input active. A
// watermark lower than the input's previous one is ignored (the input still
// becomes active). It returns the combined watermark and whether it advanced.
// Updates of a removed input are ignored.
func (c *Combiner) Update(i int, wm int64) (combined int64, advanced bool) {
	in := c.input(i)
	switch in.status {
	case statusRemoved:
		return c.combined, false
	case statusIdle:
		in.wm = max(in.wm, wm)
		in.status = statusActive
		c.push(int32(i))
	case statusActive:
		if wm <= in.wm {
			return c.combined, false
		}
		in.wm = wm
		j := int(in.pos)
		c.heap[j].wm = wm
		c.down(j)
		if j != 0 {
			// Input i did not hold the minimum, which did not change.
			return c.combined, false
		}
	}
	return c.advance()
}

// SetIdle marks input i idle (it no longer holds back the combined
// watermark) or active again. It returns the combined watermark and whether
// it advanced. Setting the status an input already has, or the status of a
// removed input, does nothing.
func (c *Combiner) SetIdle(i int, idle bool) (combined int64, advanced bool) {
	in := c.input(i)
	switch {
	case idle && in.status == statusActive:
		c.removeAt(int(in.pos))
		in.status = statusIdle
	case !idle && in.status == statusIdle:
		in.status = statusActive
		c.push(int32(i))
	default:
		return c.combined, false
	}
	return c.advance()
}

// Current returns the combined watermark, MinWatermark until every active
// input has one.
func (c *Combiner) Current() int64 { return c.combined }

// AllIdle reports whether no input is active: every remaining input is idle,
// or none remains. The caller should then mark its output idle.
func (c *Combiner) AllIdle() bool { return len(c.heap) == 0 }

func (c *Combiner) input(i int) *combinerInput {
	if i < 0 || i >= len(c.inputs) {
		panic(fmt.Sprintf("eventtime: Combiner input %d out of range [0, %d)", i, len(c.inputs)))
	}
	return &c.inputs[i]
}

// advance raises the combined watermark to the minimum over the active
// inputs, if that is higher.
func (c *Combiner) advance() (int64, bool) {
	if len(c.heap) > 0 && c.heap[0].wm > c.combined {
		c.combined = c.heap[0].wm
		return c.combined, true
	}
	return c.combined, false
}

func (c *Combiner) push(i int32) {
	c.inputs[i].pos = int32(len(c.heap))
	c.heap = append(c.heap, heapEntry{wm: c.inputs[i].wm, input: i})
	c.up(len(c.heap) - 1)
}

func (c *Combiner) removeAt(j int) {
	last := len(c.heap) - 1
	c.inputs[c.heap[j].input].pos = -1
	if j != last {
		c.heap[j] = c.heap[last]
		c.inputs[c.heap[j].input].pos = int32(j)
	}
	c.heap = c.heap[:last]
	if j < last {
		c.down(j)
		c.up(j)
	}
}

func (c *Combiner) up(j int) {
	h := c.heap
	e := h[j]
	for j > 0 {
		p := (j - 1) / 2
		if h[p].wm <= e.wm {
			break
		}
		h[j] = h[p]
		c.inputs[h[j].input].pos = int32(j)
		j = p
	}
	h[j] = e
	c.inputs[e.input].pos = int32(j)
}

func (c *Combiner) down(j int) {
	h := c.heap
	n := len(h)
	e := h[j]
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].wm < h[l].wm {
			m = r
		}
		if h[m].wm >= e.wm {
			break
		}
		h[j] = h[m]
		c.inputs[h[j].input].pos = int32(j)
		j = m
	}
	h[j] = e
	c.inputs[e.input].pos = int32(j)
}
