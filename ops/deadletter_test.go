package ops_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestDeadLettered counts the bad records a source sends to its
// dead-letter output, in the REST API and in /metrics.
func TestDeadLettered(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{\"n\":1}\nnot json\n{\"n\":3}\n{\"n\":\"four\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := stream.New("dlq", stream.WithLogger(quietLogger()))
	type rec struct{ N int }
	src := stream.FromSource(env, "json", file.NewSource(dir, file.JSONLines[rec]()), eventtime.NoWatermarks[rec]()).UID("json")
	src.SinkTo("good", sluicetest.NewSink[rec]()).UID("good")
	stream.DeadLetters(src).SinkTo("bad", sluicetest.NewSink[connector.BadRecord]()).UID("bad")
	job, srv, err := stream.StartServing(context.Background(), env, ops.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	var info ops.JobInfo
	getJSON(t, srv.URL()+"/api/v1/job", &info)
	for _, v := range info.Vertices {
		for _, o := range v.Operators {
			switch {
			case o.UID == "json" && (o.DeadLettered == nil || *o.DeadLettered != 2):
				t.Errorf("source %+v, want 2 dead-lettered records", o)
			case o.UID != "json" && o.DeadLettered != nil:
				t.Errorf("operator %s has dead letters: %d", o.UID, *o.DeadLettered)
			}
		}
	}
	fams := scrape(t, srv.URL())
	if n, series := sumOf(fams, "sluice_dead_lettered_records_total", map[string]string{"job": "dlq"}); n != 2 || series != 1 {
		t.Errorf("sluice_dead_lettered_records_total: %v in %d series, want 2 in 1", n, series)
	}
}
