package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice/checkpoint/coordinator"
	"github.com/sluicehq/sluice/checkpoint/storage"
)

// attempt is one execution of the plan, from a fresh start or a restore,
// until it finishes or fails. Its run method is the job driver: the only
// goroutine that touches the coordinator, the enumerators and the
// checkpoint bookkeeping.
//
// Its parts are in files of their own: build.go wires tasks, links and
// gates; driver.go is the event loop; driver_checkpoint.go carries out the
// checkpoint coordinator's decisions; snapshot.go writes the asynchronous
// part of the subtasks' snapshots; shutdown.go ends the attempt.
type attempt struct {
	j             *Job
	cfg           *Config
	logger        *slog.Logger
	ctx           context.Context
	cancel        context.CancelCauseFunc
	clock         Clock // the driver's: Config.DriverClock
	checkpointing bool
	tasks         [][]*task // by vertex index, then subtask
	vindex        map[int]int
	events        chan taskEvent
	wg            sync.WaitGroup

	coord    *coordinator.Coordinator
	restored *restoredJob
	runs     map[int64]*checkpointRun
	enums    map[int]*enumRunner // by vertex ID
	periodic []*periodicFn

	sourceTasks, sourcesEnded int
	totalTasks, finishedTasks int
	finalWanted               bool
	stopping                  bool
	requests                  map[int64]controlReq
	storedPaths               map[int64]string
	stopReqs                  []controlReq
	failure                   error
	completed                 completedSet // checkpoints completed, for incremental snapshots
}

// checkpointRun is the bookkeeping of one checkpoint in progress.
type checkpointRun struct {
	id      int64
	kind    CheckpointKind
	pending *storage.Pending
	mu      sync.Mutex
	states  []*subtaskState
	enums   map[string][]byte
	// unaligned counts the subtasks that took the checkpoint unaligned;
	// inflight the in-flight records they stored.
	unaligned  int
	inflight   int64
	keyedBytes int64     // bytes of keyed-state files written
	started    time.Time // when the coordinator triggered it
}

type subtaskState struct {
	vertex, subtask int
	ops             []opStateMeta
	unaligned       bool
	inflight        int64
	acked           time.Duration // from the trigger to the ack (observe.go)
}

type periodicFn struct {
	next     time.Time
	interval time.Duration
	fn       func() error
}

func (j *Job) newAttempt(parent context.Context, restoreFrom string) (*attempt, error) {
	ctx, cancel := context.WithCancelCause(parent)
	a := &attempt{
		j: j, cfg: &j.cfg, logger: j.logger, ctx: ctx, cancel: cancel, clock: j.cfg.DriverClock,
		checkpointing: j.cfg.Checkpoint.Interval > 0,
		vindex:        map[int]int{},
		events:        make(chan taskEvent, 1024),
		runs:          map[int64]*checkpointRun{},
		enums:         map[int]*enumRunner{},
		requests:      map[int64]controlReq{},
		storedPaths:   map[int64]string{},
	}
	if restoreFrom != "" {
		r, err := a.loadRestore(restoreFrom)
		if err != nil {
			cancel(err)
			return nil, err
		}
		a.restored = r
	}
	if err := a.build(); err != nil {
		cancel(err)
		return nil, err
	}
	return a, nil
}

// send delivers an event to the driver; it gives up when the attempt is
// being torn down.
func (a *attempt) send(ev taskEvent) {
	select {
	case a.events <- ev:
	case <-a.ctx.Done():
	}
}

func (a *attempt) allTasks(fn func(t *task)) {
	for _, ts := range a.tasks {
		for _, t := range ts {
			fn(t)
		}
	}
}
