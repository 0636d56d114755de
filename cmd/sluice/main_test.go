package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/sluicehq/sluice/connector"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/sluicetest"
)

// sluice runs the command in-process.
func sluice(t *testing.T, vars map[string]string, sigs <-chan os.Signal, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb sluicetest.Buffer
	a := &app{stdout: &out, stderr: &errb, signals: sigs,
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	code = a.main(args)
	return out.String(), errb.String(), code
}

// running is a command running in-process, started by start.
type running struct {
	stdout, stderr sluicetest.Buffer
	sigs           chan os.Signal
	done           chan int // the exit code
}

// start runs the command in-process in the background. A job logs its
// progress every 20 ms.
func start(t *testing.T, vars map[string]string, args ...string) *running {
	t.Helper()
	r := &running{sigs: make(chan os.Signal, 2), done: make(chan int, 1)}
	a := &app{stdout: &r.stdout, stderr: &r.stderr, signals: r.sigs, progressEvery: 20 * time.Millisecond,
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	go func() { r.done <- a.main(args) }()
	return r
}

// waitFor polls cond until it holds; it fails the test if the command
// ended first or a minute passed.
func (r *running) waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("the command ended (exit %d) before %s\n%s", code, what, r.stderr.String())
		case <-deadline:
			r.sigs <- syscall.SIGINT
			r.sigs <- syscall.SIGINT
			t.Fatalf("timed out waiting for %s\n%s", what, r.stderr.String())
		case <-tick.C:
		}
	}
}

// wait returns the command's exit code, failing the test after a minute.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		return code
	case <-time.After(time.Minute):
		t.Fatalf("the command did not end\n%s", r.stderr.String())
		return -1
	}
}

func exampleVars(dir string) map[string]string {
	return map[string]string{"INPUT": filepath.Join(dir, "in"), "OUTPUT": filepath.Join(dir, "out"),
		"CHECKPOINTS": filepath.Join(dir, "ck"), "BROKERS": "127.0.0.1:1", "IN_TOPIC": "in", "OUT_TOPIC": "out"}
}

func TestPlanExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, want := range []string{"flagship.yaml", "keyed-count-files.yaml", "keyed-count-kafka.yaml"} {
		if !slices.Contains(files, "../../examples/"+want) {
			t.Errorf("examples/%s is missing", want)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, errOut, code := sluice(t, exampleVars(t.TempDir()), nil, "plan", f)
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			interval, guarantee := exampleExpectations(t, f)
			for _, w := range []string{"job \"", "parallelism=", "checkpoints every " + interval, "end-to-end guarantee: " + guarantee} {
				if !strings.Contains(out, w) {
					t.Errorf("plan output lacks %q:\n%s", w, out)
				}
			}
			// The flagship's chain forks into its two branches: the plan
			// must show the fork, not a line through both.
			if f == "../../examples/flagship.yaml" && !strings.Contains(out, "Check event time -> (2), (3)") {
				t.Errorf("plan output does not show the forked chain:\n%s", out)
			}
		})
	}
}

func TestPlanParallelismOverride(t *testing.T) {
	out, errOut, code := sluice(t, exampleVars(t.TempDir()), nil, "plan", "--parallelism", "3", "../../examples/keyed-count-files.yaml", "--set", "checkpoints.interval=2s")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "parallelism=3") || !strings.Contains(out, "checkpoints every 2s") {
		t.Errorf("overrides not applied:\n%s", out)
	}
}

func TestConnectors(t *testing.T) {
	out, _, code := sluice(t, nil, nil, "connectors")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	want := []string{"| connector | role |", "| collection | source |", "| stdout | sink |", "In YAML pipelines: sources"}
	// Every connector a connector package registers is in the table.
	reg := regexp.MustCompile(`(?s)connector\.Register\(connector\.Info\{\s*Name:\s*"([^"]+)",\s*Role:\s*"([^"]+)"`)
	files, _ := filepath.Glob("../../connector/*/*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range reg.FindAllSubmatch(b, -1) {
			want = append(want, fmt.Sprintf("| %s | %s |", m[1], m[2]))
		}
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("connectors output lacks %q:\n%s", w, out)
		}
	}
}

