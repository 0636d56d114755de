package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/nexmark"
	"github.com/sluicehq/sluice/nexmark/baseline"
)

// flinkPerCore is Flink 2.0's published throughput per core (events per
// second per core) from nexmark/nexmark's V2 guide: 8 task managers of 8
// GB, RocksDB, exactly-once checkpoints.
var flinkPerCore = map[string]float64{
	"q0": 379e3, "q1": 395e3, "q2": 414e3, "q3": 219e3, "q4": 28e3,
	"q5": 75e3, "q7": 23e3, "q8": 162e3, "q11": 46e3, "q12": 194e3,
}

type options struct {
	query      string
	all        bool
	events     int64
	par        int
	tps        int64
	checkpoint time.Duration
	cpDir      string
	seed       uint64
	isBaseline bool
	reps       int
	markdown   bool
	cpuProfile string
	queries    string
}

func main() {
	var o options
	flag.StringVar(&o.query, "query", "q0", "query to run: "+strings.Join(nexmark.QueryNames(), ", "))
	flag.BoolVar(&o.all, "all", false, "run every query (see -queries), on sluice and as a hand loop, -reps times each")
	flag.StringVar(&o.queries, "queries", strings.Join(nexmark.QueryNames(), ","), "queries of -all, comma-separated")
	flag.Int64Var(&o.events, "events", nexmark.DefaultBenchEvents, "events to generate")
	flag.IntVar(&o.par, "parallelism", 1, "parallelism of every operator")
	flag.Int64Var(&o.tps, "tps", 0, "event-time rate in events per second (0: events/10, i.e. 10 s of event time)")
	flag.DurationVar(&o.checkpoint, "checkpoint", 10*time.Second, "checkpoint interval (0: no checkpoints)")
	flag.StringVar(&o.cpDir, "checkpoint-dir", "", "checkpoint directory (default: a temporary directory)")
	flag.Uint64Var(&o.seed, "seed", 0, "generator seed")
	flag.BoolVar(&o.isBaseline, "baseline", false, "run the hand-written loop instead of sluice")
	flag.IntVar(&o.reps, "reps", 3, "runs per query and engine with -all (the table shows the median)")
	flag.BoolVar(&o.markdown, "markdown", false, "with -all, print the Markdown table of docs/nexmark.md")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if o.all {
		err = runAll(ctx, o, os.Stdout)
	} else {
		err = runOne(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nexmark-bench:", err)
		os.Exit(1)
	}
}

func (o options) bench(query string) nexmark.BenchOptions {
	return nexmark.BenchOptions{Query: query, Events: o.events, Parallelism: o.par, TPS: o.tps,
		CheckpointInterval: o.checkpoint, CheckpointDir: o.cpDir, Seed: o.seed}
}

// runOne runs one query and prints its result as JSON.
func runOne(ctx context.Context, o options, w io.Writer) error {
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	run := nexmark.RunBench
	if o.isBaseline {
		run = baseline.Run
	}
	r, err := run(ctx, o.bench(o.query))
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# results=%d checksum=%x checkpoints=%d\n%s\n", r.Results, r.Checksum, r.Checkpoints, b)
	return err
}

// child runs one query in a new process and returns its result.
func child(ctx context.Context, o options, query string, isBaseline bool) (nexmark.BenchResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nexmark.BenchResult{}, err
	}
	args := []string{"-query", query, "-events", fmt.Sprint(o.events), "-parallelism", fmt.Sprint(o.par),
		"-tps", fmt.Sprint(o.tps), "-checkpoint", o.checkpoint.String(), "-seed", fmt.Sprint(o.seed)}
	if o.cpDir != "" {
		args = append(args, "-checkpoint-dir", o.cpDir)
	}
	if isBaseline {
		args = append(args, "-baseline")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nexmark.BenchResult{}, fmt.Errorf("%s %v: %w", exe, args, err)
	}
	var last, info string
	for sc := bufio.NewScanner(&out); sc.Scan(); {
		if s := strings.TrimSpace(sc.Text()); strings.HasPrefix(s, "# ") {
			info = s
		} else if s != "" {
			last = s
		}
	}
	var r nexmark.BenchResult
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return r, fmt.Errorf("result of %v: %w (%q)", args, err, last)
	}
	if _, err := fmt.Sscanf(info, "# results=%d checksum=%x checkpoints=%d", &r.Results, &r.Checksum, &r.Checkpoints); err != nil {
		return r, fmt.Errorf("result of %v: %w (%q)", args, err, info)
	}
	return r, nil
}

