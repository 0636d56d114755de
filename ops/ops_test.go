package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// startJob starts source -> double (chained) -> hash -> count per key ->
// format -> sink at parallelism 2, with checkpoints, on a rate-limited
// source that runs for minutes, and serves it on a free port.
func startJob(t testing.TB) (*runtime.Job, *ops.Server) {
	t.Helper()
	env := stream.New("ops-test", stream.WithParallelism(2),
		stream.WithCheckpointing(100*time.Millisecond, t.TempDir()), stream.WithBufferTimeout(time.Millisecond), stream.WithLogger(quietLogger()))
	src := collection.Generate(1_000_000, func(i int64) int64 { return i }, collection.Rate(20_000),
		collection.Timestamps(func(i int64) int64 { return time.Now().UnixMilli() }))
	s := stream.FromSource(env, "numbers", src, eventtime.Monotonic[int64]()).UID("numbers")
	s = stream.Map(s, func(v int64) int64 { return v * 2 }).Name("double").UID("double")
	type kc struct{ K, C int64 }
	counts := stream.Reduce(stream.KeyBy(stream.Map(s, func(v int64) kc { return kc{v % 7, 1} }).Name("pair").UID("pair"),
		func(v kc) int64 { return v.K }), func(a, b kc) kc { return kc{a.K, a.C + b.C} }).Name("count").UID("count")
	stream.Map(counts, func(v kc) string { return fmt.Sprint(v.K, "=", v.C) }).Name("format").UID("format").
		SinkTo("sink", sluicetest.NewSink[string]()).UID("sink")
	ctx, cancel := context.WithCancel(context.Background())
	job, srv, err := stream.StartServing(ctx, env, ops.Options{Addr: "127.0.0.1:0", SampleEvery: 200 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-job.Done()
		srv.Close()
	})
	return job, srv
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getJSON decodes the answer of GET url into v, refusing fields v does not
// have: the documented types are the contract.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func post(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	_, err := ops.Serve(nil, ops.Options{Addr: "0.0.0.0:0"})
	if !errors.Is(err, ops.ErrTokenRequired) {
		t.Fatalf("got %v, want ErrTokenRequired", err)
	}
	if _, err := ops.Serve(nil, ops.Options{Addr: "nonsense"}); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Fatalf("got %v, want a message naming HOST:PORT", err)
	}
}

