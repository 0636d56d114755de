package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
	_ "github.com/sluicehq/sluice/connector/file" // the example reads files
	"github.com/sluicehq/sluice/pipeline"
)

func vars(m map[string]string) pipeline.LoadOption {
	return pipeline.WithEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

// TestExampleBuilds loads and builds examples/elasticsearch.yaml, which is
// exactly-once end to end.
func TestExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	p, err := pipeline.Load("../../examples/elasticsearch.yaml", vars(map[string]string{
		"INPUT": dir, "CHECKPOINTS": filepath.Join(dir, "ck"), "ES_URLS": "http://127.0.0.1:1,http://127.0.0.1:2"}))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Validate(); err != nil {
		t.Fatal(err)
	}
	if g := env.Guarantee(); g.Guarantee != connector.ExactlyOnce {
		t.Errorf("guarantee %s:\n%s", g.Guarantee, g)
	}
}

const yamlHead = `name: t
source:
  type: generator
  count: 3
  fields:
    n: i
    user: '"u" + string(i %% 2)'
checkpoints:
  interval: 100ms
  storage: %s
sink:
  type: elasticsearch
`

func parse(t *testing.T, sink string, env map[string]string) (*pipeline.Pipeline, error) {
	t.Helper()
	return pipeline.Parse("t.yaml", []byte(fmt.Sprintf(yamlHead, t.TempDir())+sink), vars(env))
}

func TestConfigErrors(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, sink, want string }{
		{"no urls", "  index: x\n", "urls"},
		{"url with password", "  urls: http://u:secretpw@h:9200\n  index: x\n", "carries credentials"},
		{"no index", "  urls: http://h:9200\n", "give index: "},
		{"index and expr", "  urls: http://h:9200\n  index: x\n  index_expr: user\n", "not both"},
		{"bad pattern", "  urls: http://h:9200\n  index: logs-{yyyy.XX}\n", "not part of a time format"},
		{"upper case", "  urls: http://h:9200\n  index: Logs\n", "lowercase"},
		{"index_time without pattern", "  urls: http://h:9200\n  index: x\n  index_time: n\n", "goes with a time pattern"},
		{"bad op", "  urls: http://h:9200\n  index: x\n  op_type: upsert\n", "op_type"},
		{"update without id", "  urls: http://h:9200\n  index: x\n  op_type: update\n", "needs the document id"},
		{"delete_if without id", "  urls: http://h:9200\n  index: x\n  delete_if: n > 1\n", "delete_if needs"},
		{"version with update", "  urls: http://h:9200\n  index: x\n  id: user\n  op_type: update\n  version: n\n", "index and delete"},
		{"version_type alone", "  urls: http://h:9200\n  index: x\n  version_type: external_gte\n", "goes with version"},
		{"two auth methods", "  urls: http://h:9200\n  index: x\n  api_key: k\n  username: u\n  password: p\n", "one way to authenticate"},
		{"user without password", "  urls: http://h:9200\n  index: x\n  username: u\n", "needs a password"},
		{"password and env", "  urls: http://h:9200\n  index: x\n  username: u\n  password: p\n  password_env: P\n", "not both"},
		{"bad ca file", "  urls: https://h:9200\n  index: x\n  ca_file: " + ca + "\n", "no PEM certificate"},
		{"missing ca file", "  urls: https://h:9200\n  index: x\n  ca_file: /nonexistent/ca.pem\n", "no such file"},
		{"small buffer", "  urls: http://h:9200\n  index: x\n  max_inflight_bytes: 10\n", "max_inflight_bytes"},
		{"unknown key", "  urls: http://h:9200\n  index: x\n  refresh: true\n", "refresh"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := parse(t, c.sink, nil)
			if err == nil {
				_, err = pipeline.Build(p, pipeline.Overrides{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("the message shows the password: %v", err)
			}
		})
	}
}