type row struct {
	query        string
	sluice, loop []nexmark.BenchResult
	sluiceMed    float64 // events per CPU-second, median
	loopMed      float64
	rssMax       float64
}

func runAll(ctx context.Context, o options, w io.Writer) error {
	if o.reps < 1 {
		return errors.New("-reps must be at least 1")
	}
	queries := strings.Split(o.queries, ",")
	load0 := loadAvg()
	start := time.Now()
	var rows []*row
	for _, q := range queries {
		rw := &row{query: q}
		for i := range o.reps {
			s, err := child(ctx, o, q, false)
			if err != nil {
				return err
			}
			l, err := child(ctx, o, q, true)
			if err != nil {
				return err
			}
			rw.sluice, rw.loop = append(rw.sluice, s), append(rw.loop, l)
			fmt.Fprintf(os.Stderr, "%s run %d: sluice %.0f events/CPU-s (%.1f s, %.1f CPU-s), loop %.0f events/CPU-s; load %s\n",
				q, i+1, s.EventsPerCPUSec, s.Seconds, s.CPUSeconds, l.EventsPerCPUSec, loadAvg())
		}
		rw.sluiceMed = median(rw.sluice)
		rw.loopMed = median(rw.loop)
		for _, r := range rw.sluice {
			rw.rssMax = max(rw.rssMax, float64(r.PeakRSSBytes))
		}
		rows = append(rows, rw)
	}
	load1 := loadAvg()
	if !o.markdown {
		enc := json.NewEncoder(w)
		for _, rw := range rows {
			for _, r := range rw.sluice {
				if err := enc.Encode(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return printMarkdown(w, o, rows, start, load0, load1)
}

func median(rs []nexmark.BenchResult) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = r.EventsPerCPUSec
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func printMarkdown(w io.Writer, o options, rows []*row, start time.Time, load0, load1 string) error {
	tps := o.tps
	if tps == 0 {
		tps = max(o.events/10, 1)
	}
	cp := "off"
	if o.checkpoint > 0 {
		cp = "every " + o.checkpoint.String() + " to a local directory"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "- date: %s\n", start.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %d CPUs (nproc), %s, %s/%s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- go: %s; commit: %s\n", runtime.Version(), commit())
	fmt.Fprintf(&b, "- workload: %d events per run, TPS %d (%.0f s of event time), seed %d, parallelism %d, checkpoints %s\n",
		o.events, tps, float64(o.events)/float64(tps), o.seed, o.par, cp)
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) before: %s; after: %s\n", load0, load1)
	fmt.Fprintf(&b, "- figures: events per CPU-second of the whole process (user + system), median of %d runs, each run its own process\n\n", o.reps)
	b.WriteString("| query | sluice events/CPU-s | hand loop events/CPU-s | sluice / loop | Flink 2.0 events/s per core | sluice / Flink | sluice peak RSS | checkpoints |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	logSum, n := 0.0, 0
	for _, r := range rows {
		flink, counted := flinkPerCore[r.query]
		if !counted {
			// Another plan of a query (q5-sliding): compared, not counted
			// in the mean.
			flink = flinkPerCore[strings.Split(r.query, "-")[0]]
		}
		vsFlink := r.sluiceMed / flink
		if counted {
			logSum += math.Log(vsFlink)
			n++
		}
		cps := make([]int, len(r.sluice))
		for i, x := range r.sluice {
			cps[i] = x.Checkpoints
		}
		cpRange := fmt.Sprint(slices.Min(cps))
		if slices.Max(cps) != slices.Min(cps) {
			cpRange += "–" + fmt.Sprint(slices.Max(cps))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %.1fx | %.0f MiB | %s |\n", r.query, human(r.sluiceMed), human(r.loopMed),
			r.sluiceMed/r.loopMed, human(flink), vsFlink, r.rssMax/(1<<20), cpRange)
	}
	if n > 0 {
		fmt.Fprintf(&b, "| geometric mean (%d queries) | | | | | %.1fx | | |\n", n, math.Exp(logSum/float64(n)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
