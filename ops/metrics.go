package ops

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
)

// collector turns a job's counters into Prometheus metrics at scrape time:
// nothing is recorded per record, the tasks publish their counts and times
// per batch and the collector reads them.
type collector struct {
	job         *runtime.Job
	deadLetters map[string][]string // source UID -> readers of its dead letters

	recordsIn, recordsOut           *prometheus.Desc
	busy, idle, backpressured       *prometheus.Desc
	watermark, eventTimeLag         *prometheus.Desc
	checkpoints, lastDuration       *prometheus.Desc
	lastSize, lastCompletedTime     *prometheus.Desc
	durations                       *prometheus.Desc
	restarts, failures, restores    *prometheus.Desc
	uptime, running, parallelismOps *prometheus.Desc
	deadLettered                    *prometheus.Desc
	commits, commitTime, lastCommit *prometheus.Desc
	backlog, pending                *prometheus.Desc
}

func newCollector(job *runtime.Job, deadLetters map[string][]string) *collector {
	op := []string{"job", "operator", "subtask"}
	jl := []string{"job"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("sluice_"+name, help, labels, nil)
	}
	return &collector{job: job, deadLetters: deadLetters,
		pending:           d("sink_pending_records", "Records the subtask's sinks hold that the external system has not acknowledged, where their writers report it. operator is the subtask's chain.", op),
		backlog:           d("source_backlog_records", "Records waiting for the source subtask in the external system (Kafka consumer lag), where its reader reports it. operator is the subtask's chain.", op),
		commits:           d("checkpoint_commits_total", "Completed checkpoints the operator handled (a two-phase sink's commit, a source's acknowledgements); only operators that listen to checkpoints.", op),
		commitTime:        d("checkpoint_commit_seconds_total", "Time the operator spent handling completed checkpoints; divided by sluice_checkpoint_commits_total, the mean commit latency.", op),
		lastCommit:        d("last_checkpoint_commit_seconds", "Time the operator took to handle the newest completed checkpoint.", op),
		deadLettered:      d("dead_lettered_records_total", "Bad records the source sent to its dead-letter output (only sources that have one).", []string{"job", "operator"}),
		recordsIn:         d("records_in_total", "Records delivered to the operator (from the network or from its predecessor in the chain).", op),
		recordsOut:        d("records_out_total", "Records the operator emitted (main and side outputs).", op),
		busy:              d("busy_seconds_total", "Time the subtask spent processing; its rate is the share of time busy. operator is the subtask's chain.", op),
		idle:              d("idle_seconds_total", "Time the subtask spent waiting for input; its rate is the share of time idle.", op),
		backpressured:     d("backpressured_seconds_total", "Time the subtask spent waiting for room in a full channel downstream; its rate is the share of time backpressured.", op),
		watermark:         d("watermark_seconds", "The subtask's current watermark, in seconds of event time since the Unix epoch (absent before the first).", op),
		eventTimeLag:      d("event_time_lag_seconds", "Wall-clock time minus the subtask's watermark.", op),
		checkpoints:       d("checkpoints_total", "Checkpoints and savepoints that ended, by status (completed, failed).", []string{"job", "status"}),
		lastDuration:      d("last_checkpoint_duration_seconds", "Duration of the newest completed checkpoint, from trigger to completion.", jl),
		durations:         d("checkpoint_duration_seconds", "Durations of the completed checkpoints (savepoints not included), from trigger to completion.", jl),
		lastSize:          d("last_checkpoint_size_bytes", "Keyed state written by the newest completed checkpoint.", jl),
		lastCompletedTime: d("last_checkpoint_completed_timestamp_seconds", "When the newest checkpoint completed, in seconds since the Unix epoch.", jl),
		restarts:          d("restarts_total", "Restarts after a failure.", jl),
		failures:          d("failures_total", "Failures of the job (attempts that ended with an error), by whether a retry could help (permanent=true: it could not).", []string{"job", "permanent"}),
		restores:          d("restores_total", "Restores from a checkpoint or savepoint.", jl),
		uptime:            d("job_uptime_seconds", "Time since the job started.", jl),
		running:           d("job_running", "1 while the job runs (restarts included), 0 once it ended.", jl),
		parallelismOps:    d("operator_parallelism", "Parallelism of the operator's chain.", []string{"job", "operator"}),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.recordsIn, c.recordsOut, c.busy, c.idle, c.backpressured, c.watermark, c.eventTimeLag,
		c.checkpoints, c.durations, c.lastDuration, c.lastSize, c.lastCompletedTime, c.restarts, c.failures, c.restores, c.uptime, c.running, c.parallelismOps, c.deadLettered,
		c.commits, c.commitTime, c.lastCommit, c.backlog, c.pending} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	job := c.job.Plan().Name
	ms := c.job.Metrics()
	for _, m := range ms {
		sub := strconv.Itoa(m.Subtask)
		ch <- prometheus.MustNewConstMetric(c.recordsIn, prometheus.CounterValue, float64(m.RecordsIn), job, m.Operator, sub)
		ch <- prometheus.MustNewConstMetric(c.recordsOut, prometheus.CounterValue, float64(m.RecordsOut), job, m.Operator, sub)
	}
	if len(c.deadLetters) > 0 {
		counts := map[string]runtime.OperatorMetrics{}
		for _, m := range runtime.SumBySubtask(ms) {
			counts[m.UID] = m
		}
		for uid, n := range deadLettered(c.deadLetters, counts) {
			ch <- prometheus.MustNewConstMetric(c.deadLettered, prometheus.CounterValue, float64(n), job, counts[uid].Operator)
		}
	}
	for _, m := range c.job.Commits() {
		sub := strconv.Itoa(m.Subtask)
		ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(m.Count), job, m.Operator, sub)
		ch <- prometheus.MustNewConstMetric(c.commitTime, prometheus.CounterValue, m.Total.Seconds(), job, m.Operator, sub)
		ch <- prometheus.MustNewConstMetric(c.lastCommit, prometheus.GaugeValue, m.Last.Seconds(), job, m.Operator, sub)
	}
	now := time.Now()
	for _, t := range c.job.Times() {
		sub := strconv.Itoa(t.Subtask)
		ch <- prometheus.MustNewConstMetric(c.busy, prometheus.CounterValue, t.Busy.Seconds(), job, t.Vertex, sub)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.CounterValue, t.Idle.Seconds(), job, t.Vertex, sub)
		ch <- prometheus.MustNewConstMetric(c.backpressured, prometheus.CounterValue, t.Backpressured.Seconds(), job, t.Vertex, sub)
		if t.Backlog >= 0 {
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(t.Backlog), job, t.Vertex, sub)
		}
		if t.Pending >= 0 {
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(t.Pending), job, t.Vertex, sub)
		}
		if t.Watermark != runtime.NoWatermark && t.Watermark != eventtime.MaxWatermark {
			wm := time.UnixMilli(t.Watermark)
			ch <- prometheus.MustNewConstMetric(c.watermark, prometheus.GaugeValue, float64(t.Watermark)/1000, job, t.Vertex, sub)
			ch <- prometheus.MustNewConstMetric(c.eventTimeLag, prometheus.GaugeValue, now.Sub(wm).Seconds(), job, t.Vertex, sub)
		}
	}
	for _, v := range c.job.Plan().Vertices {
		ch <- prometheus.MustNewConstMetric(c.parallelismOps, prometheus.GaugeValue, float64(v.Parallelism), job, v.Name)
	}
	st := c.job.Status()
	ch <- prometheus.MustNewConstMetric(c.checkpoints, prometheus.CounterValue, float64(st.CheckpointsCompleted), job, "completed")
	ch <- prometheus.MustNewConstMetric(c.checkpoints, prometheus.CounterValue, float64(st.CheckpointsFailed), job, "failed")
	h := st.CheckpointDurations
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b.Seconds()] = h.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.durations, h.Count, h.Sum.Seconds(), buckets, job)
	hist := c.job.Checkpoints()
	for i := len(hist) - 1; i >= 0; i-- {
		if h := hist[i]; h.Status == "completed" && h.Kind != "savepoint" {
			ch <- prometheus.MustNewConstMetric(c.lastDuration, prometheus.GaugeValue, h.Duration.Seconds(), job)
			ch <- prometheus.MustNewConstMetric(c.lastSize, prometheus.GaugeValue, float64(h.KeyedBytes), job)
			ch <- prometheus.MustNewConstMetric(c.lastCompletedTime, prometheus.GaugeValue, float64(h.Time.UnixMilli())/1000, job)
			break
		}
	}
	perm, trans := st.PermanentFailures, st.Failures-st.PermanentFailures
	ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(st.Restarts), job)
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(trans), job, "false")
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(perm), job, "true")
	ch <- prometheus.MustNewConstMetric(c.restores, prometheus.CounterValue, float64(st.Restores), job)
	ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, now.Sub(st.Started).Seconds(), job)
	up := 1.0
	select {
	case <-c.job.Done():
		up = 0
	default:
	}
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, up, job)
}
