package stream

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// Options and operator settings (Parallelism, MaxParallelism, ...) cannot
// return an error. An invalid value is recorded instead, the setting is
// left as it was, and Validate, Start and Execute report every recorded one.

// invalidSetting is a setting that was refused.
type invalidSetting struct {
	node    *graph.Node // the operator; nil for an option of New
	setting string      // the call, e.g. "Parallelism(-1)"
	problem string      // what is wrong and what is allowed
}

func (s invalidSetting) String() string {
	if s.node == nil {
		return s.setting + ": " + s.problem
	}
	// The operator's name is read now: it may have been set after the
	// refused setting.
	return fmt.Sprintf("operator %q: %s: %s", s.node.Name, s.setting, s.problem)
}

// refuse records an invalid setting of node (nil: of the job).
func (e *Env) refuse(node *graph.Node, setting, problem string) {
	e.invalid = append(e.invalid, invalidSetting{node: node, setting: setting, problem: problem})
}

// checkParallelism refuses a parallelism below 1; it reports whether n is
// valid.
func (e *Env) checkParallelism(node *graph.Node, setting string, n int) bool {
	if n < 1 {
		e.refuse(node, setting, "the parallelism must be at least 1")
		return false
	}
	return true
}

// checkMaxParallelism refuses a max parallelism outside [1,
// state.MaxMaxParallelism]; it reports whether n is valid.
func (e *Env) checkMaxParallelism(node *graph.Node, setting string, n int) bool {
	if n < 1 || n > state.MaxMaxParallelism {
		e.refuse(node, setting, fmt.Sprintf("the max parallelism must be from 1 to %d", state.MaxMaxParallelism))
		return false
	}
	return true
}

// settingsErr returns the error reporting every refused setting, nil when
// there is none. It wraps runtime.ErrConfig.
func (e *Env) settingsErr() error {
	switch len(e.invalid) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("job %q: %w: %s", e.g.Name, runtime.ErrConfig, e.invalid[0])
	}
	msgs := make([]string, len(e.invalid))
	for i, s := range e.invalid {
		msgs[i] = s.String()
	}
	return fmt.Errorf("job %q: %w: %d invalid settings: %s", e.g.Name, runtime.ErrConfig, len(e.invalid), strings.Join(msgs, "; "))
}
