package cassandra

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/pipeline"
)

func lookup(vars map[string]string) pipeline.LoadOption {
	return pipeline.WithEnv(func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
}

// TestExampleBuilds loads and builds examples/cassandra.yaml, as the
// pipeline package's example test does, and checks its guarantee.
func TestExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	p, err := pipeline.Load("../../examples/cassandra.yaml", lookup(map[string]string{"INPUT": dir, "CHECKPOINTS": dir + "/ck"}))
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
	g := env.Guarantee()
	if g.Guarantee != connector.ExactlyOnce {
		t.Errorf("guarantee %s:\n%s", g.Guarantee, g)
	}
	if !strings.Contains(g.String(), "write-ahead") {
		t.Errorf("the plan does not say why:\n%s", g)
	}
}

// TestDeclare: the guarantee and its reason follow from the statement,
// the delivery and the checkpoints.
func TestDeclare(t *testing.T) {
	cases := []struct {
		stmt, delivery string
		checkpointing  bool
		want           connector.Guarantee
		why            string
	}{
		{"INSERT INTO ks.t (k, v) VALUES (:k, :v)", "at-least-once", true, connector.ExactlyOnce, "idempotent statement"},
		{"INSERT INTO ks.t (k, v) VALUES (:k, :v)", "exactly-once", true, connector.ExactlyOnce, "idempotent statement"},
		{"INSERT INTO ks.t (k, v) VALUES (:k, :v)", "at-least-once", false, connector.AtLeastOnce, "no checkpoints"},
		{"UPDATE ks.c SET n = n + 1 WHERE k = :k", "at-least-once", true, connector.AtLeastOnce, "n = n + <n> is a counter update"},
		{"UPDATE ks.c SET n = n + 1 WHERE k = :k", "exactly-once", true, connector.ExactlyOnce, "write-ahead"},
		{"UPDATE ks.c SET n = n + 1 WHERE k = :k", "exactly-once", false, connector.AtLeastOnce, "no checkpoints"},
		{"UPDATE ks.t SET l = l + :l WHERE k = :k", "at-least-once", true, connector.AtLeastOnce, "counter update or a list append"},
		{"INSERT INTO ks.t (k, at) VALUES (:k, now())", "at-least-once", true, connector.AtLeastOnce, "now()"},
	}
	for _, c := range cases {
		cfg := &SinkConfig{Hosts: []string{"h"}, Statement: c.stmt, Delivery: c.delivery}
		d := cfg.Declare(c.checkpointing)
		if d.Guarantee != c.want || !strings.Contains(d.Reason, c.why) {
			t.Errorf("%s, %s, checkpoints %v: %v (%s); want %v saying %q", c.stmt, c.delivery, c.checkpointing, d.Guarantee, d.Reason, c.want, c.why)
		}
	}
}

func TestConfigMistakes(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"statement: INSERT INTO t (k) VALUES (:k)", "hosts"},
		{"hosts: h\nstatement: INSERT INTO t (k) VALUES (:k)", "keyspace"},
		{"hosts: h\nstatement: SELECT * FROM ks.t", "INSERT, UPDATE or DELETE"},
		{"hosts: h\nstatement: INSERT INTO ks.t (k) VALUES (:k)\nusername: u", "password_env"},
		{"hosts: h\nstatement: INSERT INTO ks.t (k) VALUES (:k)\ncommit_chunk: 5", "goes with delivery: exactly-once"},
		{"hosts: h\nstatement: INSERT INTO ks.t (k) VALUES (:k)\nconsistency: most", "consistency"},
		{"hosts: h\nstatement: INSERT INTO ks.t (k) VALUES (:k)\ntls: {ca_file: /nonexistent.pem}", "ca_file"},
		{"hosts: h\nstatement: INSERT INTO ks.t (k) VALUES (:k)\nmax_inflight: 0", "max_inflight"},
	}
	for _, c := range cases {
		src := "name: j\nsource: {type: collection, values: [1]}\nsink:\n  type: cassandra\n  " + strings.ReplaceAll(c.yaml, "\n", "\n  ") + "\n"
		_, err := pipeline.Parse("job.yaml", []byte(src), lookup(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant an error about %q", c.yaml, err, c.want)
		}
	}
}

// TestPasswordFromEnvironment: the password comes from password_env and
// shows nowhere.
func TestPasswordFromEnvironment(t *testing.T) {
	cl := standIn(t, credentialsOpt())
	t.Setenv("CASS_TEST_PW", "pw-from-env")
	cfg := &SinkConfig{Hosts: cl.Addrs(), Keyspace: "ks", Statement: "INSERT INTO kv (k, v) VALUES (:k, :v)",
		Username: "writer", PasswordEnv: "CASS_TEST_PW"}
	snk, err := cfg.build("job", "sink", true)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v %v", snk.cfg, snk.cfg, snk.cfg, snk); strings.Contains(s, "pw-from-env") {
		t.Errorf("the configuration prints the password: %s", s)
	}
	w, err := snk.NewWriter(wctx{checkpointing: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeAll(t, w, connector.Record{"k": "a", "v": int64(1)})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("CASS_TEST_PW")
	if _, err := cfg.build("job", "sink", true); err == nil || !strings.Contains(err.Error(), "CASS_TEST_PW is not set") {
		t.Errorf("without the variable: %v", err)
	}
}

// TestYAMLPipelineEndToEnd runs a YAML job from files to a counter table
// of the stand-in with delivery: exactly-once.
func TestYAMLPipelineEndToEnd(t *testing.T) {
	cl := standIn(t)
	dir := t.TempDir()
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf(`{"page": "p%d"}`, i%7))
	}
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in", "a.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cl.Exec("CREATE TABLE ks.page_views (page text PRIMARY KEY, views counter)"); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`name: pv
source: {type: file, path: %s}
sink:
  type: cassandra
  hosts: %s
  keyspace: ks
  statement: UPDATE page_views SET views = views + 1 WHERE page = :page
  delivery: exactly-once
  commit_chunk: 16
checkpoints: {interval: 50ms, storage: %s}
`, filepath.Join(dir, "in"), strings.Join(cl.Addrs(), ","), filepath.Join(dir, "ck"))
	p, err := pipeline.Parse("pv.yaml", []byte(src), lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	env, err := pipeline.Build(p, pipeline.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows(t, cl, "page_views") {
		got[r["page"].(string)] = r["views"].(int64)
	}
	for k := range 7 {
		want := int64((300 - k + 6) / 7)
		if got[fmt.Sprintf("p%d", k)] != want {
			t.Fatalf("views %v", got)
		}
	}
}
