package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

func client(t *testing.T, u string) *redis.Client {
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	cl := redis.NewClient(o)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// TestErrors: what Redis refuses for good fails the job at once with what,
// where and what to change; a server that does not answer is a transient
// failure (the job restarts from its checkpoint). Both delivery modes.
func TestErrors(t *testing.T) {
	shared, scl := needRedis(t)
	own := startServer(t)
	ocl := client(t, own)
	ctx := context.Background()
	if err := ocl.Do(ctx, "ACL", "SETUSER", "limited", "on", ">limitedpw", "~*", "&*", "+@all", "-incrby").Err(); err != nil {
		t.Fatal(err)
	}
	limited := strings.Replace(own, "redis://", "redis://limited:limitedpw@", 1)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "redis://u:closedpw@" + l.Addr().String() + "/0?max_retries=-1&dial_timeout=500ms"
	l.Close()

	for _, exactly := range []bool{false, true} {
		p := prefix(t, scl)
		scl.RPush(ctx, p+"list", "x")
		cases := []struct {
			name      string
			url       string
			key       string
			opts      []Option
			permanent bool
			want      []string
		}{
			{"wrongtype", shared, p + "list", nil, true, []string{"WRONGTYPE", p + "list", "another type"}},
			{"wrongpass", shared, p + "n", []Option{Credentials("nobody", "wrongsecret")}, true, []string{"authentication refused", "password"}},
			{"noperm", limited, p + "n", nil, true, []string{"NOPERM", "ACL SETUSER"}},
			{"connection refused", closed, p + "n", []Option{CommitTimeout(time.Second)}, false, []string{"connection refused"}},
		}
		for _, c := range cases {
			opts := append([]Option{URL(c.url), FencePrefix(p + "fence:")}, c.opts...)
			err := write(t, IncrBy, exactly, []Command{{Key: c.key, By: 1}}, opts...)
			if err == nil || connector.IsPermanent(err) != c.permanent {
				t.Errorf("exactly-once %v, %s: %v, want permanent=%v", exactly, c.name, err, c.permanent)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("exactly-once %v, %s: %v, want it to say %q", exactly, c.name, err, w)
				}
			}
			for _, secret := range []string{"wrongsecret", "limitedpw", "closedpw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("exactly-once %v, %s: the error shows a password: %v", exactly, c.name, err)
				}
			}
		}
	}
}

// TestOOM: a server out of memory refuses the commands permanently; the
// exactly-once commit applies nothing then, and everything once the
// memory is raised.
func TestOOM(t *testing.T) {
	u := startServer(t, "--maxmemory-policy", "noeviction")
	cl := client(t, u)
	ctx := context.Background()
	cl.ConfigSet(ctx, "maxmemory", "1")
	err := write(t, Set, false, []Command{{Key: "k", Value: "v"}}, URL(u))
	if !errors.Is(err, connector.ErrRejected) || !strings.Contains(err.Error(), "maxmemory") {
		t.Fatalf("SET out of memory: %v, want a rejection naming maxmemory", err)
	}
	s, err := NewSink(IncrBy, identity, URL(u), ExactlyOnce())
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.NewWriter(testCtx{checkpointing: true}, nil)
	for range 3 {
		w.Write(ctx, Command{Key: "n", By: 1}, 0)
	}
	c, _ := w.(connector.PreCommitter).PreCommit(ctx, 1)
	cm, _ := s.NewCommitter(testCtx{})
	defer cm.Close()
	if err := cm.Commit(ctx, 1, c); !errors.Is(err, connector.ErrRejected) {
		t.Fatalf("commit out of memory: %v, want a rejection", err)
	}
	if n := cl.Exists(ctx, "n").Val(); n != 0 {
		t.Fatal("a commit refused for memory wrote")
	}
	cl.ConfigSet(ctx, "maxmemory", "0")
	for range 2 {
		if err := cm.Commit(ctx, 1, c); err != nil {
			t.Fatal(err)
		}
		eq(t, cl.Get(ctx, "n").Val(), "3")
	}
}
