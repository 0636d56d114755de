package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	// The registered connectors these tests use.
	_ "github.com/sluicehq/sluice/connector/kafka"
	_ "github.com/sluicehq/sluice/connector/stdout"
)

// A connector defined by a program (here, this test) is used from YAML
// once its package registered it, like the connectors of sluice.

type testSourceConfig struct {
	Count    int              `yaml:"count" required:"how many records, e.g. count: 3" min:"1" max:"1000"`
	Prefix   string           `yaml:"prefix"`
	Mode     string           `yaml:"mode" enum:"fast,slow"`
	Pause    time.Duration    `yaml:"pause" min:"1ms"`
	Rate     float64          `yaml:"rate" min:"0"`
	Tags     []string         `yaml:"tags"`
	Verbose  bool             `yaml:"verbose"`
	Token    connector.Secret `yaml:"token"`
	Limits   testLimits       `yaml:"limits"`
	Auth     *testAuth        `yaml:"auth"`
	Required *bool            `yaml:"required_flag"`
}

type testLimits struct {
	Max int    `yaml:"max" min:"0"`
	Tag string `yaml:"tag"`
}

type testAuth struct {
	On   bool   `yaml:"on"`
	User string `yaml:"user" required:"the user name"`
}

func (a *testAuth) SetBool(on bool)  { a.On, a.User = on, "anonymous" }
func (a *testAuth) BoolHint() string { return "use true, false, or a mapping {user: name}" }

func (c *testSourceConfig) Check(ch connector.ConfigCheck) {
	if c.Mode == "slow" && !ch.Has("pause") && !ch.Bad("mode") {
		ch.FailAt("mode", "pause", "missing; mode: slow needs pause:")
	}
	if c.Auth != nil && c.Auth.User == "root" {
		ch.Fail("auth.user", "root is not allowed")
	}
	if ch.Bad("tags") {
		return
	}
	for _, t := range c.Tags {
		if t == "" {
			ch.Fail("tags", "empty tag")
		}
	}
}

func (c *testSourceConfig) Declare(checkpointing bool) connector.Declaration {
	if checkpointing {
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "test"}
	}
	return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "test"}
}

func (c *testSourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	var recs []connector.Record
	for i := range c.Count {
		recs = append(recs, connector.Record{"n": int64(i), "name": fmt.Sprintf("%s%d", c.Prefix, i), "by": ctx.Name()})
	}
	return collection.Slice(recs), nil
}

// testLineSource decodes its lines with the pipeline's format (format:,
// schema:).
type testLineSource struct {
	Lines []string `yaml:"lines" required:"the lines"`
}

func (c *testLineSource) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: "test"}
}

func (c *testLineSource) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	var recs []connector.Record
	for _, l := range c.Lines {
		r, err := ctx.DecodeRecord([]byte(l))
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return collection.Slice(recs), nil
}

func init() {
	connector.RegisterSource(connector.SourceType{Name: "test-source",
		Config: func() connector.SourceConfig { return &testSourceConfig{Prefix: "r", Mode: "fast"} }})
	connector.RegisterSource(connector.SourceType{Name: "test-lines", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &testLineSource{} }})
}

