package crashtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment variables read by the parent.
const (
	// EnvSeed fixes the seed of the kill schedule, to reproduce a run: the
	// harness logs the seed it used.
	EnvSeed = "SLUICE_CRASHTEST_SEED"
	// EnvTorture set to "long" selects long runs (Config.LongKills);
	// `make torture` sets it.
	EnvTorture = "SLUICE_TORTURE"
	// EnvKeep set to any non-empty value keeps the run directory (data,
	// checkpoints, logs of every run) after the test, and logs its path.
	EnvKeep = "SLUICE_CRASHTEST_KEEP"
)

// Long reports whether long torture runs are asked for (SLUICE_TORTURE=long).
func Long() bool { return os.Getenv(EnvTorture) == "long" }

// Config configures Run. The zero value of every field but Job selects its
// default.
type Config struct {
	// Job is the name the job was registered under (Register).
	Job string
	// Params are handed to the job as ChildEnv.Params.
	Params map[string]string
	// Kills is how many times the job is SIGKILLed before its last run,
	// which runs to the end (default 6). Under `go test -short` at most
	// ShortKills are made.
	Kills int
	// LongKills replaces Kills when SLUICE_TORTURE=long (default the larger
	// of 100 and 20×Kills).
	LongKills int
	// MinUptime and MaxUptime bound the time from a child's start to the
	// kill of a run killed from outside; each such run draws its uptime
	// uniformly between them (defaults 300ms and 1.2s).
	MinUptime, MaxUptime time.Duration
	// HookKillProb is the probability that a run is killed inside the
	// runtime's CheckpointCompleted hook (when the checkpoint's metadata is
	// durable and no task was told that it completed) rather than from
	// outside at a random moment (default 0.35; negative: never, which also
	// means NoKillAtEnd). With two kills or more, at least one of the
	// random kills is planned in the hook.
	HookKillProb float64
	// NoKillAtEnd turns off the kill at the end: by default, with 3 kills
	// or more, the last killed run is told to finish (ChildEnv.Finish) and
	// killed in the hook when its final checkpoint completes (the one taken
	// when bounded input ends, or by Job.Stop), before that checkpoint's
	// commit. A job must end with a final checkpoint for this: a bounded
	// source, or Job.Stop once its work is done.
	NoKillAtEnd bool
	// HookKillMax: a run killed in the hook dies at its n-th checkpoint
	// completion, n uniform in [1, HookKillMax] (default 4).
	HookKillMax int
	// Timeout bounds the whole Run, all runs together (default 60s plus
	// Kills × (MaxUptime + 3s); with SLUICE_TORTURE=long a Timeout set here
	// is scaled by LongKills/Kills). A test deadline (go test -timeout)
	// shortens it. On timeout the running child is sent SIGQUIT, so its log
	// ends with a goroutine dump.
	Timeout time.Duration
	// Seed seeds the kill schedule (default random; SLUICE_CRASHTEST_SEED
	// overrides both).
	Seed uint64
	// Dir is where Run keeps the job's data, checkpoints and logs: a new
	// or empty directory (default a new directory under t.TempDir(), or a
	// kept one with SLUICE_CRASHTEST_KEEP).
	Dir string

	mode     string
	resolved bool
}

// ShortKills is the most kills Run makes under `go test -short`.
const ShortKills = 2

