package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/runtime"
)

// progressLogInterval is how often `run` logs the record counts when
// stderr is not a terminal (app.progressEvery overrides it in tests).
const progressLogInterval = 10 * time.Second

// exitStopIncomplete is the exit code of a job that was asked to stop
// (SIGINT/SIGTERM) and ended without its final checkpoint: it failed, did
// not complete within the stop timeout, or the job was waiting to restart.
// What the last complete checkpoint committed stands; --restore latest
// resumes from there.
const exitStopIncomplete = 3

func (a *app) run(args []string) int {
	fs := a.newFlagSet("run", "run PIPELINE.yaml [--restore latest|PATH | --fresh] [--parallelism N] [--set key=value]... [--allow-non-restored-state] [--http ADDR|off]")
	var (
		sets     stringList
		par      positiveInt
		restore  string
		allowNRS bool
		fresh    bool
		level    string
		httpAddr string
	)
	fs.StringVar(&restore, "restore", "", "start from `latest` (the newest complete checkpoint in the pipeline's checkpoint storage, or fresh when there is none) or from the PATH of a checkpoint or savepoint")
	fs.Var(&par, "parallelism", "default parallelism of the job's operators (`N`), replacing the file's")
	fs.Var(&sets, "set", "override a key of the pipeline file: `path=value` (e.g. checkpoints.interval=1s); repeatable")
	fs.BoolVar(&fresh, "fresh", false, "start over although the checkpoint storage holds checkpoints of an earlier run (output the earlier run delivered is delivered again)")
	fs.BoolVar(&allowNRS, "allow-non-restored-state", false, "let a restore drop the state of operators the pipeline no longer has")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&httpAddr, "http", ops.DefaultAddr, httpFlagHelp)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	if fresh && restore != "" {
		fmt.Fprintf(a.stderr, "sluice run: --fresh and --restore %s contradict each other: choose one\n", restore)
		return exitUsage
	}
	if err := checkRestorePath(restore); err != nil {
		fmt.Fprintf(a.stderr, "sluice run: --restore %s: %v\n", restore, err)
		return exitUsage
	}
	if err := a.checkHTTPAddr(httpAddr); err != nil {
		fmt.Fprintf(a.stderr, "sluice run: --http: %v\n", err)
		return exitUsage
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(a.stderr, "sluice run: --log-level %q: use debug, info, warn or error\n", level)
		return exitUsage
	}
	p, code := a.load(pos[0], sets)
	if p == nil {
		return code
	}

	prog := newProgress(a.stderr, a.terminal)
	prog.width = a.width
	var handler slog.Handler
	if a.terminal {
		handler = terminalHandler{slog.NewTextHandler(prog, &slog.HandlerOptions{Level: lvl}), lvl <= slog.LevelDebug}
	} else {
		handler = slog.NewJSONHandler(prog, &slog.HandlerOptions{Level: lvl})
	}
	logger := slog.New(handler)
	events := make(chan runtime.JobEvent, 256)
	env, err := pipeline.Build(p, pipeline.Overrides{
		Parallelism: int(par), Restore: restore, AllowNonRestoredState: allowNRS, Fresh: fresh,
		Logger: logger, Events: events, Stdout: a.stdout,
	})
	if err != nil {
		a.reportLoadError(err)
		return exitUsage
	}
	if restore != "" && env.Config().Checkpoint.Storage == "" && restore == "latest" {
		fmt.Fprintf(a.stderr, "sluice run: --restore latest needs checkpoints.storage in %s\n", p.File)
		return exitUsage
	}
	prog.noCheckpts = env.Config().Checkpoint.Interval <= 0 // before the job's goroutines log
	if err := describeJob(prog, p, env); err != nil {
		fmt.Fprintf(a.stderr, "sluice run: %s: %v\n", p.File, err)
		return exitUsage
	}

	sigs := a.signals
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		prog.finish()
		if errors.Is(err, runtime.ErrCheckpointsExist) {
			fmt.Fprintf(a.stderr, "sluice run: %v\n", err)
			return exitUsage
		}
		logger.Error("the job did not start", "err", err)
		if errors.Is(err, runtime.ErrConfig) {
			return exitUsage
		}
		return exitFailed
	}
	srv, err := a.serveJob(job, env, httpAddr, logger)
	if err != nil {
		cancel()
		<-job.Done()
		prog.finish()
		fmt.Fprintf(a.stderr, "sluice run: --http %s: %v\n", httpAddr, err)
		return exitUsage
	}
	if srv != nil {
		defer srv.Close()
	}
	plan, _ := streamhook.Plan(env) // compiled above by describeJob
	prog.start(p.Name, plan, job.Metrics)

	// On a terminal the status line is redrawn every second; otherwise
	// the record counts are logged every progressLogInterval.
	var tick, logTick <-chan time.Time
	if a.terminal {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	} else {
		every := a.progressEvery
		if every <= 0 {
			every = progressLogInterval
		}
		t := time.NewTicker(every)
		defer t.Stop()
		logTick = t.C
	}
	type stopResult struct {
		path string
		err  error
	}
	var (
		stopping     bool
		noFinal      bool
		stopReported bool // the result of Stop was received
		stopDone     = make(chan stopResult, 1)
	)
	for {
		select {
		case <-job.Done():
			err := job.Wait()
			if stopping && !noFinal && !stopReported {
				// Stop returns once the job ended: say how the stop went
				// before how the job ended.
				if r := <-stopDone; r.err == nil {
					logger.Info("final checkpoint completed", "path", r.path)
				}
			}
			prog.finish()
			logger.Info("progress", prog.attrs()...)
			switch {
			case err != nil && stopping && noFinal && errors.Is(err, context.Canceled):
				logger.Warn("job stopped without a final checkpoint (it takes none)", "elapsed", prog.elapsed())
				return exitOK
			case errors.Is(err, runtime.ErrStopIncomplete):
				logger.Error("job stopped without a final checkpoint: the output of the last complete checkpoint stands; resume with --restore latest",
					"err", err, "elapsed", prog.elapsed())
				return exitStopIncomplete
			case err != nil:
				logger.Error("job failed", "err", err, "elapsed", prog.elapsed())
				return exitFailed
			}
			logger.Info("job finished", "elapsed", prog.elapsed())
			return exitOK
		case ev := <-events:
			prog.event(ev)
			if ev.Kind == "restored" {
				logger.Info("restored", "checkpoint", ev.CheckpointID, "path", ev.Path)
			}
		case sig := <-sigs:
			if stopping {
				prog.finish()
				fmt.Fprintf(a.stderr, "sluice: second %v: exiting at once, without a final checkpoint\n", sig)
				return exitSignaled
			}
			stopping = true
			logger.Info("stopping: taking a final checkpoint (send the signal again to exit at once)", "signal", sig.String())
			prog.setStopping()
			go func() {
				path, err := job.Stop(ctx)
				stopDone <- stopResult{path, err}
			}()
		case r := <-stopDone:
			stopReported = true
			switch {
			case r.err == nil:
				logger.Info("final checkpoint completed", "path", r.path)
			case errors.Is(r.err, runtime.ErrConfig):
				noFinal = true
				cancel()
			default:
				// Stop has ended the job without its final checkpoint;
				// Wait says why.
			}
		case <-tick:
			prog.draw()
		case <-logTick:
			logger.Info("progress", prog.attrs()...)
		}
	}
}

// checkRestorePath returns an error if restore names a local checkpoint or
// savepoint directory that does not exist, so that the mistake is reported
// before anything starts. Object-store locations are checked by the job.
func checkRestorePath(restore string) error {
	if restore == "" || restore == "latest" {
		return nil
	}
	path := restore
	if rest, ok := strings.CutPrefix(restore, "file://"); ok {
		path = rest
	} else if strings.Contains(restore, "://") {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such checkpoint or savepoint directory (give latest, or the path of a chk-N or savepoint directory; sluice checkpoints LOCATION lists them)")
	case err != nil:
		return err
	case !fi.IsDir():
		return errors.New("not a directory: give the path of a chk-N or savepoint directory")
	}
	return nil
}
