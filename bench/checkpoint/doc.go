// Package checkpoint measures what checkpoints cost a job with a large
// keyed state: throughput with checkpoints off and every second, how long
// checkpoints take, and how long a restore takes, for 10 MB, 100 MB and
// 1 GB of keyed state. Run it with
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench/checkpoint
//
// (SLUICE_STATE_SIZES=10MB,100MB limits the sizes). Figures are in
// docs/benchmarks.md.
package checkpoint