// TestEveryConnectorLinked checks that every connector package is
// imported by the command, so that its init registers it.
func TestEveryConnectorLinked(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../internal/catalog/catalog.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var imported []string
	for _, im := range f.Imports {
		imported = append(imported, strings.Trim(im.Path.Value, `"`))
	}
	dirs, _ := filepath.Glob("../../connector/*")
	for _, d := range dirs {
		gos, _ := filepath.Glob(filepath.Join(d, "*.go"))
		hasCode := false
		for _, g := range gos {
			if !strings.HasSuffix(g, "_test.go") {
				hasCode = true
			}
		}
		if !hasCode || filepath.Base(d) == "connectortest" {
			continue
		}
		pkg := "github.com/sluicehq/sluice/connector/" + filepath.Base(d)
		if !slices.Contains(imported, pkg) {
			t.Errorf("internal/catalog/catalog.go does not import %s: add `_ %q`", pkg, pkg)
		}
	}
}

// TestConfigErrors checks one mistake of each kind: the message names the
// file, line and key, and the exit status is 2.
func TestConfigErrors(t *testing.T) {
	good := "source:\n  type: generator\n  count: 3\n  fields: {n: i}\nsink:\n  type: stdout\n"
	cases := []struct {
		name, yaml string
		want       string
	}{
		{"unknown key", good + "checkpoints:\n  intervall: 1s\n", `bad.yaml:8: checkpoints.intervall: unknown key (did you mean "interval"?); allowed here: interval, mode, storage`},
		{"wrong type", strings.Replace(good, "count: 3", "count: [3]", 1), `bad.yaml:3: source.count: expected an integer, got a list`},
		{"bad CEL", good + "steps:\n  - filter: n >> 2\n", `bad.yaml:8: steps[0].filter: bad CEL expression "n >> 2": Syntax error`},
		{"unknown connector", strings.Replace(good, "type: stdout", "type: kafak", 1), `bad.yaml:6: sink.type: unknown sink type "kafak" (did you mean "kafka"?); use one of: ` + strings.Join(connector.SinkTypeNames(), ", ")},
		{"missing variable", good + "checkpoints: {interval: 1s, storage: \"${NO_SUCH_VAR}/x\"}\n", `bad.yaml:7: checkpoints.storage: environment variable NO_SUCH_VAR is not set; set it, or give a default: ${NO_SUCH_VAR:-value}`},
		{"bad duration", good + "checkpoints: {interval: 10x}\n", `bad.yaml:7: checkpoints.interval: "10x" is not a duration; use e.g. 10s, 1m`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(f, []byte(tc.yaml), 0o644)
			for _, cmd := range []string{"plan", "run"} {
				_, errOut, code := sluice(t, nil, nil, cmd, f)
				if code != exitUsage {
					t.Errorf("%s: exit %d, want %d", cmd, code, exitUsage)
				}
				if !strings.Contains(errOut, filepath.Dir(f)+"/"+tc.want) {
					t.Errorf("%s: stderr\n%s\nlacks %q", cmd, errOut, tc.want)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"run"}, {"plan", "a", "b"}, {"run", "--parallelism", "0", "x.yaml"}, {"checkpoints"}} {
		if _, _, code := sluice(t, nil, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestPipelineFileErrors: a pipeline file that is not there, or is not a
// file, is a usage mistake (exit 2), reported alone: nothing else is
// printed.
func TestPipelineFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(dir, "no-such-file.yaml"), "no-such-file.yaml: no such file or directory"},
		{"directory", dir, "is a directory"},
	} {
		for _, cmd := range []string{"plan", "run"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				out, errOut, code := sluice(t, nil, nil, cmd, tc.file)
				if code != exitUsage {
					t.Errorf("exit %d, want %d", code, exitUsage)
				}
				if out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
					t.Errorf("stdout %q, stderr %q: want only one line on stderr with %q", out, errOut, tc.want)
				}
			})
		}
	}
}

