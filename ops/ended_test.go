package ops_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/ops"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// TestEndedJob serves jobs that finished or failed: the server keeps
// showing their final state, their failures, and refuses to act on them.
func TestEndedJob(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      bool
		state     string
		failures  int
		permanent bool
	}{
		{name: "finished", state: "finished"},
		{name: "failed", fail: true, state: "failed", failures: 1, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := stream.New("ended", stream.WithCheckpointing(50*time.Millisecond, t.TempDir()), stream.WithLogger(quietLogger()))
			src := collection.Generate(1000, func(i int64) int64 { return i }, collection.Timestamps(func(i int64) int64 { return i }))
			s := stream.FromSource(env, "numbers", src, eventtime.Monotonic[int64]()).UID("numbers")
			stream.TryMap(s, func(v int64) (int64, error) {
				if tc.fail && v == 500 {
					return 0, connector.Permanent(errors.New("record 500 is malformed"))
				}
				return v, nil
			}).Name("check").UID("check").SinkTo("sink", sluicetest.NewSink[int64]()).UID("sink")
			job, srv, err := stream.StartServing(context.Background(), env, ops.Options{Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			<-job.Done()
			base := srv.URL() + "/api/v1/"
			var info ops.JobInfo
			getJSON(t, base+"job", &info)
			if info.State != tc.state || (tc.fail != (info.Error != "")) {
				t.Errorf("state %q error %q, want %q", info.State, info.Error, tc.state)
			}
			var ex ops.Exceptions
			getJSON(t, base+"exceptions", &ex)
			if len(ex.Failures) != tc.failures || (tc.fail && (ex.Final == nil || !ex.Failures[0].Permanent || ex.Failures[0].Restarted ||
				!strings.Contains(ex.Failures[0].Causes[len(ex.Failures[0].Causes)-1], "record 500"))) {
				t.Errorf("exceptions %+v", ex)
			}
			if !tc.fail {
				var wm ops.Watermarks
				getJSON(t, base+"watermarks", &wm)
				for _, v := range wm.Vertices {
					for _, s := range v.Subtasks {
						if !s.EndOfInput || s.WatermarkMS != nil {
							t.Errorf("vertex %d subtask %d after the end of input: %+v", v.ID, s.Subtask, s)
						}
					}
				}
			}
			if code, body := post(t, base+"savepoints", srv.Token()); code != http.StatusConflict {
				t.Errorf("savepoint of an ended job: %d %s", code, body)
			}
			fams := scrape(t, srv.URL())
			if up, _ := sumOf(fams, "sluice_job_running", nil); up != 0 {
				t.Errorf("sluice_job_running %v after the end", up)
			}
			if n, _ := sumOf(fams, "sluice_failures_total", map[string]string{"permanent": "true"}); int(n) != tc.failures {
				t.Errorf("sluice_failures_total{permanent=true} %v, want %d", n, tc.failures)
			}
		})
	}
}
