package redis

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is the Redis command a sink sends for every record.
type Op string

// The commands of the sink.
const (
	// Set: SET key value, with PX ttl when a TTL is given. Idempotent.
	Set Op = "set"
	// HSet: HSET key field value. Idempotent.
	HSet Op = "hset"
	// SAdd: SADD key member. Idempotent.
	SAdd Op = "sadd"
	// ZAdd: ZADD key score member. Idempotent.
	ZAdd Op = "zadd"
	// XAdd: XADD key * field value (an entry with one field). Appends.
	XAdd Op = "xadd"
	// LPush: LPUSH key value. Appends.
	LPush Op = "lpush"
	// RPush: RPUSH key value. Appends.
	RPush Op = "rpush"
	// IncrBy: INCRBY key by. Increments.
	IncrBy Op = "incrby"
	// HIncrBy: HINCRBY key field by. Increments.
	HIncrBy Op = "hincrby"
	// Publish: PUBLISH channel value (the channel is Command.Key).
	Publish Op = "publish"
	// Del: DEL key. Idempotent.
	Del Op = "del"
	// Expire: PEXPIRE key ttl; the TTL is required.
	Expire Op = "expire"
)

// Ops lists the commands, in the order of the documentation.
var Ops = []Op{Set, HSet, SAdd, ZAdd, XAdd, LPush, RPush, IncrBy, HIncrBy, Publish, Del, Expire}

// Valid reports whether op is one of Ops.
func (op Op) Valid() bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Idempotent reports whether applying the command of a record twice leaves
// the same state as applying it once, provided the command's key, field,
// member, score and value depend only on the record: SET, HSET, SADD,
// ZADD and DEL. Appends (XADD, LPUSH, RPUSH), increments (INCRBY,
// HINCRBY), PUBLISH and EXPIRE (whose expiry counts from the replay) are
// not.
func (op Op) Idempotent() bool {
	switch op {
	case Set, HSet, SAdd, ZAdd, Del:
		return true
	}
	return false
}

// needs says which parts of a Command op uses.
func (op Op) needs() (field, member, score, value, by bool) {
	switch op {
	case Set, LPush, RPush, Publish:
		return false, false, false, true, false
	case HSet:
		return true, false, false, true, false
	case SAdd:
		return false, true, false, false, false
	case ZAdd:
		return false, true, true, false, false
	case XAdd:
		return false, false, false, true, false
	case IncrBy:
		return false, false, false, false, true
	case HIncrBy:
		return true, false, false, false, true
	}
	return false, false, false, false, false
}

// Command is what a sink sends for one record: the parts its Op uses.
type Command struct {
	// Key is the key, or the channel of PUBLISH. Required.
	Key string
	// Field is the hash field of HSET and HINCRBY (required there), and the
	// entry field of XADD (default "value").
	Field string
	// Member is the member of SADD and ZADD.
	Member string
	// Score is the score of ZADD.
	Score float64
	// Value is the value of SET, HSET, LPUSH, RPUSH, PUBLISH and XADD.
	Value string
	// By is the increment of INCRBY and HINCRBY.
	By int64
	// TTL, when above 0, overrides the sink's TTL for this record (see
	// TTL).
	TTL time.Duration
}

// DefaultXAddField is the entry field of XADD when Command.Field is empty.
const DefaultXAddField = "value"

// args returns the Redis commands that apply c: the command itself and,
// with a TTL, a PEXPIRE of the key (SET takes it as PX). ttl is the
// sink's TTL, used when c.TTL is 0.
func (op Op) args(c Command, ttl time.Duration) ([][]string, error) {
	if c.Key == "" {
		return nil, fmt.Errorf("%s: the key is empty", strings.ToUpper(string(op)))
	}
	if c.TTL > 0 {
		ttl = c.TTL
	}
	var ms string
	if ttl > 0 {
		ms = strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
	}
	var cmd []string
	switch op {
	case Set:
		cmd = []string{"SET", c.Key, c.Value}
		if ms != "" {
			cmd = append(cmd, "PX", ms)
		}
		return [][]string{cmd}, nil
	case HSet:
		if c.Field == "" {
			return nil, fmt.Errorf("HSET %s: the field is empty", c.Key)
		}
		cmd = []string{"HSET", c.Key, c.Field, c.Value}
	case SAdd:
		cmd = []string{"SADD", c.Key, c.Member}
	case ZAdd:
		cmd = []string{"ZADD", c.Key, strconv.FormatFloat(c.Score, 'g', -1, 64), c.Member}
	case XAdd:
		f := c.Field
		if f == "" {
			f = DefaultXAddField
		}
		cmd = []string{"XADD", c.Key, "*", f, c.Value}
	case LPush:
		cmd = []string{"LPUSH", c.Key, c.Value}
	case RPush:
		cmd = []string{"RPUSH", c.Key, c.Value}
	case IncrBy:
		cmd = []string{"INCRBY", c.Key, strconv.FormatInt(c.By, 10)}
	case HIncrBy:
		if c.Field == "" {
			return nil, fmt.Errorf("HINCRBY %s: the field is empty", c.Key)
		}
		cmd = []string{"HINCRBY", c.Key, c.Field, strconv.FormatInt(c.By, 10)}
	case Publish:
		return [][]string{{"PUBLISH", c.Key, c.Value}}, nil
	case Del:
		return [][]string{{"DEL", c.Key}}, nil
	case Expire:
		if ms == "" {
			return nil, fmt.Errorf("EXPIRE %s: no TTL (give the sink a TTL, or the record's Command.TTL)", c.Key)
		}
		return [][]string{{"PEXPIRE", c.Key, ms}}, nil
	default:
		return nil, fmt.Errorf("unknown command %q", op)
	}
	if ms != "" {
		return [][]string{cmd, {"PEXPIRE", c.Key, ms}}, nil
	}
	return [][]string{cmd}, nil
}

// argsSize is the number of bytes of a command's arguments.
func argsSize(cmd []string) int {
	n := 0
	for _, a := range cmd {
		n += len(a) + 4
	}
	return n
}

// anyArgs converts a command for go-redis.
func anyArgs(cmd []string) []any {
	out := make([]any, len(cmd))
	for i, a := range cmd {
		out[i] = a
	}
	return out
}