// Resolve returns c with its defaults and the run mode applied: the number
// of kills for -short, the CI default or SLUICE_TORTURE=long, and the seed.
// Run resolves its Config itself; call Resolve first when the job must be
// sized to the kills (see JobDuration). Resolving twice changes nothing.
func Resolve(t testing.TB, c Config) Config {
	t.Helper()
	if c.resolved {
		return c
	}
	if c.Kills <= 0 {
		c.Kills = 6
	}
	if c.LongKills <= 0 {
		c.LongKills = max(100, 20*c.Kills)
	}
	if c.MinUptime <= 0 {
		c.MinUptime = 300 * time.Millisecond
	}
	if c.MaxUptime <= 0 {
		c.MaxUptime = max(1200*time.Millisecond, c.MinUptime)
	}
	c.MaxUptime = max(c.MaxUptime, c.MinUptime)
	if c.HookKillProb == 0 {
		c.HookKillProb = 0.35
	}
	if c.HookKillMax <= 0 {
		c.HookKillMax = 4
	}
	ciKills := c.Kills
	switch {
	case Long():
		c.mode = "long"
		c.Kills = c.LongKills
	case testing.Short():
		c.mode = "short"
		c.Kills = min(c.Kills, ShortKills)
	default:
		c.mode = "ci"
	}
	if c.Timeout <= 0 {
		c.Timeout = 60*time.Second + time.Duration(c.Kills)*(c.MaxUptime+3*time.Second)
	} else if c.mode == "long" {
		c.Timeout = c.Timeout * time.Duration(c.Kills) / time.Duration(ciKills)
	}
	if s := os.Getenv(EnvSeed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("crashtest: %s=%q is not an unsigned integer", EnvSeed, s)
		}
		c.Seed = seed
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64() | 1
	}
	c.resolved = true
	return c
}

// Mode is "short", "ci" or "long" once c is resolved, "" before.
func (c Config) Mode() string { return c.mode }

// JobDuration is how long the job should take without failures so that it
// does not finish before the last kill of a resolved c: the expected total
// uptime of the runs killed from outside plus three standard deviations
// plus two seconds. A run makes at most as much progress as its uptime
// (less the start and the work since its last checkpoint), and runs killed
// in the hook are shorter, so a job at least this long almost surely
// outlives the kills.
func (c Config) JobDuration() time.Duration {
	k := float64(c.Kills)
	lo, hi := c.MinUptime.Seconds(), c.MaxUptime.Seconds()
	mean, sd := (lo+hi)/2, (hi-lo)/math.Sqrt(12)
	return time.Duration((k*mean + 3*math.Sqrt(k)*sd + 2) * float64(time.Second))
}

// Result is what Run did.
type Result struct {
	// Seed of the kill schedule (SLUICE_CRASHTEST_SEED reproduces it).
	Seed uint64
	// Mode is "short", "ci" or "long".
	Mode string
	// Dir is the job's data directory (ChildEnv.Dir), where the job left
	// its output.
	Dir string
	// CheckpointDir is the job's checkpoint directory (a plain path).
	CheckpointDir string
	// LogDir holds run-NNN.log (stdout and stderr) and run-NNN.events of
	// every run.
	LogDir string
	// Runs are the runs in order; the last one finished the job.
	Runs []RunInfo
	// Kills is the number of runs that were SIGKILLed, HookKills of them
	// in the CheckpointCompleted hook.
	Kills, HookKills int
	// FinalHookKills of the HookKills came after the final checkpoint.
	FinalHookKills int
	// Restores is the number of runs that restored a checkpoint.
	Restores int
	// Elapsed is the time all runs took.
	Elapsed time.Duration
}

// RunInfo describes one run (one child process).
type RunInfo struct {
	Index int
	// Plan is what the harness meant to do: "kill after 412ms", "kill at
	// checkpoint completion 3", "run to the end".
	Plan string
	// Killed: the run died of SIGKILL; HookKill: it killed itself in the
	// CheckpointCompleted hook, after checkpoint HookKillCheckpoint
	// completed.
	Killed, HookKill   bool
	HookKillCheckpoint int64
	// HookKillFinal: that checkpoint was the final one, taken when the
	// bounded input ended, whose completion commits everything left.
	HookKillFinal bool
	// Uptime from start to exit.
	Uptime time.Duration
	// Started: the job function was called (the child got that far).
	Started bool
	// Exit is how a run that was not killed and did not finish failed
	// ("exit status 1", "signal: segmentation fault"), "" otherwise.
	Exit string
	// Restored is the id of the checkpoint the run restored, 0 if it
	// started fresh or died before the harness recorded the restore.
	Restored int64
	// RestoredDeltas is the number of keyed-state files of that checkpoint
	// that are incremental deltas (runtime.CheckpointConfig.Incremental).
	RestoredDeltas int
	// Completed are the ids of the checkpoints completed in this run, in
	// order.
	Completed []int64
	// Aborted is the number of checkpoints aborted in this run.
	Aborted int
	// Log is the run's log file (stdout and stderr).
	Log string
}