// TestRunFlagship runs the flagship example, shortened, to its end.
func TestRunFlagship(t *testing.T) {
	dir := t.TempDir()
	vars := exampleVars(dir)
	_, errOut, code := sluice(t, vars, nil, "run", "../../examples/flagship.yaml", "--set", "source.count=700", "--set", "source.rate=0")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, w := range []string{`job \"flagship\"`, "end-to-end guarantee: exactly-once", `"msg":"job finished"`} {
		if !strings.Contains(errOut, strings.ReplaceAll(w, `\"`, `"`)) && !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	// The last progress record has the final counts.
	checkProgressLog(t, errOut, map[string]int64{"generator.out": 700, "Aggregate(clicks, last_page).in": 700, "file (user-clicks).in": 700})
	views := readRecords(t, filepath.Join(vars["OUTPUT"], "page-views"))
	total := int64(0)
	for _, r := range views {
		total += r["views"].(int64)
	}
	if total != 700 {
		t.Errorf("page views add up to %d, want 700", total)
	}
	clicks := readRecords(t, filepath.Join(vars["OUTPUT"], "user-clicks"))
	if len(clicks) != 700 {
		t.Errorf("%d user-click records, want one per click (700)", len(clicks))
	}
	last := map[string]int64{}
	for _, r := range clicks {
		last[r["user"].(string)] = max(last[r["user"].(string)], r["clicks"].(int64))
	}
	if last["user-0"] != 100 || len(last) != 7 {
		t.Errorf("final counts %v; want 7 users with 100 clicks each", last)
	}
	// The checkpoints are there, the last one complete.
	out, _, code := sluice(t, nil, nil, "checkpoints", vars["CHECKPOINTS"])
	if code != exitOK || !strings.Contains(out, "complete") {
		t.Errorf("checkpoints: exit %d\n%s", code, out)
	}
}

func readRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no part files in %s", dir)
	}
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		for dec.More() {
			var r map[string]any
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for k, v := range r {
				if n, ok := v.(json.Number); ok {
					if i, err := n.Int64(); err == nil {
						r[k] = i
					}
				}
			}
			out = append(out, r)
		}
	}
	return out
}

func TestRunRestoreLatestStartsFresh(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := sluice(t, exampleVars(dir), nil, "run", "../../examples/flagship.yaml",
		"--restore", "latest", "--set", "source.count=10", "--set", "source.rate=0")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "starting fresh") {
		t.Errorf("stderr does not say the job starts fresh:\n%s", errOut)
	}
}

const unbounded = `name: forever
source:
  type: generator
  rate: 2000
  fields: {key: "'k' + string(i % 5)"}
steps:
  - key_by: key
  - aggregate: {count: count()}
sink:
  type: file
  path: ${OUTPUT}
checkpoints:
  interval: 200ms
  storage: ${CHECKPOINTS}
`

// TestSignalsInProcess: the first signal stops with a final checkpoint
// (exit 0); two signals at once exit at once with 130.
func TestSignalsInProcess(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "forever.yaml")
	os.WriteFile(f, []byte(unbounded), 0o644)
	vars := exampleVars(dir)

	// Once a checkpoint completed, the job runs and stops with a final one.
	r := start(t, vars, "run", f)
	r.waitFor(t, func() bool { return strings.Contains(r.stderr.String(), `"msg":"checkpoint completed"`) }, "a checkpoint")
	r.sigs <- syscall.SIGTERM
	if code, errOut := r.wait(t), r.stderr.String(); code != exitOK || !strings.Contains(errOut, "final checkpoint completed") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}

	sigs := make(chan os.Signal, 2)
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGINT
	_, errOut, code := sluice(t, vars, sigs, "run", f, "--restore", "latest")
	if code != exitSignaled || !strings.Contains(errOut, "exiting at once") {
		t.Fatalf("two signals: exit %d\n%s", code, errOut)
	}
}

