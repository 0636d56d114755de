package coordinator

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
)

// pending is a triggered checkpoint that has not settled yet.
type pending struct {
	id        int64
	kind      checkpoint.Kind
	triggered time.Time
	acked     []bool // by index into Coordinator.tasks
	nAcked    int
	storing   bool // every ack is in and Store was emitted
}

// request is a savepoint or final checkpoint waiting for a free slot.
type request struct {
	id        int64
	kind      checkpoint.Kind
	notBefore time.Time // zero, or when a retried final checkpoint may trigger
}

// missing describes the subtasks that have not acknowledged p, for the
// reason of a timeout, naming at most a few of them.
func (p *pending) missing(tasks []TaskID) string {
	const show = 3
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d subtasks acknowledged", p.nAcked, len(tasks))
	n := 0
	for i, ok := range p.acked {
		if ok {
			continue
		}
		switch {
		case n == 0:
			b.WriteString("; missing ")
		case n < show:
			b.WriteString(", ")
		}
		if n < show {
			b.WriteString(tasks[i].String())
		}
		n++
	}
	if n > show {
		fmt.Fprintf(&b, " and %d more", n-show)
	}
	return b.String()
}