func TestServeTakesNextFreePort(t *testing.T) {
	job, _ := startJob(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, err := ops.Serve(job, ops.Options{Addr: ln.Addr().String(), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, taken, _ := net.SplitHostPort(ln.Addr().String())
	_, got, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL(), "http://"))
	if got == taken {
		t.Fatalf("server listens on the taken port %s", got)
	}
	if srv.Token() != "t" || !strings.HasSuffix(srv.DashboardURL(), "/#token=t") {
		t.Fatalf("token %q, dashboard %q", srv.Token(), srv.DashboardURL())
	}
}

// TestRESTContract checks every endpoint of /api/v1 against its documented
// type and against the job it describes, then takes a savepoint and stops
// the job through it.
func TestRESTContract(t *testing.T) {
	job, srv := startJob(t)
	base := srv.URL() + "/api/v1/"
	waitFor(t, "a completed checkpoint, a watermark and records at the sink", func() bool {
		var c ops.Checkpoints
		getJSON(t, base+"checkpoints", &c)
		var wm ops.Watermarks
		getJSON(t, base+"watermarks", &wm)
		if wm.Vertices[0].Subtasks[0].WatermarkMS == nil {
			return false
		}
		var j ops.JobInfo
		getJSON(t, base+"job", &j)
		last := j.Vertices[len(j.Vertices)-1]
		sink := last.Operators[len(last.Operators)-1]
		return c.Completed > 0 && sink.RecordsIn > 0 && last.Operators[0].RecordsInPerSecond > 0 && sink.Commit != nil
	})

	var info ops.JobInfo
	getJSON(t, base+"job", &info)
	plan := job.Plan()
	if info.Name != "ops-test" || info.State != "running" || !info.Checkpointing.Enabled || info.Checkpointing.Mode != "exactly-once" {
		t.Errorf("job: %+v", info)
	}
	if len(info.Vertices) != len(plan.Vertices) {
		t.Fatalf("%d vertices, plan has %d", len(info.Vertices), len(plan.Vertices))
	}
	ids := map[int]bool{}
	for i, v := range plan.Vertices {
		got := info.Vertices[i]
		ids[got.ID] = true
		if got.ID != v.ID || got.Name != v.Name || got.Parallelism != v.Parallelism || len(got.Operators) != len(v.Ops) {
			t.Errorf("vertex %d: %+v, plan %q parallelism %d with %d operators", i, got, v.Name, v.Parallelism, len(v.Ops))
			continue
		}
		for k, op := range v.Ops {
			if got.Operators[k].UID != op.UID || got.Operators[k].Name != op.Name {
				t.Errorf("vertex %d operator %d: %+v, plan %q %q", i, k, got.Operators[k], op.Name, op.UID)
			}
		}
		if got.Level != "ok" && got.Level != "low" && got.Level != "high" {
			t.Errorf("vertex %d: backpressure level %q", i, got.Level)
		}
		for _, o := range got.Operators {
			// The source and the sink listen to checkpoints, nothing else.
			listens := o.UID == "numbers" || o.UID == "sink"
			if listens != (o.Commit != nil) || (o.Commit != nil && (o.Commit.Count <= 0 || o.Commit.MeanMS < 0 || o.Commit.LastMS < 0)) {
				t.Errorf("operator %s: commit %+v", o.UID, o.Commit)
			}
		}
	}
	if len(info.Edges) == 0 {
		t.Error("no edges")
	}
	for _, e := range info.Edges {
		if !ids[e.From] || !ids[e.To] || e.Partitioning == "" {
			t.Errorf("edge %+v", e)
		}
	}
	if g := info.Guarantee; g == nil || g.Guarantee == "" || len(g.Links) < 3 {
		t.Errorf("guarantee: %+v", info.Guarantee)
	}

	var bp ops.Backpressure
	getJSON(t, base+"backpressure", &bp)
	if len(bp.Vertices) != len(plan.Vertices) {
		t.Errorf("backpressure of %d vertices", len(bp.Vertices))
	}
	busy := false
	for _, v := range bp.Vertices {
		for _, s := range v.Subtasks {
			if s.Busy < 0 || s.Busy > 1 || s.Idle < 0 || s.Idle > 1 || s.Backpressured < 0 || s.Backpressured > 1 {
				t.Errorf("vertex %d subtask %d: shares %+v", v.ID, s.Subtask, s)
			}
			busy = busy || s.Busy+s.Idle > 0
		}
	}
	if !busy {
		t.Error("no subtask spent any time busy or idle")
	}

	var wm ops.Watermarks
	getJSON(t, base+"watermarks", &wm)
	if len(wm.Vertices) != len(plan.Vertices) || wm.Vertices[0].Subtasks[0].WatermarkMS == nil {
		t.Errorf("watermarks: %+v", wm)
	}

	var tp ops.Throughput
	getJSON(t, base+"throughput", &tp)
	if len(tp.Times) == 0 || len(tp.Operators) == 0 || len(tp.Operators[0].RecordsOutPerSec) != len(tp.Times) {
		t.Errorf("throughput: %d times, %d operators", len(tp.Times), len(tp.Operators))
	}

	var ex ops.Exceptions
	getJSON(t, base+"exceptions", &ex)
	if len(ex.Failures) != 0 || ex.Final != nil {
		t.Errorf("exceptions of a healthy job: %+v", ex)
	}

	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"savepoint without token", "savepoints", "", http.StatusUnauthorized},
		{"savepoint with a wrong token", "savepoints", "wrong", http.StatusUnauthorized},
		{"stop without token", "stop", "", http.StatusUnauthorized},
	} {
		if code, body := post(t, base+tc.path, tc.token); code != tc.want || !strings.Contains(string(body), "token") {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	resp, err := http.Get(base + "nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown endpoint: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	code, body := post(t, base+"savepoints", srv.Token())
	var res ops.ActionResult
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Path == "" {
		t.Fatalf("savepoint: %d %s", code, body)
	}
	var cps ops.Checkpoints
	getJSON(t, base+"checkpoints", &cps)
	found := false
	for _, c := range cps.History {
		found = found || (c.Kind == "savepoint" && c.Path == res.Path && c.Status == "completed")
		if c.Status == "completed" && c.Kind == "checkpoint" && (c.ID <= 0 || c.DurationMS <= 0 || len(c.Subtasks) != 4) {
			t.Errorf("checkpoint entry %+v, want an id, a duration and 4 subtasks", c)
		}
		for _, s := range c.Subtasks {
			if !ids[s.Vertex] || s.Subtask < 0 || s.Subtask > 1 || s.AckMS < 0 || s.AckMS > c.DurationMS {
				t.Errorf("checkpoint %d: subtask %+v", c.ID, s)
			}
		}
	}
	if !found {
		t.Errorf("savepoint %s not in the history %+v", res.Path, cps.History)
	}

	code, body = post(t, base+"stop", srv.Token())
	if code != http.StatusOK {
		t.Fatalf("stop: %d %s", code, body)
	}
	if err := job.Wait(); err != nil {
		t.Fatalf("job after stop: %v", err)
	}
	getJSON(t, base+"job", &info)
	if info.State != "finished" {
		t.Errorf("state after stop %q", info.State)
	}
	getJSON(t, base+"checkpoints", &cps)
	if last := cps.History[len(cps.History)-1]; last.Kind != "final" || last.Status != "completed" {
		t.Errorf("the stop's checkpoint is %+v, want a completed final checkpoint", last)
	}
	if code, body := post(t, base+"savepoints", srv.Token()); code != http.StatusConflict {
		t.Errorf("savepoint of an ended job: %d %s", code, body)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