func TestRegisteredSourceRuns(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // the records' name or line fields
	}{
		{"typed options", "source: {type: test-source, name: mine, count: 3, prefix: x-}\nsink: {type: stdout}\n",
			[]string{"x-0", "x-1", "x-2"}},
		{"defaults", "source: {type: test-source, count: 2}\nsink: {type: stdout}\n", []string{"r0", "r1"}},
		{"json format", "source: {type: test-lines, lines: ['{\"name\": \"a\"}', '{\"name\": \"b\"}']}\nsink: {type: stdout}\n",
			[]string{"a", "b"}},
		{"text format", "source: {type: test-lines, format: text, lines: [a, b]}\nsink: {type: stdout}\n", []string{"a", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := run(t, c.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				v, ok := r["name"]
				if !ok {
					v = r["line"]
				}
				got = append(got, fmt.Sprint(v))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestRegisteredSourceConfig(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`source:
  type: test-source
  count: 7
  mode: slow
  pause: 2s
  rate: 1.5
  tags: [a, b]
  verbose: yes
  token: hush
  limits: {max: 3}
  auth: true
  required_flag: false
sink: {type: stdout}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Source.impl.(*registeredSource).cfg.(*testSourceConfig)
	want := testSourceConfig{Count: 7, Prefix: "r", Mode: "slow", Pause: 2 * time.Second, Rate: 1.5, Tags: []string{"a", "b"},
		Verbose: true, Token: "hush", Limits: testLimits{Max: 3}, Auth: &testAuth{On: true, User: "anonymous"}}
	if got.Required == nil || *got.Required {
		t.Errorf("required_flag = %v, want false", got.Required)
	}
	got.Required = nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got  %#v\nwant %#v", *got, want)
	}
	if s := fmt.Sprintf("%v %+v", got.Token, *got); strings.Contains(s, "hush") {
		t.Errorf("the secret is shown: %s", s)
	}
}

func TestRegisteredSourceMistakes(t *testing.T) {
	src := func(opts string) string { return "sink: {type: stdout}\nsource:\n  type: test-source\n" + opts }
	cases := []struct {
		name string
		yaml string
		want []string // every mistake, in order
	}{
		{"missing required", src("  prefix: p\n"),
			[]string{"p.yaml:3: source.count: missing; how many records, e.g. count: 3"}},
		{"out of range", src("  count: 0\n"),
			[]string{"p.yaml:4: source.count: 0 is out of range; it must be between 1 and 1000"}},
		{"not an integer", src("  count: many\n"),
			[]string{`p.yaml:4: source.count: "many" is not an integer; use e.g. 4`}},
		{"unknown key", src("  count: 1\n  prefx: p\n"),
			[]string{`p.yaml:5: source.prefx: unknown key (did you mean "prefix"?); allowed here: type, name, uid, parallelism, event_time, schema, count, prefix, mode, pause, rate, tags, verbose, token, limits, auth, required_flag`}},
		{"enum", src("  count: 1\n  mode: slw\n"),
			[]string{`p.yaml:5: source.mode: "slw" is not allowed (did you mean "slow"?); use one of: fast, slow`}},
		{"duration", src("  count: 1\n  pause: 10x\n"),
			[]string{`p.yaml:5: source.pause: "10x" is not a duration; use e.g. 10s, 1m, 500ms`}},
		{"duration too short", src("  count: 1\n  pause: 0s\n"),
			[]string{`p.yaml:5: source.pause: 0s is too short; it must be at least 1ms`}},
		{"number", src("  count: 1\n  rate: -1\n"),
			[]string{`p.yaml:5: source.rate: -1 is out of range; it must be at least 0`}},
		{"list item", src("  count: 1\n  tags: [a, {b: c}]\n"),
			[]string{`p.yaml:5: source.tags[1]: expected a string, got a mapping`}},
		{"bool", src("  count: 1\n  verbose: maybe\n"),
			[]string{`p.yaml:5: source.verbose: "maybe" is not a boolean; use true or false`}},
		{"nested unknown key", src("  count: 1\n  limits: {mx: 3}\n"),
			[]string{`p.yaml:5: source.limits.mx: unknown key (did you mean "max"?); allowed here: max, tag`}},
		{"nested not a mapping", src("  count: 1\n  limits: 3\n"),
			[]string{`p.yaml:5: source.limits: expected a mapping (key: value lines), got "3"`}},
		{"bool form", src("  count: 1\n  auth: maybe\n"),
			[]string{`p.yaml:5: source.auth: "maybe" is not allowed; use true, false, or a mapping {user: name}`}},
		{"pointer struct required", src("  count: 1\n  auth: {on: true}\n"),
			[]string{`p.yaml:5: source.auth.user: missing; the user name`}},
		{"check", src("  count: 1\n  auth: {user: root}\n"),
			[]string{`p.yaml:5: source.auth.user: root is not allowed`}},
		{"check blames another key", src("  count: 1\n  mode: slow\n"),
			[]string{`p.yaml:5: source.pause: missing; mode: slow needs pause:`}},
		{"check skips what has mistakes", src("  count: 1\n  tags: [{x: 1}, '']\n"),
			[]string{`p.yaml:5: source.tags[0]: expected a string, got a mapping`}},
		{"every mistake at once", src("  count: 0\n  mode: slw\n  pause: 1\n  limits: {max: -1}\n"),
			[]string{
				"p.yaml:4: source.count: 0 is out of range",
				`p.yaml:5: source.mode: "slw" is not allowed`,
				`p.yaml:6: source.pause: "1" is not a duration`,
				"p.yaml:7: source.limits.max: -1 is out of range; it must be at least 0",
			}},
		{"format of a source without formats", src("  count: 1\n  format: json\n"),
			[]string{`p.yaml:5: source.format: unknown key; allowed here: type, name`}},
		{"format", "sink: {type: stdout}\nsource: {type: test-lines, lines: [a], format: csv}\n",
			[]string{`p.yaml:2: source.format: "csv" is not allowed; use one of: json, text`}},
		{"unknown type lists registered ones", "sink: {type: stdout}\nsource: {type: test-sorce}\n",
			[]string{`p.yaml:2: source.type: unknown source type "test-sorce" (did you mean "test-source"?)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.yaml))
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want mistakes", err)
			}
			if len(list) != len(c.want) {
				t.Errorf("got %d mistakes, want %d:\n%v", len(list), len(c.want), err)
			}
			for i, w := range c.want {
				if i < len(list) && !strings.Contains(list[i].Error(), w) {
					t.Errorf("mistake %d:\n%v\ndoes not contain\n%s", i, list[i], w)
				}
			}
		})
	}
}
