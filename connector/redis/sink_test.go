package redis

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

func identity(c Command) (Command, error) { return c, nil }

// write sends cmds through a sink of op: pipelined and flushed, or, with
// exactly, pre-committed as checkpoint 1 and committed.
func write(t *testing.T, op Op, exactly bool, cmds []Command, opts ...Option) error {
	t.Helper()
	if exactly {
		opts = append(opts, ExactlyOnce())
	}
	s, err := NewSink(op, identity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wc := testCtx{checkpointing: true}
	w, err := s.NewWriter(wc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, c := range cmds {
		if err := w.Write(ctx, c, 0); err != nil {
			return err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	if !exactly {
		return nil
	}
	pre, err := w.(connector.PreCommitter).PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := s.NewCommitter(wc)
	defer cm.Close()
	return cm.Commit(ctx, 1, pre)
}

func TestCommands(t *testing.T) {
	u, cl := needRedis(t)
	ctx := context.Background()
	cases := []struct {
		op    Op
		cmds  func(p string) []Command
		check func(t *testing.T, p string)
	}{
		{Set, func(p string) []Command {
			return []Command{{Key: p + "a", Value: "1"}, {Key: p + "a", Value: "2"}, {Key: p + "b", Value: "x y"}}
		}, func(t *testing.T, p string) {
			eq(t, cl.Get(ctx, p+"a").Val(), "2")
			eq(t, cl.Get(ctx, p+"b").Val(), "x y")
			eq(t, cl.PTTL(ctx, p+"a").Val(), time.Duration(-1))
		}},
		{HSet, func(p string) []Command {
			return []Command{{Key: p + "h", Field: "f1", Value: "v1"}, {Key: p + "h", Field: "f2", Value: "v2"}}
		}, func(t *testing.T, p string) {
			eq(t, cl.HGetAll(ctx, p+"h").Val(), map[string]string{"f1": "v1", "f2": "v2"})
		}},
		{SAdd, func(p string) []Command {
			return []Command{{Key: p + "s", Member: "m1"}, {Key: p + "s", Member: "m2"}, {Key: p + "s", Member: "m1"}}
		}, func(t *testing.T, p string) {
			got := cl.SMembers(ctx, p+"s").Val()
			slices.Sort(got)
			eq(t, got, []string{"m1", "m2"})
		}},
		{ZAdd, func(p string) []Command {
			return []Command{{Key: p + "z", Member: "b", Score: 2.5}, {Key: p + "z", Member: "a", Score: -1}}
		}, func(t *testing.T, p string) {
			eq(t, cl.ZRangeWithScores(ctx, p+"z", 0, -1).Val(), []redis.Z{{Score: -1, Member: "a"}, {Score: 2.5, Member: "b"}})
		}},
		{XAdd, func(p string) []Command {
			return []Command{{Key: p + "x", Value: "one"}, {Key: p + "x", Field: "f", Value: "two"}}
		}, func(t *testing.T, p string) {
			msgs := cl.XRange(ctx, p+"x", "-", "+").Val()
			if len(msgs) != 2 {
				t.Fatalf("stream holds %d entries, want 2", len(msgs))
			}
			eq(t, msgs[0].Values, map[string]any{"value": "one"})
			eq(t, msgs[1].Values, map[string]any{"f": "two"})
		}},
		{LPush, func(p string) []Command {
			return []Command{{Key: p + "l", Value: "1"}, {Key: p + "l", Value: "2"}}
		}, func(t *testing.T, p string) {
			eq(t, cl.LRange(ctx, p+"l", 0, -1).Val(), []string{"2", "1"})
		}},
		{RPush, func(p string) []Command {
			return []Command{{Key: p + "l", Value: "1"}, {Key: p + "l", Value: "2"}}
		}, func(t *testing.T, p string) {
			eq(t, cl.LRange(ctx, p+"l", 0, -1).Val(), []string{"1", "2"})
		}},
		{IncrBy, func(p string) []Command {
			return []Command{{Key: p + "n", By: 5}, {Key: p + "n", By: -2}, {Key: p + "m", By: 1}}
		}, func(t *testing.T, p string) {
			eq(t, cl.Get(ctx, p+"n").Val(), "3")
			eq(t, cl.Get(ctx, p+"m").Val(), "1")
		}},
		{HIncrBy, func(p string) []Command {
			return []Command{{Key: p + "h", Field: "a", By: 5}, {Key: p + "h", Field: "a", By: 1}, {Key: p + "h", Field: "b", By: 7}}
		}, func(t *testing.T, p string) {
			eq(t, cl.HGetAll(ctx, p+"h").Val(), map[string]string{"a": "6", "b": "7"})
		}},
		{Del, func(p string) []Command {
			cl.Set(ctx, p+"d1", "x", 0)
			cl.Set(ctx, p+"d2", "x", 0)
			return []Command{{Key: p + "d1"}, {Key: p + "nothing"}}
		}, func(t *testing.T, p string) {
			eq(t, cl.Exists(ctx, p+"d1", p+"d2").Val(), int64(1))
		}},
	}
	for _, exactly := range []bool{false, true} {
		for _, c := range cases {
			name := string(c.op)
			if exactly {
				name += "/exactly-once"
			}
			t.Run(name, func(t *testing.T) {
				p := prefix(t, cl)
				if err := write(t, c.op, exactly, c.cmds(p), URL(u), FencePrefix(p+"fence:")); err != nil {
					t.Fatal(err)
				}
				c.check(t, p)
			})
		}
	}
}

func TestTTL(t *testing.T) {
	u, cl := needRedis(t)
	ctx := context.Background()
	for _, exactly := range []bool{false, true} {
		p := prefix(t, cl)
		opts := []Option{URL(u), FencePrefix(p + "fence:"), TTL(time.Hour)}
		if err := write(t, Set, exactly, []Command{{Key: p + "s", Value: "v"}, {Key: p + "short", Value: "v", TTL: time.Minute}}, opts...); err != nil {
			t.Fatal(err)
		}
		if err := write(t, HIncrBy, exactly, []Command{{Key: p + "h", Field: "f", By: 1}}, opts...); err != nil {
			t.Fatal(err)
		}
		cl.Set(ctx, p+"e", "v", 0)
		if err := write(t, Expire, exactly, []Command{{Key: p + "e"}}, opts...); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]time.Duration{"s": time.Hour, "short": time.Minute, "h": time.Hour, "e": time.Hour} {
			got := cl.PTTL(ctx, p+key).Val()
			if got <= want-time.Minute/2 || got > want {
				t.Errorf("exactly-once %v: TTL of %s is %v, want about %v", exactly, key, got, want)
			}
		}
		if exactly {
			// Fence keys do not expire by default.
			keys := cl.Keys(ctx, p+"fence:*").Val()
			if len(keys) == 0 {
				t.Fatal("no fence key")
			}
			eq(t, cl.PTTL(ctx, keys[0]).Val(), time.Duration(-1))
		}
	}
}

func TestPublish(t *testing.T) {
	u, cl := needRedis(t)
	ctx := context.Background()
	for _, exactly := range []bool{false, true} {
		p := prefix(t, cl)
		sub := cl.Subscribe(ctx, p+"ch")
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		if err := write(t, Publish, exactly, []Command{{Key: p + "ch", Value: "m1"}, {Key: p + "ch", Value: "m2"}}, URL(u), FencePrefix(p+"fence:")); err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < 2 {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := sub.ReceiveMessage(rctx)
			cancel()
			if err != nil {
				t.Fatalf("received %v, then %v", got, err)
			}
			got = append(got, m.Payload)
		}
		sub.Close()
		eq(t, got, []string{"m1", "m2"})
	}
}

// TestBadRecord: a record without key or field fails the job as a bad
// record, permanently.
func TestBadRecord(t *testing.T) {
	u, _ := needRedis(t)
	for _, c := range []struct {
		op  Op
		cmd Command
	}{{Set, Command{}}, {HSet, Command{Key: "k"}}, {HIncrBy, Command{Key: "k"}}} {
		err := write(t, c.op, false, []Command{c.cmd}, URL(u))
		if !errors.Is(err, connector.ErrBadRecord) || !connector.IsPermanent(err) {
			t.Errorf("%s %+v: %v, want a permanent bad record", c.op, c.cmd, err)
		}
	}
}

func TestDeclare(t *testing.T) {
	cases := []struct {
		op            Op
		exactly, chk  bool
		want          connector.Guarantee
		reasonContain string
	}{
		{Set, false, true, connector.ExactlyOnce, "briefly show an older value"},
		{HSet, false, true, connector.ExactlyOnce, "overwrites with the same values"},
		{SAdd, false, false, connector.ExactlyOnce, "idempotent"},
		{ZAdd, false, true, connector.ExactlyOnce, "idempotent"},
		{Del, false, true, connector.ExactlyOnce, "idempotent"},
		{IncrBy, false, true, connector.AtLeastOnce, "sent again after a restore"},
		{RPush, false, true, connector.AtLeastOnce, "sent again"},
		{LPush, false, false, connector.AtLeastOnce, "no checkpoints"},
		{XAdd, false, true, connector.AtLeastOnce, "sent again"},
		{HIncrBy, false, true, connector.AtLeastOnce, "sent again"},
		{Publish, false, true, connector.AtLeastOnce, "sent again"},
		{IncrBy, true, true, connector.ExactlyOnce, "fence"},
		{RPush, true, true, connector.ExactlyOnce, "fence"},
		{Publish, true, true, connector.ExactlyOnce, "subscribers connected then"},
		{IncrBy, true, false, connector.AtLeastOnce, "downgraded"},
		{Set, true, false, connector.ExactlyOnce, "idempotent"},
	}
	for _, c := range cases {
		opts := []Option{URL("redis://user:hunter2@localhost:6379/3")}
		if c.op == Expire {
			opts = append(opts, TTL(time.Second))
		}
		if c.exactly {
			opts = append(opts, ExactlyOnce())
		}
		s, err := NewSink(c.op, identity, opts...)
		if err != nil {
			t.Fatal(err)
		}
		d := s.Declare(c.chk)
		if d.Guarantee != c.want || !strings.Contains(d.Reason, c.reasonContain) {
			t.Errorf("%s exactly-once=%v checkpoints=%v: %s (%s), want %s with %q", c.op, c.exactly, c.chk, d.Guarantee, d.Reason, c.want, c.reasonContain)
		}
		if strings.Contains(d.Reason, "hunter2") {
			t.Errorf("the reason shows the password: %s", d.Reason)
		}
	}
}

func TestNewSinkRefuses(t *testing.T) {
	cases := []struct {
		name string
		op   Op
		opts []Option
		want string
	}{
		{"unknown command", "getset", nil, "unknown command"},
		{"expire without ttl", Expire, nil, "EXPIRE needs a TTL"},
		{"cluster fence with braces", IncrBy, []Option{WithMode(Cluster), ExactlyOnce(), FencePrefix("f:{x}:")}, "hold { or }"},
		{"bad scheme", Set, []Option{URL("http://u:secretpw@host")}, "invalid URL scheme"},
		{"bad url", Set, []Option{URL("redis://u:secretpw@host:x/0")}, "url"},
		{"sentinel without master", Set, []Option{WithMode(Sentinel), URL("redis://u:secretpw@host:26379")}, "master_name"},
		{"batch", Set, []Option{BatchSize(0)}, "BatchSize"},
	}
	for _, c := range cases {
		_, err := NewSink(c.op, identity, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, connector.ErrConfig) {
			t.Errorf("%s: %v, want a config error with %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
}

func eq[V any](t *testing.T, got, want V) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
