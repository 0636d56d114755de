// Package bench measures the throughput of sluice's data plane against
// hand-written Go loops doing the same work.
//
// It sits on top of the stack: it builds jobs with the typed API (package
// stream) and runs them in-process. The package itself holds the workloads
// (element types, the user functions of each job, and [Discard], a sink
// that reads every record and throws it away); the benchmarks and their
// hand-written baselines are in its tests:
//
//	go test -run '^$' -bench . -benchmem -benchtime 2s ./bench/...
//
// Every engine benchmark runs b.N records per run: one job per run, with
// n = b.N, so "-benchtime 5000000x" runs five million records. Job start-up
// (building the tasks, opening the operators) is inside the measured time;
// BenchmarkJobStartup measures it alone. Each benchmark reports records/s
// and ns/record of elapsed time, and cpu-ns/record, the CPU time of the
// whole process per record (steadier than elapsed time on a shared
// machine); with -benchmem, allocs/op is allocations per record.
//
// The hand-written baselines come in two forms: "funcs" calls the same user
// functions through function values, as the engine does, so both pay for
// the calls; "inline" lets the compiler inline them, the fastest loop a Go
// programmer would write. BenchmarkStateCount compares the keyed state
// backend alone with a Go map. Results, with date, machine and commit, are
// in docs/benchmarks.md.
package bench