func TestConfigDeclare(t *testing.T) {
	cases := []struct {
		sink string
		want connector.Guarantee
		says string
	}{
		{"  urls: http://h:9200\n  index: x\n  id: user\n", connector.ExactlyOnce, "op_type index"},
		{"  urls: http://h:9200\n  index: x\n  id: user\n  version: n\n", connector.ExactlyOnce, "external versions"},
		{"  urls: http://h:9200\n  index: x\n  id: user\n  op_type: delete\n", connector.ExactlyOnce, "op_type delete"},
		{"  urls: http://h:9200\n  index: x\n", connector.AtLeastOnce, "no document id"},
		{"  urls: http://h:9200\n  index: logs-app\n  op_type: create\n", connector.AtLeastOnce, "no document id"},
	}
	for _, c := range cases {
		p, err := parse(t, c.sink, nil)
		if err != nil {
			t.Fatal(err)
		}
		env, err := pipeline.Build(p, pipeline.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		g := env.Guarantee()
		var sink connector.Declaration
		for _, l := range g.Links {
			if l.Role == "sink" {
				sink = l.Declaration
			}
		}
		if sink.Guarantee != c.want || !strings.Contains(sink.Reason, c.says) {
			t.Errorf("%s: %v %q, want %v saying %q", c.sink, sink.Guarantee, sink.Reason, c.want, c.says)
		}
	}
}

// TestYAMLJob runs YAML pipelines into the stand-in: ids, index and time
// expressions, versions, deletes and credentials from the environment.
func TestYAMLJob(t *testing.T) {
	srv := newServer(t, estest.APIKey("k3y"))
	t.Setenv("TEST_ES_KEY", "k3y")
	sink := fmt.Sprintf(`  urls: %s
  index: ev-{yyyy.MM}
  index_time: '"2024-0" + string(n %% 3 + 1) + "-15T00:00:00Z"'
  id: '"e" + string(n)'
  version: n * 10
  api_key_env: TEST_ES_KEY
  flush_interval: 10ms
`, srv.URL)
	head := strings.Replace(yamlHead, "count: 3", "count: 30", 1)
	p, err := pipeline.Parse("t.yaml", []byte(fmt.Sprintf(head, t.TempDir())+sink), vars(nil))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(srv.Indices()); got != "[ev-2024.01 ev-2024.02 ev-2024.03]" {
		t.Fatalf("indices %s", got)
	}
	total := 0
	for _, ix := range srv.Indices() {
		for _, d := range srv.Docs(ix) {
			var v struct{ N int64 }
			_ = json.Unmarshal(d.Source, &v)
			if d.ID != fmt.Sprintf("e%d", v.N) || d.Version != v.N*10 {
				t.Errorf("%s/%s: %s version %d", ix, d.ID, d.Source, d.Version)
			}
			total++
		}
	}
	if total != 30 {
		t.Errorf("%d documents, want 30", total)
	}

	// delete_if and index_expr: the odd users' documents are deleted.
	sink2 := fmt.Sprintf(`  urls: %s
  index_expr: '"users-" + user'
  id: string(n)
  delete_if: n %% 2 == 1
  api_key: ${KEY}
`, srv.URL)
	p2, err := pipeline.Parse("t.yaml", []byte(fmt.Sprintf(strings.Replace(yamlHead, "count: 3", "count: 6", 1), t.TempDir())+sink2), vars(map[string]string{"KEY": "k3y"}))
	if err != nil {
		t.Fatal(err)
	}
	env2, err := pipeline.Build(p2, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env2.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.Count("users-u0") != 3 || srv.Count("users-u1") != 0 {
		t.Errorf("users-u0 %d, users-u1 %d documents", srv.Count("users-u0"), srv.Count("users-u1"))
	}

	// A refused API key ends the job at once with a permanent error that
	// does not show the key.
	p3, _ := pipeline.Parse("t.yaml", []byte(fmt.Sprintf(yamlHead, t.TempDir())+fmt.Sprintf("  urls: %s\n  index: x\n  api_key: wr0ngkey\n", srv.URL)), vars(nil))
	env3, err := pipeline.Build(p3, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	err = env3.Execute(ctx)
	if !connector.IsPermanent(err) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wr0ngkey") {
		t.Errorf("got %v", err)
	}
}
