// Package redis is sluice's Redis sink: one Redis command per record
// (SET, HSET, SADD, ZADD, XADD, LPUSH, RPUSH, INCRBY, HINCRBY, PUBLISH,
// DEL, EXPIRE), on a standalone server, through Sentinel, or on Redis
// Cluster, with go-redis (github.com/redis/go-redis/v9).
//
// It sits with the other connectors above package connector: it
// implements connector.Sink (and connector.TwoPhaseSink for exactly-once
// delivery) and registers the YAML sink type redis.
//
// # Go
//
//	snk, err := redis.NewSink(redis.IncrBy, func(c Click) (redis.Command, error) {
//		return redis.Command{Key: "clicks:" + c.Page, By: 1}, nil
//	}, redis.URL("redis://127.0.0.1:6379/0"), redis.ExactlyOnce())
//	...
//	clicks.SinkTo("counts", snk)
//
// The Builder returns the parts the command uses ([Command]): Key (the
// channel of PUBLISH), Field (HSET, HINCRBY; the entry field of XADD,
// default "value"), Member (SADD, ZADD), Score (ZADD), Value (SET, HSET,
// LPUSH, RPUSH, PUBLISH, XADD), By (INCRBY, HINCRBY) and TTL. A Builder
// error, an empty key, or a missing field fails the job as a bad record.
//
// Options and their defaults:
//
//   - [URL]: the server, default redis://127.0.0.1:6379/0. redis://, rediss://
//     (TLS with the system's CA certificates) and unix:// URLs;
//     user:password@ for ACL logins; query parameters set go-redis options
//     (dial_timeout, read_timeout, pool_size, max_retries...).
//   - [WithMode]: Standalone (default), Sentinel
//     (redis://sentinel:26379?master_name=mymaster&addr=sentinel2:26379; the
//     URL's credentials are the Sentinels' and, unless Credentials are given,
//     the master's too) or Cluster (redis://node1:6379?addr=node2:6379).
//   - [UniversalOptions]: go-redis client options instead of URL and mode.
//   - [Credentials]: ACL user and password (default: the URL's). The
//     password is a connector.Secret: it never appears in messages, plans or
//     logs (URLs are shown redacted).
//   - [TLS]: a tls.Config (default: on for rediss://, off otherwise).
//   - [TTL]: time to live (default none): SET ... PX, PEXPIRE for EXPIRE,
//     and a PEXPIRE after every other command but DEL and PUBLISH. A
//     Command's TTL overrides it. EXPIRE needs one.
//   - [ExactlyOnce]: exactly-once delivery for every command (default
//     at-least-once; see below).
//   - [BatchSize]: commands per pipeline of the at-least-once writer
//     (default 1000).
//   - [MaxTransactionCommands] (default 1000) and [MaxTransactionBytes]
//     (default 4 MiB): the size of one Lua script of the exactly-once commit.
//   - [MaxPendingBytes]: the commands the exactly-once writer holds for
//     one checkpoint (default 256 MiB); more fails the job (shorten the
//     checkpoint interval).
//   - [CommitTimeout]: how long a commit retries transient failures
//     (default 1m).
//   - [FenceName] (default "sink"; YAML: "<job>:<sink id>"), [FencePrefix]
//     (default "sluice:fence:"), [FenceTTL] (default 0: fences never expire).
//
// # YAML
//
//	sink:
//	  type: redis
//	  url: ${REDIS_URL:-redis://127.0.0.1:6379/0}
//	  password: ${REDIS_PASSWORD:-}     # or in the url; never shown
//	  command: incrby                   # set hset sadd zadd xadd lpush rpush incrby hincrby publish del expire
//	  key: "'count:' + string(key)"     # a field name or a CEL expression
//	  value: 1                          # the increment of incrby/hincrby (default 1)
//	  delivery: exactly-once            # or at-least-once (default)
//
// Further keys: mode (standalone, sentinel, cluster), username, tls (true,
// or ca_file, cert_file, key_file, server_name, insecure_skip_verify),
// field (hset, hincrby, xadd), member (sadd, zadd; default the value),
// score (zadd), ttl, batch_size, and with exactly-once
// max_transaction_commands, max_pending_bytes, fence_ttl. Each part is the
// value of its expression: strings as they are, numbers in their shortest
// form, other values as JSON; value defaults to the record as JSON. See
// examples/redis.yaml.
//
// # Guarantees
//
// The guarantee follows from the command and the delivery, and Declare
// says which and why (sluice plan shows it):
//
//   - SET, HSET, SADD, ZADD, DEL: exactly-once in every mode, as long as
//     key, field, member, score and value depend only on the record:
//     replays after a restore overwrite with the same values. When several
//     records write one key (or field, or member), a replay can briefly
//     show an older value; the final state is right.
//   - XADD, LPUSH, RPUSH, INCRBY, HINCRBY, PUBLISH, EXPIRE with
//     at-least-once delivery: at-least-once. Commands go out in pipelines,
//     and every checkpoint barrier sends what is buffered and waits for
//     every reply; the commands after the last completed checkpoint are
//     sent again after a restore.
//   - Any command with delivery exactly-once and checkpoints: exactly-once.
//     The writer keeps the commands of each checkpoint and hands them over
//     on the barrier as one committable, which goes into the checkpoint;
//     when the checkpoint completes, the committer applies them in Lua
//     scripts (atomic on the server) that also record, in a fence, how far
//     they got. A commit repeated after a restore finds the fence and skips
//     what was applied. Commands become visible when their checkpoint
//     completes. Without checkpoints the sink is at-least-once (downgraded
//     loudly: a warning, and the plan says so).
//   - PUBLISH with exactly-once: each message is published once, when its
//     checkpoint completes. Pub/Sub stores nothing, so a subscriber receives
//     it only if it is connected then; one that is not misses it.
//
// # Fences
//
// A fence is a hash <prefix><name>:<token>. Field <checkpoint> holds
// "<chunk>:<next command>" of what the commit of that checkpoint applied,
// field max the highest checkpoint applied. The token is random, made by a
// writer that restores no writer state (a fresh start, or a subtask added
// by a rescale), and carried on in the writer state, so one fence has one
// writer at a time and a fresh start never meets an old fence. A
// committable carries its fence: after a restore the runtime hands
// committables to any subtask, at any parallelism, and checkpoints of one
// writer may then be committed by different subtasks in any order; each
// checkpoint's field is its own, so each is applied once.
//
// A checkpoint's commands are applied in chunks of at most
// MaxTransactionCommands commands and MaxTransactionBytes bytes, each chunk
// one script (a script blocks the server while it runs). A crash between
// chunks leaves a checkpoint partly applied until the restored job commits
// the rest; a reader may see that state meanwhile. A command the server
// refuses inside a chunk (WRONGTYPE, NOPERM) stops the script: the fence
// records the commands before it as applied, the job fails, and once the
// cause is removed the restored job resumes at that command.
//
// The fields of checkpoints that no later checkpoint can hold any more are
// deleted by later commits, so a fence stays a few fields long. A fence
// whose writer went away (a rescale down, a fresh start) stays behind, a
// few bytes, unless FenceTTL lets it expire; keep FenceTTL above the
// longest a job may be down plus the age of the oldest checkpoint or
// savepoint you may restore, since a restore after its fence expired
// applies that checkpoint's commands again.
//
// A writer that restores checkpoint n refuses to start
// (connector.ErrOutputAhead) when its fence records a checkpoint after n:
// an older checkpoint or savepoint is being restored, and the commands
// after it were applied already.
//
// Cluster: a Lua script runs on keys of one hash slot only, and the keys
// of a checkpoint's commands are spread over slots. On Redis Cluster the
// committer therefore applies a committable slot by slot, in the order in
// which each slot first appears (the commands of one key keep their
// order), each slot's commands under a fence of their own in that slot:
// the lineage's fence key with the hash tag of the slot appended,
// <prefix><name>:<token>:{<tag>}, where <tag> is a short string whose
// CRC16 falls in that slot. Each command is still applied once; a reader
// may see one slot's part of a checkpoint before another's. Once every
// slot is applied, the lineage's own fence key records the checkpoint
// (field max) for the output-ahead check. Fence prefix and name must not
// hold braces there.
//
// # Failures
//
// The server's refusals that no retry can fix fail the job at once
// (connector.ErrRejected), naming the command, key and server and what to
// change: WRONGTYPE (the key holds another type), NOAUTH and WRONGPASS
// (credentials), NOPERM (ACL), OOM (maxmemory), and other ERR replies
// such as INCRBY on a value that is not a number. Network errors,
// timeouts, READONLY and LOADING (failovers), BUSY, CLUSTERDOWN and
// TRYAGAIN are transient: go-redis retries a command or pipeline
// (max_retries, 3 by default), the exactly-once commit retries with
// backoff for CommitTimeout, and then the error fails the job, which
// restarts from its latest checkpoint. A record the Builder or an
// expression cannot turn into a command is a bad record.
//
// # Tests
//
// The tests run against a real Redis server (redis-server 7): the one on
// 127.0.0.1:6379 (scripts/redis-up starts one; SLUICE_REDIS_URL names
// another), each test under a key prefix of its own that it deletes, and
// for the OOM, ACL, TLS, Sentinel and Cluster tests redis-servers each
// test starts on free ports (TLS with certificates it makes, a Sentinel
// with redis-server --sentinel, a three-node cluster made with redis-cli
// --cluster create). Without a server they skip (fail under CI). They
// cover every command, TTLs, credentials from the URL and the options,
// the guarantee declared for each command and delivery (also through YAML
// and sluice plan), fences (repeated, resumed, out-of-order and pruned
// commits, output ahead, hash slots against CLUSTER KEYSLOT), error
// classification, the conformance suite (connectortest), and SIGKILL
// torture tests (internal/crashtest): INCRBY with delivery exactly-once,
// on one server and on the cluster, whose counters must equal the input
// counts exactly, RPUSH exactly-once (every record once) and RPUSH
// at-least-once (every record at least once).
package redis
