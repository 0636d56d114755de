package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/nexmark"
)

// bench runs `sluice bench nexmark`: one Nexmark query into a discarding
// sink, printing the result as one JSON object on its last line.
func (a *app) bench(args []string) int {
	if len(args) == 0 || args[0] != "nexmark" {
		fmt.Fprintf(a.stderr, "usage: sluice bench nexmark --query qN --events N [--parallelism P] [--tps R] [--checkpoint-interval D]\n")
		return exitUsage
	}
	fs := flag.NewFlagSet("bench nexmark", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	query := fs.String("query", "q0", "query: q0, q1, q2, q3, q4, q5, q7, q8, q11, q12")
	events := fs.Int64("events", nexmark.DefaultBenchEvents, "events to generate")
	par := fs.Int("parallelism", 1, "parallelism of every operator")
	tps := fs.Int64("tps", 0, "event-time rate in events per second (0: the events span 10 s of event time)")
	interval := fs.Duration("checkpoint-interval", 10*time.Second, "checkpoint interval (0: no checkpoints)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := nexmark.RunBench(ctx, nexmark.BenchOptions{Query: *query, Events: *events, Parallelism: *par, TPS: *tps, CheckpointInterval: *interval})
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
