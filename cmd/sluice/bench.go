package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/nexmark"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/stream"
)

const benchSynopsis = "bench nexmark --query qN [--events N] [--parallelism P] [--tps R] [--checkpoint-interval D] [--http ADDR [--scrape D]]"

// bench runs `sluice bench nexmark`: one Nexmark query into a discarding
// sink, printing the result as one JSON object on its last line.
func (a *app) bench(args []string) int {
	if len(args) == 0 || args[0] != "nexmark" {
		fmt.Fprintf(a.stderr, "Usage: sluice %s\n", benchSynopsis)
		return exitUsage
	}
	fs := a.newFlagSet("bench nexmark", benchSynopsis)
	names := nexmark.QueryNames()
	events := positiveInt64(nexmark.DefaultBenchEvents)
	par := positiveInt(1)
	query := fs.String("query", "q0", "the query: "+strings.Join(names, ", "))
	fs.Var(&events, "events", "events to generate (`N`, at least 1)")
	fs.Var(&par, "parallelism", "parallelism of every operator (`P`, at least 1)")
	tps := fs.Int64("tps", 0, "event-time rate in events per second (0: the events span 10 s of event time)")
	interval := fs.Duration("checkpoint-interval", 10*time.Second, "checkpoint interval (0: no checkpoints)")
	httpAddr := fs.String("http", "off", "serve the job's metrics, REST API and dashboard on `ADDR` while it runs (off: none), to measure their cost")
	scrape := fs.Duration("scrape", 0, "with --http, fetch /metrics and /api/v1/job every `D` during the run (0: never)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return flagErr(err)
	}
	var mistakes []string
	if len(pos) > 0 {
		mistakes = append(mistakes, fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	if !slices.Contains(names, *query) {
		mistakes = append(mistakes, fmt.Sprintf("--query %q: use one of %s", *query, strings.Join(names, ", ")))
	}
	if *tps < 0 {
		mistakes = append(mistakes, fmt.Sprintf("--tps %d: use a rate of at least 1, or 0 for events spanning 10 s", *tps))
	}
	if *interval < 0 {
		mistakes = append(mistakes, fmt.Sprintf("--checkpoint-interval %v: use a positive duration, or 0 for no checkpoints", *interval))
	}
	if err := a.checkHTTPAddr(*httpAddr); err != nil {
		mistakes = append(mistakes, "--http: "+err.Error())
	}
	if *scrape < 0 || (*scrape > 0 && *httpAddr == "off") {
		mistakes = append(mistakes, fmt.Sprintf("--scrape %v: use a positive duration, with --http", *scrape))
	}
	if len(mistakes) > 0 {
		for _, m := range mistakes {
			fmt.Fprintf(a.stderr, "sluice bench nexmark: %s\n", m)
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := nexmark.BenchOptions{Query: *query, Events: int64(events), Parallelism: int(par), TPS: *tps, CheckpointInterval: *interval}
	if *httpAddr != "off" {
		var served benchServer
		defer served.close()
		opts.Started = func(job *runtime.Job, env *stream.Env) { served.start(a, job, env, *httpAddr, *scrape) }
	}
	res, err := nexmark.RunBench(ctx, opts)
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice bench nexmark: %v\n", err)
		return exitFailed
	}
	b, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(a.stderr, "sluice bench nexmark: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(a.stdout, string(b))
	return exitOK
}
