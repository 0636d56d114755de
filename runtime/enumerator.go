package runtime

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// enumRunner runs a source's split enumerator on the driver goroutine.
type enumRunner struct {
	a    *attempt
	vi   int
	name string
	uid  string
	enum connector.Enumerator
}

func (a *attempt) startEnumerators() error {
	for vi, v := range a.j.plan.Vertices {
		if v.Source == nil {
			continue
		}
		uid := v.Ops[0].UID
		e := &enumRunner{a: a, vi: vi, name: v.Ops[0].Name, uid: uid}
		var restored []byte
		if a.restored != nil {
			restored = a.restored.meta.Enumerators[uid]
		}
		en, err := v.Source.NewEnumerator(e, restored)
		if err != nil {
			return &OperatorError{Operator: e.name, Subtask: -1, Err: fmt.Errorf("create split enumerator: %w", err)}
		}
		e.enum = en
		a.enums[v.ID] = e
		for s := range v.Parallelism {
			if err := en.AddReader(s); err != nil {
				return &OperatorError{Operator: e.name, Subtask: s, Err: fmt.Errorf("split enumerator: add reader: %w", err)}
			}
		}
	}
	return nil
}

func (e *enumRunner) Parallelism() int { return len(e.a.tasks[e.vi]) }

func (e *enumRunner) Assign(subtask int, splits ...connector.Split) {
	t := e.a.tasks[e.vi][subtask]
	t.mail.post("splits", 0, func() error { return t.wrap(0, t.src.addSplits(splits)) })
}

func (e *enumRunner) NoMoreSplits(subtask int) {
	t := e.a.tasks[e.vi][subtask]
	t.mail.post("no more splits", 0, func() error { t.src.noMoreSplits(); return nil })
}

func (e *enumRunner) Every(interval time.Duration, fn func() error) {
	e.a.periodic = append(e.a.periodic, &periodicFn{next: e.a.clock.Now().Add(interval), interval: interval, fn: func() error {
		if err := fn(); err != nil {
			return &OperatorError{Operator: e.name, Subtask: -1, Err: fmt.Errorf("split discovery: %w", err)}
		}
		return nil
	}})
}

func (e *enumRunner) Logger() *slog.Logger { return e.a.logger.With("enumerator", e.name) }