// TestSIGTERMBinary builds the command, stops an unbounded pipeline with
// SIGTERM (exit 0 after a final checkpoint), restarts it with --restore
// latest and stops it again: the committed output counts every key
// 1, 2, 3... without a gap or a duplicate.
func TestSIGTERMBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice")
	build := execCommand(context.Background(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := filepath.Join(dir, "forever.yaml")
	// Part files roll at every checkpoint (max_part_age), so that output
	// becomes visible while the job runs.
	os.WriteFile(f, []byte(strings.Replace(unbounded, "path: ${OUTPUT}", "path: ${OUTPUT}\n  max_part_age: 1ms", 1)), 0o644)
	vars := exampleVars(dir)
	stopAfterCheckpoints := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := execCommand(ctx, bin, append([]string{"run", f}, args...)...)
		cmd.Env = append(os.Environ(), "OUTPUT="+vars["OUTPUT"], "CHECKPOINTS="+vars["CHECKPOINTS"])
		stderr := &sluicetest.Buffer{}
		cmd.Stderr = stderr
		cmd.Stdout = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.After(time.Minute)
		for strings.Count(stderr.String(), `"msg":"checkpoint completed"`) < 3 {
			select {
			case err := <-exited:
				t.Fatalf("sluice run ended early: %v\n%s", err, stderr)
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("no checkpoint completed:\n%s", stderr)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err != nil {
			t.Fatalf("sluice run: %v (want exit 0)\n%s", err, stderr)
		}
		log := stderr.String()
		if !strings.Contains(log, `"msg":"final checkpoint completed"`) {
			t.Errorf("no final checkpoint in the log:\n%s", log)
		}
		return log
	}
	stopAfterCheckpoints()
	log := stopAfterCheckpoints("--restore", "latest")
	if !strings.Contains(log, `"msg":"restoring"`) {
		t.Errorf("the second run did not restore:\n%s", log)
	}

	st, err := storage.Open(context.Background(), vars["CHECKPOINTS"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	infos, err := st.List(context.Background())
	if err != nil || len(infos) == 0 || infos[len(infos)-1].Status != storage.StatusComplete {
		t.Fatalf("checkpoints %+v %v", infos, err)
	}
	recs := readRecords(t, vars["OUTPUT"])
	byKey := map[string][]int64{}
	for _, r := range recs {
		byKey[r["key"].(string)] = append(byKey[r["key"].(string)], r["count"].(int64))
	}
	if len(byKey) != 5 {
		t.Errorf("keys %v, want k0..k4", len(byKey))
	}
	for k, counts := range byKey {
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("key %s: counts %v have a gap or a duplicate at %d", k, counts[max(0, i-2):min(len(counts), i+3)], i)
			}
		}
	}
}

func TestCheckpointsCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := storage.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := p.Create(ctx, "op-0.state")
	io.WriteString(w, strings.Repeat("state ", 400))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(ctx, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	// An incremental checkpoint: it reads state files of chk-1.
	p, err = st.Begin(ctx, 3, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	p.Use("chk-1")
	if _, err := p.Commit(ctx, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// A partial checkpoint: state files, no _metadata.
	os.MkdirAll(filepath.Join(dir, "chk-2"), 0o755)
	os.WriteFile(filepath.Join(dir, "chk-2", "op-0.state"), []byte("half"), 0o644)

	out, errOut, code := sluice(t, nil, nil, "checkpoints", dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("output:\n%s", out)
	}
	if !regexp.MustCompile(`^ID\s+KIND\s+TIME\s+SIZE\s+FILES\s+STATUS\s+USES\s+PATH$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	row := regexp.MustCompile(`^(\d+)\s+(\w+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+([\d.]+ \w?i?B)\s+(\d+)\s+(\w+)\s+(\S+)\s+(\S+)$`)
	m1, m2, m3 := row.FindStringSubmatch(lines[1]), row.FindStringSubmatch(lines[2]), row.FindStringSubmatch(lines[3])
	if m1 == nil || m1[1] != "1" || m1[2] != "checkpoint" || m1[6] != "complete" || m1[7] != "-" || !strings.HasSuffix(m1[8], "chk-1") {
		t.Fatalf("complete row %q", lines[1])
	}
	if m2 == nil || m2[1] != "2" || m2[6] != "partial" || m2[7] != "-" {
		t.Errorf("partial row %q", lines[2])
	}
	if m3 == nil || m3[1] != "3" || m3[6] != "complete" || m3[7] != "chk-1" || !strings.HasSuffix(m3[8], "chk-3") {
		t.Errorf("incremental row %q", lines[3])
	}
	if n, _ := strconv.Atoi(m1[5]); n != 2 {
		t.Errorf("complete checkpoint has %s files, want 2 (state and _metadata)", m1[5])
	}
	if !strings.Contains(out, "chk-2 (partial): ") || !strings.Contains(out, "_metadata") {
		t.Errorf("no reason for the partial checkpoint:\n%s", out)
	}

	out, _, code = sluice(t, nil, nil, "checkpoints", filepath.Join(dir, "nothing-here"))
	if code != exitOK || !strings.Contains(out, "no checkpoints") {
		t.Errorf("empty storage: exit %d %q", code, out)
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true)
	p.start("job", nil, nil)
	p.event(runtimeEvent("checkpoint-completed", 7))
	fmt.Fprintln(p, "a log line")
	p.finish()
	s := b.String()
	for _, w := range []string{"job running 0s", "checkpoint 7 completed", "\r\x1b[Ka log line\n"} {
		if !strings.Contains(s, w) {
			t.Errorf("progress output lacks %q: %q", w, s)
		}
	}
	if !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("finish does not clear the line: %q", s)
	}
}

// TestKeyedCountFiles runs examples/keyed-count-files.yaml on files
// present at the start and on files that appear later, and stops it once
// the output is complete: one output record per input record, the counts
// of every key 1, 2, 3...
func TestKeyedCountFiles(t *testing.T) {
	dir := t.TempDir()
	vars := exampleVars(dir)
	in := vars["INPUT"]
	os.MkdirAll(in, 0o755)
	write := func(name string, from, to int) {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "{\"key\":\"k%d\",\"i\":%d}\n", i%7, i)
		}
		os.WriteFile(filepath.Join(in, "_"+name), []byte(b.String()), 0o644)
		os.Rename(filepath.Join(in, "_"+name), filepath.Join(in, name))
	}
	write("a.jsonl", 0, 300)
	write("b.jsonl", 300, 500)
	const total = 800
	r := start(t, vars, "run", "../../examples/keyed-count-files.yaml")
	output := func() int { return countLines(filepath.Join(vars["OUTPUT"], "part-*")) }
	// The output of the files present at the start is committed: a file
	// written now is one the job finds by monitoring the directory.
	r.waitFor(t, func() bool { return output() >= 500 }, "the output of a.jsonl and b.jsonl")
	write("c.jsonl", 500, total)
	r.waitFor(t, func() bool { return output() >= total }, "the output of c.jsonl")
	r.sigs <- syscall.SIGTERM
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	recs := readRecords(t, vars["OUTPUT"])
	if len(recs) != total {
		t.Fatalf("%d output records, want %d", len(recs), total)
	}
	byKey := map[string][]int64{}
	for _, r := range recs {
		byKey[r["key"].(string)] = append(byKey[r["key"].(string)], r["count"].(int64))
	}
	for k, counts := range byKey {
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("key %s: counts have a gap or a duplicate at %d: %v", k, i, counts)
			}
		}
	}
}

func countLines(glob string) int {
	files, _ := filepath.Glob(glob)
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

// TestSignalWithoutCheckpoints: a job without checkpoints stops on the
// first signal, with exit 0 and a warning that no final checkpoint was
// taken.
func TestSignalWithoutCheckpoints(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "nockpt.yaml")
	os.WriteFile(f, []byte("source: {type: generator, rate: 1000, fields: {n: i}}\nsink: {type: stdout}\n"), 0o644)
	r := start(t, nil, "run", f)
	// The progress log shows records reaching the sink.
	sinking := regexp.MustCompile(`"stdout\.in":[1-9]`)
	r.waitFor(t, func() bool { return sinking.MatchString(r.stderr.String()) }, "records reaching the sink")
	r.sigs <- syscall.SIGINT
	code, out, errOut := r.wait(t), r.stdout.String(), r.stderr.String()
	if code != exitOK || !strings.Contains(errOut, "without a final checkpoint") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, `{"n":0}`) {
		t.Errorf("stdout sink wrote nothing to the command's stdout: %q", out[:min(len(out), 200)])
	}
}

// exampleExpectations returns the checkpoint interval an example sets
// (checkpoints.interval) and the end-to-end guarantee it states in a
// "# guarantee: ..." comment line (exactly-once when it states none).
func exampleExpectations(t *testing.T, file string) (interval, guarantee string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	guarantee = "exactly-once"
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		if g, ok := strings.CutPrefix(line, "# guarantee: "); ok {
			guarantee = strings.Fields(g)[0]
		}
		if line != "" && line[0] != ' ' && line[0] != '#' {
			section, _, _ = strings.Cut(line, ":")
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "interval:"); ok && section == "checkpoints" {
			interval, _, _ = strings.Cut(strings.TrimSpace(v), " ")
		}
	}
	if interval == "" {
		t.Fatalf("%s sets no checkpoints.interval", file)
	}
	return interval, guarantee
}
