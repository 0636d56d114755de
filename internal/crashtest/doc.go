// Package crashtest is the crash-recovery harness behind sluice's torture
// tests: every exactly-once pair of source and sink shows its guarantee by
// surviving SIGKILL at random moments (design notes, section 6).
//
// It sits beside the tests, above stream and runtime: a test package
// registers a job, and the harness runs that job as a separate OS process,
// kills it with SIGKILL again and again (from outside at a random uptime, or
// from inside the runtime's CheckpointCompleted hook, when a checkpoint's
// metadata is durable and no task was told that the checkpoint completed, so
// before two-phase sinks commit), restarts it from its latest complete
// checkpoint each time, and lets the last run finish. The test then checks
// the job's external output record by record: no duplicate, no gap.
//
// # Writing a torture test
//
// In the connector's test package:
//
//	func TestMain(m *testing.M) { crashtest.Main(m) }
//
//	func init() {
//		crashtest.Register("file-keyed-count", func(ctx context.Context, e *crashtest.ChildEnv) error {
//			env := stream.New("file-keyed-count",
//				append(e.Options(100*time.Millisecond), stream.WithParallelism(2))...)
//			// ... a deterministic source, slowed unless e.Finish,
//			// writing to a sink whose target lives under e.Dir ...
//			return env.Execute(ctx)
//		})
//	}
//
//	func TestTortureFile(t *testing.T) {
//		cfg := crashtest.Resolve(t, crashtest.Config{Job: "file-keyed-count", Kills: 6})
//		n := int(cfg.JobDuration().Seconds() * recordsPerSecond)
//		cfg.Params = map[string]string{"records": strconv.Itoa(n)}
//		res := crashtest.Run(t, cfg)
//		got := readOutput(res.Dir) // the job's output, from the target
//		if d := crashtest.Compare(got, expected(n)); !d.OK() {
//			t.Error(d)
//		}
//	}
//
// The process model is the usual re-exec: Run starts the test binary itself
// (os.Args[0]) with environment variables naming the job; Main, as the
// package's TestMain, sees them and runs the registered job instead of the
// tests. So Register must run in both processes: call it from an init
// function. The job gets a [ChildEnv]: its data directory (the same in every
// run), the file:// location of its checkpoints, the test's parameters, and
// [ChildEnv.Options], which turn on checkpointing into that location, restore
// from the latest complete checkpoint (fresh in the first run), switch off
// in-process restarts (a failure that is not a kill fails the test), install
// the kill hook and record job events. A job built on runtime directly uses
// [ChildEnv.Configure].
//
// The job must be deterministic, bounded and slow enough that the killed runs
// do not finish it: [Config.JobDuration] says how long it should take
// without failures. In a run that should reach the end ([ChildEnv.Finish]) a
// job may lift its rate limit and finish at once.
//
// With three kills or more, the last kill is made at the end: that run gets
// Finish and dies at its first checkpoint completion, which is the final
// checkpoint (the one taken at the end of input, whose commit ends the job)
// when the rest of the input takes less than a checkpoint interval at full
// speed. The last run then restores that checkpoint and must commit what it
// holds.
//
// Run checks the recovery contract as it goes and fails the test, showing
// the end of the offending run's log (each child's stdout and stderr go to a
// file), when a run fails other than by a kill, finishes before all kills
// were made, restores an older checkpoint than the newest one completed
// before it, or completes a checkpoint whose id is not above every id
// completed before. Its [Result] lists every run (what was planned, how it
// ended, what it restored and completed).
//
// # Runs and reproduction
//
// Config sets the number of kills (6 by default), the uptime range of runs
// killed from outside, the probability of a kill in the hook and an overall
// timeout. `go test -short` makes at most [ShortKills] kills;
// SLUICE_TORTURE=long (`make torture`) makes Config.LongKills, 100 or more.
// The kill schedule follows from a seed that Run logs;
// SLUICE_CRASHTEST_SEED=<seed> replays the schedule (timing on a busy machine
// still varies). SLUICE_CRASHTEST_KEEP=1 keeps the run directory (data,
// checkpoints, logs/run-NNN.log and run-NNN.events) for a post-mortem.
//
// # A durable exactly-once sink
//
// [TxFileSink] is a two-phase sink of lines into a directory that survives
// SIGKILL: pre-committed files are written and fsynced under pending/,
// commits rename them into committed/. [ReadCommitted] returns the output.
// Tests of sources use it as their exactly-once target; its own torture test
// (a keyed running count) is in this package.
//
// The harness needs a unix system (SIGKILL, wait statuses); elsewhere Run
// skips the test.
package crashtest