func (r RunInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d: %s; ", r.Index, r.Plan)
	switch {
	case r.HookKill:
		fmt.Fprintf(&b, "killed itself in the hook after checkpoint %d", r.HookKillCheckpoint)
		if r.HookKillFinal {
			b.WriteString(" (the final checkpoint)")
		}
	case r.Killed:
		b.WriteString("killed")
	case r.Exit != "":
		b.WriteString("failed (" + r.Exit + ")")
	default:
		b.WriteString("finished")
	}
	fmt.Fprintf(&b, " after %v", r.Uptime.Round(time.Millisecond))
	switch {
	case !r.Started:
		b.WriteString("; died before the job started")
	case r.Restored != 0:
		fmt.Fprintf(&b, "; restored %d", r.Restored)
	case len(r.Completed) > 0 || !r.Killed:
		b.WriteString("; fresh")
	default:
		b.WriteString("; no restore recorded")
	}
	if n := len(r.Completed); n > 0 {
		fmt.Fprintf(&b, "; completed %d checkpoints (%d..%d)", n, r.Completed[0], r.Completed[n-1])
	}
	if r.Aborted > 0 {
		fmt.Fprintf(&b, "; %d aborted", r.Aborted)
	}
	return b.String()
}

// Summary is one line per run.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs, %d kills (%d in the checkpoint-completed hook, %d of them after the final checkpoint), %d restores, %v, seed %d (%s mode)\n",
		len(r.Runs), r.Kills, r.HookKills, r.FinalHookKills, r.Restores, r.Elapsed.Round(time.Millisecond), r.Seed, r.Mode)
	for _, ri := range r.Runs {
		b.WriteString("  " + ri.String() + "\n")
	}
	return b.String()
}

