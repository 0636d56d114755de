package pipeline

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/internal/streamhook"
)

// A source type that asks for deduplication (connector.Deduplicated), as
// a queue that redelivers does: each record carries its id in msg_id.

type dedupeSourceConfig struct {
	Records []connector.Record `yaml:"records"`
	Horizon time.Duration      `yaml:"horizon"`
}

func (c *dedupeSourceConfig) DedupeBy() (string, time.Duration, bool) {
	return "msg_id", c.Horizon, c.Horizon > 0
}

func (c *dedupeSourceConfig) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "test"}
}

func (c *dedupeSourceConfig) NewSource(connector.BuildContext) (connector.Source[connector.Record], error) {
	// A copy of each record: the stage after deduplication removes msg_id.
	recs := make([]connector.Record, len(c.Records))
	for i, r := range c.Records {
		recs[i] = copyRecord(r)
	}
	return collection.Slice(recs), nil
}

func copyRecord(r connector.Record) connector.Record {
	out := make(connector.Record, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

func init() {
	connector.RegisterSource(connector.SourceType{Name: "test-redelivering",
		Config: func() connector.SourceConfig { return &dedupeSourceConfig{} }})
}

const dedupeRecords = `
  records:
    - {msg_id: a, n: 1}
    - {msg_id: b, n: 2}
    - {msg_id: a, n: 1}
    - {msg_id: c, n: 3}
    - {msg_id: b, n: 2}
`

// TestSourceDedupe: the records of a source whose configuration asks for
// deduplication go through a keyed stage at the job's parallelism, which
// drops repeated ids; the id field is removed after it; the stage is in
// the plan, named after the field and horizon.
func TestSourceDedupe(t *testing.T) {
	src := "parallelism: 2\nsource:\n  type: test-redelivering\n  horizon: 1h\n" + dedupeRecords + "sink: {type: stdout}\n"
	p, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Build(p, Overrides{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := streamhook.Plan(e)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range plan.Vertices {
		for _, op := range v.Ops {
			if op.Name == "deduplicate by msg_id within 1h0m0s" && op.UID == "source-dedupe" {
				found = true
				if v.Parallelism != 2 {
					t.Errorf("the deduplication stage runs at parallelism %d, want the job's, 2", v.Parallelism)
				}
			}
		}
	}
	if !found {
		t.Errorf("no deduplication stage in the plan:\n%s", plan)
	}

	recs, err := run(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if _, ok := r["msg_id"]; ok {
			t.Errorf("msg_id not removed: %v", r)
		}
		got = append(got, string(mustJSON(r)))
	}
	slices.Sort(got)
	if want := []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// ok false: no stage.
	p, err = Parse("t.yaml", []byte("source:\n  type: test-redelivering\n"+dedupeRecords+"sink: {type: stdout}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err = Build(p, Overrides{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if plan, err = streamhook.Plan(e); err != nil || strings.Contains(plan.String(), "deduplicate") {
		t.Errorf("a source that does not deduplicate has a stage: %v\n%s", err, plan)
	}
}

// TestSourceDedupeBadIDs: a record without the id field, or with one
// that is not a string, goes to the dead-letter output; without one it
// fails the job, naming the source and the field.
func TestSourceDedupeBadIDs(t *testing.T) {
	recs := dedupeRecords + "    - {n: 4}\n    - {msg_id: 5, n: 5}\n"
	out := filepath.Join(t.TempDir(), "bad")
	src := "source:\n  type: test-redelivering\n  horizon: 1m\n" + recs + "sink: {type: stdout}\ndead_letter: {type: file, path: \"${OUT}\"}\n"
	got, err := run(t, src, map[string]string{"OUT": out})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("got %v, want the 3 distinct records", got)
	}
	bad := readParts(t, out)
	if len(bad) != 2 || !strings.Contains(strings.Join(bad, "\n"), `msg_id\" is missing`) ||
		!strings.Contains(strings.Join(bad, "\n"), `msg_id\" is an int, not a string`) {
		t.Errorf("dead letters %v", bad)
	}

	_, err = run(t, "source:\n  type: test-redelivering\n  horizon: 1m\n"+recs+"sink: {type: stdout}\n", nil)
	var bre *connector.BadRecordError
	if !errors.As(err, &bre) || !connector.IsPermanent(err) || !strings.Contains(err.Error(), "test-redelivering") || !strings.Contains(err.Error(), "msg_id") {
		t.Errorf("job error %v: want a permanent bad record naming the source and msg_id", err)
	}
}
