// Command sluice runs stream-processing jobs described in YAML pipelines
// (package pipeline) on the sluice runtime, and inspects them:
//
//	sluice run PIPELINE.yaml [--restore latest|PATH] [--parallelism N] [--set key=value]... [--allow-non-restored-state] [--http ADDR|off]
//	sluice plan PIPELINE.yaml [--parallelism N] [--set key=value]...
//	sluice connectors
//	sluice checkpoints LOCATION
//	sluice status URL
//	sluice savepoint URL
//	sluice stop URL
//
// run prints the job's plan and end-to-end guarantee (with its weakest
// link) to standard error, starts the job, and logs with log/slog (text on
// a terminal, JSON otherwise). On a terminal it also keeps a progress line:
// elapsed time, the last completed checkpoint, and the records in and out
// of every operator (runtime.Job.Metrics, subtasks summed), cut to the
// terminal's width. Off a terminal it logs the counts instead, as a record
// "progress" every 10 s and at the end of the job. The first SIGINT or
// SIGTERM stops the job gracefully: a final checkpoint, which two-phase
// sinks commit, then exit status 0. A second signal exits at once with
// status 130. A job that fails exits with status 1; a mistake in the
// command line or the pipeline with status 2.
//
// While it runs, a job serves its Prometheus metrics, REST API and
// dashboard (package ops) on 127.0.0.1:8081 or the next free port
// (--http ADDR, --http off); status, savepoint and stop talk to that
// endpoint, savepoint and stop with the token run logged at start (or
// SLUICE_TOKEN).
//
// The command sits at the top of the layers: it uses package pipeline to
// build a job and package runtime (through stream) to run it. Every
// connector package is linked in, so that `sluice connectors` lists all of
// them.
package main
