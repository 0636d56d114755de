package rabbitmq

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/internal/streamhook"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/stream"
)

func init() { crashtest.Register("rabbitmq-yaml", yamlJob) }

// yamlPrefetch bounds each of the three consumers to 20 unacknowledged
// messages, so the job reads at most 3 × 20 messages per checkpoint
// interval (100ms): prefetch is the job's rate limit (and backpressure).
const (
	yamlPrefetch = 20
	yamlRate     = 3 * yamlPrefetch * 10
)

// yamlJob runs in the child: the YAML pipeline of a queue source with
// dedupe_by at parallelism 3 (three consumers and the pipeline's keyed
// deduplication stage) into the exactly-once file sink, stopped once the
// output holds every message.
func yamlJob(ctx context.Context, e *crashtest.ChildEnv) error {
	out := filepath.Join(e.Dir, "out")
	prefetch := yamlPrefetch
	if e.Finish {
		prefetch = 2000 // the run that finishes is not slowed down
	}
	src := fmt.Sprintf(`name: rabbitmq-yaml
parallelism: 3
source:
  type: rabbitmq
  url: %q
  queue: %q
  dedupe_by: correlation_id
  prefetch: %d
  format: text
sink:
  type: file
  path: %q
  inactivity: 100ms
  max_part_age: 500ms
checkpoints:
  interval: 100ms
  storage: %q
`, e.Param("url"), e.Param("queue"), prefetch, out, e.Checkpoints)
	p, err := pipeline.Parse("rabbitmq-yaml.yaml", []byte(src))
	if err != nil {
		return err
	}
	env, err := pipeline.Build(p, pipeline.Overrides{Restore: "latest", Logger: e.Logger, Events: e.Events()})
	if err != nil {
		return err
	}
	// The harness's kill hook, and no in-process restarts (the pipeline's
	// checkpoints are those of its file).
	for _, o := range []stream.Option{func(env *stream.Env) { streamhook.SetHooks(env, e.Hooks()) }, stream.WithRestart(restart.None())} {
		o(env)
	}
	job, err := env.Start(ctx)
	if err != nil {
		return err
	}
	n := int(e.Int("n", 0))
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-job.Done():
				return
			case <-tick.C:
			}
			lines, err := visibleLines(out)
			if err != nil || len(distinct(lines)) < n {
				continue
			}
			if ready, err := readyCount(e.Param("url"), e.Param("queue")); err == nil && ready == 0 {
				_, _ = job.Stop(ctx)
				return
			}
		}
	}()
	return job.Wait()
}

var lineField = regexp.MustCompile(`"line":"([^"]*)"`)

// visibleLines returns the "line" fields of the records in the finished
// part files under dir (hidden files are in progress or pending).
func visibleLines(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() && path != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			if m := lineField.FindStringSubmatch(l); m != nil {
				out = append(out, m[1])
			} else if l != "" {
				return fmt.Errorf("%s: unexpected line %q", path, l)
			}
		}
		return nil
	})
	return out, err
}

// TestTortureYAMLKeyed: the YAML pipeline with dedupe_by at parallelism 3
// on a quorum queue, SIGKILLed again and again (also between a
// checkpoint's completion and its notification), writes every message
// exactly once.
func TestTortureYAMLKeyed(t *testing.T) {
	a := newAdmin(t)
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "rabbitmq-yaml", Kills: 4,
		MinUptime: 800 * time.Millisecond, MaxUptime: 2500 * time.Millisecond})
	n := int(cfg.JobDuration().Seconds() * yamlRate)
	q := a.queue("torture-yaml", "quorum", nil)
	a.publish(q, 0, n)
	cfg.Params = map[string]string{"url": testURL(), "queue": q, "n": strconv.Itoa(n)}
	res := crashtest.Run(t, cfg)
	t.Log(res.Summary())
	got, err := visibleLines(filepath.Join(res.Dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if d := crashtest.Compare(got, numbers(n)); !d.OK() {
		t.Fatalf("output of %d messages is not exactly once: %v", n, d)
	}
	t.Logf("%d messages exactly once", n)
}
