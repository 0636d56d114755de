package coordinator

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// epoch is time 0 of the scripts: t=1.5s means epoch+1.5s.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// TestScripts runs testdata/*.txt. Commands:
//
//	new [interval=D] [timeout=D] [min-pause=D] [max-concurrent=N] [tolerable=N] [first-id=N] tasks=(v,s),(v,s)... [t=D]
//	tick t=D
//	ack id=N task=(v,s)[,(v,s)...]|all t=D
//	decline id=N task=(v,s) [reason=word|not-ready] t=D
//	stored id=N [err=word] t=D
//	savepoint t=D
//	final t=D
//	stop [reason=word]
//	deadline
//	state
//
// Event commands print the actions that Ready returns, one a line, or
// "(none)".
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *Coordinator
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if td.Cmd != "new" && c == nil {
				td.Fatalf(t, "%s before new", td.Cmd)
			}
			switch td.Cmd {
			case "new":
				var cfg Config
				td.MaybeScanArgs(t, "interval", &cfg.Interval)
				td.MaybeScanArgs(t, "timeout", &cfg.Timeout)
				td.MaybeScanArgs(t, "min-pause", &cfg.MinPause)
				td.MaybeScanArgs(t, "max-concurrent", &cfg.MaxConcurrent)
				td.MaybeScanArgs(t, "tolerable", &cfg.TolerableFailures)
				td.MaybeScanArgs(t, "first-id", &cfg.FirstID)
				var err error
				c, err = New(cfg, scanTasks(t, td, "tasks", nil), scanTime(t, td))
				if err != nil {
					c = nil
					return "error: " + err.Error()
				}
				return "ok"
			case "tick":
				c.Tick(scanTime(t, td))
			case "ack":
				now := scanTime(t, td)
				for _, task := range scanTasks(t, td, "task", c.tasks) {
					c.Ack(scanID(t, td), task, now)
				}
			case "decline":
				var reason error
				if td.HasArg("reason") {
					var s string
					td.ScanArgs(t, "reason", &s)
					reason = errors.New(s)
					if s == "not-ready" {
						reason = fmt.Errorf("restoring: %w", ErrTaskNotReady)
					}
				}
				tasks := scanTasks(t, td, "task", c.tasks)
				if len(tasks) != 1 {
					td.Fatalf(t, "decline wants one task")
				}
				c.Decline(scanID(t, td), tasks[0], reason, scanTime(t, td))
			case "fail":
				var s string
				td.ScanArgs(t, "reason", &s)
				c.Fail(scanID(t, td), errors.New(s), scanTime(t, td))
			case "stored":
				var err error
				if td.HasArg("err") {
					var s string
					td.ScanArgs(t, "err", &s)
					err = errors.New(s)
				}
				c.Stored(scanID(t, td), err, scanTime(t, td))
			case "savepoint", "final":
				request := c.RequestSavepoint
				if td.Cmd == "final" {
					request = c.RequestFinal
				}
				id, err := request(scanTime(t, td))
				if err != nil {
					return "error: " + err.Error() + "\n" + actions(c.Ready())
				}
				return fmt.Sprintf("requested id=%d\n%s", id, actions(c.Ready()))
			case "stop":
				var reason error
				if td.HasArg("reason") {
					var s string
					td.ScanArgs(t, "reason", &s)
					reason = errors.New(s)
				}
				c.Stop(reason)
			case "deadline":
				d, ok := c.NextDeadline()
				if !ok {
					return "none"
				}
				return "t=" + d.Sub(epoch).String()
			case "state":
				return state(c)
			default:
				td.Fatalf(t, "unknown command %q", td.Cmd)
			}
			return actions(c.Ready())
		})
	})
}

func actions(as []Action) string {
	if len(as) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, a := range as {
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func state(c *Coordinator) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pending:")
	for _, p := range c.pending {
		fmt.Fprintf(&b, " %d(%v", p.id, p.kind)
		if p.storing {
			b.WriteString(",storing")
		} else {
			fmt.Fprintf(&b, ",%d/%d acks", p.nAcked, len(c.tasks))
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "\nqueued:")
	for _, q := range c.queue {
		fmt.Fprintf(&b, " %d(%v", q.id, q.kind)
		if !q.notBefore.IsZero() {
			fmt.Fprintf(&b, ",not-before=%v", q.notBefore.Sub(epoch))
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "\nlatest-completed: %d\nfailures: %d\nstopped: %t", c.LatestCompleted(), c.failures, c.stopped)
	if !slicesEqual(c.Pending(), pendingIDs(c)) {
		panic("Pending() disagrees with internal state")
	}
	return b.String()
}

func pendingIDs(c *Coordinator) []int64 {
	var ids []int64
	for _, p := range c.pending {
		ids = append(ids, p.id)
	}
	return ids
}

func slicesEqual(a, b []int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func scanTime(t *testing.T, td *datadriven.TestData) time.Time {
	t.Helper()
	var d time.Duration
	td.MaybeScanArgs(t, "t", &d)
	return epoch.Add(d)
}

func scanID(t *testing.T, td *datadriven.TestData) int64 {
	t.Helper()
	var id int64
	td.ScanArgs(t, "id", &id)
	return id
}

var taskRE = regexp.MustCompile(`\((\d+),\s*(\d+)\)`)

// scanTasks reads key=(v,s),(v,s)... The datadriven parser takes "(v,s)" as
// the two values of key and the rest, ",(v,s)...", as the keys of further
// arguments without values, so both are read. "all" gives all.
func scanTasks(t *testing.T, td *datadriven.TestData, key string, all []TaskID) []TaskID {
	t.Helper()
	var text strings.Builder
	for i, arg := range td.CmdArgs {
		if arg.Key != key {
			continue
		}
		if len(arg.Vals) == 1 && arg.Vals[0] == "all" {
			return all
		}
		fmt.Fprintf(&text, "(%s)", strings.Join(arg.Vals, ","))
		for _, more := range td.CmdArgs[i+1:] {
			if !strings.HasPrefix(more.Key, ",") {
				break
			}
			text.WriteString(more.Key)
		}
	}
	var tasks []TaskID
	for _, m := range taskRE.FindAllStringSubmatch(text.String(), -1) {
		v, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		tasks = append(tasks, TaskID{Vertex: v, Subtask: s})
	}
	if len(tasks) == 0 && key == "task" {
		td.Fatalf(t, "missing %s=(v,s)", key)
	}
	return tasks
}
