// Command nexmark-bench runs the Nexmark queries on sluice and as
// hand-written loops, and prints the result of a run as one JSON object on
// its last line, or with -all the table of docs/nexmark.md.
//
//	go run ./nexmark/cmd/nexmark-bench -query q5
//	go run ./nexmark/cmd/nexmark-bench -query q5 -baseline
//	go run ./nexmark/cmd/nexmark-bench -all -events 10000000 -markdown
//
// With -all every run is a child process of its own, so that the CPU time,
// peak memory and garbage collector of one run do not leak into another;
// sluice and the hand loop alternate, and the table shows the median of
// -reps runs.
package main
