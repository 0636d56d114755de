package crashtest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/runtime"
)

// A child records what happened in its run in an event log, one event per
// line: "<kind> <value>". Every event is written with its own write system
// call to a file opened for appending, so an event written before a SIGKILL
// is in the file when the parent reads it.
const (
	evStart      = "start"      // value: pid
	evRestored   = "restored"   // value: checkpoint id, number of incremental keyed files, path
	evCompleted  = "completed"  // value: checkpoint id (from the CheckpointCompleted hook)
	evHookKill   = "hook-kill"  // value: checkpoint id and kind; the process kills itself next
	evAborted    = "aborted"    // value: checkpoint id
	evRestarting = "restarting" // value: the error (an in-process restart)
	evError      = "error"      // value: the job's error
	evDone       = "done"       // the job returned nil
)

type eventLog struct {
	mu sync.Mutex
	f  *os.File
}

func openEventLog(path string) (*eventLog, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is not set", envEvents)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	return &eventLog{f: f}, nil
}

func (l *eventLog) write(kind, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeLocked(kind, value)
}

func (l *eventLog) writeLocked(kind, value string) {
	// A failed write is reported on stderr: the parent then misses an event
	// and says so.
	if _, err := l.f.WriteString(kind + " " + oneLine(value) + "\n"); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest child: write event log: %v\n", err)
	}
}

func (l *eventLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Close()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }

// runEvents is what the parent learns from a child's event log.
type runEvents struct {
	started  bool
	restored int64 // 0: no restore recorded
	restPath string
	// restDeltas is the number of keyed-state files of the restored
	// checkpoint that are incremental deltas.
	restDeltas int
	completed  []int64
	hookKill   int64 // 0: none
	// hookKillFinal: the hook kill came after the final checkpoint.
	hookKillFinal bool
	aborted       int
	restarts      int
	done          bool
	jobErr        string
}

func readEvents(path string) (runEvents, error) {
	var r runEvents
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		kind, value, _ := strings.Cut(sc.Text(), " ")
		id := func() int64 {
			s, _, _ := strings.Cut(value, " ")
			n, _ := strconv.ParseInt(s, 10, 64)
			return n
		}
		switch kind {
		case evStart:
			r.started = true
		case evRestored:
			r.restored = id()
			_, rest, _ := strings.Cut(value, " ")
			deltas, path, _ := strings.Cut(rest, " ")
			r.restPath = path
			r.restDeltas, _ = strconv.Atoi(deltas)
		case evCompleted:
			r.completed = append(r.completed, id())
		case evHookKill:
			r.hookKill = id()
			_, kind, _ := strings.Cut(value, " ")
			r.hookKillFinal = kind == runtime.KindFinal.String()
		case evAborted:
			r.aborted++
		case evRestarting:
			r.restarts++
		case evError:
			r.jobErr = value
		case evDone:
			r.done = true
		}
	}
	return r, sc.Err()
}