// Run runs the registered job cfg.Job as a child process (the test binary
// re-executed; its TestMain must call Main), SIGKILLs it cfg.Kills times at
// random moments, from outside or inside the CheckpointCompleted hook,
// restarting it after each kill from its latest complete checkpoint, and
// lets the last run finish. It fails the test, with the end of the
// offending run's log, if a run fails otherwise, dies of a signal the
// harness did not cause, finishes before all kills were made, restores an
// older checkpoint than the newest one completed, reuses a checkpoint id,
// or the whole takes longer than cfg.Timeout. The caller then checks the
// job's output in Result.Dir.
func Run(t testing.TB, cfg Config) *Result {
	t.Helper()
	if !supported {
		t.Skip("crashtest: SIGKILL crash tests need a unix system")
	}
	if IsChild() {
		t.Fatal("crashtest.Run called in a child process")
	}
	cfg = Resolve(t, cfg)
	if _, ok := lookup(cfg.Job); !ok {
		t.Fatalf("crashtest: job %q is not registered (registered: %v)", cfg.Job, registered())
	}
	regMu.Lock()
	inUse := mainInUse
	regMu.Unlock()
	if !inUse {
		t.Fatal("crashtest: the package's TestMain must call crashtest.Main(m), or children cannot run the job")
	}
	params, err := json.Marshal(cfg.Params)
	if err != nil {
		t.Fatalf("crashtest: params: %v", err)
	}
	root := cfg.Dir
	if root == "" {
		if os.Getenv(EnvKeep) != "" {
			if root, err = os.MkdirTemp("", "crashtest-"+fileSafe(cfg.Job)+"-"); err != nil {
				t.Fatal(err)
			}
			t.Logf("crashtest: keeping %s", root)
		} else {
			root = t.TempDir()
		}
	}
	if root, err = filepath.Abs(root); err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, cfg: cfg, params: string(params),
		res: &Result{
			Seed: cfg.Seed, Mode: cfg.mode,
			Dir:           filepath.Join(root, "data"),
			CheckpointDir: filepath.Join(root, "checkpoints"),
			LogDir:        filepath.Join(root, "logs"),
		},
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x736c75696365)),
	}
	for _, d := range []string{h.res.Dir, h.res.CheckpointDir, h.res.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	h.deadline = start.Add(cfg.Timeout)
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := tt.Deadline(); ok && d.Add(-10*time.Second).Before(h.deadline) {
			h.deadline = d.Add(-10 * time.Second)
		}
	}
	t.Logf("crashtest: job %q, %d kills (%s mode), seed %d (%s=%d reproduces the kill schedule), directory %s",
		cfg.Job, cfg.Kills, cfg.mode, cfg.Seed, EnvSeed, cfg.Seed, root)
	for i := 0; ; i++ {
		plan := h.plan(i)
		ri, err := h.runOnce(plan)
		h.res.Elapsed = time.Since(start)
		h.res.Runs = append(h.res.Runs, ri)
		if err == nil {
			err = h.check(i)
		}
		if err != nil {
			lines, size := 60, 16<<10
			if h.timedOut {
				lines, size = 2000, 256<<10 // the goroutine dump
			}
			t.Fatalf("crashtest: %v\n%s\n--- end of %s ---\n%s", err, h.res.Summary(), ri.Log, tail(ri.Log, lines, size))
		}
		if ri.Killed {
			h.res.Kills++
			if ri.HookKill {
				h.res.HookKills++
			}
			if ri.HookKillFinal {
				h.res.FinalHookKills++
			}
		}
		if ri.Restored != 0 {
			h.res.Restores++
		}
		if plan.final {
			break
		}
	}
	t.Logf("crashtest: %s", h.res.Summary())
	t.Cleanup(func() {
		if t.Failed() {
			last := h.res.Runs[len(h.res.Runs)-1].Log
			t.Logf("crashtest: the test failed after these runs; logs in %s (set %s=1 to keep them)\n--- end of %s ---\n%s",
				h.res.LogDir, EnvKeep, last, tail(last, 30, 8<<10))
		}
	})
	return h.res
}

type harness struct {
	t        testing.TB
	cfg      Config
	params   string
	res      *Result
	rng      *rand.Rand
	deadline time.Time
	events   []runEvents
	timedOut bool
	// hookPlanned: a run was planned to die in the hook.
	hookPlanned bool
}

type runPlan struct {
	index     int
	final     bool          // the last run: nothing kills it
	finish    bool          // the run should reach the end (ChildEnv.Finish)
	atEnd     bool          // the kill-at-end run
	killAfter time.Duration // kill from outside after this uptime (0: no)
	killAt    int           // kill in the hook at this completion (0: no)
	fallback  time.Duration // kill from outside if the hook kill did not come
	seed      uint64
}

func (p runPlan) String() string {
	switch {
	case p.final:
		return "run to the end"
	case p.atEnd:
		return "kill at the end (when the final checkpoint completes, before its commit)"
	case p.killAt > 0:
		return fmt.Sprintf("kill at checkpoint completion %d", p.killAt)
	}
	return fmt.Sprintf("kill after %v", p.killAfter.Round(time.Millisecond))
}

