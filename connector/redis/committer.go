package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// applyScript applies one chunk of a checkpoint's commands under a fence,
// atomically (a script runs alone on the server).
//
// KEYS[1] is the fence hash. ARGV: checkpoint, chunk, prune (fields of
// checkpoints below it are deleted), fence TTL in ms (0: none), number of
// commands, then per command its number of arguments and the arguments.
// The field <checkpoint> holds "<chunk>:<next command>": a chunk below the
// recorded one is skipped, the recorded one resumes at its next command.
// A command that fails records where it stopped and returns
// {2, index, error}; the commands before it stay applied, and a commit
// after the cause is fixed resumes at it. Returns {0} when the chunk was
// applied before, {1, n} when n commands were applied now.
const applyScript = `
local f = KEYS[1]
local cp = ARGV[1]
local chunk = tonumber(ARGV[2])
local start = 0
local done = redis.call('HGET', f, cp)
if done then
  local dc, dn = string.match(done, '^(%d+):(%d+)$')
  dc = tonumber(dc)
  if dc > chunk then return {0} end
  if dc == chunk then start = tonumber(dn) end
end
local n = tonumber(ARGV[5])
if start >= n then return {0} end
local pos = 6
local applied = 0
for i = 0, n - 1 do
  local nargs = tonumber(ARGV[pos])
  if i >= start then
    local r = redis.pcall(unpack(ARGV, pos + 1, pos + nargs))
    if type(r) == 'table' and r.err then
      if applied > 0 then redis.call('HSET', f, cp, chunk .. ':' .. i) end
      return {2, i, r.err}
    end
    applied = applied + 1
  end
  pos = pos + 1 + nargs
end
redis.call('HSET', f, cp, chunk .. ':' .. n)
local m = tonumber(redis.call('HGET', f, 'max') or '0')
if tonumber(cp) > m then redis.call('HSET', f, 'max', cp) end
if chunk == 0 then
  local below = tonumber(ARGV[3])
  for _, k in ipairs(redis.call('HKEYS', f)) do
    local kn = tonumber(k)
    if kn and kn < below then redis.call('HDEL', f, k) end
  end
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('PEXPIRE', f, ttl) end
return {1, applied}
`

var script = redis.NewScript(applyScript)

// maxScript records checkpoint ARGV[1] as applied in the fence KEYS[1]
// (field max), with the fence TTL ARGV[2] in ms (0: none).
var maxScript = redis.NewScript(`
local m = tonumber(redis.call('HGET', KEYS[1], 'max') or '0')
if tonumber(ARGV[1]) > m then redis.call('HSET', KEYS[1], 'max', ARGV[1]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// committer applies the committables of completed checkpoints.
type committer struct {
	cfg  *config
	spec *clientSpec
	log  *slog.Logger

	mu sync.Mutex
	cl redis.UniversalClient
}

func newCommitter(cfg *config, spec *clientSpec, log *slog.Logger) *committer {
	return &committer{cfg: cfg, spec: spec, log: log}
}

func (c *committer) client() redis.UniversalClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == nil {
		c.cl = c.spec.new()
	}
	return c.cl
}

// Commit applies the committables of checkpoint checkpointID, each in
// chunks of at most MaxTransactionCommands commands and
// MaxTransactionBytes bytes, in order. A repeated commit skips what its
// fence records as applied. Transient failures are retried for up to
// CommitTimeout; then the error is returned and the restored job commits
// again.
func (c *committer) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	for _, b := range committables {
		cm, err := decodeCommittable(b)
		if err != nil {
			return fmt.Errorf("redis sink: checkpoint %d: %w", checkpointID, err)
		}
		if err := c.apply(ctx, checkpointID, cm); err != nil {
			return err
		}
	}
	return nil
}

func (c *committer) apply(ctx context.Context, checkpointID int64, cm *committable) error {
	cl := c.client()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.commitTO)
	defer cancel()
	if c.spec.mode != Cluster {
		return c.applyFenced(ctx, cl, checkpointID, cm.fence, cm.prune, cm.cmds)
	}
	// Redis Cluster runs a script on keys of one hash slot: the commands
	// are applied slot by slot (in the order each slot first appears; a
	// key's commands keep their order), each slot's under a fence of its
	// own in that slot (the lineage's fence key with a hash tag of the
	// slot). The lineage's fence key then records the checkpoint as
	// applied (field max).
	groups := map[int][][]string{}
	var order []int
	for _, cmd := range cm.cmds {
		s := slotOf(cmdKey(cmd))
		if _, ok := groups[s]; !ok {
			order = append(order, s)
		}
		groups[s] = append(groups[s], cmd)
	}
	for _, s := range order {
		if err := c.applyFenced(ctx, cl, checkpointID, cm.fence+":{"+slotTag(s)+"}", cm.prune, groups[s]); err != nil {
			return err
		}
	}
	args := []any{strconv.FormatInt(checkpointID, 10), strconv.FormatInt(c.cfg.fenceTTL.Milliseconds(), 10)}
	return retry(ctx, func() error {
		return classify(maxScript.Run(ctx, cl, []string{cm.fence}, args...).Err(), []string{"EVALSHA", cm.fence}, c.spec.where)
	})
}

// applyFenced applies cmds under fence, in chunks.
func (c *committer) applyFenced(ctx context.Context, cl redis.UniversalClient, checkpointID int64, fence string, prune int64, cmds [][]string) error {
	chunk, start, size := 0, 0, 0
	for i, cmd := range cmds {
		if i > start && (i-start >= c.cfg.maxTxCmds || size+argsSize(cmd) > c.cfg.maxTxBytes) {
			if err := c.applyChunk(ctx, cl, checkpointID, chunk, fence, prune, cmds[start:i]); err != nil {
				return err
			}
			chunk, start, size = chunk+1, i, 0
		}
		size += argsSize(cmd)
	}
	return c.applyChunk(ctx, cl, checkpointID, chunk, fence, prune, cmds[start:])
}

func (c *committer) applyChunk(ctx context.Context, cl redis.UniversalClient, checkpointID int64, chunk int, fence string, prune int64, cmds [][]string) error {
	n := 5
	for _, cmd := range cmds {
		n += 1 + len(cmd)
	}
	args := make([]any, 0, n)
	args = append(args, strconv.FormatInt(checkpointID, 10), strconv.Itoa(chunk), strconv.FormatInt(prune, 10),
		strconv.FormatInt(c.cfg.fenceTTL.Milliseconds(), 10), strconv.Itoa(len(cmds)))
	for _, cmd := range cmds {
		args = append(args, strconv.Itoa(len(cmd)))
		for _, a := range cmd {
			args = append(args, a)
		}
	}
	keys := []string{fence}
	return retry(ctx, func() error {
		res, err := script.Run(ctx, cl, keys, args...).Slice()
		if err != nil {
			return classify(err, []string{"EVALSHA", fence}, c.spec.where)
		}
		if len(res) == 3 {
			if status, _ := res[0].(int64); status == 2 {
				i, _ := res[1].(int64)
				msg, _ := res[2].(string)
				var cmd []string
				if i >= 0 && int(i) < len(cmds) {
					cmd = cmds[i]
				}
				where := fmt.Sprintf("%s (fence %s, checkpoint %d, chunk %d, command %d)", c.spec.where, fence, checkpointID, chunk, i)
				return classify(replyError(msg), cmd, where)
			}
		}
		return nil
	})
}

func (c *committer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		err := c.cl.Close()
		c.cl = nil
		return err
	}
	return nil
}

// replyError is an error reply of a command run inside the script.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}
