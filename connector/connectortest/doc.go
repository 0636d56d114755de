// Package connectortest is the conformance suite of sluice's connectors,
// in the spirit of testing/fstest and of Flink's connector testing
// framework: given a way to build a source or sink and to write or read
// the external system, it runs the standard checks every connector must
// pass, against the guarantee the connector declares for its
// configuration.
//
// A connector's test package describes each configuration under test as
// a [Source] or a [Sink] case, registers it from init (the SIGKILL check
// runs the job in a child process, which must know the case too) and runs
// the checks:
//
//	func TestMain(m *testing.M) { connectortest.Main(m) }
//
//	var queueSource = connectortest.Source[rabbitmq.Message]{
//		Name:    "rabbitmq-at-least-once",
//		Prepare: func(t testing.TB, id string, n int) connectortest.Params { ... publish "0".."n-1" to queue id ... },
//		New:     func(p connectortest.Params) (connector.Source[rabbitmq.Message], error) { ... },
//		Number:  func(m rabbitmq.Message) (int, error) { return strconv.Atoi(string(m.Body)) },
//	}
//
//	func init() { connectortest.RegisterSource(queueSource) }
//
//	func TestConformance(t *testing.T) { connectortest.TestSource(t, queueSource) }
//
// # What is checked
//
// Every check's output is compared record by record with the records the
// case prepared (sources: the numbers 0..n-1; sinks: Expect), by the
// guarantee the connector declares with checkpoints: exactly-once, every
// record exactly once; at-least-once, every record at least once and
// nothing else; at-most-once, no record twice and nothing else.
//
//   - declares: the source or sink declares a guarantee with a reason,
//     with and without checkpoints.
//   - all: one run without failures (sources: into an exactly-once file
//     target; sinks: from a generator, and again without checkpoints)
//     gives every record exactly once.
//   - failures: failures injected at random records in process, with
//     restarts from the latest checkpoint.
//   - stop: a stop (a final checkpoint) part-way through ends the job
//     within the stop timeout; the job restored from it at a lower
//     parallelism finishes the work.
//   - rescale: the job is cancelled part-way through (as by a crash) and
//     restored from its latest checkpoint at a higher parallelism.
//   - sigkill: the job runs as a separate process, SIGKILLed at random
//     moments, also between a checkpoint's completion and its
//     notification (internal/crashtest).
//   - bad-records (sources with PrepareBad): records the source cannot
//     decode go to the dead-letter output when the job has one, and
//     otherwise fail the job permanently.
//   - acks (sources with Unacked): nothing is acknowledged before the
//     first checkpoint completes, and everything is once the job stopped.
//
// Bounded sources must end by themselves; an unbounded source's job is
// stopped (Job.Stop) once its output holds every record. At-most-once
// sources are only checked where at-most-once promises something: the
// declaration, the run without failures, a stop, and bad records.
package connectortest