// plan draws what happens in run i. Every run draws the same numbers
// whatever its kind, so that the schedule of a seed does not depend on
// anything but the seed.
func (h *harness) plan(i int) runPlan {
	c := h.cfg
	hook := h.rng.Float64() < c.HookKillProb
	uptime := c.MinUptime + time.Duration(h.rng.Int64N(int64(c.MaxUptime-c.MinUptime)+1))
	n := 1 + h.rng.IntN(c.HookKillMax)
	p := runPlan{index: i, seed: h.rng.Uint64(), final: i >= c.Kills}
	killAtEnd := c.HookKillProb > 0 && !c.NoKillAtEnd && c.Kills >= 3
	lastRandom := c.Kills - 1
	if killAtEnd {
		lastRandom--
	}
	if c.HookKillProb > 0 && c.Kills >= 2 && i == lastRandom && !h.hookPlanned {
		hook = true // at least one kill in the hook
	}
	switch {
	case p.final:
		p.finish = true
	case killAtEnd && i == c.Kills-1:
		p.finish, p.atEnd = true, true
		p.fallback = 3*c.MaxUptime + 5*time.Second
	case hook:
		h.hookPlanned = true
		p.killAt = n
		p.fallback = 3*c.MaxUptime + 5*time.Second
	default:
		p.killAfter = uptime
	}
	return p
}

// runOnce starts run p and waits for its end.
func (h *harness) runOnce(p runPlan) (RunInfo, error) {
	ri := RunInfo{Index: p.index, Plan: p.String(),
		Log: filepath.Join(h.res.LogDir, fmt.Sprintf("run-%03d.log", p.index))}
	evPath := filepath.Join(h.res.LogDir, fmt.Sprintf("run-%03d.events", p.index))
	if time.Until(h.deadline) <= 0 {
		return ri, fmt.Errorf("timed out (Config.Timeout %v) before run %d", h.cfg.Timeout, p.index)
	}
	lf, err := os.Create(ri.Log)
	if err != nil {
		return ri, err
	}
	defer lf.Close()
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	// -test.run=^$: should TestMain not hand over to Main, the child runs
	// no test, exits 0 without the job's "done" event, and Run says why.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envJob+"="+h.cfg.Job,
		envRun+"="+strconv.Itoa(p.index),
		envDir+"="+h.res.Dir,
		envCheckpoints+"=file://"+filepath.ToSlash(h.res.CheckpointDir),
		envEvents+"="+evPath,
		envParams+"="+h.params,
		envKillAt+"="+strconv.Itoa(p.killAt),
		envKillFinal+"="+map[bool]string{true: "1", false: "0"}[p.atEnd],
		envRunSeed+"="+strconv.FormatUint(p.seed, 10),
		envFinish+"="+map[bool]string{true: "1", false: "0"}[p.finish],
		envDeadline+"="+h.deadline.Add(5*time.Second).Format(time.RFC3339Nano),
	)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr()

	started := make(chan error, 1)
	exited := make(chan error, 1)
	begin := time.Now()
	go func() {
		// Pdeathsig fires when the thread that started the child ends:
		// keep that thread until the child is gone.
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return ri, fmt.Errorf("start run %d: %w", p.index, err)
	}
	var kill, fallback <-chan time.Time
	if p.killAfter > 0 {
		tm := time.NewTimer(p.killAfter)
		defer tm.Stop()
		kill = tm.C
	}
	if p.fallback > 0 {
		tm := time.NewTimer(p.fallback)
		defer tm.Stop()
		fallback = tm.C
	}
	dl := time.NewTimer(time.Until(h.deadline))
	defer dl.Stop()
	sentKill, timedOut := false, false
	var werr error
