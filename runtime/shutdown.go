package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
)

// shutdown stops everything of the attempt and returns its result.
func (a *attempt) shutdown(err error) error {
	cause := err
	if cause == nil {
		cause = errors.New("job finished")
	}
	a.cancel(cause)
	// Drain events while tasks and writers stop, so nobody blocks.
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	for {
		select {
		case ev := <-a.events:
			if ev.kind == evFailed && err == nil {
				err = ev.err
			}
			continue
		case <-done:
		}
		break
	}
	// The coordinator aborts every checkpoint in progress and triggers no
	// more; the files of those it had begun go.
	if a.coord != nil {
		a.coord.Stop(cause)
		for _, act := range a.coord.Ready() {
			if x, ok := act.(coordinator.Abort); ok {
				if r := a.runs[x.ID]; r != nil && r.pending != nil {
					r.pending.Abort(context.Background())
				}
			}
		}
	}
	// Requests still waiting end with the attempt: a stop with the
	// failure (the job then ends, see Job.run), a savepoint with it too.
	if err != nil {
		for _, req := range a.stopReqs {
			req.reply <- savepointResult{err: fmt.Errorf("%w: %w", ErrStopIncomplete, err)}
		}
		for _, req := range a.requests {
			req.reply <- savepointResult{err: fmt.Errorf("the job failed before the savepoint completed: %w", err)}
		}
		a.stopReqs, a.requests = nil, nil
	}
	for _, e := range a.enums {
		if cerr := e.enum.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
