package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// TestFaultMatrix runs the sluice binary, as a user does, through failures
// that no retry can fix, failures that keep coming back, and stops that
// cannot take their final checkpoint. Each case must end by itself (or on
// one signal) within its time bound, with the documented exit code and a
// message that says what failed, where, and what to change.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()[0]
	closed := closedPort(t)

	type signal struct {
		after  string       // send SIGTERM once stderr contains this
		before func(string) // runs just before, with the case's directory
	}
	for _, tc := range []struct {
		name   string
		yaml   string // the pipeline; {{dir}} is the case's directory
		setup  func(t *testing.T, dir string)
		args   []string      // after "run pipeline.yaml"
		signal *signal       // optional
		code   int           // expected exit code
		want   []string      // in stderr
		within time.Duration // time bound from start to exit
	}{
		{
			name: "bad record without dead letter",
			yaml: `name: bad
source: {type: file, path: "{{dir}}/in.jsonl", format: json}
sink: {type: file, path: "{{dir}}/out"}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}`,
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "in.jsonl"), "{\"key\": \"a\"}\n{\"key\": oops\n{\"key\": \"b\"}\n")
			},
			code:   exitFailed,
			want:   []string{"in.jsonl:2", "not JSON", "dead-letter", "not restarting, as a retry cannot help"},
			within: 15 * time.Second,
		},
		{
			name: "expression fails on every record",
			yaml: `name: cel
source: {type: file, path: "{{dir}}/in.jsonl", format: json}
steps:
  - map: {x: "amount + 'x'"}
sink: {type: stdout}`,
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "in.jsonl"), "{\"amount\": 1}\n{\"amount\": 2}\n")
			},
			code:   exitFailed,
			want:   []string{"steps[0].map.x", "amount + 'x'", "dead-letter"},
			within: 15 * time.Second,
		},
		{
			name: "missing input file",
			yaml: `name: nofile
source: {type: file, path: "{{dir}}/missing.jsonl"}
sink: {type: stdout}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}`,
			code:   exitFailed,
			want:   []string{"missing.jsonl", "does not exist", "check the source's path", "not restarting"},
			within: 15 * time.Second,
		},
		{
			name: "missing kafka output topic",
			yaml: `name: topic
source: {type: generator, count: 10, fields: {i: "i"}}
sink: {type: kafka, brokers: "` + brokers + `", topic: nosuchtopic}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}`,
			code:   exitFailed,
			want:   []string{"nosuchtopic", "does not exist", "create it", "not restarting"},
			within: 20 * time.Second,
		},
		{
			name: "sink that fails permanently",
			yaml: `name: sinkpath
source: {type: generator, count: 10, fields: {i: "i"}}
sink: {type: file, path: "{{dir}}/afile/out"}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}`,
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "afile"), "not a directory\n") },
			code:  exitFailed,
			want:  []string{"afile", "not a directory", "choose a path", "not restarting"},
			// The sink fails on its first record.
			within: 15 * time.Second,
		},
		{
			name: "the same transient failure three times",
			yaml: `name: unreachable
source: {type: generator, count: 10, fields: {i: "i"}}
sink: {type: kafka, brokers: "` + closed + `", topic: out, delivery_timeout: 1s}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}
restart: {strategy: fixed-delay, attempts: 100, delay: 100ms}`,
			code:   exitFailed,
			want:   []string{"failed 3 times in a row the same way", closed},
			within: 30 * time.Second,
		},
		{
			name: "signal during restart backoff",
			yaml: `name: backoff
source: {type: generator, count: 10, fields: {i: "i"}}
sink: {type: kafka, brokers: "` + closed + `", topic: out, delivery_timeout: 1s}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}
restart: {strategy: fixed-delay, attempts: 100, delay: 1h}`,
			signal: &signal{after: "job failed, restarting"},
			code:   exitStopIncomplete,
			want:   []string{"stopped without a final checkpoint", "while waiting to restart", "--restore latest"},
			within: 20 * time.Second,
		},
		{
			name: "signal while the final checkpoint cannot be written",
			yaml: `name: nofinal
source: {type: generator, rate: 200, fields: {i: "i"}}
sink: {type: file, path: "{{dir}}/out"}
checkpoints: {interval: 100ms, storage: "{{dir}}/chk"}`,
			signal: &signal{
				after: `"msg":"checkpoint completed"`,
				// The checkpoint location becomes a regular file: no
				// checkpoint can be written any more.
				before: func(dir string) {
					os.RemoveAll(filepath.Join(dir, "chk"))
					os.WriteFile(filepath.Join(dir, "chk"), []byte("x"), 0o644)
				},
			},
			code:   exitStopIncomplete,
			want:   []string{"stopped without a final checkpoint", "--restore latest"},
			within: 30 * time.Second,
		},
		{
			name: "restore path that does not exist",
			yaml: `name: norestore
source: {type: generator, count: 10, fields: {i: "i"}}
sink: {type: stdout}
checkpoints: {interval: 200ms, storage: "{{dir}}/chk"}`,
			args:   []string{"--restore", "{{dir}}/chk/chk-7"},
			code:   exitUsage,
			want:   []string{"chk-7", "no such checkpoint or savepoint"},
			within: 10 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			r := runBinary(t, bin, dir, tc.yaml, tc.args...)
			if tc.signal != nil {
				if !r.waitStderr(tc.signal.after, tc.within) {
					t.Fatalf("%q never logged; stderr:\n%s", tc.signal.after, r.stderr())
				}
				if tc.signal.before != nil {
					tc.signal.before(dir)
				}
				r.cmd.Process.Signal(syscall.SIGTERM)
			}
			code, took := r.wait(tc.within)
			stderr := r.stderr()
			if code != tc.code {
				t.Errorf("exit code %d after %v, want %d; stderr:\n%s", code, took, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if tc.code == exitUsage && strings.Contains(stderr, "end-to-end guarantee") {
				t.Errorf("a usage mistake printed the plan first:\n%s", stderr)
			}
		})
	}

	t.Run("corrupt newest checkpoint behind committed output", func(t *testing.T) {
		dir := t.TempDir()
		yaml := `name: corrupt
source: {type: generator, count: 3000, rate: 3000, fields: {user: "'u' + string(i % 5)"}}
steps:
  - key_by: user
  - aggregate: {n: count()}
sink: {type: file, path: "{{dir}}/out"}
checkpoints: {interval: 100ms, storage: "{{dir}}/chk"}`
		r := runBinary(t, bin, dir, yaml)
		if code, took := r.wait(30 * time.Second); code != exitOK {
			t.Fatalf("first run: exit %d after %v:\n%s", code, took, r.stderr())
		}

		// Starting again on the same checkpoints is a decision.
		r = runBinary(t, bin, dir, yaml)
		code, _ := r.wait(10 * time.Second)
		if code != exitUsage || !strings.Contains(r.stderr(), "--restore latest") || !strings.Contains(r.stderr(), "--fresh") {
			t.Fatalf("second run without --restore or --fresh: exit %d, want %d with the choices:\n%s", code, exitUsage, r.stderr())
		}

		newest := corruptNewest(t, filepath.Join(dir, "chk"))
		r = runBinary(t, bin, dir, yaml, "--restore", "latest")
		code, took := r.wait(20 * time.Second)
		stderr := r.stderr()
		if code != exitFailed {
			t.Errorf("restore over a corrupt checkpoint: exit %d after %v, want %d:\n%s", code, took, exitFailed, stderr)
		}
		for _, w := range []string{newest, "corrupt", "--fresh", "--restore PATH"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr does not say %q:\n%s", w, stderr)
			}
		}

		// --fresh starts over.
		r = runBinary(t, bin, dir, yaml, "--fresh")
		if code, took := r.wait(30 * time.Second); code != exitOK {
			t.Errorf("--fresh: exit %d after %v:\n%s", code, took, r.stderr())
		}
	})
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildSluice builds the sluice binary once per test process.
func buildSluice(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// binRun is the sluice binary running a pipeline.
type binRun struct {
	cmd   *exec.Cmd
	start time.Time
	mu    sync.Mutex
	buf   bytes.Buffer
	done  chan struct{}
	code  int
}

func (r *binRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *binRun) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// runBinary writes yaml (with {{dir}} replaced) to dir/pipeline.yaml and
// starts `sluice run` on it with args ({{dir}} replaced too).
func runBinary(t *testing.T, bin, dir, yaml string, args ...string) *binRun {
	t.Helper()
	p := filepath.Join(dir, "pipeline.yaml")
	write(t, p, strings.ReplaceAll(yaml, "{{dir}}", dir))
	all := []string{"run", p}
	for _, a := range args {
		all = append(all, strings.ReplaceAll(a, "{{dir}}", dir))
	}
	r := &binRun{done: make(chan struct{})}
	r.cmd = exec.Command(bin, all...)
	r.cmd.Dir = dir
	r.cmd.Stderr = r
	r.cmd.Stdout = &bytes.Buffer{}
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// wait returns the exit code and how long the run took, or kills the
// process and returns -1 if it did not end within d of its start.
func (r *binRun) wait(d time.Duration) (int, time.Duration) {
	select {
	case <-r.done:
		return r.code, time.Since(r.start)
	case <-time.After(time.Until(r.start.Add(d))):
		r.cmd.Process.Kill()
		<-r.done
		return -1, time.Since(r.start)
	}
}

// waitStderr waits until stderr contains s; false if the process ended or
// d passed since its start first.
func (r *binRun) waitStderr(s string, d time.Duration) bool {
	deadline := r.start.Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(r.stderr(), s) {
		select {
		case <-r.done:
			return strings.Contains(r.stderr(), s)
		case <-tick.C:
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	return true
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// corruptNewest changes one byte in the middle of the largest state file of
// the newest complete checkpoint in location, keeping its size, and returns
// the checkpoint's directory name.
func corruptNewest(t *testing.T, location string) string {
	t.Helper()
	st, err := storage.Open(t.Context(), location)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	infos, err := st.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	for _, in := range infos {
		if in.Kind == storage.KindCheckpoint && in.Status == storage.StatusComplete {
			newest = in.Dir
		}
	}
	if newest == "" {
		t.Fatalf("no complete checkpoint in %s", location)
	}
	entries, err := os.ReadDir(filepath.Join(location, newest))
	if err != nil {
		t.Fatal(err)
	}
	var files []os.FileInfo
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && e.Name() != "_metadata" && fi.Mode().IsRegular() && fi.Size() > 0 {
			files = append(files, fi)
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s has no state file", newest)
	}
	largest := slices.MaxFunc(files, func(a, b os.FileInfo) int { return int(a.Size() - b.Size()) })
	p := filepath.Join(location, newest, largest.Name())
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	write(t, p, string(b))
	return newest
}