wait:
	for {
		select {
		case werr = <-exited:
			break wait
		case <-kill:
			kill = nil
			sentKill = true
			cmd.Process.Kill()
		case <-fallback:
			fallback = nil
			sentKill = true
			ri.Plan += fmt.Sprintf(" (no kill in the hook after %v: killed from outside)", p.fallback)
			cmd.Process.Kill()
		case <-dl.C:
			timedOut = true
			h.timedOut = true
			quit(cmd.Process)
			select {
			case werr = <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				werr = <-exited
			}
			break wait
		}
	}
	ri.Uptime = time.Since(begin)
	ev, rerr := readEvents(evPath)
	h.events = append(h.events, ev)
	ri.Started, ri.Restored, ri.Completed, ri.Aborted = ev.started, ev.restored, ev.completed, ev.aborted
	ri.RestoredDeltas = ev.restDeltas
	if rerr != nil {
		return ri, fmt.Errorf("run %d: read event log: %w", p.index, rerr)
	}
	if timedOut {
		ri.Exit = "timed out"
		return ri, fmt.Errorf("run %d (%s) was still running at the deadline (Config.Timeout %v or the test's deadline): sent SIGQUIT, see the goroutine dump below",
			p.index, p.String(), h.cfg.Timeout)
	}
	switch {
	case werr == nil:
		if !ev.started || !ev.done {
			return ri, fmt.Errorf("run %d exited 0 without running job %q: does TestMain call crashtest.Main(m)?", p.index, h.cfg.Job)
		}
		if len(ev.completed) == 0 {
			// A job that finishes with checkpointing on completes at least
			// its final checkpoint.
			return ri, fmt.Errorf("run %d finished without a checkpoint completing through the harness's hook: the job must checkpoint with ChildEnv.Options (or ChildEnv.Configure)", p.index)
		}
		if !p.final {
			return ri, fmt.Errorf("the job finished in run %d, after %d of %d kills: make it run longer without failures (at least Config.JobDuration() = %v)",
				p.index, p.index, h.cfg.Kills, h.cfg.JobDuration().Round(time.Millisecond))
		}
		return ri, nil
	case killedBySIGKILL(werr) && ev.hookKill != 0:
		ri.Killed, ri.HookKill, ri.HookKillCheckpoint, ri.HookKillFinal = true, true, ev.hookKill, ev.hookKillFinal
	case killedBySIGKILL(werr) && sentKill:
		ri.Killed = true
	case killedBySIGKILL(werr):
		return ri, fmt.Errorf("run %d died of a SIGKILL the harness did not send (out of memory?)", p.index)
	default:
		ri.Exit = werr.Error()
		msg := ""
		if ev.jobErr != "" {
			msg = ": job error: " + ev.jobErr
		}
		return ri, fmt.Errorf("run %d (%s) failed: %v%s", p.index, p.String(), werr, msg)
	}
	if ev.restarts > 0 {
		return ri, fmt.Errorf("run %d restarted the job in-process %d times: a failure other than the harness's kills", p.index, ev.restarts)
	}
	return ri, nil
}

// check holds run i to the recovery contract: it restores the newest
// checkpoint completed before it (or a newer one whose completion the
// harness did not see), and checkpoint ids only grow.
func (h *harness) check(i int) error {
	ev := h.events[i]
	var newest int64
	for _, e := range h.events[:i] {
		for _, id := range e.completed {
			newest = max(newest, id)
		}
	}
	if ev.restored != 0 && ev.restored < newest {
		return fmt.Errorf("run %d restored checkpoint %d (%s), but checkpoint %d had completed before: restore \"latest\" went back in time",
			i, ev.restored, ev.restPath, newest)
	}
	if newest > 0 && ev.restored == 0 && (len(ev.completed) > 0 || ev.done) {
		return fmt.Errorf("run %d started fresh, but checkpoint %d had completed before", i, newest)
	}
	prev := max(ev.restored, newest)
	for _, id := range ev.completed {
		if id <= prev {
			return fmt.Errorf("run %d completed checkpoint %d after checkpoint %d: checkpoint ids must grow, across runs too", i, id, prev)
		}
		prev = id
	}
	return nil
}

// tail returns at most the last n lines and max bytes of the file at path.
func tail(path string, n, maxBytes int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
