package main

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"io"
	"io/fs"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/stream"
)

// load loads a pipeline with the --set overrides, reporting mistakes. A
// mistake in the file, or a file that is not there or cannot be read as
// one, is the user's (exitUsage); another error reading it is exitFailed.
func (a *app) load(file string, sets []string) (*pipeline.Pipeline, int) {
	p, err := pipeline.Load(file, pipeline.WithEnv(a.lookupEnv), pipeline.WithSet(sets...))
	if err != nil {
		a.reportLoadError(err)
		return nil, loadExitCode(err)
	}
	return p, exitOK
}

// loadExitCode is the exit code of an error loading a pipeline file.
func loadExitCode(err error) int {
	if errors.Is(err, pipeline.ErrInvalid) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EISDIR) {
		return exitUsage
	}
	return exitFailed
}

func (a *app) reportLoadError(err error) {
	var list pipeline.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(a.stderr, e.Error())
		}
		if len(list) > 1 {
			fmt.Fprintf(a.stderr, "%d mistakes\n", len(list))
		}
		return
	}
	fmt.Fprintf(a.stderr, "sluice: %v\n", err)
}

func (a *app) plan(args []string) int {
	fs := a.newFlagSet("plan", "plan PIPELINE.yaml [--parallelism N] [--set key=value]...")
	var sets stringList
	var par positiveInt
	fs.Var(&sets, "set", "override a key of the pipeline file: `path=value` (e.g. checkpoints.interval=1s); repeatable")
	fs.Var(&par, "parallelism", "default parallelism of the job's operators (`N`), replacing the file's")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	p, code := a.load(pos[0], sets)
	if p == nil {
		return code
	}
	env, err := pipeline.Build(p, pipeline.Overrides{Parallelism: int(par)})
	if err != nil {
		a.reportLoadError(err)
		return exitUsage
	}
	if err := describeJob(a.stdout, p, env); err != nil {
		fmt.Fprintf(a.stderr, "sluice plan: %s: %v\n", pos[0], err)
		return exitUsage
	}
	return exitOK
}

// describeJob prints the plan, the job's settings and its end-to-end
// guarantee.
func describeJob(w io.Writer, p *pipeline.Pipeline, env *stream.Env) error {
	plan, err := streamhook.Plan(env)
	if err != nil {
		return err
	}
	cfg := env.Config()
	g := streamhook.Graph(env)
	fmt.Fprintf(w, "pipeline %s\n", p.File)
	fmt.Fprint(w, plan.String())
	maxPar := g.MaxParallelism
	maxNote := ""
	if maxPar == 0 {
		maxPar, maxNote = 128, " (default)"
	}
	par := g.Parallelism
	if par == 0 {
		par = 1
	}
	fmt.Fprintf(w, "parallelism %d, max parallelism %d%s\n", par, maxPar, maxNote)
	cp := cfg.Checkpoint
	if cp.Interval > 0 {
		storage := cp.Storage
		if storage == "" {
			storage = "memory (lost when the process ends: set checkpoints.storage)"
		}
		extra := []string{}
		if cp.Retain > 0 {
			extra = append(extra, fmt.Sprintf("retain %d", cp.Retain))
		}
		if cp.Timeout > 0 {
			extra = append(extra, fmt.Sprintf("timeout %v", cp.Timeout))
		}
		if cp.MinPause > 0 {
			extra = append(extra, fmt.Sprintf("min pause %v", cp.MinPause))
		}
		if cp.MaxConcurrent > 0 {
			extra = append(extra, fmt.Sprintf("max concurrent %d", cp.MaxConcurrent))
		}
		if cp.TolerableFailures != 0 {
			extra = append(extra, fmt.Sprintf("tolerable failures %d", cp.TolerableFailures))
		}
		suffix := ""
		if len(extra) > 0 {
			suffix = " (" + strings.Join(extra, ", ") + ")"
		}
		mode := cp.Mode.String()
		switch {
		case cp.Unaligned && cp.AlignedTimeout > 0:
			mode += fmt.Sprintf(", aligned then unaligned after %v of alignment", cp.AlignedTimeout)
		case cp.Unaligned:
			mode += ", unaligned"
		}
		fmt.Fprintf(w, "checkpoints every %v, %s, into %s%s\n", cp.Interval, mode, storage, suffix)
	} else {
		fmt.Fprintln(w, "checkpoints: none (add checkpoints: {interval: 10s, storage: ./checkpoints} for fault tolerance)")
	}
	switch {
	case cfg.Restart != nil:
		fmt.Fprintf(w, "restart: %s\n", cfg.Restart)
	case cp.Interval > 0:
		fmt.Fprintln(w, "restart: the runtime's default (exponential backoff from 1s up to 1m)")
	default:
		fmt.Fprintln(w, "restart: none (no checkpoints)")
	}
	fmt.Fprint(w, env.Guarantee().String())
	return nil
}
