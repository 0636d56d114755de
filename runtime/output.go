package runtime

// Output receives what an operator emits. For a chained successor it calls
// the successor directly; for a network edge it batches records and hands
// them to the receiving subtasks. Errors come from downstream operators in
// the same chain (already wrapped with the failing operator's name) or from
// cancellation of the job.
type Output[T any] interface {
	// Collect emits one record.
	Collect(r Record[T]) error
	// EmitWatermark forwards a watermark. Operators forward watermarks after
	// acting on them (firing timers).
	EmitWatermark(wm int64) error
	// EmitStatus forwards the watermark status: idle or active.
	EmitStatus(idle bool) error
}

// Input is the typed input of an operator.
type Input[T any] interface {
	// ProcessRecord handles one record.
	ProcessRecord(r Record[T]) error
}

// chainOutput calls a chained successor.
type chainOutput[T any] struct {
	next Input[T]
	wm   WatermarkProcessor
	task *task
	idx  int   // operator index of next within the task
	from int   // operator index of the caller
	n    int64 // records collected (metrics.go)
}

func (c *chainOutput[T]) count() int64 { return c.n }

// Collect calls the successor. The task's current operator is set around
// the call so that a panic is attributed to the operator that raised it;
// an error is attributed to the successor unless it already is attributed.
func (c *chainOutput[T]) Collect(r Record[T]) error {
	c.n++
	c.task.current = c.idx
	err := c.next.ProcessRecord(r)
	c.task.current = c.from
	if err != nil {
		return c.task.wrap(c.idx, err)
	}
	return nil
}

func (c *chainOutput[T]) EmitWatermark(wm int64) error {
	c.task.clock.watermark(wm)
	c.task.current = c.idx
	err := c.wm.ProcessWatermark(wm)
	c.task.current = c.from
	if err != nil {
		return c.task.wrap(c.idx, err)
	}
	return nil
}

func (c *chainOutput[T]) EmitStatus(idle bool) error {
	c.task.current = c.idx
	err := c.wm.ProcessStatus(idle)
	c.task.current = c.from
	if err != nil {
		return c.task.wrap(c.idx, err)
	}
	return nil
}

// fanOut sends everything to several outputs. It counts a record once,
// however many outputs it goes to.
type fanOut[T any] struct {
	outs []Output[T]
	n    int64
}

func (f *fanOut[T]) count() int64 { return f.n }

func (f *fanOut[T]) Collect(r Record[T]) error {
	f.n++
	for _, o := range f.outs {
		if err := o.Collect(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fanOut[T]) EmitWatermark(wm int64) error {
	for _, o := range f.outs {
		if err := o.EmitWatermark(wm); err != nil {
			return err
		}
	}
	return nil
}

func (f *fanOut[T]) EmitStatus(idle bool) error {
	for _, o := range f.outs {
		if err := o.EmitStatus(idle); err != nil {
			return err
		}
	}
	return nil
}

// Discard is an Output that drops everything (an operator whose output is
// not consumed).
type Discard[T any] struct{}

// Collect drops r.
func (Discard[T]) Collect(Record[T]) error { return nil }

// EmitWatermark drops wm.
func (Discard[T]) EmitWatermark(int64) error { return nil }

// EmitStatus drops the status.
func (Discard[T]) EmitStatus(bool) error { return nil }

// countingDiscard is the Output of an operator port nothing consumes: it
// drops everything but counts the records.
type countingDiscard[T any] struct{ n int64 }

func (d *countingDiscard[T]) count() int64 { return d.n }

func (d *countingDiscard[T]) Collect(Record[T]) error { d.n++; return nil }

func (*countingDiscard[T]) EmitWatermark(int64) error { return nil }

func (*countingDiscard[T]) EmitStatus(bool) error { return nil }
