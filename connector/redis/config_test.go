package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	_ "github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/pipeline"
)

func lookup(vars map[string]string) pipeline.LoadOption {
	return pipeline.WithEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

// TestExample loads and builds examples/redis.yaml, as sluice plan does:
// exactly-once end to end.
func TestExample(t *testing.T) {
	dir := t.TempDir()
	p, err := pipeline.Load("../../examples/redis.yaml", lookup(map[string]string{
		"INPUT": dir, "CHECKPOINTS": dir + "/ck", "REDIS_URL": "redis://app:s3cret-pw@127.0.0.1:6379/2"}))
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
		t.Fatalf("guarantee %s:\n%s", g.Guarantee, g)
	}
	if s := g.String(); strings.Contains(s, "s3cret-pw") || !strings.Contains(s, "fence") {
		t.Errorf("plan:\n%s", s)
	}
}

const yamlJob = `name: redis-yaml
source:
  type: generator
  count: %d
  fields:
    user: "'u' + string(i %% 5)"
    amount: i
checkpoints:
  interval: 50ms
  storage: %s
sink:
  type: redis
  url: %s
%s
`

// TestYAMLGuarantee: the guarantee the plan shows follows from the
// command and the delivery.
func TestYAMLGuarantee(t *testing.T) {
	cases := []struct {
		sink string
		want connector.Guarantee
		says string
	}{
		{"  command: set\n  key: user\n", connector.ExactlyOnce, "idempotent"},
		{"  command: hset\n  key: \"'h:' + user\"\n  field: string(amount)\n", connector.ExactlyOnce, "briefly show an older value"},
		{"  command: zadd\n  key: \"'z'\"\n  score: amount\n  member: user\n", connector.ExactlyOnce, "idempotent"},
		{"  command: sadd\n  key: \"'s'\"\n  member: user\n", connector.ExactlyOnce, "idempotent"},
		{"  command: del\n  key: user\n", connector.ExactlyOnce, "idempotent"},
		{"  command: incrby\n  key: user\n  value: amount\n", connector.AtLeastOnce, "sent again"},
		{"  command: rpush\n  key: user\n", connector.AtLeastOnce, "sent again"},
		{"  command: xadd\n  key: user\n", connector.AtLeastOnce, "sent again"},
		{"  command: publish\n  key: user\n", connector.AtLeastOnce, "sent again"},
		{"  command: expire\n  key: user\n  ttl: 1h\n", connector.AtLeastOnce, "sent again"},
		{"  command: incrby\n  key: user\n  delivery: exactly-once\n", connector.ExactlyOnce, "fence"},
		{"  command: publish\n  key: user\n  delivery: exactly-once\n", connector.ExactlyOnce, "subscribers connected then"},
	}
	for _, c := range cases {
		src := fmt.Sprintf(yamlJob, 10, t.TempDir(), "redis://127.0.0.1:6379/0", c.sink)
		p, err := pipeline.Parse("job.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", c.sink, err)
		}
		env, err := pipeline.Build(p, pipeline.Overrides{})
		if err != nil {
			t.Fatalf("%s: %v", c.sink, err)
		}
		g := env.Guarantee()
		if g.Guarantee != c.want || !strings.Contains(g.String(), c.says) {
			t.Errorf("%s: %s, want %s saying %q:\n%s", c.sink, g.Guarantee, c.want, c.says, g)
		}
	}
}

// TestYAMLMistakes: what the configuration gets wrong is reported with
// its key, the password never.
func TestYAMLMistakes(t *testing.T) {
	cases := []struct{ url, sink, want string }{
		{"redis://127.0.0.1:6379/0", "  command: hset\n  key: user\n", "field"},
		{"redis://127.0.0.1:6379/0", "  command: zadd\n  key: user\n  member: user\n", "score"},
		{"redis://127.0.0.1:6379/0", "  command: expire\n  key: user\n", "ttl"},
		{"redis://127.0.0.1:6379/0", "  command: set\n", "key"},
		{"redis://127.0.0.1:6379/0", "  command: getset\n  key: user\n", "command"},
		{"redis://127.0.0.1:6379/0", "  command: del\n  key: user\n  ttl: 1h\n", "takes no ttl"},
		{"redis://127.0.0.1:6379/0", "  command: incrby\n  key: user\n  fence_ttl: 1h\n", "goes with delivery: exactly-once"},
		{"http://u:s3cret-pw@h:1", "  command: set\n  key: user\n", "invalid URL scheme"},
		{"redis://u:s3cret-pw@h:x/0", "  command: set\n  key: user\n", "url"},
	}
	for _, c := range cases {
		src := fmt.Sprintf(yamlJob, 10, t.TempDir(), c.url, c.sink)
		_, err := pipeline.Parse("job.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: %v, want a mistake saying %q", c.sink, err, c.want)
		}
	}
}

// TestYAMLRun runs YAML jobs into Redis: the expressions give the parts
// of the commands.
func TestYAMLRun(t *testing.T) {
	u, cl := needRedis(t)
	ctx := context.Background()
	p := prefix(t, cl)
	t.Cleanup(func() { deletePrefix(cl, "sluice:fence:redis-yaml:") })
	const n = 100
	run := func(sink string) {
		t.Helper()
		src := fmt.Sprintf(yamlJob, n, t.TempDir(), u, sink)
		pl, err := pipeline.Parse("job.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		env, err := pipeline.Build(pl, pipeline.Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := env.Execute(rctx); err != nil {
			t.Fatal(err)
		}
	}
	run(fmt.Sprintf("  command: incrby\n  key: \"'%ssum:' + user\"\n  value: amount\n  delivery: exactly-once\n  fence_ttl: 1h\n", p))
	run(fmt.Sprintf("  command: hset\n  key: \"'%sh:' + user\"\n  field: string(amount)\n  value: amount * 2\n  ttl: 1h\n", p))
	run(fmt.Sprintf("  command: set\n  key: \"'%srec:' + string(amount)\"\n", p))
	run(fmt.Sprintf("  command: zadd\n  key: \"'%sz'\"\n  score: amount\n  member: user\n", p))
	for u := range 5 {
		want := 0
		for i := u; i < n; i += 5 {
			want += i
		}
		eq(t, cl.Get(ctx, fmt.Sprintf("%ssum:u%d", p, u)).Val(), fmt.Sprint(want))
		eq(t, cl.HLen(ctx, fmt.Sprintf("%sh:u%d", p, u)).Val(), int64(n/5))
	}
	eq(t, cl.HGet(ctx, p+"h:u1", "6").Val(), "12")
	if ttl := cl.PTTL(ctx, p+"h:u1").Val(); ttl <= 0 {
		t.Errorf("hset with ttl: TTL %v", ttl)
	}
	eq(t, cl.Get(ctx, p+"rec:7").Val(), `{"amount":7,"user":"u2"}`)
	eq(t, cl.ZScore(ctx, p+"z", "u4").Val(), float64(99)) // the last record of u4 wins
}
