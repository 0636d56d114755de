package pipeline

import (
	"errors"
	"strings"
	"testing"
)

// parseErrors parses src as p.yaml and returns its mistakes, one string
// each.
func parseErrors(t *testing.T, src string, vars map[string]string, opts ...LoadOption) []string {
	t.Helper()
	_, err := Parse("p.yaml", []byte(src), append([]LoadOption{env(vars)}, opts...)...)
	if err == nil {
		return nil
	}
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("not Errors: %v", err)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Error()
	}
	return out
}

const genSource = "source:\n  type: generator\n  count: 3\n  fields: {n: i}\n"

// TestOneErrorPerMistake: an invalid value is reported once, and nothing
// that follows only from it (a check of the default that replaced it, a
// step that looks missing) is reported.
func TestOneErrorPerMistake(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		vars map[string]string
		want []string // the whole list, in order
	}{
		{"negative window size", genSource + "steps:\n  - key_by: n\n  - window:\n      type: tumbling\n      size: -5s\n      time: processing\n      aggregate: {c: count()}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:9: steps[1].window.size: -5s is too short; it must be at least 1ms"}},
		{"sliding: bad size, missing slide", genSource + "steps:\n  - key_by: n\n  - window: {type: sliding, size: 0s, time: processing, aggregate: {c: count()}}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:7: steps[1].window.slide: a sliding window needs slide (e.g. slide: 10s)", // at the window's column
				"p.yaml:7: steps[1].window.size: 0s is too short; it must be at least 1ms"}},
		{"window time misspelt, no event_time", genSource + "steps:\n  - key_by: n\n  - window: {type: tumbling, size: 1s, time: procesing, aggregate: {c: count()}}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:7: steps[1].window.time: "procesing" is not allowed (did you mean "processing"?); use one of: event, processing`}},
		{"window type misspelt", genSource + "steps:\n  - key_by: n\n  - window: {type: tumbing, size: 1s, time: processing, aggregate: {c: count()}}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:7: steps[1].window.type: "tumbing" is not allowed (did you mean "tumbling"?); use one of: tumbling, sliding, session`}},
		{"dedupe without ttl", genSource + "steps:\n  - key_by: n\n  - dedupe: {time: processing}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:7: steps[1].dedupe.ttl: missing; how long a key is remembered after its first record, e.g. ttl: 1h"}},
		{"misspelt step after key_by", genSource + "steps:\n  - key_by: n\n  - windw: {type: tumbling}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:7: steps[1].windw: unknown key (did you mean "window"?); allowed here: filter, map, key_by, aggregate, window, dedupe, name, uid, parallelism`}},
		{"misspelt key_by before aggregate", genSource + "steps:\n  - keyby: n\n  - aggregate: {c: count()}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:6: steps[0].keyby: unknown key (did you mean "key_by"?); allowed here: filter, map, key_by, aggregate, window, dedupe, name, uid, parallelism`}},
		{"late to a dead_letter sink with a mistake", genSource + "  event_time: {field: n}\nsteps:\n  - key_by: n\n  - window: {type: tumbling, size: 1s, late: dead_letter, aggregate: {c: count()}}\nsink: {type: stdout}\ndead_letter: {type: stdot}\n",
			nil, []string{`p.yaml:10: dead_letter.type: unknown sink type "stdot" (did you mean "stdout"?); use one of: ` + registeredSinks()}},
		{"bad event_time field, event-time window", genSource + "  event_time: {field: 'n m'}\nsteps:\n  - key_by: n\n  - window: {type: tumbling, size: 1s, aggregate: {c: count()}}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:5: source.event_time.field: "n m" is not a field name; use expression: for a CEL expression`}},
		{"unaligned not a boolean, aligned_timeout", genSource + "sink: {type: stdout}\ncheckpoints: {interval: 1s, unaligned: maybe, aligned_timeout: 1s}\n",
			nil, []string{`p.yaml:6: checkpoints.unaligned: "maybe" is not a boolean; use true or false`}},
		{"incremental not a boolean, max_deltas", genSource + "sink: {type: stdout}\ncheckpoints: {interval: 1s, incremental: sometimes, max_deltas: 5}\n",
			nil, []string{`p.yaml:6: checkpoints.incremental: "sometimes" is not a boolean; use true or false`}},
		{"file format misspelt, with csv", "source:\n  type: file\n  path: in\n  format: cvs\n  csv: {columns: [a]}\nsink: {type: stdout}\n",
			nil, []string{`p.yaml:4: source.format: "cvs" is not allowed (did you mean "csv"?); use one of: json, text, csv`}},
		{"backoff multiplier", genSource + "sink: {type: stdout}\nrestart: {strategy: exponential-backoff, multiplier: x}\n",
			nil, []string{`p.yaml:6: restart.multiplier: "x" is not a number; use e.g. 100 or 2.5`}},
		{"buckets misspelt, bucket_field", genSource + "sink: {type: file, path: out, buckets: feild, bucket_field: n}\n",
			nil, []string{`p.yaml:5: sink.buckets: "feild" is not allowed (did you mean "field"?); use one of: none, processing_time, event_time, field`}},
		{"unset variable in a number", genSource + "parallelism: ${PAR}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:5: parallelism: environment variable PAR is not set; set it, or give a default: ${PAR:-value}"}},
		{"unset variable in a type", genSource + "sink: {type: '${SINK}'}\n",
			nil, []string{"p.yaml:5: sink.type: environment variable SINK is not set; set it, or give a default: ${SINK:-value}"}},
		{"two unset variables in one value", genSource + "sink: {type: file, path: '${A}/${B}'}\n",
			nil, []string{"p.yaml:5: sink.path: environment variable A is not set; set it, or give a default: ${A:-value}"}},
		{"broker not a string", "source: {type: kafka, topic: t, brokers: [{host: b}]}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:1: source.brokers[0]: expected a string, got a mapping"}},
		{"steps not a list", genSource + "steps: {filter: n > 1}\nsink: {type: stdout}\n",
			nil, []string{"p.yaml:5: steps: expected a list (lines starting with -), got a mapping"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, tc.yaml, tc.vars)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestErrorsInFileOrder: all mistakes at once, by line then column,
// mistakes of --set first; unset variables do not hide the others.
func TestErrorsInFileOrder(t *testing.T) {
	src := `source:
  type: generator
  count: 3
  fields: {n: i}
steps:
  - filter: n > 1
  - key_by: n
sink: {type: stdot, path: '${OUT}'}
paralelism: 3
checkpoints: {interval: 1s, mode: x, storage: '${CKPT}'}
`
	want := []string{
		"p.yaml:7: steps[1]: key_by must be followed by aggregate, window or dedupe",
		`p.yaml:8: sink.type: unknown sink type "stdot" (did you mean "stdout"?); use one of: ` + registeredSinks(),
		"p.yaml:8: sink.path: environment variable OUT is not set; set it, or give a default: ${OUT:-value}",
		`p.yaml:9: paralelism: unknown key (did you mean "parallelism"?); allowed here: name, parallelism, max_parallelism, source, steps, sink, branches, dead_letter, checkpoints, restart`,
		`p.yaml:10: checkpoints.mode: "x" is not allowed; use one of: exactly-once, at-least-once`,
		"p.yaml:10: checkpoints.storage: environment variable CKPT is not set; set it, or give a default: ${CKPT:-value}",
	}
	got := parseErrors(t, src, nil)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// A --set mistake stops before the file is decoded.
	got = parseErrors(t, minimal, nil, WithSet("steps[2].filter=true", "parallelism=${P}"))
	want = []string{
		"--set: steps[2].filter: steps is not in the file; no item 2 to set",
		"--set parallelism:1: parallelism: environment variable P is not set; set it, or give a default: ${P:-value}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--set: got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// More than maxErrors: the first ones by line.
	var b strings.Builder
	b.WriteString(minimal)
	for i := range maxErrors + 5 {
		b.WriteString("bad" + strings.Repeat("x", i) + ": 1\n")
	}
	got = parseErrors(t, b.String(), nil)
	if len(got) != maxErrors || !strings.HasPrefix(got[0], "p.yaml:9: bad:") || !strings.HasPrefix(got[maxErrors-1], "p.yaml:28:") {
		t.Errorf("got %d: %s ... %s", len(got), got[0], got[len(got)-1])
	}
}

// TestYAMLIndentationErrors: a key indented more than the keys before it
// is blamed on its own line, not on the line of the value before it.
func TestYAMLIndentationErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       string // prefix of the single error
	}{
		{"key indented more than its siblings", "source:\n  type: generator\n  count: 3\n   fields: {n: i}\nsink: {type: stdout}\n",
			"p.yaml:4: YAML syntax: this line is indented more than the one above it, so it reads as more of the value on line 3"},
		{"after blank lines", "source:\n  type: generator\n  count: 3\n\n\n   fields: {n: i}\nsink: {type: stdout}\n",
			"p.yaml:6: YAML syntax: this line is indented more than the one above it, so it reads as more of the value on line 3"},
		{"in a list item", "source: {type: generator, count: 3, fields: {n: i}}\nsteps:\n  - window: x\n     size: 1s\nsink: {type: stdout}\n",
			"p.yaml:4: YAML syntax: this line is indented more than the one above it"},
		{"after a quoted value", "source:\n  type: 'generator'\n   count: 3\n",
			"p.yaml:3: YAML syntax:"},
		{"after a nested mapping", "source:\n  fields:\n    n: i\n   count: 3\n",
			"p.yaml:4: YAML syntax:"},
		{"key indented less", "source:\n  type: generator\n count: 3\n",
			"p.yaml:3: YAML syntax:"},
		{"list item indented more", "steps:\n  - filter: a\n  - key_by: b\n   - window: c\n",
			"p.yaml:4: YAML syntax:"},
		{"two keys on a line", "source:\n  type: generator: x\n",
			"p.yaml:2: YAML syntax: mapping value is not allowed in this context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, tc.yaml, nil)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want one error starting %q", got, tc.want)
			}
		})
	}
}
