package ops_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sumOf adds up the values of family name whose labels include want.
func sumOf(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, int) {
	f := fams[name]
	if f == nil {
		return 0, 0
	}
	var sum float64
	n := 0
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		}
	}
	return sum, n
}

// TestMetricsScrape scrapes /metrics of a running job twice and checks the
// names, types and labels of the sluice_ families and that the counts grow.
func TestMetricsScrape(t *testing.T) {
	job, srv := startJob(t)
	waitFor(t, "a checkpoint, a watermark and records at the sink", func() bool {
		fams := scrape(t, srv.URL())
		cp, _ := sumOf(fams, "sluice_checkpoints_total", map[string]string{"status": "completed"})
		in, _ := sumOf(fams, "sluice_records_in_total", map[string]string{"operator": "sink"})
		_, wms := sumOf(fams, "sluice_watermark_seconds", nil)
		commits, _ := sumOf(fams, "sluice_checkpoint_commits_total", map[string]string{"operator": "sink"})
		return cp > 0 && in > 0 && wms > 0 && commits > 0
	})
	first := scrape(t, srv.URL())
	out1, _ := sumOf(first, "sluice_records_out_total", map[string]string{"operator": "numbers"})

	want := []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{"sluice_records_in_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_records_out_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_busy_seconds_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_idle_seconds_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_backpressured_seconds_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_watermark_seconds", dto.MetricType_GAUGE, []string{"job", "operator", "subtask"}},
		{"sluice_event_time_lag_seconds", dto.MetricType_GAUGE, []string{"job", "operator", "subtask"}},
		{"sluice_checkpoints_total", dto.MetricType_COUNTER, []string{"job", "status"}},
		{"sluice_checkpoint_duration_seconds", dto.MetricType_HISTOGRAM, []string{"job"}},
		{"sluice_last_checkpoint_duration_seconds", dto.MetricType_GAUGE, []string{"job"}},
		{"sluice_last_checkpoint_size_bytes", dto.MetricType_GAUGE, []string{"job"}},
		{"sluice_last_checkpoint_completed_timestamp_seconds", dto.MetricType_GAUGE, []string{"job"}},
		{"sluice_checkpoint_commits_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_checkpoint_commit_seconds_total", dto.MetricType_COUNTER, []string{"job", "operator", "subtask"}},
		{"sluice_last_checkpoint_commit_seconds", dto.MetricType_GAUGE, []string{"job", "operator", "subtask"}},
		{"sluice_restarts_total", dto.MetricType_COUNTER, []string{"job"}},
		{"sluice_failures_total", dto.MetricType_COUNTER, []string{"job", "permanent"}},
		{"sluice_restores_total", dto.MetricType_COUNTER, []string{"job"}},
		{"sluice_job_uptime_seconds", dto.MetricType_GAUGE, []string{"job"}},
		{"sluice_job_running", dto.MetricType_GAUGE, []string{"job"}},
		{"sluice_operator_parallelism", dto.MetricType_GAUGE, []string{"job", "operator"}},
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			f := first[w.name]
			if f == nil {
				t.Fatalf("no family %s", w.name)
			}
			if f.GetType() != w.typ {
				t.Errorf("type %v, want %v", f.GetType(), w.typ)
			}
			if f.GetHelp() == "" {
				t.Error("no help text")
			}
			for _, m := range f.GetMetric() {
				var names []string
				for _, l := range m.GetLabel() {
					names = append(names, l.GetName())
					if l.GetName() == "job" && l.GetValue() != "ops-test" {
						t.Errorf("job label %q", l.GetValue())
					}
				}
				if strings.Join(names, ",") != strings.Join(w.labels, ",") {
					t.Errorf("labels %v, want %v", names, w.labels)
				}
			}
		})
	}
	// Every sluice_ family follows the naming conventions: counters end in
	// _total, units are base units.
	unit := regexp.MustCompile(`_(total|seconds|bytes|running|parallelism)$`)
	for name, f := range first {
		if !strings.HasPrefix(name, "sluice_") {
			continue
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if !unit.MatchString(name) {
			t.Errorf("%s has no unit or _total suffix", name)
		}
	}
	if h := first["sluice_checkpoint_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() == 0 || len(h.GetBucket()) < 10 {
		t.Errorf("checkpoint durations: %v", h)
	}
	// Per operator subtask: one series per operator and subtask.
	var ops int
	for _, v := range job.Plan().Vertices {
		ops += len(v.Ops) * v.Parallelism
	}
	if _, n := sumOf(first, "sluice_records_in_total", nil); n != ops {
		t.Errorf("%d records_in series, want %d", n, ops)
	}
	waitFor(t, "the source's count to grow", func() bool {
		out2, _ := sumOf(scrape(t, srv.URL()), "sluice_records_out_total", map[string]string{"operator": "numbers"})
		return out2 > out1
	})
}
